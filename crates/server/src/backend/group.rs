//! Push: the algorithm ([`push_in`], run inside the caller's transaction)
//! and, on SQLite, group commit ([`GroupCommit`]).
//!
//! SQLite has one writer and each commit is an fsync: one push per
//! transaction capped the server at about 1,300 pushes a second, and with
//! 100 devices pushing at once the last in the queue waited for all the
//! others' fsyncs (BENCHMARKS.md, "Sync on loopback"). With group commit
//! every push is handed to one task that takes all the pushes waiting at
//! that moment (up to [`MAX_GROUP_OPS`] ops), runs each in a savepoint of
//! one transaction, commits once and then answers each. A push that fails
//! (quota, a deleted account) rolls back its own savepoint only; a failed
//! commit fails every push of the group, none of which was answered, so
//! devices retry them (op ids make that safe). No push is answered before
//! the commit that holds it is durable, and readers never see a push
//! before its group commits, so what a device pulls is always durable.
//!
//! PostgreSQL commits concurrent transactions in parallel and groups their
//! WAL flushes itself, so it keeps one transaction per push.

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt as _;
use outpost_protocol::v1::{Op, PushResult};
use sqlx::{Acquire, ColumnIndex, Decode, Encode, Executor, IntoArguments, Pool, Sqlite, Type};
use tokio::sync::{broadcast, mpsc, oneshot};
use uuid::Uuid;

use super::{row_to_change, to_i64, to_u64, BackendError, Dialect, NoteRow, Poke};

/// A group stops taking pushes once it holds this many ops (a push is never
/// split): bounds how long one commit keeps the others waiting.
pub(super) const MAX_GROUP_OPS: usize = 2_000;

/// Pushes waiting for the group task; more wait in their requests.
const QUEUE: usize = 1_024;

/// Applies one push batch of `user_id` inside `tx`: one result per op, in
/// order, and the user's new seq if anything applied (the caller pokes the
/// user's devices once it commits). Nothing is committed here; on an error
/// the caller rolls back.
pub(super) async fn push_in<DB>(
    tx: &mut DB::Connection,
    user_id: Uuid,
    writer: Option<&[u8; 32]>,
    ops: &[Op],
    quota_bytes: u64,
) -> Result<(Vec<PushResult>, Option<u64>), BackendError>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Uuid: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<&'q [u8]>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Decode<'q, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    // The user's counter row, taken first and held to commit (see the
    // module docs): it serialises this user's pushes, on every
    // instance, so seq is handed out in commit order. Always the first
    // lock a push takes, so pushes cannot deadlock.
    let (start, stored): (i64, i64) =
        sqlx::query_as("UPDATE users SET seq = seq WHERE id = $1 RETURNING seq, stored_bytes")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            // The session was checked just before: the account was
            // deleted in between.
            .ok_or(BackendError::AccountDeleted)?;
    let mut seq = start;
    // Payload bytes the user's notes hold, as the batch goes.
    let mut bytes = stored;
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        let seen: Option<(i64, i64)> = sqlx::query_as("SELECT rev, seq FROM ops WHERE user_id = $1 AND op_id = $2")
            .bind(user_id)
            .bind(op.op_id)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some((rev, s)) = seen {
            results.push(PushResult::Duplicate { rev: to_u64(rev)?, seq: to_u64(s)? });
            continue;
        }
        // The length as BIGINT: PostgreSQL's length() is a 32-bit int.
        let current: Option<(i64, i64)> = sqlx::query_as(
            "SELECT rev, CAST(length(payload) AS BIGINT) FROM notes WHERE user_id = $1 AND note_id = $2",
        )
        .bind(user_id)
        .bind(op.note_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (current, old_len) = (current.map(|(rev, _)| rev), current.map_or(0, |(_, len)| len));
        if to_i64(op.base_rev) != Some(current.unwrap_or(0)) {
            // Only now the payload (up to 2 MiB): an op that applies
            // never needs it.
            let row: Option<NoteRow> = sqlx::query_as(
                "SELECT seq, note_id, rev, hlc, deleted, payload FROM notes WHERE user_id = $1 AND note_id = $2",
            )
            .bind(user_id)
            .bind(op.note_id)
            .fetch_optional(&mut *tx)
            .await?;
            results.push(PushResult::Conflict { current: row.map(row_to_change).transpose()? });
            continue;
        }
        seq += 1;
        let rev = current.unwrap_or(0) + 1;
        let new_len = i64::try_from(op.payload.len()).map_err(|_| BackendError::Corrupt("payload length"))?;
        bytes = bytes - old_len + new_len;
        sqlx::query(
            "INSERT INTO notes (user_id, note_id, rev, seq, hlc, deleted, payload, writer)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (user_id, note_id) DO UPDATE SET rev = excluded.rev, seq = excluded.seq,
               hlc = excluded.hlc, deleted = excluded.deleted, payload = excluded.payload,
               writer = excluded.writer",
        )
        .bind(user_id)
        .bind(op.note_id)
        .bind(rev)
        .bind(seq)
        .bind(op.hlc.to_string())
        .bind(op.deleted)
        .bind(op.payload.as_ref())
        .bind(writer.map(|w| w.as_slice()))
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO ops (user_id, op_id, note_id, rev, seq) VALUES ($1, $2, $3, $4, $5)")
            .bind(user_id)
            .bind(op.op_id)
            .bind(op.note_id)
            .bind(rev)
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        results.push(PushResult::Applied { rev: to_u64(rev)?, seq: to_u64(seq)? });
    }
    if bytes > stored && u64::try_from(bytes).unwrap_or(u64::MAX) > quota_bytes {
        // The caller rolls the whole batch back.
        return Err(BackendError::QuotaExceeded { stored: to_u64(stored)?, would: to_u64(bytes)?, quota: quota_bytes });
    }
    if seq == start {
        return Ok((results, None));
    }
    sqlx::query("UPDATE users SET seq = $1, stored_bytes = $2 WHERE id = $3")
        .bind(seq)
        .bind(bytes)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    Ok((results, Some(to_u64(seq)?)))
}

/// One push waiting for its group.
struct Job {
    user_id: Uuid,
    writer: Option<[u8; 32]>,
    ops: Vec<Op>,
    quota_bytes: u64,
    answer: oneshot::Sender<Result<Vec<PushResult>, BackendError>>,
}

/// The way into SQLite's group commit task (see the module docs).
#[derive(Debug)]
pub(super) struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the task that commits pushes through `writer` (the one write
    /// connection) and pokes through `pokes`. It ends when this is dropped.
    pub(super) fn start(writer: Pool<Sqlite>, pokes: broadcast::Sender<Poke>) -> Self {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(writer, pokes, rx));
        Self { jobs }
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
        let (answer, rx) = oneshot::channel();
        let job = Job { user_id, writer: writer.copied(), ops: ops.to_vec(), quota_bytes, answer };
        let stopped = || BackendError::Database(sqlx::Error::PoolClosed);
        self.jobs.send(job).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

async fn run(writer: Pool<Sqlite>, pokes: broadcast::Sender<Poke>, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
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
        // A panic in one group (a bug) must not stop every later push:
        // it fails this group's pushes (its transaction is rolled back
        // when dropped) and the task goes on.
        let committed = AssertUnwindSafe(commit(&writer, &group)).catch_unwind().await.unwrap_or_else(|_| {
            Err(BackendError::Database(sqlx::Error::Protocol("the push could not be committed (a server bug)".into())))
        });
        match committed {
            Ok(outcomes) => {
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
            Err(e) => {
                tracing::warn!(error = %e, pushes = group.len(), "a group commit failed; its pushes get an error");
                let reason = e.to_string();
                for job in group {
                    let _ = job
                        .answer
                        .send(Err(BackendError::Database(sqlx::Error::Protocol(format!("commit failed: {reason}")))));
                }
            }
        }
    }
}

type Outcome = Result<(Vec<PushResult>, Option<u64>), BackendError>;

/// Runs `group` in one transaction, each push in a savepoint of its own.
async fn commit(writer: &Pool<Sqlite>, group: &[Job]) -> Result<Vec<Outcome>, BackendError> {
    let mut tx = Sqlite::begin_write(writer).await?;
    let mut outcomes = Vec::with_capacity(group.len());
    for job in group {
        let mut savepoint = tx.begin().await?;
        let outcome =
            push_in::<Sqlite>(&mut savepoint, job.user_id, job.writer.as_ref(), &job.ops, job.quota_bytes).await;
        match outcome {
            Ok(done) => {
                savepoint.commit().await?;
                outcomes.push(Ok(done));
            }
            Err(e) => {
                savepoint.rollback().await?;
                outcomes.push(Err(e));
            }
        }
    }
    tx.commit().await?;
    Ok(outcomes)
}
