//! The randomized simulation: five devices of one user and a server, one
//! seeded random stream choosing every step, then healing and checking
//! what must always hold (DESIGN.md 2, 3, 4, 9 and 12).
//!
//! Steps: creates, body edits (each inserts a line, or extends one, with a
//! unique marker such as `[m42]`, so "nothing lost" is checked exactly),
//! title, tag and pin edits, deletes (rarely of three quarters of a device's
//! notes at once, which the mass-delete rail holds), history and trash
//! (moving notes to the trash and back, restoring an older version,
//! emptying the trash), offline spells, partitions, crashes
//! with restart (also between a push and its answer), conflict settling,
//! held requests let through late, and sync passes through a network that
//! drops requests, loses answers, repeats and delays them.
//!
//! After healing (every device online, the network perfect, held requests
//! delivered, every device synced until a whole round moves nothing):
//! - every device holds the same notes (content, stamp, revision), and
//!   they are the server's latest versions;
//! - every outbox is empty and nothing failed;
//! - the notes are exactly the ones created, each once;
//! - every marker ever saved is in its note, or in a conflict the user can
//!   still see (open, or the loser a last-writer-wins note kept), unless a
//!   device deleted the note while holding the marker, or the user settled
//!   a conflict by picking a side without it; in a note where a version was
//!   restored, a marker the restore took out may be in the history of a
//!   device instead (or gone with the history of a note some device deleted
//!   for good, even if an edit elsewhere brought the note back);
//! - every device's history holds the current version of each live note,
//!   and every device has the same notes in the trash.
//!
//! One thing is not replayed bit for bit: devices draw their HLC node ids
//! and note ids at random (the core offers no seam for them), so when two
//! stamps tie on time and counter the winner of a title can differ between
//! runs of a seed. Every step, fault and clock reading does replay.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use outpost_core::merge::Strategy;
use outpost_core::sync::SyncTransport;
use outpost_core::vault::Resolution;
use outpost_core::{NoteDraft, NotePatch};
use outpost_protocol::v1::MAX_PULL_LIMIT;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use uuid::Uuid;

use crate::account::{BackendAccount, InProcessServer};
use crate::device::{Cluster, CrashPoint, NoteState, DAY_MS, MINUTE_MS};
use crate::error::SimError;
use crate::transport::FaultRates;

/// Devices per simulated user.
pub const DEVICES: usize = 5;

/// How one run goes.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Steps in a run are drawn between 1 and this.
    pub max_ops: usize,
    pub rates: FaultRates,
    /// Keep every step in the trace (otherwise the last [`TRACE_TAIL`]).
    pub full_trace: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self { max_ops: 300, rates: FaultRates::FLAKY, full_trace: false }
    }
}

/// Steps kept for a failure report.
pub const TRACE_TAIL: usize = 60;

/// What the runs did, summed: proof that the faults and conflicts the
/// checks are about really happened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SimStats {
    pub runs: u64,
    pub steps: u64,
    pub creates: u64,
    pub body_edits: u64,
    pub field_edits: u64,
    pub deletes: u64,
    pub mass_deletes: u64,
    pub syncs: u64,
    pub syncs_failed_by_network: u64,
    pub mass_delete_holds: u64,
    pub crashes: u64,
    pub crashes_after_push: u64,
    pub partitions: u64,
    pub offline_spells: u64,
    pub held_released: u64,
    pub dropped_answers: u64,
    pub duplicated_requests: u64,
    pub duplicates_acknowledged: u64,
    pub merged: u64,
    pub conflicts_opened: u64,
    pub conflicts_settled: u64,
    pub restored: u64,
    pub trashed: u64,
    pub untrashed: u64,
    pub versions_restored: u64,
    pub trash_emptied: u64,
    pub settle_rounds_max: u64,
    pub markers: u64,
    pub markers_excused: u64,
}

impl SimStats {
    pub fn add(&mut self, o: &SimStats) {
        macro_rules! sum {
            ($($f:ident),*) => { $(self.$f += o.$f;)* };
        }
        sum!(
            runs,
            steps,
            creates,
            body_edits,
            field_edits,
            deletes,
            mass_deletes,
            syncs,
            syncs_failed_by_network,
            mass_delete_holds,
            crashes,
            crashes_after_push,
            partitions,
            offline_spells,
            held_released,
            dropped_answers,
            duplicated_requests,
            duplicates_acknowledged,
            merged,
            conflicts_opened,
            conflicts_settled,
            restored,
            trashed,
            untrashed,
            versions_restored,
            trash_emptied,
            markers,
            markers_excused
        );
        self.settle_rounds_max = self.settle_rounds_max.max(o.settle_rounds_max);
    }
}

/// A failed run: its seed, where it failed, and the steps before.
#[derive(Debug, Clone)]
pub struct SimFailure {
    pub seed: u64,
    pub max_ops: usize,
    pub rates: FaultRates,
    /// Steps taken; `None` when the failure came while healing or checking.
    pub step: Option<usize>,
    pub message: String,
    pub trace: Vec<String>,
}

impl fmt::Display for SimFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.step {
            Some(step) => writeln!(f, "simulation seed {} failed at step {step}: {}", self.seed, self.message)?,
            None => writeln!(f, "simulation seed {} failed after healing: {}", self.seed, self.message)?,
        }
        let faults = if self.rates == FaultRates::FLAKY {
            String::new()
        } else {
            format!("OUTPOST_SIM_FAULTS={} ", self.rates.drop_request)
        };
        writeln!(
            f,
            "replay it: OUTPOST_SIM_SEED={} OUTPOST_SIM_OPS={} {faults}cargo test -p outpost-sim --test simulation \
             replay -- --ignored --nocapture",
            self.seed, self.max_ops
        )?;
        writeln!(f, "(OUTPOST_SIM_TRACE=1 prints every step.) Steps before the failure:")?;
        for line in &self.trace {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SimFailure {}

#[derive(Debug)]
struct NoteModel {
    id: Uuid,
}

#[derive(Debug)]
struct Marker {
    note: usize,
    text: String,
    /// A device deleted the note while holding it, or the user settled a
    /// conflict by picking a side without it: it may be gone.
    excused: bool,
}

struct Run {
    seed: u64,
    config: SimConfig,
    rng: ChaCha8Rng,
    cluster: Cluster<BackendAccount>,
    notes: Vec<NoteModel>,
    index: HashMap<Uuid, usize>,
    markers: Vec<Marker>,
    /// Notes in which some device restored an older version.
    restored_versions: BTreeSet<usize>,
    /// Notes some device deleted for good (their history goes with the
    /// tombstone on every device that applies it, even if an edit on
    /// another device brings the note back).
    deleted_for_good: BTreeSet<usize>,
    trace: Vec<String>,
    stats: SimStats,
}

/// Run seed `seed` against `server` (under a fresh user of its own).
pub async fn run_seed(server: &InProcessServer, seed: u64, config: &SimConfig) -> Result<SimStats, SimFailure> {
    let fail = |step: Option<usize>, message: String, trace: Vec<String>| SimFailure {
        seed,
        max_ops: config.max_ops,
        rates: config.rates,
        step,
        message,
        trace,
    };
    let account = server
        .account(&format!("sim-{seed}-{}", Uuid::new_v4()))
        .await
        .map_err(|e| fail(None, e.to_string(), vec![]))?;
    let cluster = Cluster::new(account, seed).map_err(|e| fail(None, e.to_string(), vec![]))?;
    let mut run = Run {
        seed,
        config: config.clone(),
        rng: ChaCha8Rng::seed_from_u64(seed),
        cluster,
        notes: Vec::new(),
        index: HashMap::new(),
        markers: Vec::new(),
        restored_versions: BTreeSet::new(),
        deleted_for_good: BTreeSet::new(),
        trace: Vec::new(),
        stats: SimStats { runs: 1, ..SimStats::default() },
    };
    if let Err(e) = run.setup().await {
        return Err(fail(Some(0), e.to_string(), run.trace));
    }
    let steps = run.rng.gen_range(1..=config.max_ops.max(1));
    for step in 1..=steps {
        if let Err(e) = run.step(step).await {
            return Err(fail(Some(step), e, run.trace));
        }
    }
    run.stats.steps = steps as u64;
    if let Err(e) = run.heal_and_check().await {
        return Err(fail(None, e, run.trace));
    }
    Ok(run.stats)
}

/// An error while a step runs: a message for the failure report.
type StepResult = Result<(), String>;

fn msg(e: SimError) -> String {
    e.to_string()
}

impl Run {
    fn log(&mut self, line: String) {
        if std::env::var_os("OUTPOST_SIM_TRACE").is_some() {
            eprintln!("[seed {}] {line}", self.seed);
        }
        self.trace.push(line);
        if !self.config.full_trace && self.trace.len() > TRACE_TAIL {
            self.trace.remove(0);
        }
    }

    async fn setup(&mut self) -> Result<(), SimError> {
        for i in 0..DEVICES {
            // Device 0 keeps true time; the others drift, some by a day.
            let skew = match (i, self.rng.gen_range(0..4)) {
                (0, _) | (_, 0) => 0,
                (_, 1) => self.rng.gen_range(-5_000..=5_000),
                (_, 2) => self.rng.gen_range(-3 * 60 * MINUTE_MS as i64..=3 * 60 * MINUTE_MS as i64),
                _ => *[-(DAY_MS as i64), DAY_MS as i64].choose(&mut self.rng).unwrap_or(&0),
            };
            let d = self.cluster.add_device(&format!("d{i}"), skew).await?;
            let strategy = match self.rng.gen_range(0..10) {
                0 => Strategy::LastWriterWins,
                1 | 2 => Strategy::AlwaysAsk,
                _ => Strategy::AutoMerge,
            };
            self.cluster.dev(d).with(|v| v.set_conflict_strategy(strategy))?;
            self.cluster.dev(d).net.set_rates(self.config.rates);
            self.log(format!("d{i}: skew {skew} ms, strategy {}", strategy.as_str()));
        }
        Ok(())
    }

    fn new_marker(&mut self, note: usize) -> String {
        let text = format!("[m{}]", self.markers.len());
        self.markers.push(Marker { note, text: text.clone(), excused: false });
        self.stats.markers += 1;
        text
    }

    /// Live notes on device `d`, in the model's (creation) order.
    fn live_on(&mut self, d: usize) -> Result<Vec<usize>, String> {
        let ids = self.cluster.dev(d).with(|v| v.all_ids()).map_err(msg)?;
        let mut out = Vec::with_capacity(ids.len());
        for (id, deleted) in ids {
            match self.index.get(&id) {
                Some(&k) if !deleted => out.push(k),
                Some(_) => {}
                None => return Err(format!("d{d} holds a note nobody created: {id}")),
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    async fn step(&mut self, step: usize) -> StepResult {
        // Far enough that any retry delay (backoff caps at 5 minutes) is
        // over, so whether a change is due never depends on jitter.
        let advance = self.rng.gen_range(5 * MINUTE_MS + 1_000..=10 * MINUTE_MS);
        self.cluster.advance(advance);
        let d = self.rng.gen_range(0..DEVICES);
        let roll = self.rng.gen_range(0..1000);
        match roll {
            0..=79 => self.create(d),
            80..=299 => self.insert_line(d),
            300..=369 => self.extend_line(d),
            370..=419 => self.edit_fields(d),
            420..=444 => self.delete(d),
            445..=454 => self.delete_many(d),
            455..=466 => self.trash(d),
            467..=474 => self.untrash(d),
            475..=486 => self.restore_version(d),
            487..=489 => self.empty_trash(d),
            490..=739 => self.sync(d).await,
            740..=769 => {
                let online = !self.cluster.devices[d].online;
                self.cluster.devices[d].online = online;
                self.stats.offline_spells += u64::from(!online);
                self.log(format!("{step}: d{d} goes {}", if online { "online" } else { "offline" }));
                Ok(())
            }
            770..=794 => {
                let net = &self.cluster.devices[d].net;
                let on = !net.is_partitioned();
                net.set_partitioned(on);
                self.stats.partitions += u64::from(on);
                self.log(format!("{step}: d{d} {}", if on { "partitioned" } else { "partition healed" }));
                Ok(())
            }
            795..=824 => self.crash(d).await,
            825..=899 => {
                let released = self.cluster.devices[d].net.deliver_held(1).await.len();
                self.stats.held_released += released as u64;
                self.log(format!("{step}: d{d}'s network lets {released} held push through"));
                Ok(())
            }
            _ => self.settle_conflict(d),
        }
    }

    fn create(&mut self, d: usize) -> StepResult {
        let k = self.notes.len();
        let marker = self.new_marker(k);
        let draft = NoteDraft { title: format!("note {k}"), body: format!("created {marker}\n"), ..Default::default() };
        let note = self.cluster.dev(d).with(|v| v.create(draft)).map_err(msg)?;
        self.notes.push(NoteModel { id: note.id });
        self.index.insert(note.id, k);
        self.stats.creates += 1;
        self.log(format!("d{d}: create n{k} with {marker}"));
        Ok(())
    }

    fn pick_live(&mut self, d: usize) -> Result<Option<usize>, String> {
        let live = self.live_on(d)?;
        Ok(live.choose(&mut self.rng).copied())
    }

    fn insert_line(&mut self, d: usize) -> StepResult {
        let Some(k) = self.pick_live(d)? else { return Ok(()) };
        let id = self.notes[k].id;
        let body = self.cluster.dev(d).with(|v| v.get(id)).map_err(msg)?.body;
        let mut lines: Vec<String> = body.lines().map(str::to_owned).collect();
        let at = self.rng.gen_range(0..=lines.len());
        let marker = self.new_marker(k);
        lines.insert(at, format!("line {marker}"));
        self.save_body(d, k, lines, &format!("insert {marker} at line {at}"))
    }

    fn extend_line(&mut self, d: usize) -> StepResult {
        let Some(k) = self.pick_live(d)? else { return Ok(()) };
        let id = self.notes[k].id;
        let body = self.cluster.dev(d).with(|v| v.get(id)).map_err(msg)?.body;
        let mut lines: Vec<String> = body.lines().map(str::to_owned).collect();
        if lines.is_empty() {
            return Ok(());
        }
        let at = self.rng.gen_range(0..lines.len());
        let marker = self.new_marker(k);
        lines[at].push_str(&format!(" {marker}"));
        self.save_body(d, k, lines, &format!("extend line {at} with {marker}"))
    }

    fn save_body(&mut self, d: usize, k: usize, lines: Vec<String>, what: &str) -> StepResult {
        let id = self.notes[k].id;
        let body = lines.join("\n") + "\n";
        self.cluster.dev(d).with(|v| v.edit(id, NotePatch { body: Some(body), ..Default::default() })).map_err(msg)?;
        self.stats.body_edits += 1;
        self.log(format!("d{d}: n{k}: {what}"));
        Ok(())
    }

    fn edit_fields(&mut self, d: usize) -> StepResult {
        let Some(k) = self.pick_live(d)? else { return Ok(()) };
        let id = self.notes[k].id;
        let v = self.rng.gen_range(0..1000);
        let patch = match self.rng.gen_range(0..3) {
            0 => NotePatch { title: Some(format!("note {k} v{v}")), ..Default::default() },
            1 => {
                let tags: Vec<String> = ["work", "home", "idea"]
                    .iter()
                    .filter(|_| self.rng.gen_bool(0.5))
                    .map(|t| (*t).to_owned())
                    .collect();
                NotePatch { tags: Some(tags), ..Default::default() }
            }
            _ => NotePatch { pinned: Some(self.rng.gen_bool(0.5)), ..Default::default() },
        };
        let what = format!("{patch:?}");
        self.cluster.dev(d).with(|vault| vault.edit(id, patch)).map_err(msg)?;
        self.stats.field_edits += 1;
        self.log(format!("d{d}: n{k}: {what}"));
        Ok(())
    }

    /// Delete note `k` on `d`, excusing the markers `d` holds in it (in the
    /// note, or in its history, which goes with it).
    fn delete_note(&mut self, d: usize, k: usize) -> StepResult {
        let id = self.notes[k].id;
        let mut held = self.cluster.dev(d).with(|v| v.get(id)).map_err(msg)?.body;
        held.push_str(&self.history_text(d, id)?);
        for m in self.markers.iter_mut().filter(|m| m.note == k && held.contains(&m.text)) {
            m.excused = true;
        }
        self.cluster.dev(d).with(|v| v.delete(id)).map_err(msg)?;
        self.deleted_for_good.insert(k);
        self.stats.deletes += 1;
        Ok(())
    }

    fn delete(&mut self, d: usize) -> StepResult {
        let Some(k) = self.pick_live(d)? else { return Ok(()) };
        self.delete_note(d, k)?;
        self.log(format!("d{d}: delete n{k}"));
        Ok(())
    }

    /// Delete three quarters of the device's notes at once: the other
    /// devices' mass-delete rail should hold this until approved.
    fn delete_many(&mut self, d: usize) -> StepResult {
        let live = self.live_on(d)?;
        if live.len() < 10 {
            return Ok(());
        }
        let n = live.len() * 3 / 4 + 1;
        let chosen: Vec<usize> = live.choose_multiple(&mut self.rng, n).copied().collect();
        for k in &chosen {
            self.delete_note(d, *k)?;
        }
        self.stats.mass_deletes += 1;
        self.log(format!("d{d}: delete {n} of {} notes: {chosen:?}", live.len()));
        Ok(())
    }

    /// Every body in note `id`'s history on `d`, one after the other.
    fn history_text(&mut self, d: usize, id: Uuid) -> Result<String, String> {
        self.cluster
            .dev(d)
            .with(|v| {
                let mut text = String::new();
                for i in v.versions(id)? {
                    text.push_str(&v.version(id, &i.version)?.body);
                }
                Ok(text)
            })
            .map_err(msg)
    }

    /// Move a note to the trash (an edit of its sealed meta; it keeps its
    /// words, so no marker is excused).
    fn trash(&mut self, d: usize) -> StepResult {
        let Some(k) = self.pick_live(d)? else { return Ok(()) };
        let id = self.notes[k].id;
        self.cluster.dev(d).with(|v| v.trash(id)).map_err(msg)?;
        self.stats.trashed += 1;
        self.log(format!("d{d}: trash n{k}"));
        Ok(())
    }

    fn untrash(&mut self, d: usize) -> StepResult {
        let trash = self.cluster.dev(d).with(|v| v.trash_list()).map_err(msg)?;
        let Some(t) = trash.choose(&mut self.rng) else { return Ok(()) };
        let (id, k) = (t.id, self.index.get(&t.id).copied().unwrap_or(usize::MAX));
        self.cluster.dev(d).with(|v| v.untrash(id)).map_err(msg)?;
        self.stats.untrashed += 1;
        self.log(format!("d{d}: n{k} back from the trash"));
        Ok(())
    }

    /// Restore an older version of a note from `d`'s history: the markers
    /// it takes out stay in that history.
    fn restore_version(&mut self, d: usize) -> StepResult {
        let Some(k) = self.pick_live(d)? else { return Ok(()) };
        let id = self.notes[k].id;
        let older: Vec<String> = self
            .cluster
            .dev(d)
            .with(|v| v.versions(id))
            .map_err(msg)?
            .into_iter()
            .filter(|i| !i.current)
            .map(|i| i.version)
            .collect();
        let Some(version) = older.choose(&mut self.rng).cloned() else { return Ok(()) };
        self.cluster.dev(d).with(|v| v.restore_version(id, &version)).map_err(msg)?;
        self.restored_versions.insert(k);
        self.stats.versions_restored += 1;
        self.log(format!("d{d}: n{k}: restore version {version}"));
        Ok(())
    }

    /// Empty `d`'s trash: each note in it is deleted for good.
    fn empty_trash(&mut self, d: usize) -> StepResult {
        let trash = self.cluster.dev(d).with(|v| v.trash_list()).map_err(msg)?;
        if trash.is_empty() {
            return Ok(());
        }
        let ks: Vec<usize> = trash.iter().filter_map(|t| self.index.get(&t.id).copied()).collect();
        for &k in &ks {
            let id = self.notes[k].id;
            let mut held = self.cluster.dev(d).with(|v| v.get(id)).map_err(msg)?.body;
            held.push_str(&self.history_text(d, id)?);
            for m in self.markers.iter_mut().filter(|m| m.note == k && held.contains(&m.text)) {
                m.excused = true;
            }
        }
        self.deleted_for_good.extend(ks.iter().copied());
        let n = self.cluster.dev(d).with(|v| v.empty_trash()).map_err(msg)?;
        self.stats.trash_emptied += 1;
        self.stats.deletes += n as u64;
        self.log(format!("d{d}: empty the trash: {ks:?}"));
        Ok(())
    }

    async fn sync(&mut self, d: usize) -> StepResult {
        if !self.cluster.devices[d].online {
            return Ok(());
        }
        self.stats.syncs += 1;
        match self.cluster.sync(d).await {
            Ok(r) => {
                self.count(&r);
                self.log(format!(
                    "d{d}: sync: pushed {} dup {} pulled {} merged {} conflicts {} restored {}",
                    r.pushed, r.duplicates, r.pulled, r.merged, r.conflicts_opened, r.restored
                ));
                Ok(())
            }
            Err(e) if e.is_network_fault() => {
                self.stats.syncs_failed_by_network += 1;
                self.log(format!("d{d}: sync: {e}"));
                Ok(())
            }
            Err(e) if e.is_mass_delete_held() => {
                self.stats.mass_delete_holds += 1;
                // The user looks, and usually approves.
                let approve = self.rng.gen_bool(0.7);
                if approve {
                    self.cluster.dev(d).with(|v| v.approve_mass_delete()).map_err(msg)?;
                }
                self.log(format!("d{d}: sync held a mass delete; approved: {approve}"));
                Ok(())
            }
            Err(e) => Err(format!("d{d}: sync failed: {e}")),
        }
    }

    fn count(&mut self, r: &outpost_core::sync::SyncReport) {
        self.stats.duplicates_acknowledged += r.duplicates as u64;
        self.stats.merged += r.merged as u64;
        self.stats.conflicts_opened += r.conflicts_opened as u64;
        self.stats.restored += r.restored as u64;
    }

    async fn crash(&mut self, d: usize) -> StepResult {
        let point = *[CrashPoint::BeforePush, CrashPoint::AfterPush, CrashPoint::AfterPull]
            .choose(&mut self.rng)
            .unwrap_or(&CrashPoint::AfterPush);
        self.stats.crashes += 1;
        if !self.cluster.devices[d].online {
            self.cluster.dev(d).crash_and_restart().map_err(msg)?;
            self.log(format!("d{d}: crash and restart (offline)"));
            return Ok(());
        }
        let busy = self.cluster.dev(d).sync_and_crash(point).await.map_err(msg)?;
        if busy && point == CrashPoint::AfterPush {
            self.stats.crashes_after_push += 1;
        }
        self.log(format!("d{d}: crash at {point:?} (in flight: {busy}) and restart"));
        Ok(())
    }

    /// The user settles the oldest open conflict on `d` whose note is
    /// there: usually by keeping both sides (the body without the conflict
    /// markers), sometimes by picking one side whole.
    fn settle_conflict(&mut self, d: usize) -> StepResult {
        let conflicts = self.cluster.dev(d).with(|v| v.conflicts(false)).map_err(msg)?;
        for c in conflicts {
            let Some(&k) = self.index.get(&c.note_id) else {
                return Err(format!("d{d} has a conflict on a note nobody created"));
            };
            let current = match self.cluster.dev(d).with(|v| v.get(c.note_id)) {
                Ok(n) => n.body,
                Err(_) => continue,
            };
            let (resolution, kept) = match self.rng.gen_range(0..10) {
                0 => (Resolution::Mine, (!c.mine.deleted).then_some(c.mine.body.clone())),
                1 => (Resolution::Theirs, (!c.theirs.deleted).then_some(c.theirs.body.clone())),
                _ => {
                    let both = strip_conflict_markers(&current);
                    (Resolution::Merged(both.clone()), Some(both))
                }
            };
            let kept = kept.unwrap_or_default();
            for m in self.markers.iter_mut().filter(|m| m.note == k && current.contains(&m.text)) {
                if !kept.contains(&m.text) {
                    m.excused = true;
                }
            }
            let label = format!("{resolution:?}").chars().take(8).collect::<String>();
            self.cluster.dev(d).with(|v| v.resolve_conflict(c.id, resolution)).map_err(msg)?;
            self.stats.conflicts_settled += 1;
            self.log(format!("d{d}: settle conflict {} ({}) on n{k}: {label}", c.id, c.kind));
            return Ok(());
        }
        Ok(())
    }

    async fn heal_and_check(&mut self) -> Result<(), String> {
        self.log("heal: all online, network perfect, held requests delivered".to_owned());
        for d in &self.cluster.devices {
            d.net.set_rates(FaultRates::NONE);
            d.net.set_partitioned(false);
        }
        for i in 0..DEVICES {
            self.cluster.devices[i].online = true;
            let held = self.cluster.devices[i].net.held();
            let released = self.cluster.devices[i].net.deliver_held(held).await.len();
            self.stats.held_released += released as u64;
            let c = self.cluster.devices[i].net.counts();
            self.stats.dropped_answers += c.dropped_answers;
            self.stats.duplicated_requests += c.duplicated;
        }
        let settled = self.cluster.settle(40).await.map_err(msg)?;
        self.stats.settle_rounds_max = settled.rounds as u64;
        self.stats.merged += settled.merged as u64;
        self.stats.conflicts_opened += settled.conflicts_opened as u64;
        self.stats.restored += settled.restored as u64;
        self.stats.duplicates_acknowledged += settled.duplicates as u64;
        self.stats.mass_delete_holds += settled.mass_deletes_approved as u64;
        self.log(format!("settled: {settled:?}"));
        self.check().await
    }

    async fn check(&mut self) -> Result<(), String> {
        // Outboxes empty, nothing failed.
        for d in &self.cluster.devices {
            let s = d.vault().map_err(msg)?.status().map_err(|e| format!("{}: {e}", d.name))?;
            if s.pending > 0 || s.failed > 0 {
                return Err(format!(
                    "{}: {} changes still pending and {} failed after healing",
                    d.name, s.pending, s.failed
                ));
            }
        }
        // Identical notes everywhere.
        let snaps: Vec<BTreeMap<Uuid, NoteState>> =
            self.cluster.devices.iter().map(|d| d.snapshot()).collect::<Result<_, _>>().map_err(msg)?;
        for (i, s) in snaps.iter().enumerate().skip(1) {
            if *s != snaps[0] {
                return Err(format!("d{i} and d0 differ after healing: {}", self.first_difference(&snaps[0], s)));
            }
        }
        let notes = &snaps[0];
        // ... which are the server's latest versions.
        let server = self.server_notes().await?;
        for (id, n) in notes {
            let k = self.index.get(id).copied().unwrap_or(usize::MAX);
            match server.get(id) {
                Some(&(rev, hlc, deleted))
                    if Some(rev as i64) == n.rev && Some(hlc) == n.hlc && deleted == n.deleted => {}
                other => {
                    return Err(format!(
                        "n{k}: devices hold rev {:?} {:?} deleted {}, the server {other:?}",
                        n.rev, n.hlc, n.deleted
                    ))
                }
            }
        }
        // Exactly the notes created, each once.
        let created: BTreeSet<Uuid> = self.notes.iter().map(|n| n.id).collect();
        let held: BTreeSet<Uuid> = notes.keys().copied().collect();
        if created != held || server.len() != created.len() {
            return Err(format!(
                "{} notes created, {} on the devices, {} on the server",
                created.len(),
                held.len(),
                server.len()
            ));
        }
        // Nothing lost: every marker in its note or in a conflict the user
        // can see; no marker in two notes.
        let mut in_conflicts: HashMap<usize, String> = HashMap::new();
        for d in &self.cluster.devices {
            for c in d.vault().map_err(msg)?.conflicts(true).map_err(|e| format!("{}: {e}", d.name))? {
                let visible = c.resolved_at.is_none() || c.kind == "last_writer_wins";
                if let (true, Some(&k)) = (visible, self.index.get(&c.note_id)) {
                    let text = in_conflicts.entry(k).or_default();
                    text.push_str(&c.mine.body);
                    text.push_str(&c.theirs.body);
                }
            }
        }
        // History: every device holds the current version of each live
        // note; what the devices' histories hold of the notes in which a
        // version was restored.
        let mut in_history: HashMap<usize, String> = HashMap::new();
        for d in 0..self.cluster.devices.len() {
            for id in notes.iter().filter(|(_, n)| !n.deleted).map(|(id, _)| id) {
                let k = self.index.get(id).copied().unwrap_or(usize::MAX);
                let versions = self.cluster.dev(d).with(|v| v.versions(*id)).map_err(msg)?;
                if !versions.iter().any(|i| i.current) {
                    return Err(format!("d{d}: n{k}: the current version is not in its history: {versions:?}"));
                }
                if self.restored_versions.contains(&k) {
                    let text = self.history_text(d, *id)?;
                    in_history.entry(k).or_default().push_str(&text);
                }
            }
        }
        let bodies: Vec<(usize, &str)> =
            self.notes.iter().enumerate().filter_map(|(k, n)| notes.get(&n.id).map(|s| (k, s.body.as_str()))).collect();
        for m in &self.markers {
            let holders: Vec<usize> = bodies.iter().filter(|(_, b)| b.contains(&m.text)).map(|(k, _)| *k).collect();
            if holders.iter().any(|&k| k != m.note) {
                return Err(format!("{} of n{} turned up in {holders:?}", m.text, m.note));
            }
            if m.excused {
                self.stats.markers_excused += 1;
                continue;
            }
            let in_note = holders.contains(&m.note);
            let in_conflict = in_conflicts.get(&m.note).is_some_and(|t| t.contains(&m.text));
            let restored = self.restored_versions.contains(&m.note);
            let in_history = in_history.get(&m.note).is_some_and(|t| t.contains(&m.text));
            let gone_for_good = notes[&self.notes[m.note].id].deleted || self.deleted_for_good.contains(&m.note);
            if restored && !in_note && (in_history || gone_for_good) {
                self.stats.markers_excused += u64::from(!in_history);
                continue;
            }
            if !in_note && !in_conflict {
                let n = &notes[&self.notes[m.note].id];
                return Err(format!(
                    "{} of n{} is lost: not in the note (deleted: {}, body {:?}) nor in a conflict",
                    m.text, m.note, n.deleted, n.body
                ));
            }
        }
        Ok(())
    }

    /// The server's latest version of every note: (rev, stamp, deleted).
    async fn server_notes(&self) -> Result<BTreeMap<Uuid, (u64, outpost_protocol::Hlc, bool)>, String> {
        let server = self.cluster.devices[0].net.inner();
        let mut out = BTreeMap::new();
        let mut cursor = 0;
        loop {
            let page =
                server.pull(cursor, MAX_PULL_LIMIT).await.map_err(|e| format!("pulling from the server: {e}"))?;
            for c in &page.changes {
                out.insert(c.note_id, (c.rev, c.hlc, c.deleted));
            }
            cursor = page.next_cursor;
            if !page.more {
                return Ok(out);
            }
        }
    }

    fn first_difference(&self, a: &BTreeMap<Uuid, NoteState>, b: &BTreeMap<Uuid, NoteState>) -> String {
        for id in a.keys().chain(b.keys()) {
            if a.get(id) != b.get(id) {
                let k = self.index.get(id).copied().unwrap_or(usize::MAX);
                return format!("n{k}: {:?} against {:?}", a.get(id), b.get(id));
            }
        }
        String::new()
    }
}

/// The body without the lines diff3 adds around overlapping edits: both
/// sides kept, as a user settling "keep both" would.
pub fn strip_conflict_markers(body: &str) -> String {
    let mut out: String = body
        .lines()
        .filter(|l| !(l.starts_with("<<<<<<< ") || *l == "=======" || l.starts_with(">>>>>>> ")))
        .collect::<Vec<_>>()
        .join("\n");
    if body.ends_with('\n') && !out.is_empty() {
        out.push('\n');
    }
    out
}
