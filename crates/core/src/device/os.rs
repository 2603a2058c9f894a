//! The device's situation from the OS, on Linux: NetworkManager's
//! `Metered` property, UPower's `OnBattery` and its display device's
//! `WarningLevel`, and power-profiles-daemon's `ActiveProfile`, over the
//! system D-Bus (zbus, already in the tree through the keyring), followed
//! by their change signals, not polled.
//!
//! Absent services (no system bus, no NetworkManager, no UPower: a server,
//! a container, a minimal desktop) mean "unmetered, on mains power", never
//! an error: the policy then runs sync as it always did.

use futures_util::StreamExt;
use zbus::{Connection, Proxy};

use crate::policy::{Network, Power};

/// NetworkManager's `NMMetered`: 1 yes, 3 guessed yes (a phone's hotspot).
fn network_of(metered: Option<u32>) -> Network {
    match metered {
        Some(1 | 3) => Network::Metered,
        _ => Network::Unmetered,
    }
}

/// UPower's `OnBattery` and `WarningLevel` (3 low, 4 critical, 5 action),
/// and the power profile: the saver wins, as the user asked for it.
fn power_of(on_battery: Option<bool>, warning_level: Option<u32>, profile: Option<&str>) -> Power {
    if profile == Some("power-saver") {
        return Power::Saver;
    }
    match (on_battery, warning_level) {
        (Some(true), Some(3..)) => Power::Low,
        (Some(true), _) => Power::Battery,
        _ => Power::Charging,
    }
}

/// The proxies this watcher reads, each absent if its service is.
struct Sources<'a> {
    nm: Option<Proxy<'a>>,
    upower: Option<Proxy<'a>>,
    display: Option<Proxy<'a>>,
    profiles: Option<Proxy<'a>>,
}

async fn proxy<'a>(conn: &Connection, dest: &'a str, path: &'a str, iface: &'a str) -> Option<Proxy<'a>> {
    let p = Proxy::new(conn, dest, path, iface).await.ok()?;
    // A proxy builds without its service; a property read tells.
    p.introspect().await.ok()?;
    Some(p)
}

async fn get<T>(p: &Option<Proxy<'_>>, name: &str) -> Option<T>
where
    T: TryFrom<zbus::zvariant::OwnedValue>,
    T::Error: Into<zbus::Error>,
{
    p.as_ref()?.get_property::<T>(name).await.ok()
}

impl Sources<'_> {
    async fn read(&self) -> (Network, Power) {
        let metered = get::<u32>(&self.nm, "Metered").await;
        let on_battery = get::<bool>(&self.upower, "OnBattery").await;
        let level = get::<u32>(&self.display, "WarningLevel").await;
        let profile = get::<String>(&self.profiles, "ActiveProfile").await;
        (network_of(metered), power_of(on_battery, level, profile.as_deref()))
    }
}

/// Reports the OS's network cost and power to `report` at once and on every
/// change, until the system bus goes away. Without a system bus, or
/// without any of the services, it reports "unmetered, charging" once and
/// returns.
pub async fn watch(report: impl Fn(Network, Power) + Send) {
    let conn = match Connection::system().await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "no system D-Bus: taken as unmetered and on mains power");
            report(Network::Unmetered, Power::Charging);
            return;
        }
    };
    let sources = Sources {
        nm: proxy(
            &conn,
            "org.freedesktop.NetworkManager",
            "/org/freedesktop/NetworkManager",
            "org.freedesktop.NetworkManager",
        )
        .await,
        upower: proxy(&conn, "org.freedesktop.UPower", "/org/freedesktop/UPower", "org.freedesktop.UPower").await,
        display: proxy(
            &conn,
            "org.freedesktop.UPower",
            "/org/freedesktop/UPower/devices/DisplayDevice",
            "org.freedesktop.UPower.Device",
        )
        .await,
        profiles: proxy(&conn, "net.hadess.PowerProfiles", "/net/hadess/PowerProfiles", "net.hadess.PowerProfiles")
            .await,
    };
    let (mut network, mut power) = sources.read().await;
    report(network, power);
    let mut streams = Vec::new();
    for (p, name) in [
        (&sources.nm, "Metered"),
        (&sources.upower, "OnBattery"),
        (&sources.display, "WarningLevel"),
        (&sources.profiles, "ActiveProfile"),
    ] {
        if let Some(p) = p {
            streams.push(Box::pin(p.receive_property_changed::<zbus::zvariant::OwnedValue>(name).await));
        }
    }
    let mut changes = futures_util::stream::select_all(streams);
    if sources.nm.is_none() && sources.upower.is_none() && sources.profiles.is_none() {
        tracing::debug!("no NetworkManager, UPower or power profiles: taken as unmetered and on mains power");
        return;
    }
    while changes.next().await.is_some() {
        let now = sources.read().await;
        if now != (network, power) {
            (network, power) = now;
            tracing::info!(?network, ?power, "the OS reports a new network cost or power state");
            report(network, power);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_manager_metered_values() {
        assert_eq!(network_of(Some(1)), Network::Metered);
        assert_eq!(network_of(Some(3)), Network::Metered);
        for other in [None, Some(0), Some(2), Some(4), Some(99)] {
            assert_eq!(network_of(other), Network::Unmetered, "{other:?}");
        }
    }

    #[test]
    fn upower_and_profiles_values() {
        assert_eq!(power_of(None, None, None), Power::Charging, "no UPower: mains power");
        assert_eq!(power_of(Some(false), Some(3), None), Power::Charging);
        assert_eq!(power_of(Some(true), Some(1), None), Power::Battery);
        assert_eq!(power_of(Some(true), Some(2), None), Power::Battery);
        assert_eq!(power_of(Some(true), Some(3), None), Power::Low);
        assert_eq!(power_of(Some(true), Some(4), None), Power::Low);
        assert_eq!(power_of(Some(false), None, Some("power-saver")), Power::Saver);
        assert_eq!(power_of(Some(true), None, Some("balanced")), Power::Battery);
    }
}
