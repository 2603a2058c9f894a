//! Realistic, deterministic stores for testers and benchmarks: the same
//! `seed` (and the same `now`) always gives the same titles, bodies, tags,
//! edit histories, deletions, conflicts, refused changes and sync history.
//!
//! Bodies are Markdown (headings, lists, checklists, code, links, quotes)
//! with lengths spread around the requested size (a quarter to twice it),
//! and about one note in ten gets a history of 5 to 40 edits, which the
//! outbox coalesces as it would for a real offline session.
//!
//! On top of the notes, [`seed_with`] makes what a store meets in use, each
//! through the code path that makes it for real:
//! - deletions: some of the notes deleted as a user deletes them
//!   (tombstones queued for sync like any delete);
//! - open conflicts: some of the notes arrive from another device of the
//!   account as a pull delivers them, are edited here, and a later version
//!   from that device that changed the same line arrives the same way
//!   ([`Vault::apply_pull_page`], authenticated and merged like any pulled
//!   change), so the merge opens the conflict;
//! - failed outbox entries: some of the notes' changes are handed to a push
//!   and refused by the server for good, recorded as the sync pass records
//!   that ([`Vault::record_push_failure`]);
//! - sync history: passes in the sync monitor (`outpost status --history`)
//!   with a mix of outcomes, triggers, durations and bytes over recent days.
//!
//! [`second_device`] brings a second device of the same account level with
//! the first over a real server, then edits it without syncing.
//!
//! Each purpose draws from its own random stream of the one seed, so asking
//! for conflicts does not change the notes' text.
//!
//! # Layout
//! - `text`: the generated prose.
//! - `extras`: conflicts arriving from another device, refused changes.
//! - `history`: the sync passes.
//! - `devices`: the second device.
//! - `notebooks`: a notebook tree with the notes filed in it
//!   ([`file_notes`]).

use rand::rngs::StdRng;
use rand::seq::index;
use rand::SeedableRng;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::merge::Strategy;
use crate::model::{NoteDraft, NotePatch};
use crate::monitor::MAX_PASSES;
use crate::vault::Vault;

mod devices;
mod extras;
mod history;
mod notebooks;
mod text;

pub use devices::{second_device, SecondDevice};
pub use notebooks::file_notes;
pub use text::body;

/// What to seed.
#[derive(Debug, Clone, Copy)]
pub struct SeedSpec {
    pub notes: usize,
    /// Typical body size in bytes.
    pub size: usize,
    pub seed: u64,
}

/// What to make on top of the notes. Deleted, conflicted and failed notes
/// are distinct notes among [`SeedSpec::notes`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras {
    /// Notes deleted (tombstones queued for sync).
    pub deleted: usize,
    /// Notes with an open conflict.
    pub conflicts: usize,
    /// Notes whose outbox entry the server refused (failed).
    pub failed: usize,
    /// Sync passes in the sync monitor's history.
    pub history: usize,
    /// The moment the history and the other device's versions are placed
    /// before, in ms since the Unix epoch: the same seed and `now_ms` give
    /// the same records.
    pub now_ms: i64,
}

/// What [`seed_with`] made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SeedReport {
    pub notes: usize,
    /// Edits folded into the creations (the outbox coalesced them).
    pub edits: usize,
    pub deleted: usize,
    /// Conflicts opened.
    pub conflicts: usize,
    /// Outbox entries marked failed.
    pub failed: usize,
    /// Sync passes recorded.
    pub history: usize,
}

/// Notes per transaction: big enough that fsyncs do not dominate, small
/// enough that progress moves and memory stays flat.
const BATCH: usize = 500;

/// The streams of one seed beside the notes' own: which notes get which
/// role and the other device's versions, and the history (the second
/// device's stream is in `devices`).
const ROLES_STREAM: u64 = 0x5eed_0001;
const OTHER_DEVICE_STREAM: u64 = 0x5eed_0002;
const HISTORY_STREAM: u64 = 0x5eed_0003;

/// What becomes of a generated note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Plain,
    Deleted,
    Conflict,
    Failed,
}

/// Fill `vault` per `spec`, calling `progress(done)` after each batch.
/// Returns the number of edits made on top of the creations.
pub fn seed(vault: &mut Vault, spec: SeedSpec, progress: impl FnMut(usize)) -> Result<usize> {
    Ok(seed_with(vault, spec, Extras::default(), progress)?.edits)
}

/// Fill `vault` per `spec` and make `extras`, calling `progress(done)`
/// after each batch of notes. Checks everything it can before writing:
/// a refused request changes nothing.
pub fn seed_with(
    vault: &mut Vault,
    spec: SeedSpec,
    extras: Extras,
    mut progress: impl FnMut(usize),
) -> Result<SeedReport> {
    check(vault, &spec, &extras)?;
    let roles = roles(&spec, &extras);
    let mut report = SeedReport { notes: spec.notes, ..SeedReport::default() };

    // The refused changes first, while they are the only ones queued: a
    // push takes the oldest entries.
    if extras.failed > 0 {
        let drafts: Vec<_> =
            generated(&spec).zip(&roles).filter(|(_, r)| **r == Role::Failed).map(|(n, _)| n).collect();
        let (ids, edits) = create(vault, drafts)?;
        report.edits += edits;
        report.failed = extras::refuse(vault, &ids)?;
    }

    let mut notes = generated(&spec).zip(roles.iter().copied()).peekable();
    let (mut done, mut to_delete, mut arriving) = (0, Vec::new(), Vec::new());
    while notes.peek().is_some() {
        let (mut batch, mut deleted) = (Vec::new(), Vec::new());
        for (note, role) in notes.by_ref().take(BATCH) {
            done += 1;
            match role {
                Role::Plain | Role::Deleted => {
                    batch.push(note);
                    deleted.push(role == Role::Deleted);
                }
                Role::Conflict => arriving.push(fold(note).0),
                Role::Failed => {}
            }
        }
        let (ids, edits) = create(vault, batch)?;
        report.edits += edits;
        to_delete.extend(ids.into_iter().zip(deleted).filter(|(_, d)| *d).map(|(id, _)| id));
        progress(done);
    }
    vault.batch(|w| to_delete.iter().try_for_each(|id| w.delete(*id)))?;
    report.deleted = to_delete.len();
    report.conflicts = extras::conflicts(vault, arriving, spec.seed ^ OTHER_DEVICE_STREAM, extras.now_ms)?;
    report.history = history::record(vault, spec.seed ^ HISTORY_STREAM, extras.history, extras.now_ms)?;
    Ok(report)
}

/// Refuse what cannot be made as asked, before anything is written.
fn check(vault: &Vault, spec: &SeedSpec, extras: &Extras) -> Result<()> {
    let picked = extras.deleted.saturating_add(extras.conflicts).saturating_add(extras.failed);
    if picked > spec.notes {
        return Err(Error::Invalid(format!(
            "{} deleted, {} conflicted and {} failed notes are distinct notes among the {} seeded: \
             ask for more notes or fewer of these",
            extras.deleted, extras.conflicts, extras.failed, spec.notes
        )));
    }
    if extras.history > MAX_PASSES {
        return Err(Error::Invalid(format!(
            "the sync history keeps at most {MAX_PASSES} passes; ask for {MAX_PASSES} or fewer"
        )));
    }
    if extras.conflicts > 0 && vault.conflict_strategy()? == Strategy::LastWriterWins {
        return Err(Error::Invalid(
            "this store settles conflicts by last-writer-wins, so none would stay open: \
             `outpost conflicts strategy auto-merge` first, or seed without conflicts"
                .into(),
        ));
    }
    if extras.failed > 0 {
        let pending = vault.status()?.pending;
        if pending > 0 {
            return Err(Error::Invalid(format!(
                "failed entries are made by a push the server refuses, and {pending} changes are already \
                 queued here: they would go in that push. Seed into a new data directory, or sync first"
            )));
        }
    }
    Ok(())
}

/// Which notes are deleted, conflicted or refused: distinct, chosen by the
/// seed.
fn roles(spec: &SeedSpec, extras: &Extras) -> Vec<Role> {
    let mut roles = vec![Role::Plain; spec.notes];
    let picked = extras.deleted + extras.conflicts + extras.failed;
    let mut rng = StdRng::seed_from_u64(spec.seed ^ ROLES_STREAM);
    for (k, i) in index::sample(&mut rng, spec.notes, picked).into_iter().enumerate() {
        roles[i] = if k < extras.deleted {
            Role::Deleted
        } else if k < extras.deleted + extras.conflicts {
            Role::Conflict
        } else {
            Role::Failed
        };
    }
    roles
}

/// The notes of `spec`, in order: the stream [`seed`] has always made.
fn generated(spec: &SeedSpec) -> impl Iterator<Item = (NoteDraft, Vec<NotePatch>)> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let size = spec.size;
    (0..spec.notes).map(move |_| text::note(&mut rng, size))
}

/// A draft with its history applied in memory: what an offline device
/// holds after those edits, and how many there were.
fn fold((mut draft, history): (NoteDraft, Vec<NotePatch>)) -> (NoteDraft, usize) {
    let folded = history.len();
    if let Some(last) = history.into_iter().rev().find_map(|p| p.body) {
        draft.body = last;
    }
    (draft, folded)
}

/// Create `notes` in one transaction, each with its history folded into
/// its one outbox entry. Returns their ids, in order, and the edits folded.
fn create(vault: &mut Vault, notes: Vec<(NoteDraft, Vec<NotePatch>)>) -> Result<(Vec<Uuid>, usize)> {
    vault.batch(|w| {
        let (mut ids, mut edits) = (Vec::with_capacity(notes.len()), 0);
        for note in notes {
            let (draft, folded) = fold(note);
            ids.push(w.create_folded(draft, folded as u32)?.id);
            edits += folded;
        }
        Ok((ids, edits))
    })
}
