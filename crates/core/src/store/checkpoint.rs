//! WAL checkpoints off the save path.
//!
//! In WAL mode every commit appends pages to `outpost.db-wal`; a checkpoint
//! copies them back into the database file and fsyncs it. SQLite's own
//! automatic checkpoint runs inside the commit that takes the WAL past
//! 1,000 pages, so about one save in 75 (a save writes ~13 pages) paid a
//! few milliseconds for it: that was the p99 of a save (BENCHMARKS.md,
//! "Save latency"). Here a thread with its own connection runs
//! `PRAGMA wal_checkpoint(PASSIVE)` shortly after writes, while the vault's
//! connection only checkpoints itself past [`BACKSTOP_PAGES`] (should this
//! thread fall behind or fail). PASSIVE never waits for or blocks the writer
//! or a reader; once it has copied every frame, the next commit starts the
//! WAL again from its beginning, so the file is reused, not grown.
//!
//! A checkpoint's failure loses nothing (the pages stay in the WAL, which
//! is the durable copy); it is logged and the next one tries again.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};

/// The vault connection's own automatic checkpoint, now a backstop: about
/// 32 MiB of WAL.
pub const BACKSTOP_PAGES: u32 = 8_000;

/// Checkpoint once this many commits wait, even while writes go on (a
/// bulk of saves back to back; otherwise [`QUIET`] comes first). A
/// checkpoint's fsync of the database file holds up a save's fsync of the
/// WAL that lands beside it on the disk, so it is the save's tail: every
/// 32 commits that was about one save in fifty (save p99 1.2 ms for a
/// create, 3.4 ms for an edit of a random note); every 512, one in a few
/// hundred or fewer (0.45-0.47 ms), at the price of a WAL of up to ~5,600
/// pages (22 MiB, under [`BACKSTOP_PAGES`]) and of a longer wait (up to
/// ~60 ms) for the rare save that meets one (BENCHMARKS.md, "Day of
/// 2026-12-07", part 3).
const BATCH_COMMITS: u64 = 512;

/// Otherwise, once no commit came for this long.
const QUIET: Duration = Duration::from_millis(50);

#[derive(Debug, Default)]
struct State {
    /// Commits since the last checkpoint began.
    waiting: u64,
    /// Counted up by every commit (tells the debounce a new one came).
    commits: u64,
    paused: bool,
    stop: bool,
    /// Checkpoints run, and what the last one reported: frames in the WAL,
    /// frames copied into the database.
    stats: CheckpointStats,
}

/// What the background checkpoints have done.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointStats {
    pub runs: u64,
    pub wal_frames: i64,
    pub copied_frames: i64,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

/// The checkpoint thread of one vault; stopped (and joined) on drop.
#[derive(Debug)]
pub struct Checkpointer {
    shared: Shared,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Start checkpointing the WAL database at `path` with a connection of
    /// its own, and make `writer` checkpoint itself only past the backstop.
    pub fn start(path: &Path, writer: &Connection) -> Result<Self> {
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        writer.pragma_update(None, "wal_autocheckpoint", BACKSTOP_PAGES)?;
        let shared: Shared = Arc::default();
        let theirs = shared.clone();
        let thread = std::thread::Builder::new()
            .name("outpost-checkpoint".into())
            .spawn(move || run(&conn, &theirs))
            .map_err(|e| Error::io("starting the checkpoint thread", e))?;
        Ok(Self { shared, thread: Some(thread) })
    }

    /// A write transaction of the vault committed.
    pub fn committed(&self) {
        let mut s = lock(&self.shared);
        s.waiting += 1;
        s.commits += 1;
        self.shared.1.notify_all();
    }

    /// Hold checkpoints back (`true`) or let them run again; for profiling
    /// the save path without them.
    pub fn pause(&self, paused: bool) {
        lock(&self.shared).paused = paused;
        self.shared.1.notify_all();
    }

    /// Wait until a checkpoint began after this call and finished, or
    /// `timeout` passed; what the checkpoints have done by then.
    pub fn wait_for_one(&self, timeout: Duration) -> CheckpointStats {
        let deadline = Instant::now() + timeout;
        let mut s = lock(&self.shared);
        // Make sure one is due, then wait for the count to move past it.
        s.waiting += 1;
        s.commits += 1;
        let want = s.stats.runs + 1;
        self.shared.1.notify_all();
        while s.stats.runs < want {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            s = self.shared.1.wait_timeout(s, left).map(|(g, _)| g).unwrap_or_else(|e| e.into_inner().0);
        }
        s.stats
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        lock(&self.shared).stop = true;
        self.shared.1.notify_all();
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::warn!("the checkpoint thread panicked");
            }
        }
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    // The state is counters and flags: still meaningful after a panic.
    shared.0.lock().unwrap_or_else(|e| e.into_inner())
}

fn run(conn: &Connection, shared: &Shared) {
    let cv = &shared.1;
    let mut s = lock(shared);
    loop {
        while !s.stop && (s.waiting == 0 || s.paused) {
            s = cv.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        if s.stop {
            return;
        }
        // Let a burst of commits finish first, but not for ever.
        while !s.stop && !s.paused && s.waiting < BATCH_COMMITS {
            let seen = s.commits;
            s = cv.wait_timeout(s, QUIET).map(|(g, _)| g).unwrap_or_else(|e| e.into_inner().0);
            if s.commits == seen {
                break;
            }
        }
        if s.stop {
            return;
        }
        if s.paused {
            continue;
        }
        s.waiting = 0;
        drop(s);
        let result =
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)));
        s = lock(shared);
        s.stats.runs += 1;
        match result {
            Ok((wal, copied)) => (s.stats.wal_frames, s.stats.copied_frames) = (wal, copied),
            Err(e) => tracing::warn!(error = %e, "background WAL checkpoint failed; the next one retries"),
        }
        cv.notify_all();
    }
}
