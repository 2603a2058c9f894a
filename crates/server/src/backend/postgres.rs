//! PostgreSQL backend: for real deployments, many stateless server
//! instances on one database.
//!
//! Pokes cross instances through `LISTEN`/`NOTIFY`: a group of pushes
//! sends `pg_notify` inside its transaction, so PostgreSQL delivers it only
//! if and when the change commits, and every instance (the sender included)
//! hears it on its listener connection and forwards it to its own
//! subscribers.
//!
//! Pushes commit in groups, set-based ([`CommitGroup`] below; the design is
//! in `group.rs`).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{Pool, Postgres, Transaction};
use uuid::Uuid;

use super::group::{plan, CommitGroup, GroupCommit, Job, Outcome, Plan, Push, Stored};
use super::{row_to_change, BackendError, Dialect, Poke, SessionEnded, Signals, SqlBackend};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The notification channel pokes travel on; payload `"<user uuid>:<seq>"`.
const POKE_CHANNEL: &str = "outpost_poke";
/// The channel log-outs travel on, so a stream on any instance ends;
/// payload: the token hash in hex (already stored in the sessions table).
const SESSION_END_CHANNEL: &str = "outpost_session_end";

/// Enough for the reads of one busy instance beside its group commits.
const MAX_CONNECTIONS: u32 = 16;

/// Groups of pushes committing at once (`group.rs`): while one commits,
/// the next gathers and runs its statements.
const GROUP_WORKERS: usize = 2;

impl SqlBackend<Postgres> {
    /// Opens `postgres://...`, migrates the database, and starts listening
    /// for pokes.
    pub async fn open(url: &str) -> Result<Self, BackendError> {
        // No ping before a connection is handed out: it is a round trip
        // to PostgreSQL (Sync, then ReadyForQuery) before every statement
        // run on the pool, on top of the one sqlx makes when the
        // connection comes back (which stays, and closes a connection that
        // broke). A connection that broke in between fails its statement,
        // which the request answers as a retryable error.
        //
        // All the connections open from the start and stay open: a new one
        // is a TCP and SCRAM hand-shake and a new PostgreSQL process with
        // cold catalog caches, tens of ms before its first answer. Opened
        // on demand, the first burst of requests after a start (every
        // device reconnecting) waited for them: in the 100-device bench
        // the first round's pushes took 50-90 ms, the p99 of the whole run
        // (BENCHMARKS.md, "Day of 2026-12-07", part 2).
        let pool = PgPoolOptions::new()
            .test_before_acquire(false)
            .max_connections(MAX_CONNECTIONS)
            .min_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        // sqlx takes an advisory lock, so instances starting together
        // migrate once.
        MIGRATOR.run(&pool).await?;
        let signals = Signals::new();
        // LISTEN before serving, so no poke after start-up is missed.
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen_all([POKE_CHANNEL, SESSION_END_CHANNEL]).await?;
        let task = tokio::spawn(forward_notifications(listener, signals.clone()));
        // One pool for reads and writes: PostgreSQL runs them side by side,
        // and the counter row lock orders a user's pushes.
        let group = GroupCommit::start(pool.clone(), signals.pokes.clone());
        // No session cache: other instances end sessions too.
        Ok(Self::new(pool.clone(), pool, signals, Some(task), group, None, None))
    }

    /// Commits `pushes` (each a user, its ops and its quota) as one group,
    /// as if they had all been waiting at once: one answer per push, as
    /// [`super::Backend::push_within`] gives it. For tests that need given
    /// pushes in one group.
    #[doc(hidden)]
    pub async fn push_as_one_group(
        &self,
        pushes: &[(uuid::Uuid, Vec<outpost_protocol::v1::Op>, u64)],
    ) -> Vec<Result<Vec<outpost_protocol::v1::PushResult>, BackendError>> {
        self.group.push_together(pushes).await
    }
}

#[async_trait]
impl Dialect for Postgres {
    async fn begin_write(pool: &Pool<Self>) -> Result<Transaction<'static, Self>, sqlx::Error> {
        // READ COMMITTED: writers of one user queue on their counter row,
        // writers of different users do not wait for each other.
        pool.begin().await
    }

    async fn session_end_on_commit(
        tx: &mut Transaction<'static, Self>,
        token_hash: &[u8; 32],
    ) -> Result<bool, sqlx::Error> {
        let hex: String = token_hash.iter().map(|b| format!("{b:02x}")).collect();
        sqlx::query("SELECT pg_notify($1, $2)").bind(SESSION_END_CHANNEL).bind(hex).execute(&mut **tx).await?;
        Ok(false)
    }
}

async fn forward_notifications(mut listener: PgListener, signals: Signals) {
    loop {
        match listener.try_recv().await {
            Ok(Some(n)) if n.channel() == SESSION_END_CHANNEL => match parse_token_hash(n.payload()) {
                Some(hash) => {
                    let _ = signals.ends.send(SessionEnded { token_hash: Some(hash) });
                }
                None => tracing::warn!("ignoring a malformed session-end notification"),
            },
            Ok(Some(n)) => match parse_poke(n.payload()) {
                Some(poke) => {
                    let _ = signals.pokes.send(poke);
                }
                None => tracing::warn!("ignoring a malformed poke notification"),
            },
            // The connection dropped and will be re-made on the next call;
            // notifications sent meanwhile are lost, so poke everyone and
            // have every stream check its session.
            Ok(None) => {
                tracing::warn!("poke listener lost its connection; reconnecting");
                let _ = signals.pokes.send(Poke { user_id: None, seq: 0 });
                let _ = signals.ends.send(SessionEnded { token_hash: None });
            }
            Err(e) => {
                tracing::warn!(error = %e, "poke listener failed; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn parse_token_hash(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut hash = [0u8; 32];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(hash)
}

fn parse_poke(payload: &str) -> Option<Poke> {
    let (user, seq) = payload.split_once(':')?;
    Some(Poke { user_id: Some(user.parse().ok()?), seq: seq.parse().ok()? })
}

/// Groups commit set-based: a constant number of statements whatever the
/// group's size (`group.rs`, "Group commit").
#[async_trait]
impl CommitGroup for Postgres {
    /// Each group holds one pool connection while it commits; the others
    /// serve reads.
    const WORKERS: usize = GROUP_WORKERS;

    async fn commit_group(pool: &Pool<Postgres>, group: &[Job]) -> Result<Vec<Outcome>, BackendError> {
        let pushes: Vec<Push<'_>> = group.iter().map(Job::push).collect();
        let mut tx = pool.begin().await?;
        let mut users: Vec<Uuid> = pushes.iter().map(|p| p.user_id).collect();
        users.sort_unstable();
        users.dedup();
        // The counter rows in id order: two groups (of this instance or
        // another) lock in the same order, so they cannot deadlock. NO KEY
        // UPDATE is the lock `UPDATE users SET seq = seq` takes, which the
        // other writers of an account take first; it lets inserts that only
        // reference the user (sessions) through.
        let locked: Vec<(Uuid, i64, i64)> =
            sqlx::query_as("SELECT id, seq, stored_bytes FROM users WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
                .bind(&users)
                .fetch_all(&mut *tx)
                .await?;
        let mut stored = Stored {
            users: locked.into_iter().map(|(id, seq, bytes)| (id, (seq, bytes))).collect(),
            ..Stored::default()
        };

        // What the ops need: the op ids stored already, and the rev and
        // payload length of the notes they touch.
        let (mut op_users, mut op_ids) = (Vec::new(), Vec::new());
        let mut notes = BTreeSet::new();
        for push in pushes.iter().filter(|p| stored.users.contains_key(&p.user_id)) {
            for op in push.ops {
                op_users.push(push.user_id);
                op_ids.push(op.op_id);
                notes.insert((push.user_id, op.note_id));
            }
        }
        if !op_ids.is_empty() {
            let (note_users, note_ids): (Vec<Uuid>, Vec<Uuid>) = notes.into_iter().unzip();
            // One primary-key probe per key: the LATERAL ... LIMIT 1 (a
            // no-op on a key) keeps the planner from hashing a whole table
            // it thinks small, which costs more as the table grows.
            let rows: Vec<(bool, Uuid, Uuid, i64, i64)> = sqlx::query_as(
                "SELECT true, o.user_id, o.op_id, o.rev, o.seq
                 FROM unnest($1::uuid[], $2::uuid[]) AS k(user_id, op_id)
                 CROSS JOIN LATERAL (SELECT user_id, op_id, rev, seq FROM ops
                   WHERE user_id = k.user_id AND op_id = k.op_id LIMIT 1) AS o
                 UNION ALL
                 SELECT false, n.user_id, n.note_id, n.rev, CAST(octet_length(n.payload) AS BIGINT)
                 FROM unnest($3::uuid[], $4::uuid[]) AS k(user_id, note_id)
                 CROSS JOIN LATERAL (SELECT user_id, note_id, rev, payload FROM notes
                   WHERE user_id = k.user_id AND note_id = k.note_id LIMIT 1) AS n",
            )
            .bind(&op_users)
            .bind(&op_ids)
            .bind(&note_users)
            .bind(&note_ids)
            .fetch_all(&mut *tx)
            .await?;
            for (is_op, user, id, rev, n) in rows {
                if is_op {
                    stored.ops.insert((user, id), (rev, n));
                } else {
                    stored.notes.insert((user, id), (rev, n));
                }
            }
        }

        let plan = plan(&pushes, &stored);

        // Conflicts with a version stored before the group: their current
        // rows, payloads and all, only when there are any.
        let mut current = HashMap::new();
        let conflicts = plan.stored_conflicts(&pushes);
        if !conflicts.is_empty() {
            let (users, ids): (Vec<Uuid>, Vec<Uuid>) = conflicts.into_iter().unzip();
            let rows: Vec<(Uuid, i64, Uuid, i64, String, bool, Vec<u8>)> = sqlx::query_as(
                "SELECT n.user_id, n.seq, n.note_id, n.rev, n.hlc, n.deleted, n.payload
                 FROM unnest($1::uuid[], $2::uuid[]) AS k(user_id, note_id)
                 CROSS JOIN LATERAL (SELECT user_id, seq, note_id, rev, hlc, deleted, payload FROM notes
                   WHERE user_id = k.user_id AND note_id = k.note_id LIMIT 1) AS n",
            )
            .bind(&users)
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?;
            for (user, seq, note_id, rev, hlc, deleted, payload) in rows {
                current.insert((user, note_id), row_to_change((seq, note_id, rev, hlc, deleted, payload))?);
            }
        }

        if !plan.users.is_empty() {
            // A poke per push that applied something, with the user's seq
            // after it, as the protocol says.
            let pokes: Vec<String> = pushes
                .iter()
                .zip(&plan.pushes)
                .filter_map(|(push, planned)| planned.as_ref().ok()?.seq.map(|seq| format!("{}:{seq}", push.user_id)))
                .collect();
            write(&mut tx, &plan, pokes).await?;
        }
        tx.commit().await?;

        Ok(pushes
            .iter()
            .zip(plan.pushes)
            .map(|(push, planned)| {
                // The poke went out with the commit (NOTIFY).
                planned.map(|p| (p.answers.into_iter().map(|a| a.resolve(push.user_id, &current)).collect(), None))
            })
            .collect())
    }
}

/// Writes what `plan` applies in one statement: the notes' new versions,
/// the op ids, the counters, and `pokes` (NOTIFY, delivered at commit).
async fn write(
    tx: &mut Transaction<'static, Postgres>,
    plan: &Plan<'_>,
    pokes: Vec<String>,
) -> Result<(), sqlx::Error> {
    let n = plan.notes.len();
    let (mut n_user, mut n_note, mut n_rev, mut n_seq) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut n_hlc, mut n_deleted, mut n_payload, mut n_writer) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for (&(user, note_id), note) in &plan.notes {
        n_user.push(user);
        n_note.push(note_id);
        n_rev.push(note.rev);
        n_seq.push(note.seq);
        n_hlc.push(note.op.hlc.to_string());
        n_deleted.push(note.op.deleted);
        n_payload.push(note.op.payload.as_ref());
        n_writer.push(note.writer.map(|w| w.as_slice()));
    }
    let o = plan.ops.len();
    let (mut o_user, mut o_op, mut o_note, mut o_rev, mut o_seq) = (
        Vec::with_capacity(o),
        Vec::with_capacity(o),
        Vec::with_capacity(o),
        Vec::with_capacity(o),
        Vec::with_capacity(o),
    );
    for op in &plan.ops {
        o_user.push(op.user_id);
        o_op.push(op.op_id);
        o_note.push(op.note_id);
        o_rev.push(op.rev);
        o_seq.push(op.seq);
    }
    let (mut u_id, mut u_seq, mut u_bytes) = (Vec::new(), Vec::new(), Vec::new());
    for (&user, &(seq, bytes)) in &plan.users {
        u_id.push(user);
        u_seq.push(seq);
        u_bytes.push(bytes);
    }
    // Data-modifying WITH clauses run once and to completion whether or not
    // the SELECT reads them. Each note appears once (its latest version),
    // as ON CONFLICT DO UPDATE requires.
    sqlx::query(
        "WITH notes_written AS (
           INSERT INTO notes (user_id, note_id, rev, seq, hlc, deleted, payload, writer)
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::bigint[], $5::text[], $6::boolean[],
                                $7::bytea[], $8::bytea[])
           ON CONFLICT (user_id, note_id) DO UPDATE SET rev = excluded.rev, seq = excluded.seq,
             hlc = excluded.hlc, deleted = excluded.deleted, payload = excluded.payload,
             writer = excluded.writer
         ), ops_written AS (
           INSERT INTO ops (user_id, op_id, note_id, rev, seq)
           SELECT * FROM unnest($9::uuid[], $10::uuid[], $11::uuid[], $12::bigint[], $13::bigint[])
         ), counters AS (
           UPDATE users SET seq = c.seq, stored_bytes = c.stored_bytes
           FROM unnest($14::uuid[], $15::bigint[], $16::bigint[]) AS c(id, seq, stored_bytes)
           WHERE users.id = c.id
         )
         SELECT pg_notify($17, poke) FROM unnest($18::text[]) AS poke",
    )
    .bind(n_user)
    .bind(n_note)
    .bind(n_rev)
    .bind(n_seq)
    .bind(n_hlc)
    .bind(n_deleted)
    .bind(n_payload)
    .bind(n_writer)
    .bind(o_user)
    .bind(o_op)
    .bind(o_note)
    .bind(o_rev)
    .bind(o_seq)
    .bind(u_id)
    .bind(u_seq)
    .bind(u_bytes)
    .bind(POKE_CHANNEL)
    .bind(pokes)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
