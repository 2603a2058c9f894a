//! SQLite backend: one file, WAL, the default.
//!
//! Writes go through a pool of exactly one connection: SQLite has one
//! writer anyway, and queueing in the pool is fairer and cheaper than
//! transactions fighting over the lock with `SQLITE_BUSY`. Reads use their
//! own read-only pool and, thanks to WAL, never wait for the writer.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, QueryBuilder, Sqlite, Transaction};
use uuid::Uuid;

use super::group::{plan, CommitGroup, Job, Outcome, Plan, Push, Stored};
use super::{row_to_change, BackendError, Dialect, NoteRow, Signals, SqlBackend};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// Read connections; WAL lets them run beside the writer.
const READERS: u32 = 4;

impl SqlBackend<Sqlite> {
    /// Opens `sqlite://PATH`, creating the file if missing, and migrates it.
    pub async fn open(url: &str) -> Result<Self, BackendError> {
        let base = SqliteConnectOptions::from_str(url)?
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged push survives power loss, not only a
            // crash of this process; the client deletes its outbox entry on
            // our answer, so the answer must be durable.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let path = base.get_filename().to_owned();
        let on_disk = !in_memory(url) && !path.as_os_str().is_empty() && path != Path::new(":memory:");
        let mut exclusive = None;
        if on_disk {
            files::prepare(&path).map_err(|e| BackendError::Files(path.clone(), e))?;
            // Before anything reads or migrates the file.
            exclusive = Some(lock(&path)?);
        }
        let writer = pool_options().max_connections(1).connect_with(base.clone().create_if_missing(true)).await?;
        MIGRATOR.run(&writer).await?;
        if on_disk {
            // The writer has made the WAL and shared-memory files by now.
            // SQLite gives them the database file's mode (so they are born
            // 0600, and so are any it re-creates later); this makes sure
            // of it, whatever made them.
            files::after_open(&path).map_err(|e| BackendError::Files(path.clone(), e))?;
        }
        let reader = pool_options().max_connections(READERS).connect_with(base.read_only(true)).await?;
        let signals = Signals::new();
        // Pushes commit in groups through the one writer (`group.rs`).
        // One SQLite file has one server process: its own subscribers are
        // all there are, so pokes go to them after each commit.
        let group = super::group::GroupCommit::start(writer.clone(), signals.pokes.clone());
        // This process is the file's only writer, so every session that ends
        // ends here: live sessions are kept in memory (`session_cache.rs`).
        Ok(Self::new(writer, reader, signals, None, group, Some(Default::default()), exclusive))
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

/// Whether `url` names a database in memory as sqlx reads it
/// (`sqlite::memory:`, or `mode=memory` among its parameters): no file to
/// make private or lock. sqlx names such a database `file:sqlx-in-memory-N`
/// and does not say it is in memory, and treated as a path that made files
/// of that name in the working directory.
fn in_memory(url: &str) -> bool {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    database == ":memory:" || params.split('&').any(|p| p == "mode=memory")
}

/// Takes the lock file beside `db` (`db` + [`LOCK_SUFFIX`]) for as long as
/// the returned file is open, or says another server process has it. One
/// process a file is what makes the session cache exact (a second process
/// would go on accepting a session the first ended) and the pokes after
/// each commit complete (they reach this process's streams only). An OS
/// lock (`flock` on Unix), so it ends with the process however it ends;
/// a lock file of its own, not the database, whose locks are SQLite's.
fn lock(db: &Path) -> Result<std::fs::File, BackendError> {
    let mut name = db.as_os_str().to_owned();
    name.push(LOCK_SUFFIX);
    let path = std::path::PathBuf::from(name);
    let file = files::open_lock(&path).map_err(|e| BackendError::Lock(path.clone(), e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(BackendError::InUse(db.to_owned())),
        Err(std::fs::TryLockError::Error(e)) => Err(BackendError::Lock(path, e)),
    }
}

/// The lock file's name: the database's, and this.
pub const LOCK_SUFFIX: &str = "-server.lock";

/// Both pools' options. No test before a connection is handed out: sqlx
/// would otherwise send each connection's worker thread a ping and wait
/// for its answer before every statement run on the pool, on top of the
/// ping it sends when the connection comes back (which stays, and closes
/// a connection that broke). A connection that broke in between fails its
/// statement, which the request answers as a retryable error. Measured in
/// BENCHMARKS.md ("Server CPU per request").
fn pool_options() -> SqlitePoolOptions {
    SqlitePoolOptions::new().test_before_acquire(false)
}

#[async_trait]
impl Dialect for Sqlite {
    async fn begin_write(pool: &Pool<Self>) -> Result<Transaction<'static, Self>, sqlx::Error> {
        // IMMEDIATE takes the write lock at BEGIN. The one writer
        // connection already serialises this process; this also keeps any
        // other process that opens the file from slipping a write in
        // between our first read and first write.
        pool.begin_with("BEGIN IMMEDIATE").await
    }

    async fn session_end_on_commit(_: &mut Transaction<'static, Self>, _: &[u8; 32]) -> Result<bool, sqlx::Error> {
        Ok(true)
    }
}

/// Rows per statement of a group's reads and writes: a note row binds 8
/// values, so 500 rows stay far below SQLite's 32,766 variables. A group
/// holds up to 2,000 ops (`group.rs`), unless one push alone holds more.
const ROWS_PER_STATEMENT: usize = 500;

/// Groups commit set-based, as on PostgreSQL (`group.rs`, "Group
/// commit"): a handful of statements a group, each over up to
/// [`ROWS_PER_STATEMENT`] rows of a `VALUES` list that SQLite walks with
/// a primary-key probe per row. Their text changes with the group's size,
/// so they are not kept prepared.
#[async_trait]
impl CommitGroup for Sqlite {
    /// One writer connection: one group at a time.
    const WORKERS: usize = 1;

    async fn commit_group(writer: &Pool<Sqlite>, group: &[Job]) -> Result<Vec<Outcome>, BackendError> {
        let pushes: Vec<Push<'_>> = group.iter().map(Job::push).collect();
        // The write lock first (BEGIN IMMEDIATE): the counters read below
        // stay the latest until the commit.
        let mut tx = Sqlite::begin_write(writer).await?;
        let stored = read_stored(&mut tx, &pushes).await?;
        let plan = plan(&pushes, &stored);
        let current = read_conflicts(&mut tx, &plan.stored_conflicts(&pushes)).await?;
        write(&mut tx, &plan).await?;
        tx.commit().await?;
        // Pokes go out after the commit (`group.rs`): each push that
        // applied something, with its user's seq after it.
        Ok(pushes
            .iter()
            .zip(plan.pushes)
            .map(|(push, planned)| {
                planned.map(|p| (p.answers.into_iter().map(|a| a.resolve(push.user_id, &current)).collect(), p.seq))
            })
            .collect())
    }
}

/// What the group's ops need: the users' counters, the op ids stored
/// already, and the rev and payload length of the notes they touch.
async fn read_stored(tx: &mut Transaction<'static, Sqlite>, pushes: &[Push<'_>]) -> Result<Stored, BackendError> {
    let users: BTreeSet<Uuid> = pushes.iter().map(|p| p.user_id).collect();
    let mut stored = Stored::default();
    for part in users.iter().collect::<Vec<_>>().chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT id, seq, stored_bytes FROM users WHERE id IN (");
        let mut ids = q.separated(", ");
        for &&id in part {
            ids.push_bind(id);
        }
        q.push(")");
        let rows: Vec<(Uuid, i64, i64)> = q.build_query_as().persistent(false).fetch_all(&mut **tx).await?;
        stored.users.extend(rows.into_iter().map(|(id, seq, bytes)| (id, (seq, bytes))));
    }
    let mut ops = Vec::new();
    let mut notes = BTreeSet::new();
    for push in pushes.iter().filter(|p| stored.users.contains_key(&p.user_id)) {
        for op in push.ops {
            ops.push((push.user_id, op.op_id));
            notes.insert((push.user_id, op.note_id));
        }
    }
    let rows: Vec<(Uuid, Uuid, i64, i64)> = by_keys(
        tx,
        "o.user_id, o.op_id, o.rev, o.seq",
        "ops AS o ON o.user_id = k.column1 AND o.op_id = k.column2",
        &ops,
    )
    .await?;
    stored.ops.extend(rows.into_iter().map(|(user, op, rev, seq)| ((user, op), (rev, seq))));
    let notes: Vec<(Uuid, Uuid)> = notes.into_iter().collect();
    let rows: Vec<(Uuid, Uuid, i64, i64)> = by_keys(
        tx,
        "n.user_id, n.note_id, n.rev, length(n.payload)",
        "notes AS n ON n.user_id = k.column1 AND n.note_id = k.column2",
        &notes,
    )
    .await?;
    stored.notes.extend(rows.into_iter().map(|(user, note, rev, len)| ((user, note), (rev, len))));
    Ok(stored)
}

/// `SELECT columns FROM (VALUES (?, ?), ...) AS k JOIN join` over `keys`
/// (`(user, id)` pairs, `k.column1` and `k.column2`), at most
/// [`ROWS_PER_STATEMENT`] keys a statement: one key probe a row.
async fn by_keys<T>(
    tx: &mut Transaction<'static, Sqlite>,
    columns: &str,
    join: &str,
    keys: &[(Uuid, Uuid)],
) -> Result<Vec<T>, BackendError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin,
{
    let mut rows = Vec::new();
    for part in keys.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new(format!("SELECT {columns} FROM ("));
        q.push_values(part, |mut row, &(user, id)| {
            row.push_bind(user).push_bind(id);
        });
        q.push(format!(") AS k JOIN {join}"));
        rows.extend(q.build_query_as::<T>().persistent(false).fetch_all(&mut **tx).await?);
    }
    Ok(rows)
}

/// A [`NoteRow`] with its user first.
type UserNoteRow = (Uuid, i64, Uuid, i64, String, bool, Vec<u8>);

/// The current versions, payloads and all, of the notes whose conflicts
/// [`plan`] left to read (`(user, note id)` each): only when there are
/// any, since an op that applies never needs a payload.
async fn read_conflicts(
    tx: &mut Transaction<'static, Sqlite>,
    keys: &[(Uuid, Uuid)],
) -> Result<HashMap<(Uuid, Uuid), outpost_protocol::v1::Change>, BackendError> {
    let rows: Vec<UserNoteRow> = by_keys(
        tx,
        "n.user_id, n.seq, n.note_id, n.rev, n.hlc, n.deleted, n.payload",
        "notes AS n ON n.user_id = k.column1 AND n.note_id = k.column2",
        keys,
    )
    .await?;
    let mut current = HashMap::new();
    for (user, seq, note_id, rev, hlc, deleted, payload) in rows {
        let row: NoteRow = (seq, note_id, rev, hlc, deleted, payload);
        current.insert((user, note_id), row_to_change(row)?);
    }
    Ok(current)
}

/// Writes what `plan` applies: the notes' latest versions (each note once,
/// so one upsert row each), the op ids and the counters that moved.
async fn write(tx: &mut Transaction<'static, Sqlite>, plan: &Plan<'_>) -> Result<(), BackendError> {
    let notes: Vec<_> = plan.notes.iter().collect();
    for part in notes.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO notes (user_id, note_id, rev, seq, hlc, deleted, payload, writer) ",
        );
        q.push_values(part, |mut row, (&(user, note_id), note)| {
            row.push_bind(user)
                .push_bind(note_id)
                .push_bind(note.rev)
                .push_bind(note.seq)
                .push_bind(note.op.hlc.to_string())
                .push_bind(note.op.deleted)
                .push_bind(note.op.payload.as_ref())
                .push_bind(note.writer.map(|w| w.as_slice()));
        });
        q.push(
            " ON CONFLICT (user_id, note_id) DO UPDATE SET rev = excluded.rev, seq = excluded.seq,
               hlc = excluded.hlc, deleted = excluded.deleted, payload = excluded.payload,
               writer = excluded.writer",
        );
        q.build().persistent(false).execute(&mut **tx).await?;
    }
    for part in plan.ops.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO ops (user_id, op_id, note_id, rev, seq) ");
        q.push_values(part, |mut row, op| {
            row.push_bind(op.user_id).push_bind(op.op_id).push_bind(op.note_id).push_bind(op.rev).push_bind(op.seq);
        });
        q.build().persistent(false).execute(&mut **tx).await?;
    }
    let users: Vec<_> = plan.users.iter().collect();
    for part in users.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new("UPDATE users SET seq = k.column2, stored_bytes = k.column3 FROM (");
        q.push_values(part, |mut row, (&user, &(seq, bytes))| {
            row.push_bind(user).push_bind(seq).push_bind(bytes);
        });
        q.push(") AS k WHERE users.id = k.column1");
        q.build().persistent(false).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Owner-only files whatever the umask. The database holds no plaintext,
/// but it does hold usernames, KDF salts, the auth-key hashes and every
/// note's metadata (SECURITY.md, "What the server sees"), and the server
/// secret that keeps unknown usernames from showing: no other local user
/// should read it. Modes are set explicitly, not left to the umask.
#[cfg(unix)]
mod files {
    use std::fs::{self, DirBuilder, OpenOptions, Permissions};
    use std::io;
    use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
    use std::path::{Path, PathBuf};

    const FILE_MODE: u32 = 0o600;
    const DIR_MODE: u32 = 0o700;
    /// What SQLite keeps beside the database file.
    const SIDE_FILES: [&str; 3] = ["-wal", "-shm", "-journal"];

    /// Before SQLite opens `db`: its directory exists and is private, the
    /// file exists 0600 (created so, never a moment more open), and any
    /// side files left from an earlier run are 0600.
    pub(super) fn prepare(db: &Path) -> io::Result<()> {
        let dir = match db.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let created_dir = !dir.exists();
        if created_dir {
            // Every missing level 0700 (the umask can only take bits
            // away, and 0700 has none it would), then set once more so a
            // umask such as 0o277 cannot leave the owner locked out.
            DirBuilder::new().recursive(true).mode(DIR_MODE).create(&dir)?;
            fs::set_permissions(&dir, Permissions::from_mode(DIR_MODE))?;
        }
        OpenOptions::new().write(true).create(true).truncate(false).mode(FILE_MODE).open(db)?;
        set_file_mode(db)?;
        for side in side_files(db) {
            if side.exists() {
                set_file_mode(&side)?;
            }
        }
        if !created_dir {
            tighten_dir(&dir, db)?;
        }
        Ok(())
    }

    /// The server's lock file (`super::lock`), created 0600 like the rest.
    pub(super) fn open_lock(path: &Path) -> io::Result<fs::File> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(FILE_MODE).open(path)?;
        set_file_mode(path)?;
        Ok(file)
    }

    /// After the first connection: the side files SQLite made.
    pub(super) fn after_open(db: &Path) -> io::Result<()> {
        for side in side_files(db) {
            if side.exists() {
                set_file_mode(&side)?;
            }
        }
        Ok(())
    }

    fn side_files(db: &Path) -> impl Iterator<Item = PathBuf> + '_ {
        SIDE_FILES.iter().map(move |suffix| {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        })
    }

    fn set_file_mode(path: &Path) -> io::Result<()> {
        if fs::metadata(path)?.mode() & 0o7777 != FILE_MODE {
            fs::set_permissions(path, Permissions::from_mode(FILE_MODE))?;
        }
        Ok(())
    }

    /// Takes group and other access off an existing directory of the
    /// database, such as one `outpost serve` made under a umask of 022.
    /// Left alone, with a warning: a shared directory with the sticky bit
    /// (`/tmp`), the root, and one owned by someone other than the owner
    /// of the database file (root serving from a user's directory), since
    /// tightening those would lock others out of what is theirs.
    fn tighten_dir(dir: &Path, db: &Path) -> io::Result<()> {
        let meta = fs::metadata(dir)?;
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 == 0 {
            return Ok(());
        }
        let shared = mode & 0o1000 != 0 || dir.parent().is_none() || meta.uid() != fs::metadata(db)?.uid();
        if shared {
            tracing::warn!(
                dir = %dir.display(),
                mode = format_args!("{mode:o}"),
                "the database's directory is open to other users and is not the server's own to tighten; \
                 the database files are 0600, but keep them in a directory of their own"
            );
            return Ok(());
        }
        fs::set_permissions(dir, Permissions::from_mode(mode & !0o077))?;
        tracing::info!(dir = %dir.display(), "took group and other access off the database's directory");
        Ok(())
    }
}

/// Elsewhere the file system's defaults stand.
#[cfg(not(unix))]
mod files {
    use std::io;
    use std::path::Path;

    pub(super) fn prepare(_: &Path) -> io::Result<()> {
        Ok(())
    }

    pub(super) fn after_open(_: &Path) -> io::Result<()> {
        Ok(())
    }

    pub(super) fn open_lock(path: &Path) -> io::Result<std::fs::File> {
        std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)
    }
}
