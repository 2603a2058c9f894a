//! Note history and the trash: the settings, the values handed to callers,
//! and the retention rule, pure (no store; `vault::history` applies it).
//!
//! History is built on each device from every version it sees: its own
//! saves (a burst of saves of one note is one version: at most one per
//! [`HistorySettings::coalesce_minutes`] while typing), every version
//! pulled from another device, merge results and both of their inputs,
//! last-writer-wins losers and restores. Versions are stored sealed exactly
//! as they were sealed (bound to the note id and to the version's stamp,
//! which is its id) and never sync: a new device's history starts at its
//! first sync (ARCHITECTURE.md, "History and trash").
//!
//! Retention ([`thin`]): every version for `keep_all_days`, then the newest
//! of each day up to `daily_until_days`, then the newest of each week; the
//! note's current version is always kept; then, newest first, versions
//! beyond `max_bytes_per_note` of ciphertext go. Deterministic: it depends
//! only on the versions, the current stamp, the settings and `now`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
const WEEK_MS: i64 = 7 * DAY_MS;

/// The history and trash settings (the `history` setting of the store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct HistorySettings {
    /// Saves of one note within this many minutes of the first save of a
    /// burst are one version (0: every save is a version).
    pub coalesce_minutes: u32,
    /// Every version younger than this many days is kept.
    pub keep_all_days: u32,
    /// Up to this age (days), the newest version of each day; older, the
    /// newest of each week.
    pub daily_until_days: u32,
    /// Ciphertext bytes of history kept per note; the oldest versions
    /// beyond it go (the current version always stays).
    pub max_bytes_per_note: u64,
    /// Notes in the trash longer than this many days are deleted for good.
    pub trash_days: u32,
}

impl Default for HistorySettings {
    fn default() -> Self {
        Self {
            coalesce_minutes: 5,
            keep_all_days: 30,
            daily_until_days: 90,
            max_bytes_per_note: 8 * 1024 * 1024,
            trash_days: 30,
        }
    }
}

impl HistorySettings {
    /// Refuse settings that make no sense (thinning before keeping).
    pub fn check(&self) -> Result<(), String> {
        if self.daily_until_days < self.keep_all_days {
            return Err(format!(
                "daily_until_days ({}) must be at least keep_all_days ({})",
                self.daily_until_days, self.keep_all_days
            ));
        }
        if self.coalesce_minutes > 24 * 60 {
            return Err("coalesce_minutes is at most a day (1440)".into());
        }
        Ok(())
    }

    pub(crate) fn coalesce_ms(&self) -> i64 {
        i64::from(self.coalesce_minutes) * MINUTE_MS
    }

    pub(crate) fn trash_ms(&self) -> i64 {
        i64::from(self.trash_days) * DAY_MS
    }
}

/// Why a version is in a note's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum VersionWhy {
    /// Saved on this device (a burst of saves, coalesced).
    Edit,
    /// The result of merging another device's version with this one's.
    Merge,
    /// Arrived from another device.
    Remote,
    /// An older version brought back.
    Restore,
    /// The side a last-writer-wins merge did not keep.
    LwwLoser,
    /// This device's side of a merge.
    MergeInput,
    /// Moved to the trash.
    Trash,
    /// Brought back from the trash.
    Untrash,
}

impl VersionWhy {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionWhy::Edit => "edit",
            VersionWhy::Merge => "merge",
            VersionWhy::Remote => "remote",
            VersionWhy::Restore => "restore",
            VersionWhy::LwwLoser => "lww_loser",
            VersionWhy::MergeInput => "merge_input",
            VersionWhy::Trash => "trash",
            VersionWhy::Untrash => "untrash",
        }
    }

    /// The words a person reads.
    pub fn label(self) -> &'static str {
        match self {
            VersionWhy::Edit => "edit",
            VersionWhy::Merge => "merge",
            VersionWhy::Remote => "from another device",
            VersionWhy::Restore => "restore",
            VersionWhy::LwwLoser => "lww-loser",
            VersionWhy::MergeInput => "merge input",
            VersionWhy::Trash => "moved to trash",
            VersionWhy::Untrash => "back from trash",
        }
    }
}

impl std::str::FromStr for VersionWhy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "edit" => VersionWhy::Edit,
            "merge" => VersionWhy::Merge,
            "remote" => VersionWhy::Remote,
            "restore" => VersionWhy::Restore,
            "lww_loser" => VersionWhy::LwwLoser,
            "merge_input" => VersionWhy::MergeInput,
            "trash" => VersionWhy::Trash,
            "untrash" => VersionWhy::Untrash,
            other => return Err(format!("unknown version reason {other:?}")),
        })
    }
}

/// One line of a note's history: no content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct VersionInfo {
    /// The version's id: its clock stamp (what `--version` takes).
    pub version: String,
    /// When it was made (ms since the epoch, by the clock of its device).
    pub at: i64,
    /// The device that made it (its clock's node id, hex).
    pub device: String,
    /// Bytes of its sealed fields.
    pub size: u64,
    pub why: VersionWhy,
    /// It is what the note holds now.
    pub current: bool,
}

/// One version of a note, decrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NoteVersion {
    pub note_id: Uuid,
    #[serde(flatten)]
    pub info: VersionInfo,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub pinned: bool,
    /// In the trash at that version (ms since the epoch).
    pub trashed_at: Option<i64>,
}

/// One note in the trash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TrashedNote {
    pub id: Uuid,
    pub title: String,
    /// When it was moved to the trash (ms since the epoch).
    pub trashed_at: i64,
    /// When it will be deleted for good, unless restored.
    pub purge_at: i64,
    pub updated_at: i64,
}

/// What one round of housekeeping did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Housekeeping {
    /// Versions the retention rule removed.
    pub versions_dropped: u32,
    /// Notes deleted for good after their time in the trash.
    pub purged: u32,
}

/// A stored version as the retention rule sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// Its stamp's text (orders as the stamps do).
    pub hlc: String,
    /// When it was made (ms since the epoch).
    pub at: i64,
    pub size: u64,
}

/// The versions of one note that retention removes at `now`: indexes into
/// `versions`. `current` (the note's stamp) is never removed.
pub fn thin(versions: &[Kept], current: &str, now: i64, s: &HistorySettings) -> Vec<usize> {
    let mut order: Vec<usize> = (0..versions.len()).collect();
    // Newest first; the stamp decides between equal times.
    order.sort_by(|&a, &b| (versions[b].at, &versions[b].hlc).cmp(&(versions[a].at, &versions[a].hlc)));
    let keep_all = i64::from(s.keep_all_days) * DAY_MS;
    let daily = i64::from(s.daily_until_days) * DAY_MS;
    let cap = i64::try_from(s.max_bytes_per_note).unwrap_or(i64::MAX);
    let mut buckets = std::collections::HashSet::new();
    let mut drop = Vec::new();
    let mut bytes: i64 = 0;
    for (rank, &i) in order.iter().enumerate() {
        let v = &versions[i];
        let is_current = v.hlc == current;
        // A stamp from a device whose clock runs ahead counts as now.
        let at = v.at.min(now);
        let age = now - at;
        let kept_by_age = if is_current || rank == 0 || age <= keep_all {
            true
        } else if age <= daily {
            buckets.insert((0u8, at.div_euclid(DAY_MS)))
        } else {
            buckets.insert((1u8, at.div_euclid(WEEK_MS)))
        };
        if !kept_by_age {
            drop.push(i);
            continue;
        }
        let size = i64::try_from(v.size).unwrap_or(i64::MAX);
        if !is_current && bytes.saturating_add(size) > cap {
            drop.push(i);
            continue;
        }
        bytes = bytes.saturating_add(size);
    }
    drop.sort_unstable();
    drop
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(hlc: &str, at: i64, size: u64) -> Kept {
        Kept { hlc: hlc.into(), at, size }
    }

    #[test]
    fn young_versions_stay_then_one_a_day_then_one_a_week() {
        let s = HistorySettings::default();
        let now = 400 * DAY_MS;
        let mut versions = Vec::new();
        // Four versions a day for 200 days back.
        for day in 0..200 {
            for q in 0..4 {
                let at = now - day * DAY_MS - q * 6 * 3_600_000 - 1;
                versions.push(v(&format!("{at:016}"), at, 10));
            }
        }
        let current = versions[0].hlc.clone();
        let dropped = thin(&versions, &current, now, &s);
        let kept: Vec<&Kept> =
            versions.iter().enumerate().filter(|(i, _)| !dropped.contains(i)).map(|(_, k)| k).collect();
        let age = |k: &Kept| (now - k.at) / DAY_MS;
        assert_eq!(kept.iter().filter(|k| age(k) < 30).count(), 30 * 4, "all of the last 30 days");
        let daily: Vec<_> = kept.iter().filter(|k| (31..90).contains(&age(k))).collect();
        let days: std::collections::HashSet<i64> = daily.iter().map(|k| k.at / DAY_MS).collect();
        assert_eq!(daily.len(), days.len(), "one a day between 30 and 90 days");
        let weekly: Vec<_> = kept.iter().filter(|k| age(k) > 91).collect();
        let weeks: std::collections::HashSet<i64> = weekly.iter().map(|k| k.at / WEEK_MS).collect();
        assert_eq!(weekly.len(), weeks.len(), "one a week beyond 90 days");
        assert!(weekly.len() < 20, "{}", weekly.len());
        // Deterministic: the same input thins the same way, whatever order.
        let mut reversed = versions.clone();
        reversed.reverse();
        let again = thin(&reversed, &current, now, &s);
        let again: std::collections::HashSet<&str> = again.iter().map(|&i| reversed[i].hlc.as_str()).collect();
        let first: std::collections::HashSet<&str> = dropped.iter().map(|&i| versions[i].hlc.as_str()).collect();
        assert_eq!(again, first);
    }

    #[test]
    fn the_size_cap_drops_the_oldest_and_never_the_current_version() {
        let s = HistorySettings { max_bytes_per_note: 250, ..Default::default() };
        let versions = vec![v("a", 1, 100), v("b", 2, 100), v("c", 3, 100), v("d", 4, 100)];
        assert_eq!(thin(&versions, "d", 10, &s), vec![0, 1], "the newest two fit");
        // The current version stays even when it is older and alone too big.
        let s = HistorySettings { max_bytes_per_note: 50, ..Default::default() };
        assert_eq!(thin(&versions, "a", 10, &s), vec![1, 2, 3]);
    }

    #[test]
    fn a_clock_ahead_counts_as_now_and_settings_are_checked() {
        let s = HistorySettings::default();
        let versions = vec![v("a", 1000 * DAY_MS, 1), v("b", 0, 1)];
        assert_eq!(thin(&versions, "a", 100 * DAY_MS, &s), Vec::<usize>::new());
        assert!(HistorySettings { keep_all_days: 10, daily_until_days: 5, ..s }.check().is_err());
        assert!(s.check().is_ok());
    }
}
