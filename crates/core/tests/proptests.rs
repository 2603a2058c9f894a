//! Property tests of the core's laws, beside the inline ones (`crypto.rs`:
//! body round trip; `merge.rs`: text-merge laws; `payload.rs`: framing):
//!
//! - sealing: any plaintext, field, note id and stamp seal and open; any
//!   flipped, cut or added byte, another key, note id, field or stamp fails
//!   cleanly (an error, no panic, no plaintext);
//! - the hybrid logical clock: monotonic under any wall-clock readings
//!   (backwards jumps included), never behind the wall clock, and causal
//!   across devices (a received stamp orders before everything after it);
//! - whole-note merges: an unchanged side takes the other, merging a
//!   version with itself is that version, and a merge does not depend on
//!   which side is "local";
//! - the outbox: any sequence of edits, deletes and sends leaves at most
//!   one unsent entry per note, carrying the note's latest content, and
//!   an entry's op id and content never change once it has been sent;
//! - search: over random small corpora, the in-memory index returns exactly
//!   the notes a brute-force scan of the decrypted notes finds, through
//!   local edits and deletes, pulled changes and writes by another
//!   connection.
//!
//! Case counts keep the file to a few seconds in CI; `PROPTEST_CASES`
//! raises every count for a longer run.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use outpost_core::clock::{HlcClock, ManualTime};
use outpost_core::crypto::{self, Binding, CryptoError, DataKey, Field, KeyId};
use outpost_core::keys::MemoryStore;
use outpost_core::merge::{merge, Merged, Outcome, Side, Strategy as MergeStrategy, Version};
use outpost_core::{Error, NoteDraft, NotePatch, Vault};
use outpost_protocol::Hlc;
use proptest::prelude::*;
use uuid::Uuid;

/// `PROPTEST_CASES` when set, else `default`.
fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

fn arb_hlc() -> impl Strategy<Value = Hlc> {
    (0..Hlc::MAX_WALL_MS, any::<u32>(), any::<u64>()).prop_map(|(w, c, n)| Hlc::new(w, c, n))
}

const FIELDS: [Field; 5] = [Field::Title, Field::Body, Field::Meta, Field::KeyCheck, Field::Secret];

fn arb_field() -> impl Strategy<Value = Field> {
    prop::sample::select(FIELDS.to_vec())
}

/// Random bytes, or repetitive ones (which take the compressed path).
fn arb_plaintext() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..600),
        (proptest::collection::vec(any::<u8>(), 1..40), 1usize..100).prop_map(|(v, n)| v.repeat(n)),
    ]
}

// ---------------------------------------------------------------- sealing

proptest! {
    #![proptest_config(cases(96))]

    #[test]
    fn anything_seals_and_opens(
        key in any::<[u8; 32]>(),
        key_id: u32,
        note: u128,
        field in arb_field(),
        hlc in arb_hlc(),
        pt in arb_plaintext(),
    ) {
        let key = DataKey::from_parts(KeyId(key_id), key);
        let id = Uuid::from_u128(note);
        let b = Binding { note_id: &id, field, hlc: &hlc };
        let blob = crypto::seal(&key, &b, &pt).expect("seal");
        // Compression is skipped where it would not help: a blob never
        // grows by more than the fixed overhead.
        prop_assert!(blob.len() <= pt.len() + crypto::OVERHEAD, "{} bytes for {}", blob.len(), pt.len());
        prop_assert_eq!(crypto::open(&key, &b, &blob).expect("open"), pt);
        prop_assert_eq!(crypto::authenticate(&key, &b, &blob), Ok(()));
    }

    /// Flip any bits of any byte, cut the blob anywhere or extend it:
    /// opening fails with an error, never a panic or different plaintext.
    #[test]
    fn any_tampering_fails(
        pt in arb_plaintext(),
        at in any::<prop::sample::Index>(),
        xor in 1u8..,
        cut in any::<prop::sample::Index>(),
        extra in proptest::collection::vec(any::<u8>(), 1..20),
    ) {
        let key = DataKey::generate();
        let (id, hlc) = (Uuid::now_v7(), Hlc::new(1_700_000_000_000, 0, 7));
        let b = Binding { note_id: &id, field: Field::Body, hlc: &hlc };
        let blob = crypto::seal(&key, &b, &pt).expect("seal");
        let mut flipped = blob.clone();
        flipped[at.index(blob.len())] ^= xor;
        let mut extended = blob.clone();
        extended.extend_from_slice(&extra);
        for bad in [&flipped[..], &blob[..cut.index(blob.len())], &extended[..]] {
            prop_assert!(crypto::open(&key, &b, bad).is_err());
            prop_assert!(crypto::authenticate(&key, &b, bad).is_err());
        }
    }

    /// Another key (same id or not), note id, field or stamp: refused.
    #[test]
    fn a_wrong_key_or_binding_fails(
        pt in arb_plaintext(),
        other_key in any::<[u8; 32]>(),
        other_id: u32,
        note: u128,
        other_note: u128,
        field in arb_field(),
        other_field in arb_field(),
        hlc in arb_hlc(),
        other_hlc in arb_hlc(),
    ) {
        let key = DataKey::generate();
        let id = Uuid::from_u128(note);
        let b = Binding { note_id: &id, field, hlc: &hlc };
        let blob = crypto::seal(&key, &b, &pt).expect("seal");

        let same_id = DataKey::from_parts(key.id(), other_key);
        prop_assert_eq!(crypto::open(&same_id, &b, &blob), Err(CryptoError::Authentication));
        if other_id != key.id().0 {
            let rotated = DataKey::from_parts(KeyId(other_id), other_key);
            let is_wrong_key_id = matches!(crypto::open(&rotated, &b, &blob), Err(CryptoError::WrongKeyId { .. }));
            prop_assert!(is_wrong_key_id);
        }
        let other_uuid = Uuid::from_u128(other_note);
        let wrong = [
            (other_note != note, Binding { note_id: &other_uuid, field, hlc: &hlc }),
            (other_field != field, Binding { note_id: &id, field: other_field, hlc: &hlc }),
            (other_hlc != hlc, Binding { note_id: &id, field, hlc: &other_hlc }),
        ];
        for (differs, wb) in wrong {
            if differs {
                prop_assert_eq!(crypto::open(&key, &wb, &blob), Err(CryptoError::Authentication));
            }
        }
    }
}

// ------------------------------------------------------------------ clock

/// Wall-clock readings: mostly near each other (with backwards jumps),
/// sometimes wild (zero, far future, past the 48-bit range).
fn arb_reading() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => 1_000_000u64..1_000_050,
        1 => Just(0u64),
        1 => (Hlc::MAX_WALL_MS - 3)..=(Hlc::MAX_WALL_MS + 3),
        1 => any::<u64>(),
    ]
}

proptest! {
    #![proptest_config(cases(128))]

    #[test]
    fn clock_is_monotonic_and_never_behind_the_wall_clock(
        node: u64,
        start in (0..1_000_100u64, prop_oneof![0..5u32, (u32::MAX - 3)..=u32::MAX]),
        readings in proptest::collection::vec((arb_reading(), 1usize..4), 1..40),
    ) {
        let last = Hlc::new(start.0, start.1, node ^ 1);
        let time = ManualTime::new(0);
        let clock = HlcClock::new(node, Arc::new(time.clone()), last);
        let mut prev = last;
        for (reading, ticks) in readings {
            time.set(reading);
            for _ in 0..ticks {
                let next = clock.tick();
                prop_assert!(next > prev, "{} after {} at reading {}", next, prev, reading);
                prop_assert_eq!(next.node, node);
                prop_assert!(next.wall_ms >= reading.min(Hlc::MAX_WALL_MS), "{} behind reading {}", next, reading);
                prev = next;
            }
        }
    }
}

#[derive(Debug, Clone)]
enum ClockStep {
    /// Device `0` reads its clock and stamps a local change.
    Local(usize, u64),
    /// Device `.0` stamps a change that device `.1` receives and then
    /// stamps a change of its own.
    Message(usize, usize, u64, u64),
}

fn arb_clock_step(devices: usize) -> impl Strategy<Value = ClockStep> {
    prop_oneof![
        (0..devices, arb_reading()).prop_map(|(d, r)| ClockStep::Local(d, r)),
        (0..devices, 0..devices, arb_reading(), arb_reading())
            .prop_map(|(from, to, r1, r2)| ClockStep::Message(from, to, r1, r2)),
    ]
}

proptest! {
    #![proptest_config(cases(128))]

    /// Happens-before implies stamp order: every stamp a device issues is
    /// greater than every stamp it issued or received before, whatever the
    /// devices' clocks read; and no two stamps are equal.
    #[test]
    fn stamps_respect_causality_across_devices(steps in proptest::collection::vec(arb_clock_step(3), 1..60)) {
        let times: Vec<ManualTime> = (0..3).map(|_| ManualTime::new(0)).collect();
        let clocks: Vec<HlcClock> =
            times.iter().enumerate().map(|(i, t)| HlcClock::new(i as u64 + 1, Arc::new(t.clone()), Hlc::ZERO)).collect();
        let mut causal_past = [Hlc::ZERO; 3];
        let mut issued = HashSet::new();
        let mut stamp = |d: usize, reading: u64, past: &mut [Hlc; 3]| -> Result<Hlc, TestCaseError> {
            times[d].set(reading);
            let s = clocks[d].tick();
            prop_assert!(s > past[d], "device {} issued {} after {}", d, s, past[d]);
            prop_assert!(issued.insert(s), "{} issued twice", s);
            past[d] = s;
            Ok(s)
        };
        for step in steps {
            match step {
                ClockStep::Local(d, r) => {
                    stamp(d, r, &mut causal_past)?;
                }
                ClockStep::Message(from, to, r1, r2) => {
                    let sent = stamp(from, r1, &mut causal_past)?;
                    clocks[to].observe(sent);
                    causal_past[to] = causal_past[to].max(sent);
                    let after = stamp(to, r2, &mut causal_past)?;
                    prop_assert!(after > sent);
                }
            }
        }
    }
}

// ------------------------------------------------------------------ merge

fn arb_version(node: u64) -> impl Strategy<Value = Version> {
    (
        "[ab]{0,2}",
        proptest::collection::vec("[a-c]{0,2}", 0..5).prop_map(|l| l.join("\n")),
        proptest::collection::vec("[xy]", 0..3),
        any::<bool>(),
        prop::bool::weighted(0.1),
        1u64..1_000,
    )
        .prop_map(move |(title, body, tags, pinned, deleted, wall)| Version {
            title,
            body,
            tags,
            pinned,
            notebook: None,
            deleted,
            hlc: Hlc::new(wall, 0, node),
        })
}

/// What a merged note holds, ignoring fields a tombstone does not keep.
/// What a merge result says: title, body, tags, pinned.
type Said<'a> = (&'a str, &'a str, &'a [String], bool);

fn content(m: &Merged) -> (bool, Option<Said<'_>>) {
    (m.deleted, (!m.deleted).then_some((m.title.as_str(), m.body.as_str(), m.tags.as_slice(), m.pinned)))
}

fn mirrored(o: Outcome) -> Outcome {
    let flip = |s| if s == Side::Local { Side::Remote } else { Side::Local };
    match o {
        Outcome::Restored { edited } => Outcome::Restored { edited: flip(edited) },
        Outcome::LastWriterWins { winner } => Outcome::LastWriterWins { winner: flip(winner) },
        other => other,
    }
}

proptest! {
    #![proptest_config(cases(256))]

    /// merge(base, x, base) = x and merge(base, base, x) = x, field by field.
    #[test]
    fn an_unchanged_side_takes_the_other(mut base in arb_version(1), mut x in arb_version(2)) {
        base.deleted = false;
        x.deleted = false;
        for (local, remote) in [(&x, &base), (&base, &x)] {
            for strategy in [MergeStrategy::AutoMerge, MergeStrategy::AlwaysAsk] {
                let m = merge(Some(&base), local, remote, strategy);
                prop_assert!(m.same_content(&x), "{:?} from base {:?} and {:?}", m, base, x);
                let expected = if strategy == MergeStrategy::AutoMerge { Outcome::Clean } else { Outcome::Confirm };
                prop_assert_eq!(m.outcome, expected);
            }
        }
    }

    /// merge(base, x, x) = x.
    #[test]
    fn merging_a_version_with_itself_is_that_version(base in arb_version(1), x in arb_version(2)) {
        for strategy in [MergeStrategy::AutoMerge, MergeStrategy::LastWriterWins, MergeStrategy::AlwaysAsk] {
            let m = merge(Some(&base), &x, &x, strategy);
            prop_assert!(m.same_content(&x), "{:?} {:?}", strategy, m);
            prop_assert!(!m.outcome.needs_user() || strategy == MergeStrategy::AlwaysAsk);
        }
    }

    /// Swapping local and remote gives the same note (and the mirrored
    /// outcome): devices that merge the same pair converge. Overlaps are
    /// excluded: their markers name "ours" and "theirs" by design.
    #[test]
    fn merges_do_not_depend_on_which_side_is_local(
        base in proptest::option::of(arb_version(1)),
        a in arb_version(2),
        b in arb_version(3),
    ) {
        for strategy in [MergeStrategy::AutoMerge, MergeStrategy::LastWriterWins, MergeStrategy::AlwaysAsk] {
            let ab = merge(base.as_ref(), &a, &b, strategy);
            let ba = merge(base.as_ref(), &b, &a, strategy);
            prop_assert_eq!(ab.outcome, mirrored(ba.outcome));
            if ab.outcome != Outcome::Overlap {
                prop_assert_eq!(content(&ab), content(&ba), "{:?} base {:?} a {:?} b {:?}", strategy, base, a, b);
            }
        }
    }
}

// ----------------------------------------------------------------- outbox

#[derive(Debug, Clone)]
enum OutboxStep {
    Edit {
        note: usize,
        title: Option<String>,
        body: Option<String>,
    },
    Delete(usize),
    /// The sync engine takes a push batch and never hears back.
    Send(usize),
}

fn arb_outbox_step(notes: usize) -> impl Strategy<Value = OutboxStep> {
    prop_oneof![
        6 => (0..notes, proptest::option::of("[a-z]{1,6}"), proptest::option::of("[a-z \n]{0,30}"))
            .prop_map(|(note, title, body)| OutboxStep::Edit { note, title, body }),
        1 => (0..notes).prop_map(OutboxStep::Delete),
        2 => (1usize..4).prop_map(OutboxStep::Send),
    ]
}

/// An outbox row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    seq: i64,
    op_id: Vec<u8>,
    note_id: Vec<u8>,
    hlc: String,
    deleted: bool,
    attempts: i64,
    sealed: (Vec<u8>, Vec<u8>, Vec<u8>),
}

fn outbox_rows(v: &Vault) -> Vec<Row> {
    let mut stmt = v
        .connection()
        .prepare(
            "SELECT o.seq, o.op_id, o.note_id, o.hlc, o.deleted, o.attempts,
               coalesce(o.title, n.title), coalesce(o.meta, n.meta), coalesce(o.body, n.body)
             FROM outbox o JOIN notes n ON n.id = o.note_id
             WHERE o.state = 'pending' ORDER BY o.seq",
        )
        .expect("prepare");
    let rows = stmt
        .query_map([], |r| {
            Ok(Row {
                seq: r.get(0)?,
                op_id: r.get(1)?,
                note_id: r.get(2)?,
                hlc: r.get(3)?,
                deleted: r.get(4)?,
                attempts: r.get(5)?,
                sealed: (r.get(6)?, r.get(7)?, r.get(8)?),
            })
        })
        .expect("query");
    rows.collect::<Result<_, _>>().expect("rows")
}

/// The note row's stamp, deleted flag and sealed fields.
/// A note's sealed title, meta and body as stored.
type SealedRow = (Vec<u8>, Vec<u8>, Vec<u8>);

fn note_row(v: &Vault, id: Uuid) -> (String, bool, SealedRow) {
    v.connection()
        .query_row("SELECT hlc, deleted, title, meta, body FROM notes WHERE id = ?1", [id.as_bytes()], |r| {
            Ok((r.get(0)?, r.get(1)?, (r.get(2)?, r.get(3)?, r.get(4)?)))
        })
        .expect("note row")
}

/// Per note of the model: latest title and body, deleted, and whether it
/// has a change no send has frozen yet.
#[derive(Debug, Clone)]
struct Model {
    title: String,
    body: String,
    deleted: bool,
    unsent: bool,
}

proptest! {
    #![proptest_config(cases(24))]

    #[test]
    fn outbox_keeps_one_unsent_entry_per_note_with_the_latest_content(
        steps in proptest::collection::vec(arb_outbox_step(3), 1..25),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut v = Vault::open(dir.path(), &MemoryStore::new()).expect("open");
        let mut ids = Vec::new();
        let mut model = Vec::new();
        for i in 0..3 {
            let draft = NoteDraft { title: format!("n{i}"), body: String::new(), tags: vec![], pinned: false };
            ids.push(v.create(draft).expect("create").id);
            model.push(Model { title: format!("n{i}"), body: String::new(), deleted: false, unsent: true });
        }
        // seq -> the row when it was first seen sent: never to change.
        let mut frozen: HashMap<i64, Row> = HashMap::new();

        for step in steps {
            match step {
                OutboxStep::Edit { note, title, body } => {
                    let patch = NotePatch { title: title.clone(), body: body.clone(), ..Default::default() };
                    let empty = patch.is_empty();
                    let result = v.edit(ids[note], patch);
                    let m = &mut model[note];
                    if m.deleted {
                        let not_found = matches!(result, Err(Error::NoteNotFound(_)));
                        prop_assert!(not_found, "edit of a deleted note: {:?}", result);
                    } else {
                        let n = result.expect("edit");
                        m.title = title.unwrap_or_else(|| m.title.clone());
                        m.body = body.unwrap_or_else(|| m.body.clone());
                        m.unsent |= !empty;
                        prop_assert_eq!((&n.title, &n.body), (&m.title, &m.body));
                    }
                }
                OutboxStep::Delete(note) => {
                    let result = v.delete(ids[note]);
                    let m = &mut model[note];
                    if m.deleted {
                        prop_assert!(result.is_err(), "a second delete succeeded");
                    } else {
                        result.expect("delete");
                        m.deleted = true;
                        m.unsent = true;
                    }
                }
                OutboxStep::Send(max) => {
                    let before = outbox_rows(&v);
                    let batch = v.take_push_batch(max).expect("take batch");
                    prop_assert!(batch.len() <= max);
                    let mut notes_in_batch = HashSet::new();
                    for p in &batch {
                        prop_assert!(notes_in_batch.insert(p.op.note_id), "two entries of one note in a batch");
                        // Each note sends its oldest pending entry, with that
                        // entry's op id.
                        let oldest = before
                            .iter()
                            .find(|r| r.note_id == p.op.note_id.as_bytes())
                            .expect("a sent entry was pending");
                        prop_assert_eq!(oldest.seq, p.seq);
                        prop_assert_eq!(&oldest.op_id[..], p.op.op_id.as_bytes());
                        if oldest.attempts == 0 {
                            let note = ids.iter().position(|id| *id == p.op.note_id).expect("known note");
                            model[note].unsent = false;
                        }
                    }
                }
            }

            let rows = outbox_rows(&v);
            for row in rows.iter().filter(|r| r.attempts > 0) {
                let first = frozen.entry(row.seq).or_insert_with(|| row.clone());
                prop_assert_eq!(
                    (&first.op_id, &first.hlc, first.deleted, &first.sealed),
                    (&row.op_id, &row.hlc, row.deleted, &row.sealed),
                    "a sent entry changed"
                );
            }
            prop_assert!(
                frozen.keys().all(|seq| rows.iter().any(|r| r.seq == *seq)),
                "an unacknowledged entry left the outbox"
            );
            for (id, m) in ids.iter().zip(&model) {
                let unsent: Vec<&Row> =
                    rows.iter().filter(|r| r.note_id == id.as_bytes() && r.attempts == 0).collect();
                prop_assert_eq!(unsent.len(), usize::from(m.unsent), "note {}: {:?}", id, unsent);
                let (hlc, deleted, sealed) = note_row(&v, *id);
                prop_assert_eq!(deleted, m.deleted);
                if let Some(entry) = unsent.first() {
                    // The unsent entry is exactly the note as it is now.
                    prop_assert_eq!((&entry.hlc, entry.deleted, &entry.sealed), (&hlc, deleted, &sealed));
                }
                if !m.deleted {
                    let note = v.get(*id).expect("get");
                    prop_assert_eq!((&note.title, &note.body), (&m.title, &m.body));
                }
            }
        }
    }
}

// ---------------------------------------------------------------- search

/// A small vocabulary with case and accent variants, so words collide.
const VOCAB: [&str; 12] =
    ["apple", "Apple", "pear", "café", "CAFE", "harbour", "harb", "fox", "red", "the", "naïve", "Ünïcode"];

fn arb_text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        (prop::sample::select(VOCAB.to_vec()), prop::sample::select(vec![" ", ", ", "\n", "-", ". ", "'"])),
        0..max,
    )
    .prop_map(|ws| ws.into_iter().map(|(w, sep)| format!("{w}{sep}")).collect())
}

fn arb_draft() -> impl Strategy<Value = NoteDraft> {
    (
        arb_text(4),
        arb_text(12),
        proptest::sample::subsequence(vec!["work", "Work", "home", "Café"], 0..3),
        any::<bool>(),
    )
        .prop_map(|(title, body, tags, pinned)| NoteDraft {
            title,
            body,
            tags: tags.into_iter().map(str::to_owned).collect(),
            pinned,
        })
}

/// A query as a user types it: words, maybe a phrase, filters, and a last
/// word maybe cut short (a prefix) or ended by a space.
fn arb_query() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(prop::sample::select(VOCAB.to_vec()), 0..3),
        proptest::option::of((prop::sample::select(VOCAB.to_vec()), prop::sample::select(VOCAB.to_vec()))),
        proptest::option::of(prop::sample::select(vec!["work", "HOME", "cafe", "nothing"])),
        any::<bool>(),
        proptest::option::of((prop::sample::select(VOCAB.to_vec()), 1usize..4)),
        proptest::option::of(prop::sample::select(vec!["work", "CAFE", "\"deep harbour\"", "apple", "nothing"])),
    )
        .prop_map(|(words, phrase, tag, pinned, prefix, notebook)| {
            let mut q = Vec::new();
            if let Some(n) = notebook {
                q.push(format!("notebook:{n}"));
            }
            if let Some((a, b)) = phrase {
                q.push(format!("\"{a} {b}\""));
            }
            if let Some(t) = tag {
                q.push(format!("tag:{t}"));
            }
            if pinned {
                q.push("is:pinned".into());
            }
            q.extend(words.into_iter().map(str::to_owned));
            let mut q = q.join(" ");
            match prefix {
                Some((w, n)) => {
                    q.push(' ');
                    q.extend(w.chars().take(n));
                }
                None => q.push(' '),
            }
            q
        })
}

#[derive(Debug, Clone)]
enum SearchStep {
    Create(NoteDraft),
    Edit(usize, NoteDraft),
    Delete(usize),
    /// Another device creates a note; this one pulls it.
    PullCreate(NoteDraft),
    /// Another device edits (or deletes) one of its notes; pulled here.
    PullEdit(usize, Option<NoteDraft>),
    /// Another connection to this store (the CLI beside the app) writes.
    OtherConnection(NoteDraft),
    /// Notebooks: made (under an earlier one or at the top), renamed,
    /// moved (a cycle is refused), deleted (its notes move up); a note
    /// moved into one or out.
    CreateNotebook(usize, Option<usize>),
    RenameNotebook(usize, usize),
    MoveNotebook(usize, Option<usize>),
    DeleteNotebook(usize),
    MoveNote(usize, Option<usize>),
    Query(String),
}

/// Notebook names: some collide once folded, one has two words.
const NOTEBOOK_NAMES: [&str; 5] = ["Work", "work", "Café", "Deep harbour", "apple"];

fn arb_search_step() -> impl Strategy<Value = SearchStep> {
    prop_oneof![
        3 => arb_draft().prop_map(SearchStep::Create),
        2 => (any::<usize>(), arb_draft()).prop_map(|(i, d)| SearchStep::Edit(i, d)),
        1 => any::<usize>().prop_map(SearchStep::Delete),
        2 => arb_draft().prop_map(SearchStep::PullCreate),
        1 => (any::<usize>(), proptest::option::of(arb_draft())).prop_map(|(i, d)| SearchStep::PullEdit(i, d)),
        1 => arb_draft().prop_map(SearchStep::OtherConnection),
        2 => (0..NOTEBOOK_NAMES.len(), proptest::option::of(any::<usize>())).prop_map(|(n, p)| SearchStep::CreateNotebook(n, p)),
        1 => (any::<usize>(), 0..NOTEBOOK_NAMES.len()).prop_map(|(i, n)| SearchStep::RenameNotebook(i, n)),
        1 => (any::<usize>(), proptest::option::of(any::<usize>())).prop_map(|(i, p)| SearchStep::MoveNotebook(i, p)),
        1 => any::<usize>().prop_map(SearchStep::DeleteNotebook),
        2 => (any::<usize>(), proptest::option::of(any::<usize>())).prop_map(|(i, n)| SearchStep::MoveNote(i, n)),
        4 => arb_query().prop_map(SearchStep::Query),
    ]
}

fn shared_key() -> crypto::DataKey {
    crypto::DataKey::from_parts(KeyId(7), [0x5a; 32])
}

/// Hand device `from`'s queued changes to `to` as a pulled page.
fn pull_from(from: &mut Vault, to: &mut Vault, seq: &mut u64) {
    let batch = from.take_push_batch(100).expect("batch");
    let changes = batch
        .iter()
        .map(|p| {
            *seq += 1;
            outpost_protocol::v1::Change {
                seq: *seq,
                note_id: p.op.note_id,
                rev: *seq,
                hlc: p.op.hlc,
                deleted: p.op.deleted,
                payload: p.op.payload.clone(),
            }
        })
        .collect();
    let page = outpost_protocol::v1::PullResponse { changes, next_cursor: *seq, more: false };
    to.apply_pull_page(&page).expect("apply the pulled page");
}

/// What a brute-force scan of every live note finds for `query`: each
/// note's notebook names from the tree as listed now.
fn brute_force(v: &Vault, query: &str) -> HashSet<Uuid> {
    let q = outpost_core::search::Query::parse(query);
    let books = v.notebooks().expect("notebooks");
    let names = |nb: Option<Uuid>| -> Vec<String> {
        let mut out = Vec::new();
        let mut at = nb.and_then(|id| books.iter().find(|b| b.id == id));
        while let Some(b) = at {
            out.insert(0, b.name.clone());
            at = b.parent.and_then(|p| books.iter().find(|x| x.id == p));
        }
        out
    };
    v.all_ids()
        .expect("ids")
        .into_iter()
        .filter(|(_, deleted)| !deleted)
        .filter_map(|(id, _)| {
            let n = v.get(id).expect("get");
            let doc = outpost_core::search::Doc {
                notebooks: names(n.notebook),
                title: n.title,
                body: n.body,
                tags: n.tags,
                pinned: n.pinned,
                notebook: n.notebook,
            };
            outpost_core::search::matches(&q, &doc).then_some(id)
        })
        .collect()
}

proptest! {
    #![proptest_config(cases(32))]

    #[test]
    fn the_index_finds_exactly_what_a_scan_finds(steps in proptest::collection::vec(arb_search_step(), 1..30)) {
        let dir_a = tempfile::tempdir().expect("tempdir");
        let dir_b = tempfile::tempdir().expect("tempdir");
        let keys_a = MemoryStore::new();
        let mut a = Vault::open_for_account(dir_a.path(), &keys_a, shared_key()).expect("open a");
        let mut b = Vault::open_for_account(dir_b.path(), &MemoryStore::new(), shared_key()).expect("open b");
        let (mut mine, mut theirs) = (Vec::new(), Vec::new());
        let mut books: Vec<Uuid> = Vec::new();
        let mut seq = 0;
        for step in steps {
            match step {
                SearchStep::Create(d) => mine.push(a.create(d).expect("create").id),
                SearchStep::Edit(i, d) if !mine.is_empty() => {
                    let id = mine[i % mine.len()];
                    let patch = NotePatch { title: Some(d.title), body: Some(d.body), tags: Some(d.tags), pinned: Some(d.pinned) };
                    a.edit(id, patch).expect("edit");
                }
                SearchStep::Delete(i) if !mine.is_empty() => {
                    let id = mine.remove(i % mine.len());
                    a.delete(id).expect("delete");
                }
                SearchStep::PullCreate(d) => {
                    theirs.push(b.create(d).expect("create on b").id);
                    pull_from(&mut b, &mut a, &mut seq);
                }
                SearchStep::PullEdit(i, d) if !theirs.is_empty() => {
                    let id = theirs[i % theirs.len()];
                    match d {
                        Some(d) => {
                            let patch = NotePatch { title: Some(d.title), body: Some(d.body), tags: Some(d.tags), pinned: Some(d.pinned) };
                            b.edit(id, patch).expect("edit on b");
                        }
                        None => {
                            theirs.retain(|t| *t != id);
                            b.delete(id).expect("delete on b");
                        }
                    }
                    pull_from(&mut b, &mut a, &mut seq);
                }
                SearchStep::OtherConnection(d) => {
                    let mut other = Vault::open(dir_a.path(), &keys_a).expect("open again");
                    mine.push(other.create(d).expect("create elsewhere").id);
                }
                SearchStep::CreateNotebook(n, parent) => {
                    let parent = parent.filter(|_| !books.is_empty()).map(|p| books[p % books.len()]);
                    // A name taken under that parent is refused; that is fine.
                    if let Ok(nb) = a.create_notebook(NOTEBOOK_NAMES[n], parent) {
                        books.push(nb.id);
                    }
                }
                SearchStep::RenameNotebook(i, n) if !books.is_empty() => {
                    let _ = a.rename_notebook(books[i % books.len()], NOTEBOOK_NAMES[n]);
                }
                SearchStep::MoveNotebook(i, parent) if !books.is_empty() => {
                    let parent = parent.map(|p| books[p % books.len()]);
                    let _ = a.move_notebook(books[i % books.len()], parent);
                }
                SearchStep::DeleteNotebook(i) if !books.is_empty() => {
                    let id = books.remove(i % books.len());
                    a.delete_notebook(id).expect("delete a notebook");
                }
                SearchStep::MoveNote(i, nb) if !mine.is_empty() => {
                    let nb = nb.filter(|_| !books.is_empty()).map(|n| books[n % books.len()]);
                    a.move_note(mine[i % mine.len()], nb).expect("move a note");
                }
                SearchStep::Query(q) => {
                    let found: Vec<Uuid> = a.search(&q).expect("search").into_iter().map(|h| h.note.id).collect();
                    let unique: HashSet<Uuid> = found.iter().copied().collect();
                    prop_assert_eq!(unique.len(), found.len(), "a note found twice for {:?}", q);
                    prop_assert_eq!(unique, brute_force(&a, &q), "query {:?}", q);
                }
                _ => {}
            }
        }
        // And once more at the end, for every query shape.
        for q in ["apple ", "caf", "tag:work", "is:pinned", "\"red fox\"", "harb", "notebook:work", "notebook:\"deep harbour\" "] {
            let found: HashSet<Uuid> = a.search(q).expect("search").into_iter().map(|h| h.note.id).collect();
            prop_assert_eq!(found, brute_force(&a, q), "query {:?}", q);
        }
    }
}
