//! The sync policy: what sync does in the device's situation, decided in
//! one place, as a pure function the engine asks after every change of
//! situation (DESIGN.md item 17).
//!
//! Inputs: the network (none, unmetered, metered), power (charging,
//! battery, low battery, power saver) and the app's state (foreground,
//! background, suspended), plus the user's two settings (sync on metered
//! networks: always, small changes only or never; pause on low battery).
//! Output: a [`Plan`]: whether passes run at all, whether the poke stream
//! stays open, the timer interval, whether large work runs (today a
//! download of more than [`SMALL_DOWNLOAD`] changes: a new device's first
//! one, or a device back after a long time away; attachments and history
//! when they come), the push batch size, and why sync waits when it does,
//! in words the status bar shows.
//!
//! The defaults are what a phone user would choose: notes sync everywhere,
//! large work waits for an unmetered network, nothing runs on low battery,
//! and a device that is not in use keeps no connection open and wakes
//! rarely. A desktop on mains power and Wi-Fi, or with no OS signals at all,
//! gets the plan it always had: pokes open, a 60 s timer, everything runs.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The network as the OS (or a tester) reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Network {
    /// No network interface is up.
    None,
    /// Wi-Fi, Ethernet: no cost per byte. What a device without the signal
    /// is taken to be on.
    #[default]
    Unmetered,
    /// Mobile data or a hotspot marked metered.
    Metered,
}

/// Power as the OS (or a tester) reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Power {
    /// On mains power (or no battery at all).
    #[default]
    Charging,
    Battery,
    /// On battery and low (the OS's own "low" level).
    Low,
    /// The OS's power saver is on.
    Saver,
}

/// The app's lifecycle state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum AppState {
    /// On screen.
    #[default]
    Foreground,
    /// Running, not on screen (a desktop app minimised to the tray, a mobile
    /// app just left).
    Background,
    /// The platform is about to freeze the process: only the platform's own
    /// background pass runs then.
    Suspended,
}

/// Where the device stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Situation {
    pub network: Network,
    pub power: Power,
    pub app: AppState,
}

/// The user's choice for metered networks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum MeteredUse {
    /// Everything, as on Wi-Fi.
    Always,
    /// Notes sync; large work (attachments, bootstrap, history) waits for an
    /// unmetered network.
    #[default]
    SmallChangesOnly,
    /// Nothing: changes wait for an unmetered network.
    Never,
}

/// The user's settings for the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PolicySettings {
    pub metered: MeteredUse,
    /// Send nothing on low battery (changes stay queued).
    pub pause_on_low_battery: bool,
}

impl Default for PolicySettings {
    fn default() -> Self {
        Self { metered: MeteredUse::SmallChangesOnly, pause_on_low_battery: true }
    }
}

/// Why sync (or its large work) waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Deferral {
    /// The OS reports no network.
    NoNetwork,
    /// On a metered network, and the settings keep this work for Wi-Fi.
    Metered,
    /// On low battery, with "pause on low battery" set.
    LowBattery,
    /// The app is suspended: the platform's background pass runs instead.
    Suspended,
}

impl Deferral {
    /// In words, with the number of changes that wait.
    pub fn describe(self, pending: u64) -> String {
        let what = match pending {
            0 => "nothing waits".to_owned(),
            1 => "1 change waits".to_owned(),
            n => format!("{n} changes wait"),
        };
        match self {
            Deferral::NoNetwork => format!("no network: {what} for one"),
            Deferral::Metered => format!("on a metered network: {what} for Wi-Fi"),
            Deferral::LowBattery => format!("low battery: {what} for charging"),
            Deferral::Suspended => format!("in the background: {what} for the next background sync"),
        }
    }

    /// In words, for a download larger than [`SMALL_DOWNLOAD`] left for
    /// later while small changes go on syncing.
    pub fn describe_download(self) -> String {
        let until = match self {
            Deferral::NoNetwork => "a network",
            Deferral::Metered => "Wi-Fi",
            Deferral::LowBattery => "charging",
            Deferral::Suspended => "the app in use",
        };
        format!("{}: a large download waits for {until}; your changes still sync", self.short())
    }

    fn short(self) -> &'static str {
        match self {
            Deferral::NoNetwork => "no network",
            Deferral::Metered => "on a metered network",
            Deferral::LowBattery => "low battery",
            Deferral::Suspended => "in the background",
        }
    }
}

/// What runs. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Sync passes run (pushes and pulls of notes).
    pub sync: bool,
    /// The poke stream stays open (changes from other devices within a
    /// second); without it they come by the timer.
    pub pokes: bool,
    /// A pass this long after the last one.
    pub interval: Duration,
    /// Large work (attachments, a bootstrap snapshot, history) runs.
    pub large_work: bool,
    /// Outbox entries per push request.
    pub push_batch: usize,
    /// Why passes wait, when `sync` is false.
    pub waiting: Option<Deferral>,
    /// Why large work waits, when `large_work` is false and `sync` is true.
    pub large_waiting: Option<Deferral>,
}

/// The timer in the background, on mains power: a device not in use does
/// not need changes within a minute.
pub const BACKGROUND_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// ... and on battery, or with the power saver on: rare wake-ups.
pub const BATTERY_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// Push batches on a metered network: a lost request costs less.
pub const METERED_PUSH_BATCH: usize = 100;
/// While large work waits, a pass downloads a backlog of at most this many
/// changes (what other devices wrote lately); a larger one (a new device's
/// first download, a long time away) is large work and waits.
pub const SMALL_DOWNLOAD: u32 = 200;

/// The plan for `situation` under `settings`. `foreground_interval` is the
/// timer when nothing calls for a longer one (the engine's own option, 60 s
/// in the app); `full_batch` the push batch on an unmetered network.
pub fn plan(situation: Situation, settings: PolicySettings, foreground_interval: Duration, full_batch: usize) -> Plan {
    let Situation { network, power, app } = situation;
    let metered = network == Network::Metered;
    let waiting = if app == AppState::Suspended {
        Some(Deferral::Suspended)
    } else if network == Network::None {
        Some(Deferral::NoNetwork)
    } else if power == Power::Low && settings.pause_on_low_battery {
        Some(Deferral::LowBattery)
    } else if metered && settings.metered == MeteredUse::Never {
        Some(Deferral::Metered)
    } else {
        None
    };
    let on_battery = matches!(power, Power::Battery | Power::Low | Power::Saver);
    let interval = match (app, on_battery) {
        (AppState::Foreground, _) if power != Power::Saver => foreground_interval,
        (AppState::Background, false) => foreground_interval.max(BACKGROUND_INTERVAL),
        _ => foreground_interval.max(BATTERY_INTERVAL),
    };
    if let Some(why) = waiting {
        return Plan {
            sync: false,
            pokes: false,
            interval,
            large_work: false,
            push_batch: full_batch,
            waiting: Some(why),
            large_waiting: None,
        };
    }
    // A poke stream is an open connection that wakes the radio for every
    // change elsewhere: worth it while the user looks at the app, or when
    // power and data cost nothing.
    let pokes = match app {
        AppState::Foreground => power != Power::Saver,
        AppState::Background => power == Power::Charging && !metered,
        AppState::Suspended => false,
    };
    let large_waiting = if metered && settings.metered != MeteredUse::Always {
        Some(Deferral::Metered)
    } else if power == Power::Low {
        Some(Deferral::LowBattery)
    } else {
        None
    };
    Plan {
        sync: true,
        pokes,
        interval,
        large_work: large_waiting.is_none() && power != Power::Saver,
        push_batch: if metered { METERED_PUSH_BATCH.min(full_batch) } else { full_batch },
        waiting: None,
        large_waiting,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn at(network: Network, power: Power, app: AppState) -> Plan {
        plan(Situation { network, power, app }, PolicySettings::default(), MINUTE, 500)
    }

    #[test]
    fn a_desktop_without_signals_syncs_as_it_always_did() {
        let p = at(Network::Unmetered, Power::Charging, AppState::Foreground);
        assert_eq!(
            p,
            Plan {
                sync: true,
                pokes: true,
                interval: MINUTE,
                large_work: true,
                push_batch: 500,
                waiting: None,
                large_waiting: None
            }
        );
        assert_eq!(
            Situation::default(),
            Situation { network: Network::Unmetered, power: Power::Charging, app: AppState::Foreground }
        );
    }

    #[test]
    fn the_defaults_hold_for_every_situation() {
        use AppState::*;
        use Network::{Metered, Unmetered};
        use Power::*;
        // (network, power, app) -> (sync, pokes, interval in minutes, large work, waiting)
        let table = [
            (Unmetered, Charging, Foreground, (true, true, 1, true, None)),
            (Unmetered, Battery, Foreground, (true, true, 1, true, None)),
            (Unmetered, Battery, Background, (true, false, 15, true, None)),
            (Unmetered, Charging, Background, (true, true, 5, true, None)),
            (Unmetered, Saver, Foreground, (true, false, 15, false, None)),
            (Unmetered, Low, Foreground, (false, false, 1, false, Some(Deferral::LowBattery))),
            (Metered, Charging, Foreground, (true, true, 1, false, None)),
            (Metered, Charging, Background, (true, false, 5, false, None)),
            (Metered, Battery, Background, (true, false, 15, false, None)),
            (Network::None, Charging, Foreground, (false, false, 1, false, Some(Deferral::NoNetwork))),
            (Unmetered, Charging, Suspended, (false, false, 15, false, Some(Deferral::Suspended))),
        ];
        for (network, power, app, (sync, pokes, minutes, large, waiting)) in table {
            let p = at(network, power, app);
            let got = (p.sync, p.pokes, p.interval.as_secs() / 60, p.large_work, p.waiting);
            assert_eq!(got, (sync, pokes, minutes, large, waiting), "{network:?} {power:?} {app:?}");
        }
    }

    #[test]
    fn metered_settings_decide_what_waits_for_wifi() {
        let s = Situation { network: Network::Metered, ..Situation::default() };
        let with = |metered| plan(s, PolicySettings { metered, ..PolicySettings::default() }, MINUTE, 500);
        let small = with(MeteredUse::SmallChangesOnly);
        assert!(small.sync && !small.large_work);
        assert_eq!((small.large_waiting, small.push_batch), (Some(Deferral::Metered), METERED_PUSH_BATCH));
        let never = with(MeteredUse::Never);
        assert!(!never.sync && !never.pokes);
        assert_eq!(never.waiting, Some(Deferral::Metered));
        let always = with(MeteredUse::Always);
        assert!(always.sync && always.large_work && always.large_waiting.is_none());
    }

    #[test]
    fn low_battery_pauses_only_when_the_user_wants_it() {
        let s = Situation { power: Power::Low, ..Situation::default() };
        let keep_going = plan(s, PolicySettings { pause_on_low_battery: false, ..Default::default() }, MINUTE, 500);
        assert!(keep_going.sync && !keep_going.large_work);
        assert_eq!(keep_going.large_waiting, Some(Deferral::LowBattery));
    }

    #[test]
    fn the_reason_is_said_with_the_count() {
        assert_eq!(Deferral::Metered.describe(3), "on a metered network: 3 changes wait for Wi-Fi");
        assert_eq!(Deferral::LowBattery.describe(1), "low battery: 1 change waits for charging");
        assert_eq!(Deferral::NoNetwork.describe(0), "no network: nothing waits for one");
    }

    #[test]
    fn a_long_foreground_interval_is_kept() {
        let p = plan(Situation::default(), PolicySettings::default(), Duration::from_secs(3600), 500);
        assert_eq!(p.interval, Duration::from_secs(3600));
        let bg = Situation { app: AppState::Background, power: Power::Battery, ..Situation::default() };
        assert_eq!(plan(bg, PolicySettings::default(), Duration::from_secs(3600), 500).interval.as_secs(), 3600);
    }
}
