//! Named conflict scenarios: each sets up devices of one account, plays a
//! story (concurrent edits, deletes, skewed clocks, lost answers, crashes),
//! and checks what DESIGN.md says must happen, recording what did.
//! `outpost conflict-sim` runs them against a real HTTP server on
//! 127.0.0.1; `tests/scenarios.rs` runs them straight on the server's
//! storage too.
//!
//! Every expectation is checked exactly as written. Where the honest
//! expectation is a trade-off (a device whose clock runs a day ahead wins
//! concurrent renames for that day), the description says so.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Instant;

use outpost_core::remote::RemoteError;
use outpost_core::sync::{SyncReport, SyncTransport};
use outpost_core::{Note, NoteDraft, NotePatch};
use outpost_protocol::v1::{PushResponse, PushResult, MAX_PULL_LIMIT};
use serde::Serialize;
use uuid::Uuid;

use crate::account::{BackendAccount, HttpAccount, HttpServer, InProcessServer, SimAccount};
use crate::device::{Cluster, CrashPoint, DAY_MS, MINUTE_MS};
use crate::error::SimError;
use crate::transport::{Fault, FaultRates};

/// A scenario's name and what should happen in it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Scenario {
    pub name: &'static str,
    /// What happens.
    pub story: &'static str,
    /// What must come of it.
    pub expected: &'static str,
}

/// Every scenario, in the order `conflict-sim` runs them.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "same-line",
        story: "Two devices change the same line of a synced note, then sync one after the other.",
        expected: "The second device to sync merges: its body holds both versions between conflict markers and it \
                   opens one conflict; the first device receives that same text (no conflict there). Settling the \
                   conflict with an edited merge is an ordinary edit: both devices end with it, no conflict open.",
    },
    Scenario {
        name: "different-lines",
        story: "Two devices change different lines of a synced note.",
        expected: "Merged cleanly on the second device to sync: both edits in the body everywhere, no conflict.",
    },
    Scenario {
        name: "title-vs-body",
        story: "One device renames a synced note while another edits its body.",
        expected: "Fields merge separately: everywhere the note has the new title and the new body, no conflict.",
    },
    Scenario {
        name: "delete-vs-edit",
        story: "A note is deleted on one device and edited on another, in both orders (the delete reaches the \
                server first, then the edit first).",
        expected: "The edit wins both times: the note comes back with the edit on every device, and the device \
                   that merged reports it as restored.",
    },
    Scenario {
        name: "offline-1000",
        story: "A device goes offline and makes 1,000 edits (lines appended to 20 shared notes) while another \
                device edits the tops of the same notes; then it comes back.",
        expected: "Unsent edits of a note coalesce, so it pushes at most 20 changes; the edits merge cleanly with \
                   the other device's; all 1,050 added lines are on both devices; no conflict; nothing pending.",
    },
    Scenario {
        name: "clock-skew-ahead",
        story: "A device's clock runs a day ahead. (1) It renames a note and syncs; another device pulls that and \
                renames the note again. (2) Both rename a second note without seeing each other.",
        expected: "(1) The later rename wins everywhere: pulling the fast device's change moved the other device's \
                   hybrid logical clock past it, whatever the wall clocks say. (2) Concurrent renames are ordered \
                   by clock stamp, so the device a day ahead wins: that is the cost of a wrong clock, and it is \
                   bounded by the skew (the same rename a day later would win).",
    },
    Scenario {
        name: "clock-skew-behind",
        story: "A device's clock runs a day behind. (1) Another device renames a note and syncs; the slow device \
                pulls that and renames again. (2) Both rename a second note without seeing each other.",
        expected: "(1) The slow device's later rename wins everywhere, and its stamp orders after the one it saw \
                   although its wall clock is a day behind. (2) Among concurrent renames the device with the right \
                   clock wins (the slow device's stamps are a day old).",
    },
    Scenario {
        name: "duplicate-delivery",
        story: "Every push and pull of one device is delivered twice (a retrying proxy).",
        expected: "Each change is stored once: the server holds exactly the notes made, each at the revision its \
                   number of edits gives; the device's outbox empties; the other device pulls each note once.",
    },
    Scenario {
        name: "reordered-delivery",
        story: "Two devices edit the same note; the first device's push is held in the network while the second's \
                goes through, and reaches the server late. Then a push of another note is held, resent and \
                answered, and the late copy arrives after.",
        expected: "The late push is refused as a conflict (its base is old) and the device merges on its next pass: \
                   both edits everywhere, in three revisions (create, edit, merge). The late copy of an answered \
                   push is recognised by its op id: no second revision.",
    },
    Scenario {
        name: "crash-between-push-and-ack",
        story: "A device pushes an edit, the server commits it, and the app is killed before it records the \
                answer; it restarts and syncs.",
        expected: "The edit is still queued after the restart (nothing lost); the resend is answered as a \
                   duplicate, the outbox empties, the server holds one revision for the edit, and the other device \
                   receives it once.",
    },
    Scenario {
        name: "timeout-after-commit",
        story: "A device's push is committed by the server but the answer is lost (a timeout after commit).",
        expected: "The pass fails as unreachable with the edit still queued; the next pass resends the same op id, \
                   is answered \"duplicate\", and the server keeps one revision for the edit.",
    },
    Scenario {
        name: "stale-device",
        story: "A device syncs 12 notes, goes away for a month with one unsent edit, while another device edits four \
                notes, deletes two, and deletes the very note the stale device is editing; a third creates three.",
        expected: "When it comes back the stale device deletes or overwrites nothing that others hold: the others' \
                   edits and deletes reach it, its own edit wins over the delete (the note comes back everywhere), \
                   and all devices converge on 13 live notes.",
    },
    Scenario {
        name: "fresh-device-joins",
        story: "A device with 200 notes (some edited, some deleted) is joined by a new, empty device.",
        expected: "The new device pulls everything and pushes nothing: it holds exactly the same notes and \
                   tombstones, the mass-delete rail is not tripped, and nothing is pending anywhere.",
    },
    Scenario {
        name: "mass-delete",
        story: "(1) Of 20 shared notes one device deletes 12. (2) Of 250 shared notes it deletes 101.",
        expected: "Each time the other device's sync stops before deleting anything (more than half of its notes; \
                   more than 100 notes) and says so; its notes are untouched until the user approves; after \
                   approval the next pass applies the deletes and the devices converge.",
    },
];

/// A check: what was expected, whether it held, and what was seen.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub what: String,
    pub passed: bool,
    pub detail: String,
}

/// What one scenario did.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    pub name: String,
    pub story: String,
    pub expected: String,
    /// What happened, step by step.
    pub observed: Vec<String>,
    pub checks: Vec<Check>,
    pub passed: bool,
    pub elapsed_ms: u64,
}

/// Collects observations and checks while a scenario runs.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub(crate) observed: Vec<String>,
    pub(crate) checks: Vec<Check>,
}

impl Recorder {
    pub(crate) fn saw(&mut self, line: impl Into<String>) {
        self.observed.push(line.into());
    }

    pub(crate) fn check(&mut self, what: impl Into<String>, passed: bool, detail: impl Into<String>) {
        self.checks.push(Check { what: what.into(), passed, detail: detail.into() });
    }

    pub(crate) fn eq<T: PartialEq + std::fmt::Debug>(&mut self, what: impl Into<String>, got: T, want: T) {
        let passed = got == want;
        let detail = if passed { format!("{got:?}") } else { format!("got {got:?}, expected {want:?}") };
        self.check(what, passed, detail);
    }
}

/// Where scenarios get their accounts: a fresh one each.
pub trait AccountSource {
    type Account: SimAccount;
    fn account(&self, username: &str) -> impl Future<Output = Result<Self::Account, SimError>>;
}

impl AccountSource for HttpServer {
    type Account = HttpAccount;
    fn account(&self, username: &str) -> impl Future<Output = Result<HttpAccount, SimError>> {
        HttpServer::account(self, username)
    }
}

impl AccountSource for InProcessServer {
    type Account = BackendAccount;
    fn account(&self, username: &str) -> impl Future<Output = Result<BackendAccount, SimError>> {
        InProcessServer::account(self, username)
    }
}

/// Look a scenario up by name.
pub fn find(name: &str) -> Result<&'static Scenario, SimError> {
    SCENARIOS.iter().find(|s| s.name == name).ok_or_else(|| SimError::UnknownScenario(name.to_owned()))
}

/// Run the scenario `name` on a fresh account from `source`. A scenario
/// that cannot run to its end (an unexpected error) is reported as failed,
/// with the error.
pub async fn run<S: AccountSource>(source: &S, name: &str) -> Result<ScenarioReport, SimError> {
    let scenario = find(name)?;
    let started = Instant::now();
    let mut rec = Recorder::default();
    let username = format!("{}-{}", scenario.name, Uuid::new_v4().simple());
    let outcome = match source.account(&username).await {
        Ok(account) => play(scenario.name, account, &mut rec).await,
        Err(e) => Err(e),
    };
    if let Err(e) = outcome {
        rec.check("the scenario runs to its end", false, e.to_string());
    }
    let passed = !rec.checks.is_empty() && rec.checks.iter().all(|c| c.passed);
    Ok(ScenarioReport {
        name: scenario.name.to_owned(),
        story: scenario.story.to_owned(),
        expected: scenario.expected.to_owned(),
        observed: rec.observed,
        checks: rec.checks,
        passed,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

async fn play<A: SimAccount>(name: &str, account: A, rec: &mut Recorder) -> Result<(), SimError> {
    let mut c = Cluster::new(account, 1)?;
    match name {
        "same-line" => same_line(&mut c, rec).await,
        "different-lines" => different_lines(&mut c, rec).await,
        "title-vs-body" => title_vs_body(&mut c, rec).await,
        "delete-vs-edit" => delete_vs_edit(&mut c, rec).await,
        "offline-1000" => offline_1000(&mut c, rec).await,
        "clock-skew-ahead" => clock_skew(&mut c, rec, DAY_MS as i64).await,
        "clock-skew-behind" => clock_skew(&mut c, rec, -(DAY_MS as i64)).await,
        "duplicate-delivery" => duplicate_delivery(&mut c, rec).await,
        "reordered-delivery" => reordered_delivery(&mut c, rec).await,
        "crash-between-push-and-ack" => crash_between_push_and_ack(&mut c, rec).await,
        "timeout-after-commit" => timeout_after_commit(&mut c, rec).await,
        "stale-device" => stale_device(&mut c, rec).await,
        "fresh-device-joins" => fresh_device_joins(&mut c, rec).await,
        "mass-delete" => mass_delete(&mut c, rec).await,
        other => Err(SimError::UnknownScenario(other.to_owned())),
    }
}

// ---------------------------------------------------------------------------
// Small steps, each logged.

pub(crate) fn create<A: SimAccount>(c: &mut Cluster<A>, i: usize, title: &str, body: &str) -> Result<Uuid, SimError> {
    c.advance(1_000);
    let draft = NoteDraft { title: title.into(), body: body.into(), ..Default::default() };
    Ok(c.dev(i).with(|v| v.create(draft))?.id)
}

pub(crate) fn edit<A: SimAccount>(c: &mut Cluster<A>, i: usize, id: Uuid, patch: NotePatch) -> Result<(), SimError> {
    c.advance(1_000);
    c.dev(i).with(|v| v.edit(id, patch)).map(drop)
}

fn set_body<A: SimAccount>(c: &mut Cluster<A>, i: usize, id: Uuid, body: &str) -> Result<(), SimError> {
    edit(c, i, id, NotePatch { body: Some(body.into()), ..Default::default() })
}

fn set_title<A: SimAccount>(c: &mut Cluster<A>, i: usize, id: Uuid, title: &str) -> Result<(), SimError> {
    edit(c, i, id, NotePatch { title: Some(title.into()), ..Default::default() })
}

pub(crate) fn delete<A: SimAccount>(c: &mut Cluster<A>, i: usize, id: Uuid) -> Result<(), SimError> {
    c.advance(1_000);
    c.dev(i).with(|v| v.delete(id))
}

/// The live note, or `None` for a tombstone or an unknown id.
pub(crate) fn note<A: SimAccount>(c: &mut Cluster<A>, i: usize, id: Uuid) -> Result<Option<Note>, SimError> {
    match c.dev(i).vault()?.get(id) {
        Ok(n) => Ok(Some(n)),
        Err(outpost_core::Error::NoteNotFound(_)) => Ok(None),
        Err(e) => Err(SimError::Core { device: c.devices[i].name.clone(), source: e }),
    }
}

pub(crate) fn body<A: SimAccount>(c: &mut Cluster<A>, i: usize, id: Uuid) -> Result<String, SimError> {
    Ok(note(c, i, id)?.map(|n| n.body).unwrap_or_default())
}

pub(crate) fn open_conflicts<A: SimAccount>(c: &mut Cluster<A>, i: usize) -> Result<usize, SimError> {
    c.dev(i).with(|v| v.conflicts(false)).map(|v| v.len())
}

pub(crate) fn pending<A: SimAccount>(c: &mut Cluster<A>, i: usize) -> Result<u64, SimError> {
    c.dev(i).with(|v| v.status()).map(|s| s.pending)
}

fn describe(r: &SyncReport) -> String {
    let mut parts = vec![format!("pushed {}", r.pushed), format!("pulled {}", r.pulled)];
    for (n, what) in [
        (r.duplicates, "answered as duplicate"),
        (r.push_conflicts, "refused as conflict"),
        (r.merged, "merged"),
        (r.conflicts_opened, "conflict opened"),
        (r.restored, "restored"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    parts.join(", ")
}

/// Sync device `i`; any error fails the scenario.
pub(crate) async fn sync<A: SimAccount>(
    c: &mut Cluster<A>,
    rec: &mut Recorder,
    i: usize,
) -> Result<SyncReport, SimError> {
    c.advance(6 * MINUTE_MS);
    let r = c.sync(i).await?;
    rec.saw(format!("{} syncs: {}", c.devices[i].name, describe(&r)));
    Ok(r)
}

/// Sync device `i`, expecting the pass to fail; returns the error.
async fn sync_err<A: SimAccount>(c: &mut Cluster<A>, rec: &mut Recorder, i: usize) -> Result<SimError, SimError> {
    c.advance(6 * MINUTE_MS);
    match c.sync(i).await {
        Ok(r) => {
            rec.saw(format!("{} syncs: {}", c.devices[i].name, describe(&r)));
            Err(SimError::Unexpected(format!("{}'s sync was expected to fail, and did not", c.devices[i].name)))
        }
        Err(e) => {
            rec.saw(format!("{} syncs: fails: {e}", c.devices[i].name));
            Ok(e)
        }
    }
}

/// Settle, then check that every device holds the same notes, matching
/// the server, with nothing pending.
async fn check_converged<A: SimAccount>(c: &mut Cluster<A>, rec: &mut Recorder) -> Result<(), SimError> {
    let settled = c.settle(10).await?;
    let rounds = if settled.rounds == 1 { "1 round".to_owned() } else { format!("{} rounds", settled.rounds) };
    rec.saw(format!("every device synced until nothing moved ({rounds})"));
    let mut snaps = Vec::new();
    for d in &c.devices {
        snaps.push(d.snapshot()?);
    }
    let same = snaps.windows(2).all(|w| w[0] == w[1]);
    let pending: u64 = (0..c.devices.len()).map(|i| pending(c, i)).sum::<Result<u64, _>>()?;
    let server = server_notes(c).await?;
    let matches_server = snaps[0].len() == server.len()
        && snaps[0]
            .iter()
            .all(|(id, n)| server.get(id).is_some_and(|&(rev, del)| Some(rev as i64) == n.rev && del == n.deleted));
    rec.check(
        "every device holds the same notes as the server, nothing pending",
        same && pending == 0 && matches_server,
        format!(
            "{} devices identical: {same}; {} notes ({} live); pending {pending}; matches the server: {matches_server}",
            c.devices.len(),
            snaps[0].len(),
            snaps[0].values().filter(|n| !n.deleted).count()
        ),
    );
    Ok(())
}

/// The server's latest revision and tombstone flag of every note.
pub(crate) async fn server_notes<A: SimAccount>(c: &Cluster<A>) -> Result<BTreeMap<Uuid, (u64, bool)>, SimError> {
    let server = c.devices[0].net.inner();
    let mut out = BTreeMap::new();
    let mut cursor = 0;
    loop {
        let page = server.pull(cursor, MAX_PULL_LIMIT).await?;
        for ch in &page.changes {
            out.insert(ch.note_id, (ch.rev, ch.deleted));
        }
        cursor = page.next_cursor;
        if !page.more {
            return Ok(out);
        }
    }
}

async fn two_devices<A: SimAccount>(c: &mut Cluster<A>) -> Result<(usize, usize), SimError> {
    Ok((c.add_device("laptop", 0).await?, c.add_device("phone", 0).await?))
}

// ---------------------------------------------------------------------------
// The scenarios.

async fn same_line<A: SimAccount>(c: &mut Cluster<A>, rec: &mut Recorder) -> Result<(), SimError> {
    let (a, b) = two_devices(c).await?;
    let id = create(c, a, "Shopping", "milk\nbread\neggs\n")?;
    sync(c, rec, a).await?;
    sync(c, rec, b).await?;
    set_body(c, a, id, "milk\nsourdough bread\neggs\n")?;
    set_body(c, b, id, "milk\nrye bread\neggs\n")?;
    rec.saw("laptop changes line 2 to \"sourdough bread\", phone to \"rye bread\"");
    sync(c, rec, a).await?;
    let r = sync(c, rec, b).await?;
    let merged = body(c, b, id)?;
    rec.saw(format!("phone's body now: {merged:?}"));
    rec.eq("phone merged once and opened one conflict", (r.merged, r.conflicts_opened), (1, 1));
    rec.check(
        "phone's body keeps both versions between conflict markers",
        merged.contains("sourdough bread") && merged.contains("rye bread") && merged.contains("<<<<<<< ours"),
        format!("{merged:?}"),
    );
    sync(c, rec, a).await?;
    let on_a = body(c, a, id)?;
    rec.eq("laptop receives the same text", on_a.as_str(), merged.as_str());
    let conflicts = (open_conflicts(c, a)?, open_conflicts(c, b)?);
    rec.eq("open conflicts (laptop, phone)", conflicts, (0, 1));
    let conflict = c.dev(b).with(|v| v.conflicts(false))?.into_iter().next();
    if let Some(cf) = conflict {
        rec.eq("the conflict is an overlap, holding both sides", cf.kind.as_str(), "overlap");
        let settled = "milk\nsourdough and rye bread\neggs\n";
        c.dev(b).with(|v| v.resolve_conflict(cf.id, outpost_core::vault::Resolution::Merged(settled.into())))?;
        rec.saw(format!("phone settles it with an edited merge: {settled:?}"));
        check_converged(c, rec).await?;
        let both = (body(c, a, id)?, body(c, b, id)?);
        rec.eq("both devices show the settled text", both, (settled.to_owned(), settled.to_owned()));
        rec.eq("open conflicts after settling (laptop, phone)", (open_conflicts(c, a)?, open_conflicts(c, b)?), (0, 0));
    }
    Ok(())
}

async fn different_lines<A: SimAccount>(c: &mut Cluster<A>, rec: &mut Recorder) -> Result<(), SimError> {
    let (a, b) = two_devices(c).await?;
    let id = create(c, a, "Plan", "one\ntwo\nthree\n")?;
    sync(c, rec, a).await?;
    sync(c, rec, b).await?;
    set_body(c, a, id, "ONE\ntwo\nthree\n")?;
    set_body(c, b, id, "one\ntwo\nTHREE\n")?;
    rec.saw("laptop changes line 1, phone line 3");
    sync(c, rec, a).await?;
    let r = sync(c, rec, b).await?;
    rec.eq("phone merged cleanly (merged, conflicts opened)", (r.merged, r.conflicts_opened), (1, 0));
    check_converged(c, rec).await?;
    let both = (body(c, a, id)?, body(c, b, id)?);
    let want = "ONE\ntwo\nTHREE\n".to_owned();
    rec.eq("both edits on both devices", both, (want.clone(), want));
    rec.eq("open conflicts (laptop, phone)", (open_conflicts(c, a)?, open_conflicts(c, b)?), (0, 0));
    Ok(())
}

async fn title_vs_body<A: SimAccount>(c: &mut Cluster<A>, rec: &mut Recorder) -> Result<(), SimError> {
    let (a, b) = two_devices(c).await?;
    let id = create(c, a, "Draft", "first thoughts\n")?;
    sync(c, rec, a).await?;
    sync(c, rec, b).await?;
    set_title(c, a, id, "Essay")?;
    set_body(c, b, id, "first thoughts\nsecond thoughts\n")?;
    rec.saw("laptop renames the note to \"Essay\", phone adds a line");
    sync(c, rec, a).await?;
    sync(c, rec, b).await?;
    check_converged(c, rec).await?;
    for (i, name) in [(a, "laptop"), (b, "phone")] {
        let n = note(c, i, id)?;
        let got = n.map(|n| (n.title, n.body));
        rec.eq(
            format!("{name}: new title and new body"),
            got,
            Some(("Essay".to_owned(), "first thoughts\nsecond thoughts\n".to_owned())),
        );
    }
    rec.eq("open conflicts (laptop, phone)", (open_conflicts(c, a)?, open_conflicts(c, b)?), (0, 0));
    Ok(())
}

async fn delete_vs_edit<A: SimAccount>(c: &mut Cluster<A>, rec: &mut Recorder) -> Result<(), SimError> {
    let (a, b) = two_devices(c).await?;
    let x = create(c, a, "Delete reaches the server first", "x\n")?;
    let y = create(c, a, "Edit reaches the server first", "y\n")?;
    sync(c, rec, a).await?;
    sync(c, rec, b).await?;

    delete(c, a, x)?;
    set_body(c, b, x, "x\nedited on the phone\n")?;
    rec.saw("note X: laptop deletes it, phone edits it; laptop syncs first");
    sync(c, rec, a).await?;
    let r = sync(c, rec, b).await?;
    rec.eq("phone reports note X restored", r.restored, 1);

    set_body(c, b, y, "y\nedited on the phone\n")?;
    delete(c, a, y)?;
    rec.saw("note Y: phone edits it, laptop deletes it; phone syncs first");
    sync(c, rec, b).await?;
    let r = sync(c, rec, a).await?;
    rec.eq("laptop reports note Y restored", r.restored, 1);

    check_converged(c, rec).await?;
    for (id, label, want) in [(x, "X", "x\nedited on the phone\n"), (y, "Y", "y\nedited on the phone\n")] {
        let got = (note(c, a, id)?.map(|n| n.body), note(c, b, id)?.map(|n| n.body));
        rec.eq(
            format!("note {label} is back with the edit on both devices"),
            got,
            (Some(want.into()), Some(want.into())),
        );
    }
    Ok(())
}

async fn offline_1000<A: SimAccount>(c: &mut Cluster<A>, rec: &mut Recorder) -> Result<(), SimError> {
    let (a, b) = two_devices(c).await?;
    let mut ids = Vec::new();
    for k in 0..20 {
        ids.push(create(c, a, &format!("note {k}"), &format!("note {k} begins\nnote {k} ends\n"))?);
    }
    sync(c, rec, a).await?;
    sync(c, rec, b).await?;
    c.devices[b].online = false;
    rec.saw("phone goes offline and makes 1,000 edits, each appending a line to one of 20 notes");
    let mut bodies: Vec<String> = Vec::new();
    for id in &ids {
        bodies.push(body(c, b, *id)?);
    }
    for e in 0..1000 {
        let k = e % 20;
        bodies[k].push_str(&format!("offline edit {e}\n"));
        c.advance(1_000);
        let text = bodies[k].clone();
        c.dev(b).with(|v| v.edit(ids[k], NotePatch { body: Some(text), ..Default::default() }))?;
    }
    let entries = c.dev(b).with(|v| v.outbox())?.len();
    rec.saw(format!("phone's outbox holds {entries} entries for 1,000 edits"));
    rec.check("unsent edits coalesce: at most one entry per note", entries <= 20, format!("{entries} entries"));
    rec.saw("meanwhile the laptop adds a line at the top of each note, 50 times in all");
    for e in 0..50 {
        let k = e % 20;
        let current = body(c, a, ids[k])?;
        set_body(c, a, ids[k], &format!("laptop edit {e}\n{current}"))?;
    }
    sync(c, rec, a).await?;
    c.devices[b].online = true;
    let r = sync(c, rec, b).await?;
    rec.check("phone pushes at most 20 changes", r.pushed <= 20, format!("pushed {}", r.pushed));
    rec.eq("no conflict opened", r.conflicts_opened, 0);
    check_converged(c, rec).await?;
    let mut missing = 0;
    for &i in &[a, b] {
        let mut all = String::new();
        for id in &ids {
            all.push_str(&body(c, i, *id)?);
        }
        missing += (0..1000).filter(|e| !all.contains(&format!("offline edit {e}\n"))).count();
        missing += (0..50).filter(|e| !all.contains(&format!("laptop edit {e}\n"))).count();
    }
    rec.eq("lines missing on either device (of 1,050)", missing, 0);
    rec.eq("open conflicts (laptop, phone)", (open_conflicts(c, a)?, open_conflicts(c, b)?), (0, 0));
    Ok(())
}

/// `skew` is the skewed device's offset: a day ahead or behind.
async fn clock_skew<A: SimAccount>(c: &mut Cluster<A>, rec: &mut Recorder, skew: i64) -> Result<(), SimError> {
    let a = c.add_device("laptop", 0).await?;
    let s = c.add_device("skewed", skew).await?;
    rec.saw(format!(
        "the \"skewed\" device's clock is {} hours {}",
        skew.abs() / 3_600_000,
        if skew > 0 { "ahead" } else { "behind" }
    ));
    let one = create(c, a, "Title 0", "first\n")?;
    let two = create(c, a, "Concurrent 0", "second\n")?;
    sync(c, rec, a).await?;
    sync(c, rec, s).await?;

    // (1) Causal: the later rename was made after seeing the earlier one.
    let (first, second) = if skew > 0 { (s, a) } else { (a, s) };
    set_title(c, first, one, "renamed first")?;
    sync(c, rec, first).await?;
    sync(c, rec, second).await?;
    set_title(c, second, one, "renamed after seeing it")?;
    rec.saw(format!(
        "{} renames note 1 and syncs; {} pulls that, then renames it again",
        c.devices[first].name, c.devices[second].name
    ));
    let first_hlc = note(c, first, one)?.map(|n| n.hlc);
    let second_hlc = note(c, second, one)?.map(|n| n.hlc);
    rec.check(
        "the later rename's stamp orders after the one it saw",
        second_hlc > first_hlc,
        format!("{second_hlc:?} after {first_hlc:?}"),
    );
    sync(c, rec, second).await?;
    sync(c, rec, first).await?;

    // (2) Concurrent: neither saw the other.
    set_title(c, a, two, "laptop's rename")?;
    set_title(c, s, two, "skewed device's rename")?;
    rec.saw("both rename note 2 without seeing each other; the laptop syncs first");
    sync(c, rec, a).await?;
    sync(c, rec, s).await?;
    check_converged(c, rec).await?;
    let titles = (note(c, a, one)?.map(|n| n.title), note(c, s, one)?.map(|n| n.title));
    let later = Some("renamed after seeing it".to_owned());
    rec.eq("note 1: the later rename wins on both devices", titles, (later.clone(), later));
    let winner = if skew > 0 { "skewed device's rename" } else { "laptop's rename" };
    let titles = (note(c, a, two)?.map(|n| n.title), note(c, s, two)?.map(|n| n.title));
    rec.eq(
        format!("note 2: concurrent renames go by stamp: \"{winner}\" wins"),
        titles,
        (Some(winner.to_owned()), Some(winner.to_owned())),
    );
    Ok(())
}

async fn duplicate_delivery<A: SimAccount>(c: &mut Cluster<A>, rec: &mut Recorder) -> Result<(), SimError> {
    let (a, b) = two_devices(c).await?;
    c.devices[a].net.set_rates(FaultRates { duplicate: 1.0, ..FaultRates::NONE });
    rec.saw("the laptop's network delivers every request twice");
    let x = create(c, a, "x", "x\n")?;
    let y = create(c, a, "y", "y\n")?;
    let z = create(c, a, "z", "z\n")?;
    sync(c, rec, a).await?;
    set_body(c, a, z, "z\nedited\n")?;
    sync(c, rec, a).await?;
    rec.eq("laptop's outbox is empty", pending(c, a)?, 0);
    let server = server_notes(c).await?;
    let revs: Vec<Option<u64>> = [x, y, z].iter().map(|id| server.get(id).map(|s| s.0)).collect();
    rec.eq("server: 3 notes at revisions 1, 1, 2", (server.len(), revs), (3, vec![Some(1), Some(1), Some(2)]));
    let counts = c.devices[a].net.counts();
    rec.saw(format!("requests delivered twice: {}", counts.duplicated));
    let r = sync(c, rec, b).await?;
    rec.eq("phone pulls each note once", r.pulled, 3);
    c.devices[a].net.set_rates(FaultRates::NONE);
    check_converged(c, rec).await
}

async fn reordered_delivery<A: SimAccount>(c: &mut Cluster<A>, rec: &mut Recorder) -> Result<(), SimError> {
    let (a, b) = two_devices(c).await?;
    let id = create(c, a, "Shared", "one\ntwo\nthree\n")?;
    let other = create(c, a, "Other", "alone\n")?;
    sync(c, rec, a).await?;
    sync(c, rec, b).await?;

    set_body(c, a, id, "ONE\ntwo\nthree\n")?;
    set_body(c, b, id, "one\ntwo\nTHREE\n")?;
    c.devices[a].net.script([Fault::Hold]);
    rec.saw("both edit the shared note; the laptop's push is held in the network");
    sync_err(c, rec, a).await?;
    sync(c, rec, b).await?;
    let late = c.devices[a].net.deliver_held(1).await;
    let answer = late_answer(&late);
    rec.saw(format!("the held push reaches the server late; the server answers {answer} (to nobody)"));
    rec.eq("the late push is refused as a conflict", answer.as_str(), "conflict");
    let r = sync(c, rec, a).await?;
    rec.eq("laptop's resend is refused as a conflict and merged", (r.push_conflicts, r.merged), (1, 1));
    check_converged(c, rec).await?;
    let want = "ONE\ntwo\nTHREE\n".to_owned();
    rec.eq("both edits on both devices", (body(c, a, id)?, body(c, b, id)?), (want.clone(), want));
    let server = server_notes(c).await?;
    rec.eq("the shared note took 3 revisions (create, edit, merge)", server.get(&id).map(|s| s.0), Some(3));

    set_body(c, a, other, "alone\nedited\n")?;
    c.devices[a].net.script([Fault::Hold]);
    rec.saw("the laptop edits the other note; its push is held, then resent and answered");
    sync_err(c, rec, a).await?;
    let r = sync(c, rec, a).await?;
    rec.eq("the resend is applied", r.pushed, 1);
    let late = c.devices[a].net.deliver_held(1).await;
    let answer = late_answer(&late);
    rec.saw(format!("the late copy reaches the server after the answer; the server answers {answer}"));
    rec.eq("the late copy is recognised by its op id", answer.as_str(), "duplicate");
    let server = server_notes(c).await?;
    rec.eq("the other note has 2 revisions, not 3", server.get(&other).map(|s| s.0), Some(2));
    check_converged(c, rec).await
}

/// What the server answered to one late push of one op.
fn late_answer(late: &[Result<PushResponse, RemoteError>]) -> String {
    match late {
        [Ok(resp)] => match resp.results.as_slice() {
            [PushResult::Applied { .. }] => "applied".into(),
            [PushResult::Duplicate { .. }] => "duplicate".into(),
            [PushResult::Conflict { .. }] => "conflict".into(),
            other => format!("{} results", other.len()),
        },
        [Err(e)] => format!("an error: {e}"),
        other => format!("{} answers", other.len()),
    }
}

async fn crash_between_push_and_ack<A: SimAccount>(c: &mut Cluster<A>, rec: &mut Recorder) -> Result<(), SimError> {
    let (a, b) = two_devices(c).await?;
    let id = create(c, a, "Crash", "before\n")?;
    sync(c, rec, a).await?;
    sync(c, rec, b).await?;
    set_body(c, a, id, "before\nafter\n")?;
    c.advance(MINUTE_MS);
    let sent = c.dev(a).sync_and_crash(CrashPoint::AfterPush).await?;
    rec.saw(format!("the laptop pushes (sent: {sent}), the server commits, the app is killed and restarted"));
    rec.eq("after the restart the edit is still queued", pending(c, a)?, 1);
    rec.eq("the laptop still shows the edit", body(c, a, id)?, "before\nafter\n".to_owned());
    let server = server_notes(c).await?;
    rec.eq("the server already has revision 2", server.get(&id).map(|s| s.0), Some(2));
    let r = sync(c, rec, a).await?;
    rec.eq("the resend is answered as a duplicate (pushed, duplicates)", (r.pushed, r.duplicates), (0, 1));
    rec.eq("the outbox is empty", pending(c, a)?, 0);
    let server = server_notes(c).await?;
    rec.eq("the server still holds revision 2", server.get(&id).map(|s| s.0), Some(2));
    let r = sync(c, rec, b).await?;
    rec.eq("the phone pulls the edit once", r.pulled, 1);
    rec.eq("the phone shows it", body(c, b, id)?, "before\nafter\n".to_owned());
    check_converged(c, rec).await
}

async fn timeout_after_commit<A: SimAccount>(c: &mut Cluster<A>, rec: &mut Recorder) -> Result<(), SimError> {
    let (a, b) = two_devices(c).await?;
    let id = create(c, a, "Timeout", "v1\n")?;
    sync(c, rec, a).await?;
    set_body(c, a, id, "v1\nv2\n")?;
    c.devices[a].net.script([Fault::DropAnswer]);
    rec.saw("the laptop pushes an edit; the server commits it and the answer is lost");
    let e = sync_err(c, rec, a).await?;
    rec.check("the pass fails as unreachable", e.is_network_fault(), e.to_string());
    rec.eq("the edit is still queued", pending(c, a)?, 1);
    let server = server_notes(c).await?;
    rec.eq("the server has revision 2", server.get(&id).map(|s| s.0), Some(2));
    let r = sync(c, rec, a).await?;
    rec.eq("the resend is answered as a duplicate (pushed, duplicates)", (r.pushed, r.duplicates), (0, 1));
    let server = server_notes(c).await?;
    rec.eq("the server still holds revision 2", server.get(&id).map(|s| s.0), Some(2));
    sync(c, rec, b).await?;
    rec.eq("the phone has the edit", body(c, b, id)?, "v1\nv2\n".to_owned());
    check_converged(c, rec).await
}

async fn stale_device<A: SimAccount>(c: &mut Cluster<A>, rec: &mut Recorder) -> Result<(), SimError> {
    let a = c.add_device("laptop", 0).await?;
    let b = c.add_device("tablet", 0).await?;
    let s = c.add_device("old-phone", 0).await?;
    let mut ids = Vec::new();
    for k in 0..12 {
        ids.push(create(c, a, &format!("note {k}"), &format!("note {k}\n"))?);
    }
    sync(c, rec, a).await?;
    sync(c, rec, b).await?;
    sync(c, rec, s).await?;
    set_body(c, s, ids[0], "note 0\nedited on the old phone before it went away\n")?;
    c.devices[s].online = false;
    rec.saw("the old phone edits note 0 and goes away for a month");
    for (k, id) in ids.iter().enumerate().take(5).skip(1) {
        set_body(c, a, *id, &format!("note {k}\nupdated on the laptop\n"))?;
    }
    delete(c, a, ids[5])?;
    delete(c, a, ids[6])?;
    delete(c, a, ids[0])?;
    rec.saw("the laptop edits notes 1-4, deletes notes 5, 6 and 0");
    for k in 0..3 {
        create(c, b, &format!("tablet note {k}"), "new\n")?;
    }
    rec.saw("the tablet creates 3 notes");
    sync(c, rec, a).await?;
    sync(c, rec, b).await?;
    c.advance(30 * DAY_MS);
    c.devices[s].online = true;
    let r = sync(c, rec, s).await?;
    rec.eq("the old phone's edit wins over the delete (restored)", r.restored, 1);
    check_converged(c, rec).await?;
    let mut ok = true;
    let mut detail = Vec::new();
    for (k, id) in ids.iter().enumerate().take(5).skip(1) {
        let got = body(c, s, *id)?;
        ok &= got == format!("note {k}\nupdated on the laptop\n");
        detail.push(format!("note {k}: {got:?}"));
    }
    rec.check("the laptop's edits are on the old phone, not overwritten", ok, detail.join("; "));
    let gone = (note(c, a, ids[5])?.is_none(), note(c, a, ids[6])?.is_none());
    rec.eq("notes 5 and 6 stay deleted", gone, (true, true));
    let back = note(c, a, ids[0])?.map(|n| n.body);
    rec.eq(
        "note 0 is back everywhere with the old phone's edit",
        back,
        Some("note 0\nedited on the old phone before it went away\n".to_owned()),
    );
    let live = c.dev(a).with(|v| v.list())?.len();
    rec.eq("live notes", live, 13);
    Ok(())
}

async fn fresh_device_joins<A: SimAccount>(c: &mut Cluster<A>, rec: &mut Recorder) -> Result<(), SimError> {
    let a = c.add_device("laptop", 0).await?;
    let mut ids = Vec::new();
    c.dev(a).with(|v| {
        v.batch(|w| {
            for k in 0..200 {
                let draft = NoteDraft { title: format!("note {k}"), body: format!("body {k}\n"), ..Default::default() };
                ids.push(w.create(draft)?.id);
            }
            Ok(())
        })
    })?;
    sync(c, rec, a).await?;
    for id in ids.iter().take(30) {
        set_body(c, a, *id, "edited\n")?;
    }
    for id in ids.iter().skip(30).take(20) {
        delete(c, a, *id)?;
    }
    sync(c, rec, a).await?;
    rec.saw("the laptop has 200 notes: 30 edited, 20 deleted, all synced");
    let d = c.add_device("new-phone", 0).await?;
    rec.saw("a new, empty device joins the account");
    let r = sync(c, rec, d).await?;
    rec.eq("it pulls all 200 and pushes nothing (pulled, pushed)", (r.pulled, r.pushed), (200, 0));
    let same = c.devices[a].snapshot()? == c.devices[d].snapshot()?;
    rec.check("it holds exactly the laptop's notes and tombstones", same, format!("identical: {same}"));
    check_converged(c, rec).await
}

async fn mass_delete<A: SimAccount>(c: &mut Cluster<A>, rec: &mut Recorder) -> Result<(), SimError> {
    let (a, b) = two_devices(c).await?;
    for (total, deleted) in [(20usize, 12usize), (250, 101)] {
        let mut ids = Vec::new();
        c.dev(a).with(|v| {
            v.batch(|w| {
                for k in 0..total {
                    let draft = NoteDraft { title: format!("n{k}"), body: format!("{k}\n"), ..Default::default() };
                    ids.push(w.create(draft)?.id);
                }
                Ok(())
            })
        })?;
        sync(c, rec, a).await?;
        sync(c, rec, b).await?;
        let before = c.dev(b).with(|v| v.list())?.len();
        c.dev(a).with(|v| v.batch(|w| ids.iter().take(deleted).try_for_each(|id| w.delete(*id))))?;
        rec.saw(format!("the laptop deletes {deleted} of {total} new notes and syncs"));
        sync(c, rec, a).await?;
        let e = sync_err(c, rec, b).await?;
        rec.check(format!("{deleted} deletions: the phone's sync holds them"), e.is_mass_delete_held(), e.to_string());
        let held = c.dev(b).with(|v| v.list())?.len();
        rec.eq("the phone's notes are untouched", held, before);
        c.dev(b).with(|v| v.approve_mass_delete())?;
        rec.saw("the user approves on the phone");
        sync(c, rec, b).await?;
        let after = c.dev(b).with(|v| v.list())?.len();
        rec.eq("after approval the deletes apply", after, before - deleted);
        check_converged(c, rec).await?;
    }
    Ok(())
}
