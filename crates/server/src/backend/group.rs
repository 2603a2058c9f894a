//! Push: the algorithm ([`plan`], which decides every op's outcome in Rust
//! from what the database holds) and group commit ([`GroupCommit`]) on
//! both databases.
//!
//! # The algorithm
//! A push first locks its user's counter row (on SQLite, the write lock of
//! the one writer covers every row) and reads what its ops need:
//! which op ids are stored already, and the rev and payload length of every
//! note they touch. [`plan`] then goes through the pushes in arrival order
//! and their ops in order: an op id already stored (or applied earlier in
//! the group) is a duplicate with the first answer; an op whose base rev is
//! not the note's current rev (which counts the group's own earlier ops on
//! that note) is a conflict; any other applies with the user's next seq and
//! the note's next rev. A push that would take its user past the quota
//! ([`super::Backend::push_within`]) is refused whole and leaves nothing
//! behind: the pushes after it see the state without it. Only then is
//! anything written, and a conflict's current version (payload included)
//! is read only when there is one.
//!
//! # Group commit
//! Every push is handed to a task that takes all the pushes waiting at that
//! moment (up to [`MAX_GROUP_OPS`] ops), commits them in one transaction
//! and then answers each. A failed commit fails every push of the group,
//! none of which was answered, so devices retry them (op ids make that
//! safe); a panic fails only its group. No push is answered before the
//! commit that holds it is durable, and readers never see a push before its
//! group commits, so what a device pulls is always durable.
//!
//! Both databases commit a group set-based, in a constant number of
//! statements whatever its size: lock or read the users' counter rows,
//! read the stored op ids and notes of the whole group in one query,
//! [`plan`], read the conflicts' current versions if any, write notes, ops
//! and counters, and commit. A push refused by [`plan`] (quota, account
//! deleted) writes nothing, so no savepoints are needed.
//! - SQLite has one writer and each commit is an fsync: one push per
//!   transaction capped the server at about 1,300 pushes a second
//!   (BENCHMARKS.md, "Sync on loopback"). A statement there is a hop to
//!   the connection's thread and back, and the one writer runs them one
//!   after another, so statements per push were what bounded a group
//!   (eight a push, statement by statement in savepoints, before; a
//!   handful a group now, `sqlite.rs`). One group commits at a time.
//! - PostgreSQL groups WAL flushes itself; what a push costs there is
//!   round trips (about ten per push one by one). Its groups
//!   (`postgres.rs`) lock the users' counter rows in id order (so groups
//!   of two instances, or two groups of one, never deadlock), write notes,
//!   ops, counters and pokes in one statement, and a few groups commit at
//!   once ([`CommitGroup::WORKERS`]), since PostgreSQL runs them side by
//!   side.
//!
//! A user's pushes are serialised by the counter row (on SQLite, by the
//! one writer), held to commit, so
//! seq is handed out in commit order: a reader never sees seq N+1
//! committed while N is not.

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::FutureExt as _;
use outpost_protocol::v1::{Change, Op, PushResult};
use sqlx::{Database, Pool};
use tokio::sync::{broadcast, mpsc, oneshot, Mutex};
use uuid::Uuid;

use super::{to_i64, to_u64, BackendError, Poke};

/// A group stops taking pushes once it holds this many ops (a push is never
/// split): bounds how long one commit keeps the others waiting.
pub(super) const MAX_GROUP_OPS: usize = 2_000;

/// Pushes waiting for the group task; more wait in their requests.
const QUEUE: usize = 1_024;

/// One push of a group, as [`plan`] reads it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Push<'a> {
    pub(super) user_id: Uuid,
    /// The session's token hash, recorded as the writer of what applies.
    pub(super) writer: Option<&'a [u8; 32]>,
    pub(super) ops: &'a [Op],
    pub(super) quota_bytes: u64,
}

/// What the database held for a group's pushes when it began, under the
/// users' counter row locks.
#[derive(Debug, Default)]
pub(super) struct Stored {
    /// `(seq, stored_bytes)` of every user whose counter row is locked; a
    /// user missing was deleted.
    pub(super) users: HashMap<Uuid, (i64, i64)>,
    /// `(rev, seq)` of the op ids stored, by `(user, op id)`.
    pub(super) ops: HashMap<(Uuid, Uuid), (i64, i64)>,
    /// `(rev, payload length)` of the notes stored, by `(user, note id)`.
    pub(super) notes: HashMap<(Uuid, Uuid), (i64, i64)>,
}

/// One op's answer, as [`plan`] leaves it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Answer {
    Done(PushResult),
    /// A conflict whose current version is the one stored before the group
    /// (note `.0` of the push's user): the caller reads it
    /// ([`Answer::resolve`]).
    ConflictWithStored(Uuid),
}

impl Answer {
    /// The answer, with a stored current version from `current` (keyed by
    /// `(user, note id)`).
    pub(super) fn resolve(self, user_id: Uuid, current: &HashMap<(Uuid, Uuid), Change>) -> PushResult {
        match self {
            Answer::Done(result) => result,
            Answer::ConflictWithStored(note_id) => {
                PushResult::Conflict { current: current.get(&(user_id, note_id)).cloned() }
            }
        }
    }
}

/// What one push of a group does, if it is not refused.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Planned {
    /// One per op, in order.
    pub(super) answers: Vec<Answer>,
    /// The user's seq after this push, if it applied anything.
    pub(super) seq: Option<u64>,
}

/// The latest version of a note the group writes.
#[derive(Clone, Copy, Debug)]
pub(super) struct NoteWrite<'a> {
    pub(super) rev: i64,
    pub(super) seq: i64,
    /// Payload length, as `stored_bytes` counts it.
    pub(super) len: i64,
    /// The op that wrote it: its hlc, deleted flag and payload.
    pub(super) op: &'a Op,
    pub(super) writer: Option<&'a [u8; 32]>,
}

impl NoteWrite<'_> {
    fn to_change(self) -> Result<Change, BackendError> {
        Ok(Change {
            seq: to_u64(self.seq)?,
            note_id: self.op.note_id,
            rev: to_u64(self.rev)?,
            hlc: self.op.hlc,
            deleted: self.op.deleted,
            payload: self.op.payload.clone(),
        })
    }
}

/// An op id the group stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct OpWrite {
    pub(super) user_id: Uuid,
    pub(super) op_id: Uuid,
    pub(super) note_id: Uuid,
    pub(super) rev: i64,
    pub(super) seq: i64,
}

/// A group's outcome per push and everything it writes.
#[derive(Debug)]
pub(super) struct Plan<'a> {
    /// One per push, in order.
    pub(super) pushes: Vec<Result<Planned, BackendError>>,
    /// The latest version of every note written, by `(user, note id)`.
    pub(super) notes: BTreeMap<(Uuid, Uuid), NoteWrite<'a>>,
    /// Every op applied, in order.
    pub(super) ops: Vec<OpWrite>,
    /// `(seq, stored_bytes)` of every user whose seq moved.
    pub(super) users: BTreeMap<Uuid, (i64, i64)>,
}

impl Plan<'_> {
    /// The `(user, note id)` of every conflict whose current version the
    /// caller must read.
    pub(super) fn stored_conflicts(&self, pushes: &[Push<'_>]) -> Vec<(Uuid, Uuid)> {
        let mut keys = Vec::new();
        for (push, planned) in pushes.iter().zip(&self.pushes) {
            let Ok(planned) = planned else { continue };
            for answer in &planned.answers {
                if let Answer::ConflictWithStored(note_id) = answer {
                    keys.push((push.user_id, *note_id));
                }
            }
        }
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

/// Decides every op of `pushes` (in arrival order) against `stored`: see
/// the module docs. Pure: nothing is read or written here.
pub(super) fn plan<'a>(pushes: &[Push<'a>], stored: &Stored) -> Plan<'a> {
    let mut plan = Plan {
        pushes: Vec::with_capacity(pushes.len()),
        notes: BTreeMap::new(),
        ops: Vec::new(),
        users: BTreeMap::new(),
    };
    // Op ids applied by earlier pushes of the group.
    let mut applied: HashMap<(Uuid, Uuid), (i64, i64)> = HashMap::new();
    for push in pushes {
        let outcome = plan_one(push, stored, &plan, &applied);
        match outcome {
            Ok((planned, staged)) => {
                if let Some(user) = staged.user {
                    plan.users.insert(push.user_id, user);
                }
                for op in &staged.ops {
                    applied.insert((op.user_id, op.op_id), (op.rev, op.seq));
                }
                plan.ops.extend(staged.ops);
                plan.notes.extend(staged.notes);
                plan.pushes.push(Ok(planned));
            }
            Err(e) => plan.pushes.push(Err(e)),
        }
    }
    plan
}

/// What one push would write, kept apart until it is known not to be
/// refused.
#[derive(Default)]
struct Staged<'a> {
    notes: HashMap<(Uuid, Uuid), NoteWrite<'a>>,
    ops: Vec<OpWrite>,
    user: Option<(i64, i64)>,
}

fn plan_one<'a>(
    push: &Push<'a>,
    stored: &Stored,
    group: &Plan<'a>,
    applied: &HashMap<(Uuid, Uuid), (i64, i64)>,
) -> Result<(Planned, Staged<'a>), BackendError> {
    let user = push.user_id;
    // The session was checked just before: the account was deleted in
    // between.
    let &(start, before) =
        group.users.get(&user).or_else(|| stored.users.get(&user)).ok_or(BackendError::AccountDeleted)?;
    let mut seq = start;
    // Payload bytes the user's notes hold, as the push goes.
    let mut bytes = before;
    let mut staged = Staged::default();
    let mut mine: HashMap<Uuid, (i64, i64)> = HashMap::new();
    let mut answers = Vec::with_capacity(push.ops.len());
    for op in push.ops {
        let seen = mine
            .get(&op.op_id)
            .or_else(|| applied.get(&(user, op.op_id)))
            .or_else(|| stored.ops.get(&(user, op.op_id)));
        if let Some(&(rev, s)) = seen {
            answers.push(Answer::Done(PushResult::Duplicate { rev: to_u64(rev)?, seq: to_u64(s)? }));
            continue;
        }
        let key = (user, op.note_id);
        // The note as it stands: written earlier in this push, earlier in
        // the group, or before it.
        let written = staged.notes.get(&key).or_else(|| group.notes.get(&key)).copied();
        let (current, old_len) = match written {
            Some(w) => (w.rev, w.len),
            None => stored.notes.get(&key).copied().unwrap_or((0, 0)),
        };
        if to_i64(op.base_rev) != Some(current) {
            answers.push(match written {
                Some(w) => Answer::Done(PushResult::Conflict { current: Some(w.to_change()?) }),
                None if stored.notes.contains_key(&key) => Answer::ConflictWithStored(op.note_id),
                None => Answer::Done(PushResult::Conflict { current: None }),
            });
            continue;
        }
        seq += 1;
        let rev = current + 1;
        let len = i64::try_from(op.payload.len()).map_err(|_| BackendError::Corrupt("payload length"))?;
        bytes = bytes - old_len + len;
        staged.notes.insert(key, NoteWrite { rev, seq, len, op, writer: push.writer });
        staged.ops.push(OpWrite { user_id: user, op_id: op.op_id, note_id: op.note_id, rev, seq });
        mine.insert(op.op_id, (rev, seq));
        answers.push(Answer::Done(PushResult::Applied { rev: to_u64(rev)?, seq: to_u64(seq)? }));
    }
    if bytes > before && u64::try_from(bytes).unwrap_or(u64::MAX) > push.quota_bytes {
        return Err(BackendError::QuotaExceeded {
            stored: to_u64(before)?,
            would: to_u64(bytes)?,
            quota: push.quota_bytes,
        });
    }
    let moved = seq != start;
    if moved {
        staged.user = Some((seq, bytes));
    }
    Ok((Planned { answers, seq: if moved { Some(to_u64(seq)?) } else { None } }, staged))
}

/// One push waiting for its group.
#[derive(Debug)]
pub(super) struct Job {
    pub(super) user_id: Uuid,
    pub(super) writer: Option<[u8; 32]>,
    pub(super) ops: Vec<Op>,
    pub(super) quota_bytes: u64,
    answer: oneshot::Sender<Result<Vec<PushResult>, BackendError>>,
}

impl Job {
    pub(super) fn push(&self) -> Push<'_> {
        Push { user_id: self.user_id, writer: self.writer.as_ref(), ops: &self.ops, quota_bytes: self.quota_bytes }
    }
}

/// One push's outcome in a group: its results, and the seq to poke this
/// process's subscribers with after the commit (none when nothing applied,
/// or when the database carries the poke itself).
pub(super) type Outcome = Result<(Vec<PushResult>, Option<u64>), BackendError>;

/// How a database commits a group of pushes.
#[async_trait]
pub(super) trait CommitGroup: Database {
    /// How many groups may be committing at once.
    const WORKERS: usize;

    /// Commits `group` in one transaction: one outcome per push, in order.
    /// An error fails every push of the group.
    async fn commit_group(pool: &Pool<Self>, group: &[Job]) -> Result<Vec<Outcome>, BackendError>;
}

/// The way into the group commit tasks (see the module docs).
#[derive(Debug)]
pub(super) struct GroupCommit<DB: Database> {
    jobs: mpsc::Sender<Job>,
    pool: Pool<DB>,
    pokes: broadcast::Sender<Poke>,
}

impl<DB: CommitGroup> GroupCommit<DB> {
    /// Starts [`CommitGroup::WORKERS`] tasks that commit pushes through
    /// `pool` and poke through `pokes`. They end when this is dropped.
    pub(super) fn start(pool: Pool<DB>, pokes: broadcast::Sender<Poke>) -> Self {
        let (jobs, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..DB::WORKERS {
            tokio::spawn(run(pool.clone(), pokes.clone(), rx.clone()));
        }
        Self { jobs, pool, pokes }
    }

    /// [`super::Backend::push_by`], committed with whatever other pushes
    /// are waiting.
    pub(super) async fn push(
        &self,
        user_id: Uuid,
        writer: Option<&[u8; 32]>,
        ops: &[Op],
        quota_bytes: u64,
    ) -> Result<Vec<PushResult>, BackendError> {
        let (job, rx) = job(user_id, writer, ops, quota_bytes);
        self.jobs.send(job).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// Commits `pushes` as one group, bypassing the queue: for tests that
    /// need given pushes in one group.
    pub(super) async fn push_together(
        &self,
        pushes: &[(Uuid, Vec<Op>, u64)],
    ) -> Vec<Result<Vec<PushResult>, BackendError>> {
        let (group, answers): (Vec<_>, Vec<_>) =
            pushes.iter().map(|(user, ops, quota)| job(*user, None, ops, *quota)).unzip();
        commit_and_answer(&self.pool, &self.pokes, group).await;
        let mut results = Vec::with_capacity(answers.len());
        for rx in answers {
            results.push(rx.await.map_err(|_| stopped()).and_then(|r| r));
        }
        results
    }
}

fn job(
    user_id: Uuid,
    writer: Option<&[u8; 32]>,
    ops: &[Op],
    quota_bytes: u64,
) -> (Job, oneshot::Receiver<Result<Vec<PushResult>, BackendError>>) {
    let (answer, rx) = oneshot::channel();
    (Job { user_id, writer: writer.copied(), ops: ops.to_vec(), quota_bytes, answer }, rx)
}

fn stopped() -> BackendError {
    BackendError::Database(sqlx::Error::PoolClosed)
}

async fn run<DB: CommitGroup>(pool: Pool<DB>, pokes: broadcast::Sender<Poke>, rx: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        // One worker at a time takes the pushes waiting; the others commit
        // meanwhile.
        let group = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut ops = first.ops.len();
            let mut group = vec![first];
            while ops < MAX_GROUP_OPS {
                match rx.try_recv() {
                    Ok(job) => {
                        ops += job.ops.len();
                        group.push(job);
                    }
                    Err(_) => break,
                }
            }
            group
        };
        commit_and_answer(&pool, &pokes, group).await;
    }
}

/// Commits `group` and answers each of its pushes.
async fn commit_and_answer<DB: CommitGroup>(pool: &Pool<DB>, pokes: &broadcast::Sender<Poke>, group: Vec<Job>) {
    // A panic in one group (a bug) must not stop every later push: it fails
    // this group's pushes (its transaction is rolled back when dropped) and
    // the task goes on.
    let committed = AssertUnwindSafe(DB::commit_group(pool, &group)).catch_unwind().await.unwrap_or_else(|_| {
        Err(BackendError::Database(sqlx::Error::Protocol("the push could not be committed (a server bug)".into())))
    });
    match committed {
        Ok(outcomes) if outcomes.len() == group.len() => {
            for (job, outcome) in group.into_iter().zip(outcomes) {
                let answer = outcome.map(|(results, seq)| {
                    if let Some(seq) = seq {
                        // No receivers is fine: nobody is listening.
                        let _ = pokes.send(Poke { user_id: Some(job.user_id), seq });
                    }
                    results
                });
                // A request that went away does not need its answer.
                let _ = job.answer.send(answer);
            }
        }
        Ok(_) => fail_all(group, "a group's outcomes do not match its pushes (a server bug)"),
        Err(e) => {
            tracing::warn!(error = %e, pushes = group.len(), "a group commit failed; its pushes get an error");
            fail_all(group, &e.to_string());
        }
    }
}

fn fail_all(group: Vec<Job>, reason: &str) {
    for job in group {
        let _ = job.answer.send(Err(BackendError::Database(sqlx::Error::Protocol(format!("commit failed: {reason}")))));
    }
}

#[cfg(test)]
mod tests {
    use outpost_protocol::v1::Bytes;
    use outpost_protocol::Hlc;

    use super::*;

    fn op(note_id: Uuid, base_rev: u64, len: usize) -> Op {
        Op {
            op_id: Uuid::new_v4(),
            note_id,
            base_rev,
            hlc: Hlc::new(1_750_000_000_000, 0, 1),
            deleted: false,
            payload: Bytes(vec![7; len]),
        }
    }

    fn push(user_id: Uuid, ops: &[Op], quota_bytes: u64) -> Push<'_> {
        Push { user_id, writer: None, ops, quota_bytes }
    }

    fn done(results: &[PushResult]) -> Vec<Answer> {
        results.iter().cloned().map(Answer::Done).collect()
    }

    #[test]
    fn a_note_written_twice_in_a_group_keeps_its_latest_version() {
        let (user, note) = (Uuid::new_v4(), Uuid::new_v4());
        let stored = Stored { users: HashMap::from([(user, (10, 50))]), ..Stored::default() };
        let (first, second, stale) = (op(note, 0, 20), op(note, 1, 30), op(note, 1, 5));
        let (p1, p2) = ([first.clone()], [second.clone(), stale]);
        let pushes = [push(user, &p1, u64::MAX), push(user, &p2, u64::MAX)];
        let plan = plan(&pushes, &stored);
        let Ok(a) = &plan.pushes[0] else { panic!("{:?}", plan.pushes[0]) };
        assert_eq!(a.answers, done(&[PushResult::Applied { rev: 1, seq: 11 }]));
        assert_eq!(a.seq, Some(11));
        let Ok(b) = &plan.pushes[1] else { panic!("{:?}", plan.pushes[1]) };
        let current =
            Change { seq: 12, note_id: note, rev: 2, hlc: second.hlc, deleted: false, payload: second.payload.clone() };
        assert_eq!(
            b.answers,
            done(&[PushResult::Applied { rev: 2, seq: 12 }, PushResult::Conflict { current: Some(current) }])
        );
        // One row for the note (its latest), one per op applied.
        assert_eq!(plan.notes.len(), 1);
        let latest = plan.notes[&(user, note)];
        assert_eq!((latest.rev, latest.seq, latest.len, latest.op.op_id), (2, 12, 30, second.op_id));
        assert_eq!(plan.ops.iter().map(|o| o.seq).collect::<Vec<_>>(), vec![11, 12]);
        assert_eq!(plan.users[&user], (12, 80));
        assert!(plan.stored_conflicts(&pushes).is_empty());
    }

    #[test]
    fn duplicates_stored_before_or_applied_earlier_in_the_group() {
        let (user, note, old) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let stored = Stored {
            users: HashMap::from([(user, (3, 0))]),
            ops: HashMap::from([((user, old), (1, 2))]),
            notes: HashMap::from([((user, note), (1, 0))]),
        };
        let resent = Op { op_id: old, ..op(note, 0, 0) };
        let fresh = op(note, 1, 0);
        let (p1, p2) = ([resent, fresh.clone()], [fresh.clone(), op(note, 0, 0)]);
        let pushes = [push(user, &p1, u64::MAX), push(user, &p2, u64::MAX)];
        let plan = plan(&pushes, &stored);
        let answers: Vec<_> = plan.pushes.iter().map(|p| &p.as_ref().expect("planned").answers).collect();
        assert_eq!(
            answers[0],
            &done(&[PushResult::Duplicate { rev: 1, seq: 2 }, PushResult::Applied { rev: 2, seq: 4 }])
        );
        // The stale op's note was written in the group: its version is known.
        assert!(matches!(answers[1][0], Answer::Done(PushResult::Duplicate { rev: 2, seq: 4 })));
        assert!(matches!(&answers[1][1], Answer::Done(PushResult::Conflict { current: Some(c) }) if c.rev == 2));
        assert_eq!(plan.ops.len(), 1);
    }

    #[test]
    fn a_refused_push_leaves_nothing_for_the_next() {
        let (user, other, gone) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let stored = Stored {
            users: HashMap::from([(user, (0, 100)), (other, (5, 0))]),
            notes: HashMap::from([((user, Uuid::nil()), (1, 100))]),
            ..Stored::default()
        };
        let big = op(Uuid::new_v4(), 0, 100);
        let small = Op { payload: Bytes(vec![1; 50]), ..big.clone() };
        let conflict = op(Uuid::nil(), 0, 10);
        let (p1, p2, p3, p4) = ([big], [small, conflict], [op(Uuid::new_v4(), 0, 1)], [op(Uuid::new_v4(), 0, 1)]);
        let pushes =
            [push(user, &p1, 150), push(gone, &p3, u64::MAX), push(user, &p2, 150), push(other, &p4, u64::MAX)];
        let plan = plan(&pushes, &stored);
        assert!(matches!(plan.pushes[0], Err(BackendError::QuotaExceeded { stored: 100, would: 200, quota: 150 })));
        assert!(matches!(plan.pushes[1], Err(BackendError::AccountDeleted)));
        let Ok(third) = &plan.pushes[2] else { panic!("{:?}", plan.pushes[2]) };
        assert_eq!(third.answers[0], Answer::Done(PushResult::Applied { rev: 1, seq: 1 }));
        assert_eq!(third.answers[1], Answer::ConflictWithStored(Uuid::nil()));
        assert!(plan.pushes[3].is_ok());
        assert_eq!(plan.stored_conflicts(&pushes), vec![(user, Uuid::nil())]);
        assert_eq!(plan.users, BTreeMap::from([(user, (1, 150)), (other, (6, 1))]));
        assert_eq!(plan.ops.len(), 2);
    }
}
