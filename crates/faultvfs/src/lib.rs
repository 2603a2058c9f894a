//! Disk faults on demand, the way SQLite tests itself: a VFS shim over the
//! platform's default VFS ("unix" here) that counts every call that changes
//! a file (`xWrite`, `xSync`, `xTruncate`) and can fail the Nth one, once or
//! from then on, with an I/O error, "disk full" or "read-only". It can also
//! open every file read-only, as SQLite's unix VFS does when the data
//! directory is on a read-only mount.
//!
//! A store opened through [`FaultVfs::name`] (rusqlite's
//! `Connection::open_with_flags_and_vfs`, or `outpost_core::Vault::open_with_vfs`)
//! behaves exactly as one on the default VFS until a fault is armed: every
//! call is forwarded to the real VFS.
//!
//! ```no_run
//! use outpost_faultvfs::{Fault, FaultVfs, Inject, Persistence};
//! let vfs = FaultVfs::register().expect("register");
//! // ... open a connection with vfs.name(), then:
//! vfs.count(); // start counting from zero, no fault
//! // ... one save ...
//! let points = vfs.counts().points();
//! vfs.arm(Fault { at: 1, inject: Inject::IoErr, persistence: Persistence::Once });
//! // ... the save again: its first write fails ...
//! vfs.disarm();
//! ```
//!
//! Test tooling only (`publish = false`); not for production builds.

mod shim;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A file-changing call: a fault point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Write,
    Sync,
    Truncate,
}

/// Which file a call went to (from the flags SQLite opened it with).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    MainDb,
    Wal,
    MainJournal,
    /// Temporary and sub-journals, super-journals, transient databases.
    Other,
}

/// One counted call, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    pub op: Op,
    pub file: FileKind,
}

/// What a failing call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Inject {
    /// The error the unix VFS returns when the system call fails with EIO
    /// (or EROFS on an already open file): `SQLITE_IOERR_WRITE`,
    /// `SQLITE_IOERR_FSYNC` or `SQLITE_IOERR_TRUNCATE` by call.
    IoErr,
    /// `SQLITE_FULL`, what the unix VFS returns for ENOSPC on a write.
    DiskFull,
    /// `SQLITE_READONLY`.
    ReadOnly,
}

impl Inject {
    /// The SQLite result code this returns for a call `op`.
    pub fn code(self, op: Op) -> i32 {
        use rusqlite::ffi;
        match (self, op) {
            (Inject::IoErr, Op::Write) => ffi::SQLITE_IOERR_WRITE,
            (Inject::IoErr, Op::Sync) => ffi::SQLITE_IOERR_FSYNC,
            (Inject::IoErr, Op::Truncate) => ffi::SQLITE_IOERR_TRUNCATE,
            (Inject::DiskFull, _) => ffi::SQLITE_FULL,
            (Inject::ReadOnly, _) => ffi::SQLITE_READONLY,
        }
    }
}

/// Whether a fault hits one call or every call from the Nth on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Persistence {
    /// Only the Nth call fails (a transient error).
    Once,
    /// The Nth call and every later one fail until [`FaultVfs::disarm`]
    /// (a dead disk, a full disk, a file system remounted read-only).
    Persistent,
}

/// A planned failure: the `at`-th fault point (1-based, counted from
/// [`FaultVfs::arm`]) fails with `inject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub at: u64,
    pub inject: Inject,
    pub persistence: Persistence,
}

/// Calls counted since the last [`FaultVfs::count`] or [`FaultVfs::arm`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub opens: u64,
    pub writes: u64,
    pub syncs: u64,
    pub truncates: u64,
    /// Calls that were made to fail.
    pub injected: u64,
}

impl Counts {
    /// Fault points: writes, syncs and truncates.
    pub fn points(&self) -> u64 {
        self.writes + self.syncs + self.truncates
    }
}

#[derive(Debug, Default)]
struct State {
    counts: Counts,
    trace: Vec<Point>,
    plan: Option<Fault>,
    read_only: bool,
}

/// The switchboard the VFS callbacks consult on every call.
#[derive(Debug, Default)]
pub(crate) struct Control {
    state: Mutex<State>,
}

impl Control {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Count a fault point; the result code to return instead of calling
    /// the real VFS, if this one fails.
    pub(crate) fn point(&self, op: Op, file: FileKind) -> Option<i32> {
        let mut s = self.lock();
        match op {
            Op::Write => s.counts.writes += 1,
            Op::Sync => s.counts.syncs += 1,
            Op::Truncate => s.counts.truncates += 1,
        }
        s.trace.push(Point { op, file });
        let n = s.counts.points();
        let fault = s.plan?;
        let fails = match fault.persistence {
            Persistence::Once => n == fault.at,
            Persistence::Persistent => n >= fault.at,
        };
        if fails {
            s.counts.injected += 1;
            Some(fault.inject.code(op))
        } else {
            None
        }
    }

    pub(crate) fn open(&self) -> bool {
        let mut s = self.lock();
        s.counts.opens += 1;
        s.read_only
    }

    pub(crate) fn read_only(&self) -> bool {
        self.lock().read_only
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("SQLite has no default VFS to wrap")]
    NoDefaultVfs,
    #[error("sqlite3_vfs_register failed with code {0}")]
    Register(i32),
}

/// A registered fault-injecting VFS. Clones share the same counters and
/// plan. The VFS stays registered for the life of the process (a VFS must
/// outlive every connection that uses it; each costs a few hundred bytes).
#[derive(Debug, Clone)]
pub struct FaultVfs {
    name: String,
    ctl: Arc<Control>,
}

impl FaultVfs {
    /// Register a new VFS with a unique name over the current default VFS.
    /// Does not become the default.
    pub fn register() -> Result<Self, Error> {
        let ctl = Arc::new(Control::default());
        let name = shim::register(Arc::clone(&ctl))?;
        Ok(Self { name, ctl })
    }

    /// The name to open connections with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Start counting from zero, with no fault planned.
    pub fn count(&self) {
        let mut s = self.ctl.lock();
        s.counts = Counts::default();
        s.trace.clear();
        s.plan = None;
    }

    /// Count from zero and fail as `fault` says.
    pub fn arm(&self, fault: Fault) {
        let mut s = self.ctl.lock();
        s.counts = Counts::default();
        s.trace.clear();
        s.plan = Some(fault);
    }

    /// No more failures (the disk came back). Counting goes on.
    pub fn disarm(&self) {
        self.ctl.lock().plan = None;
    }

    /// From now on, open files read-only as SQLite's unix VFS does when
    /// `open(O_RDWR)` fails with EROFS or EACCES (a read-only mount, a
    /// directory without write permission): an existing file opens
    /// read-only, a missing one cannot be created. Files already open are
    /// not affected (arm a persistent fault for that), and SQLite's
    /// shared-memory `-shm` file is opened by the unix VFS itself, outside
    /// this shim, so it stays writable.
    pub fn set_read_only(&self, read_only: bool) {
        self.ctl.lock().read_only = read_only;
    }

    /// Calls counted so far.
    pub fn counts(&self) -> Counts {
        self.ctl.lock().counts
    }

    /// Every fault point counted so far, in order.
    pub fn trace(&self) -> Vec<Point> {
        self.ctl.lock().trace.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, OpenFlags};

    fn open(vfs: &FaultVfs, path: &std::path::Path) -> Connection {
        let conn = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs.name()).expect("open");
        conn.pragma_update(None, "journal_mode", "WAL").expect("wal");
        conn.pragma_update(None, "synchronous", "FULL").expect("sync");
        conn
    }

    #[test]
    fn forwards_counts_and_fails_the_nth_call() {
        let vfs = FaultVfs::register().expect("register");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let conn = open(&vfs, &path);
        conn.execute_batch("CREATE TABLE t (x)").expect("create");

        vfs.count();
        conn.execute("INSERT INTO t VALUES (1)", []).expect("insert");
        let c = vfs.counts();
        assert!(c.writes >= 1 && c.syncs >= 1, "a WAL commit writes and syncs: {c:?}");
        assert_eq!(vfs.trace().len() as u64, c.points());
        assert!(vfs.trace().iter().any(|p| p.file == FileKind::Wal), "{:?}", vfs.trace());

        for inject in [Inject::IoErr, Inject::DiskFull, Inject::ReadOnly] {
            vfs.arm(Fault { at: 1, inject, persistence: Persistence::Once });
            let err = conn.execute("INSERT INTO t VALUES (2)", []).expect_err("first write fails");
            let want = match inject {
                Inject::IoErr => rusqlite::ErrorCode::SystemIoFailure,
                Inject::DiskFull => rusqlite::ErrorCode::DiskFull,
                Inject::ReadOnly => rusqlite::ErrorCode::ReadOnly,
            };
            assert_eq!(err.sqlite_error_code(), Some(want), "{inject:?}: {err}");
            assert_eq!(vfs.counts().injected, 1);
        }
        vfs.disarm();
        conn.execute("INSERT INTO t VALUES (3)", []).expect("works again");
        let n: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).expect("count");
        assert_eq!(n, 2, "the failed inserts left nothing");
    }

    #[test]
    fn persistent_faults_keep_failing_until_disarmed() {
        let vfs = FaultVfs::register().expect("register");
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = open(&vfs, &dir.path().join("t.db"));
        conn.execute_batch("CREATE TABLE t (x)").expect("create");
        vfs.arm(Fault { at: 1, inject: Inject::IoErr, persistence: Persistence::Persistent });
        for _ in 0..3 {
            assert!(conn.execute("INSERT INTO t VALUES (1)", []).is_err());
        }
        assert!(vfs.counts().injected >= 3);
        vfs.disarm();
        conn.execute("INSERT INTO t VALUES (1)", []).expect("works again");
    }

    #[test]
    fn read_only_opens_existing_files_read_only() {
        let vfs = FaultVfs::register().expect("register");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        {
            let conn = open(&vfs, &path);
            conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1)").expect("create");
        }
        vfs.set_read_only(true);
        let conn = Connection::open_with_flags_and_vfs(&path, OpenFlags::default(), vfs.name()).expect("open");
        let err = conn.execute("INSERT INTO t VALUES (2)", []).expect_err("read-only");
        // The closed WAL database has no -wal file, and a read-only
        // directory cannot get one: SQLite cannot open it at all.
        assert_eq!(err.sqlite_error_code(), Some(rusqlite::ErrorCode::CannotOpen), "{err}");
        vfs.set_read_only(false);
        let n: i64 = open(&vfs, &path).query_row("SELECT count(*) FROM t", [], |r| r.get(0)).expect("count");
        assert_eq!(n, 1, "nothing was written");
        vfs.set_read_only(true);
        let missing = Connection::open_with_flags_and_vfs(dir.path().join("new.db"), OpenFlags::default(), vfs.name())
            .and_then(|c| c.execute_batch("CREATE TABLE t (x)"));
        assert!(missing.is_err(), "a missing file cannot be created");
    }
}
