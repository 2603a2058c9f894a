//! Conflict scenarios written as files (JSON), for `outpost conflict-sim
//! --file F`: devices, the steps they take, and what must come of it. A
//! file is parsed and checked whole before anything runs, so a typo is an
//! error naming the file and the line and column (bad JSON, an unknown
//! field) or the step (an unknown device or note), never half a run.
//!
//! The format, with an example, is described in `scenarios/README.md` in
//! this crate, beside example files for each strategy; the tests run the
//! README's example and every file there.
//!
//! The run uses the same [`Cluster`] of simulated devices and the same
//! step helpers as the built-in scenarios, and reports a
//! [`ScenarioReport`] like theirs: every expectation is one check.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use outpost_core::merge::Strategy;
use outpost_core::vault::Resolution;
use outpost_core::{NoteDraft, NotePatch};
use serde::Deserialize;
use uuid::Uuid;

use crate::account::SimAccount;
use crate::device::{Cluster, DAY_MS, MINUTE_MS};
use crate::error::SimError;
use crate::scenarios::{self, AccountSource, Recorder, ScenarioReport};

/// Why a scenario file was refused. Each names the file; nothing was run.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioFileError {
    /// (The I/O error is in the message, not a `source`: printed as a
    /// chain it would read twice.)
    #[error("{file}: cannot read it: {reason}")]
    Read { file: String, reason: std::io::Error },
    /// Bad JSON, a missing or unknown field, a value of the wrong kind.
    #[error("{file}:{line}:{column}: {message}")]
    Syntax { file: String, line: usize, column: usize, message: String },
    /// Well-formed, but not a scenario that can run.
    #[error("{file}: {place}: {message}")]
    Invalid { file: String, place: String, message: String },
}

/// A scenario read from a file and checked; [`run_file`] plays it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: String,
    pub description: String,
    /// What should happen, in words; shown beside the story.
    #[serde(default)]
    pub expected: Option<String>,
    pub devices: Vec<DeviceSpec>,
    pub steps: Vec<Step>,
    pub expect: Expect,
    /// Where it was read from (set by [`parse`]).
    #[serde(skip)]
    pub origin: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSpec {
    pub name: String,
    /// How far the device's clock is off: `"+1d"`, `"-3h"`, `"90m"`,
    /// `"15s"`, or a number of milliseconds.
    #[serde(default)]
    pub clock_skew: Option<Skew>,
    /// The device's app-wide conflict strategy (default auto-merge).
    #[serde(default)]
    pub strategy: Option<String>,
}

/// A duration as written: text (`"-3h"`) or milliseconds. The text is
/// checked with the rest of the file, so the error can name the device or
/// step.
#[derive(Debug, Clone)]
pub enum Skew {
    Ms(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for Skew {
    // By hand, not `untagged`: serde's untagged error ("data did not match
    // any variant") does not say what to write instead.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Skew;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(r#"a duration like "+1d", "-3h", "90m", "15s", "250ms", or a number of milliseconds"#)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Skew, E> {
                Ok(Skew::Ms(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Skew, E> {
                i64::try_from(v).map(Skew::Ms).map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Skew, E> {
                Ok(Skew::Text(v.to_owned()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// `ms` the way a file writes it: `"5m"`, `"1d"`, `"1500ms"` (no sign).
fn human(ms: i64) -> String {
    let ms = ms.unsigned_abs();
    for (unit, len) in [("d", DAY_MS), ("h", 60 * MINUTE_MS), ("m", MINUTE_MS), ("s", 1_000)] {
        if ms >= len && ms.is_multiple_of(len) {
            return format!("{}{unit}", ms / len);
        }
    }
    format!("{ms}ms")
}

/// One thing that happens. Written `{ "sync": "phone" }`,
/// `{ "edit": { ... } }`, or bare `"sync_all"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// A new note on a device; `note` is the name the file calls it by.
    Create {
        device: String,
        note: String,
        #[serde(default)]
        title: String,
        #[serde(default)]
        body: String,
        #[serde(default)]
        tags: Vec<String>,
        #[serde(default)]
        pinned: bool,
        /// This note's own strategy on this device.
        #[serde(default)]
        strategy: Option<String>,
    },
    /// Change fields of a note; `append` adds text at the end of the body.
    Edit {
        device: String,
        note: String,
        #[serde(default)]
        title: Option<String>,
        #[serde(default)]
        body: Option<String>,
        #[serde(default)]
        append: Option<String>,
        #[serde(default)]
        tags: Option<Vec<String>>,
        #[serde(default)]
        pinned: Option<bool>,
    },
    Delete {
        device: String,
        note: String,
    },
    /// The user switches the device's network off: `sync` does nothing.
    Offline(String),
    Online(String),
    /// One sync pass of the device.
    Sync(String),
    /// Every online device syncs, again and again, until nothing moves.
    SyncAll,
    /// Settle the note's oldest open conflict on the device: `keep` is
    /// `mine` or `theirs`, or give the `merged` text.
    Resolve {
        device: String,
        note: String,
        #[serde(default)]
        keep: Option<String>,
        #[serde(default)]
        merged: Option<String>,
    },
    /// Set the device's strategy, or one note's on it.
    Strategy {
        device: String,
        #[serde(default)]
        note: Option<String>,
        strategy: String,
    },
    /// Let virtual time pass (as `clock_skew`: `"1h"`, `"2d"`, ms).
    Wait(Skew),
}

/// What must hold once the steps have run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Every device holds the same notes as the server, nothing pending.
    #[serde(default)]
    pub converged: Option<bool>,
    #[serde(default)]
    pub notes: BTreeMap<String, NoteExpect>,
    /// Open conflicts per device.
    #[serde(default)]
    pub open_conflicts: BTreeMap<String, usize>,
}

/// What one note must be. Checked on `devices` (every device by default).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteExpect {
    #[serde(default)]
    pub devices: Option<Vec<String>>,
    /// The note is the same (title, body, tags, pinned, deleted) on them.
    #[serde(default)]
    pub converged: Option<bool>,
    #[serde(default)]
    pub deleted: Option<bool>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub pinned: Option<bool>,
    /// Lines that must each be in the body ("nothing lost" markers).
    #[serde(default)]
    pub lines: Vec<String>,
}

/// Read and check the scenario file at `path`.
pub fn load(path: &Path) -> Result<ScenarioFile, ScenarioFileError> {
    let file = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|reason| ScenarioFileError::Read { file: file.clone(), reason })?;
    parse(&text, &file)
}

/// Parse and check a scenario; `origin` names it in errors.
pub fn parse(text: &str, origin: &str) -> Result<ScenarioFile, ScenarioFileError> {
    let mut s: ScenarioFile = serde_json::from_str(text).map_err(|e| ScenarioFileError::Syntax {
        file: origin.to_owned(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    s.origin = origin.to_owned();
    validate(&s)?;
    Ok(s)
}

/// serde_json appends " at line L column C"; the error puts them first.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

fn parse_strategy(s: &str) -> Result<Strategy, String> {
    s.parse()
}

/// The longest duration a file may give, either way: a clock a year off
/// says all there is to say, and the virtual clocks stay far from overflow.
const MAX_DURATION_MS: i64 = 366 * DAY_MS as i64;

/// `"+1d"`, `"-3h"`, `"90m"`, `"15s"`, `"250ms"` or milliseconds, at most
/// a year (366 days) either way.
fn parse_duration(skew: &Skew) -> Result<i64, String> {
    let ms = match skew {
        Skew::Ms(ms) => *ms,
        Skew::Text(t) => parse_duration_text(t.trim())?,
    };
    if ms.checked_abs().is_none_or(|a| a > MAX_DURATION_MS) {
        let sign = if ms < 0 { "-" } else { "" };
        return Err(format!("{sign}{} is more than a year (366d) off; give at most that", human(ms)));
    }
    Ok(ms)
}

fn parse_duration_text(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not a duration (like \"+1d\", \"-3h\", \"90m\", \"15s\", \"250ms\")");
    let (sign, rest) = match text.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let split = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let (digits, unit) = rest.split_at(split);
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let unit_ms: i64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => MINUTE_MS as i64,
        "h" => 60 * MINUTE_MS as i64,
        "d" => DAY_MS as i64,
        _ => return Err(bad()),
    };
    n.checked_mul(unit_ms).map(|v| sign * v).ok_or_else(bad)
}

impl Step {
    fn device(&self) -> Option<&str> {
        match self {
            Step::Create { device, .. }
            | Step::Edit { device, .. }
            | Step::Delete { device, .. }
            | Step::Resolve { device, .. }
            | Step::Strategy { device, .. } => Some(device),
            Step::Offline(d) | Step::Online(d) | Step::Sync(d) => Some(d),
            Step::SyncAll | Step::Wait(_) => None,
        }
    }

    fn note(&self) -> Option<&str> {
        match self {
            Step::Create { note, .. }
            | Step::Edit { note, .. }
            | Step::Delete { note, .. }
            | Step::Resolve { note, .. } => Some(note),
            Step::Strategy { note, .. } => note.as_deref(),
            _ => None,
        }
    }
}

/// Everything that can be known wrong before running: names that do not
/// exist (or not yet), duplicates, strategies and durations that do not
/// parse, steps that say nothing or two contradicting things.
fn validate(s: &ScenarioFile) -> Result<(), ScenarioFileError> {
    let invalid =
        |place: String, message: String| ScenarioFileError::Invalid { file: s.origin.clone(), place, message };
    if s.name.trim().is_empty() {
        return Err(invalid("name".into(), "the scenario needs a name".into()));
    }
    if s.devices.is_empty() {
        return Err(invalid("devices".into(), "at least one device is needed".into()));
    }
    let mut devices = BTreeSet::new();
    for (k, d) in s.devices.iter().enumerate() {
        let place = format!("device {} ({:?})", k + 1, d.name);
        if d.name.trim().is_empty() || d.name.contains(['/', '\\']) || d.name.starts_with('.') {
            return Err(invalid(
                place,
                "a device name must be non-empty, without slashes, not starting with '.'".into(),
            ));
        }
        if !devices.insert(d.name.as_str()) {
            return Err(invalid(place, "the name is used twice".into()));
        }
        if let Some(skew) = &d.clock_skew {
            parse_duration(skew).map_err(|m| invalid(place.clone(), format!("clock_skew: {m}")))?;
        }
        if let Some(st) = &d.strategy {
            parse_strategy(st).map_err(|m| invalid(place.clone(), m))?;
        }
    }
    let known_devices = || devices.iter().copied().collect::<Vec<_>>().join(", ");
    let mut notes = BTreeSet::new();
    for (k, step) in s.steps.iter().enumerate() {
        let place = format!("step {}", k + 1);
        if let Some(d) = step.device() {
            if !devices.contains(d) {
                return Err(invalid(place, format!("no device named {d:?} (devices: {})", known_devices())));
            }
        }
        if let Some(n) = step.note() {
            let created_here = matches!(step, Step::Create { .. });
            if created_here && !notes.insert(n.to_owned()) {
                return Err(invalid(place, format!("note {n:?} is created twice")));
            }
            if !created_here && !notes.contains(n) {
                return Err(invalid(place, format!("no note named {n:?} has been created by this step")));
            }
        }
        match step {
            Step::Create { strategy: Some(st), .. } | Step::Strategy { strategy: st, .. } => {
                parse_strategy(st).map_err(|m| invalid(place.clone(), m))?;
            }
            Step::Edit { title: None, body: None, append: None, tags: None, pinned: None, .. } => {
                return Err(invalid(
                    place,
                    "the edit changes nothing (give title, body, append, tags or pinned)".into(),
                ));
            }
            Step::Edit { body: Some(_), append: Some(_), .. } => {
                return Err(invalid(place, "give body or append, not both".into()));
            }
            Step::Resolve { keep, merged, .. } => match (keep.as_deref(), merged) {
                (Some("mine" | "theirs"), None) | (None, Some(_)) => {}
                (Some(other), None) => {
                    return Err(invalid(place, format!("keep {other:?}: it is \"mine\" or \"theirs\"")));
                }
                _ => return Err(invalid(place, "give either keep (\"mine\" or \"theirs\") or merged text".into())),
            },
            Step::Wait(w) => {
                let ms = parse_duration(w).map_err(|m| invalid(place.clone(), m))?;
                if ms < 0 {
                    return Err(invalid(place, "time only goes forward".into()));
                }
            }
            _ => {}
        }
    }
    for (n, e) in &s.expect.notes {
        let place = format!("expect.notes.{n}");
        if !notes.contains(n.as_str()) {
            return Err(invalid(place, format!("no step creates a note named {n:?}")));
        }
        let checks_something = e.converged.is_some()
            || e.deleted.is_some()
            || e.title.is_some()
            || e.body.is_some()
            || e.tags.is_some()
            || e.pinned.is_some()
            || !e.lines.is_empty();
        if !checks_something {
            return Err(invalid(
                place,
                "nothing is expected of the note (give converged, deleted, title, body, tags, pinned or lines)".into(),
            ));
        }
        if e.devices.as_ref().is_some_and(Vec::is_empty) {
            return Err(invalid(place, "devices is empty: name a device, or leave it out for every device".into()));
        }
        for d in e.devices.iter().flatten() {
            if !devices.contains(d.as_str()) {
                return Err(invalid(place, format!("no device named {d:?} (devices: {})", known_devices())));
            }
        }
    }
    for d in s.expect.open_conflicts.keys() {
        if !devices.contains(d.as_str()) {
            return Err(invalid(
                "expect.open_conflicts".into(),
                format!("no device named {d:?} (devices: {})", known_devices()),
            ));
        }
    }
    let nothing = s.expect.converged.is_none() && s.expect.notes.is_empty() && s.expect.open_conflicts.is_empty();
    if nothing {
        return Err(invalid("expect".into(), "nothing is expected: a scenario must check something".into()));
    }
    Ok(())
}

impl ScenarioFile {
    /// The strategies this scenario sets anywhere (devices, notes, steps).
    pub fn strategies(&self) -> BTreeSet<&'static str> {
        let mut out = BTreeSet::new();
        let named = self.devices.iter().filter_map(|d| d.strategy.as_deref()).chain(self.steps.iter().filter_map(
            |s| match s {
                Step::Create { strategy, .. } => strategy.as_deref(),
                Step::Strategy { strategy, .. } => Some(strategy.as_str()),
                _ => None,
            },
        ));
        for st in named {
            if let Ok(st) = parse_strategy(st) {
                out.insert(st.as_str());
            }
        }
        out
    }

    /// The "expected" text of the report: the file's own words, else a
    /// count of what is checked.
    pub fn expected_text(&self) -> String {
        self.expected.clone().unwrap_or_else(|| {
            let e = &self.expect;
            format!(
                "{} note expectation(s), open conflicts on {} device(s){}; each is a check below",
                e.notes.len(),
                e.open_conflicts.len(),
                if e.converged == Some(true) { ", every device converged" } else { "" }
            )
        })
    }
}

/// Play a checked scenario file on a fresh account from `source`. As with
/// the built-ins, a step that fails (an unexpected error) is reported as a
/// failed check, not as an error.
pub async fn run_file<S: AccountSource>(source: &S, s: &ScenarioFile) -> Result<ScenarioReport, SimError> {
    let started = Instant::now();
    let mut rec = Recorder::default();
    rec.saw(format!("from {}", s.origin));
    let slug: String = s.name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).take(40).collect();
    let username = format!("file-{slug}-{}", Uuid::new_v4().simple());
    let outcome = match source.account(&username).await {
        Ok(account) => play(s, account, &mut rec).await,
        Err(e) => Err(e),
    };
    if let Err(e) = outcome {
        rec.check("the scenario runs to its end", false, e.to_string());
    }
    let passed = !rec.checks.is_empty() && rec.checks.iter().all(|c| c.passed);
    Ok(ScenarioReport {
        name: s.name.clone(),
        story: s.description.clone(),
        expected: s.expected_text(),
        observed: rec.observed,
        checks: rec.checks,
        passed,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

/// Name lookups during a run. Validation made them total; a miss is still
/// an error, not a panic.
struct Names {
    devices: BTreeMap<String, usize>,
    notes: BTreeMap<String, Uuid>,
}

impl Names {
    fn device(&self, name: &str) -> Result<usize, SimError> {
        self.devices.get(name).copied().ok_or_else(|| SimError::Unexpected(format!("no device named {name:?}")))
    }

    fn note(&self, name: &str) -> Result<Uuid, SimError> {
        self.notes.get(name).copied().ok_or_else(|| SimError::Unexpected(format!("no note named {name:?}")))
    }
}

fn strategy(s: &str) -> Result<Strategy, SimError> {
    parse_strategy(s).map_err(SimError::Unexpected)
}

async fn play<A: SimAccount>(s: &ScenarioFile, account: A, rec: &mut Recorder) -> Result<(), SimError> {
    let mut c = Cluster::new(account, 1)?;
    let mut names = Names { devices: BTreeMap::new(), notes: BTreeMap::new() };
    for d in &s.devices {
        let skew = match &d.clock_skew {
            Some(k) => parse_duration(k).map_err(SimError::Unexpected)?,
            None => 0,
        };
        let i = c.add_device(&d.name, skew).await?;
        let mut said = format!("device {}", d.name);
        if skew != 0 {
            said.push_str(&format!(", clock {} {}", human(skew), if skew > 0 { "ahead" } else { "behind" }));
        }
        if let Some(st) = &d.strategy {
            let st = strategy(st)?;
            c.dev(i).with(|v| v.set_conflict_strategy(st))?;
            said.push_str(&format!(", strategy {}", st.as_str()));
        }
        rec.saw(said);
        names.devices.insert(d.name.clone(), i);
    }
    for (k, step) in s.steps.iter().enumerate() {
        play_step(&mut c, rec, &mut names, k + 1, step).await?;
    }
    check(&mut c, rec, &names, s).await
}

async fn play_step<A: SimAccount>(
    c: &mut Cluster<A>,
    rec: &mut Recorder,
    names: &mut Names,
    n: usize,
    step: &Step,
) -> Result<(), SimError> {
    match step {
        Step::Create { device, note, title, body, tags, pinned, strategy: st } => {
            let i = names.device(device)?;
            c.advance(1_000);
            let draft = NoteDraft { title: title.clone(), body: body.clone(), tags: tags.clone(), pinned: *pinned };
            let id = c.dev(i).with(|v| v.create(draft))?.id;
            names.notes.insert(note.clone(), id);
            let mut said = format!("step {n}: {device} creates {note:?}");
            if let Some(st) = st {
                let st = strategy(st)?;
                c.dev(i).with(|v| v.set_note_conflict_strategy(id, Some(st)))?;
                said.push_str(&format!(" (its strategy there: {})", st.as_str()));
            }
            rec.saw(said);
        }
        Step::Edit { device, note, title, body, append, tags, pinned } => {
            let (i, id) = (names.device(device)?, names.note(note)?);
            let body = match append {
                Some(more) => Some(format!("{}{more}", scenarios::body(c, i, id)?)),
                None => body.clone(),
            };
            let patch = NotePatch { title: title.clone(), body, tags: tags.clone(), pinned: *pinned };
            let fields: Vec<&str> = [
                (title.is_some(), "title"),
                (patch.body.is_some(), "body"),
                (tags.is_some(), "tags"),
                (pinned.is_some(), "pinned"),
            ]
            .iter()
            .filter(|f| f.0)
            .map(|f| f.1)
            .collect();
            scenarios::edit(c, i, id, patch)?;
            rec.saw(format!("step {n}: {device} edits {note:?}: {}", fields.join(", ")));
        }
        Step::Delete { device, note } => {
            let (i, id) = (names.device(device)?, names.note(note)?);
            scenarios::delete(c, i, id)?;
            rec.saw(format!("step {n}: {device} deletes {note:?}"));
        }
        Step::Offline(device) | Step::Online(device) => {
            let i = names.device(device)?;
            let online = matches!(step, Step::Online(_));
            c.devices[i].online = online;
            rec.saw(format!("step {n}: {device} goes {}", if online { "online" } else { "offline" }));
        }
        Step::Sync(device) => {
            let i = names.device(device)?;
            if c.devices[i].online {
                scenarios::sync(c, rec, i).await?;
            } else {
                // The user switched the network off: the app does not try.
                rec.saw(format!("step {n}: {device} is offline and does not sync"));
            }
        }
        Step::SyncAll => {
            let settled = c.settle(10).await?;
            rec.saw(format!(
                "step {n}: every online device syncs until nothing moves ({} round(s), {} merged, {} conflict(s) opened)",
                settled.rounds, settled.merged, settled.conflicts_opened
            ));
        }
        Step::Resolve { device, note, keep, merged } => {
            let (i, id) = (names.device(device)?, names.note(note)?);
            let open = c.dev(i).with(|v| v.conflicts(false))?;
            let Some(cf) = open.into_iter().find(|cf| cf.note_id == id) else {
                return Err(SimError::Unexpected(format!(
                    "step {n}: {device} has no open conflict on {note:?} to resolve"
                )));
            };
            let (how, said) = match (keep.as_deref(), merged) {
                (Some("mine"), _) => (Resolution::Mine, "keeping mine".to_owned()),
                (Some("theirs"), _) => (Resolution::Theirs, "taking theirs".to_owned()),
                (_, Some(text)) => (Resolution::Merged(text.clone()), format!("with merged text {text:?}")),
                _ => return Err(SimError::Unexpected(format!("step {n}: resolve how?"))),
            };
            c.advance(1_000);
            c.dev(i).with(|v| v.resolve_conflict(cf.id, how))?;
            rec.saw(format!("step {n}: {device} resolves the {} conflict on {note:?} {said}", cf.kind));
        }
        Step::Strategy { device, note, strategy: st } => {
            let i = names.device(device)?;
            let st = strategy(st)?;
            match note {
                Some(note) => {
                    let id = names.note(note)?;
                    c.dev(i).with(|v| v.set_note_conflict_strategy(id, Some(st)))?;
                    rec.saw(format!("step {n}: {device} sets {note:?}'s strategy to {}", st.as_str()));
                }
                None => {
                    c.dev(i).with(|v| v.set_conflict_strategy(st))?;
                    rec.saw(format!("step {n}: {device} sets its strategy to {}", st.as_str()));
                }
            }
        }
        Step::Wait(w) => {
            let ms = parse_duration(w).map_err(SimError::Unexpected)?;
            c.advance(ms.max(0) as u64);
            rec.saw(format!("step {n}: {} pass", human(ms)));
        }
    }
    Ok(())
}

/// One check per expectation, on the devices as the steps left them (no
/// sync here: a file that wants convergence says `"sync_all"`).
async fn check<A: SimAccount>(
    c: &mut Cluster<A>,
    rec: &mut Recorder,
    names: &Names,
    s: &ScenarioFile,
) -> Result<(), SimError> {
    if let Some(want) = s.expect.converged {
        let mut snaps = Vec::new();
        for d in &c.devices {
            snaps.push(d.snapshot()?);
        }
        let same = snaps.windows(2).all(|w| w[0] == w[1]);
        let pending: u64 = (0..c.devices.len()).map(|i| scenarios::pending(c, i)).sum::<Result<u64, _>>()?;
        let server = scenarios::server_notes(c).await?;
        let matches_server = snaps.first().is_some_and(|snap| {
            snap.len() == server.len()
                && snap.iter().all(|(id, n)| {
                    server.get(id).is_some_and(|&(rev, del)| Some(rev as i64) == n.rev && del == n.deleted)
                })
        });
        let got = same && pending == 0 && matches_server;
        rec.check(
            format!(
                "every device {} the same notes as the server, nothing pending",
                if want { "holds" } else { "does not hold" }
            ),
            got == want,
            format!("devices identical: {same}; pending {pending}; matches the server: {matches_server}"),
        );
    }
    for (name, e) in &s.expect.notes {
        let id = names.note(name)?;
        let on: Vec<String> = match &e.devices {
            Some(d) => d.clone(),
            None => s.devices.iter().map(|d| d.name.clone()).collect(),
        };
        let mut states = Vec::new();
        for d in &on {
            let i = names.device(d)?;
            states.push((d.as_str(), scenarios::note(c, i, id)?));
        }
        if let Some(want) = e.converged {
            let same = states.windows(2).all(|w| w[0].1.as_ref().map(content) == w[1].1.as_ref().map(content));
            rec.check(
                format!("note {name:?}: {} on {}", if want { "the same" } else { "different" }, on.join(", ")),
                same == want,
                format!("same on all: {same}"),
            );
        }
        for (d, n) in &states {
            let what = |field: &str| format!("note {name:?} on {d}: {field}");
            if let Some(want) = e.deleted {
                rec.eq(what("deleted"), n.is_none(), want);
            }
            if let Some(want) = &e.title {
                rec.eq(what("title"), n.as_ref().map(|n| n.title.clone()), Some(want.clone()));
            }
            if let Some(want) = &e.body {
                rec.eq(what("body"), n.as_ref().map(|n| n.body.clone()), Some(want.clone()));
            }
            if let Some(want) = &e.tags {
                rec.eq(what("tags"), n.as_ref().map(|n| n.tags.clone()), Some(want.clone()));
            }
            if let Some(want) = e.pinned {
                rec.eq(what("pinned"), n.as_ref().map(|n| n.pinned), Some(want));
            }
            if !e.lines.is_empty() {
                let body = n.as_ref().map(|n| n.body.as_str()).unwrap_or_default();
                let missing: Vec<&str> =
                    e.lines.iter().filter(|l| !body.lines().any(|b| b == l.as_str())).map(String::as_str).collect();
                rec.check(
                    what(&format!("all {} marker line(s) in the body", e.lines.len())),
                    missing.is_empty(),
                    if missing.is_empty() {
                        "all there".to_owned()
                    } else {
                        format!("missing {missing:?}; body {body:?}")
                    },
                );
            }
        }
    }
    for (d, want) in &s.expect.open_conflicts {
        let i = names.device(d)?;
        rec.eq(format!("open conflicts on {d}"), scenarios::open_conflicts(c, i)?, *want);
    }
    Ok(())
}

/// What "the same note" means: what the user sees, not the stamps.
fn content(n: &outpost_core::Note) -> (String, String, Vec<String>, bool) {
    (n.title.clone(), n.body.clone(), n.tags.clone(), n.pinned)
}
