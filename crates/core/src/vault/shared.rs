//! The vault shared between the app (or a long-running CLI command) and
//! the sync engine: one connection behind a mutex. Every user holds it for
//! one local step (a save, a list, one pulled page), never across a network
//! call, so a save never waits on the network.
//!
//! Async code takes it through [`SharedVault::with`], which runs the step
//! off the runtime's async workers: the step may fsync or decrypt a whole
//! page of notes, and the poke stream, the probe and the UI's other
//! commands should not queue behind it.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::runtime::{Handle, RuntimeFlavor};

use super::Vault;

/// A vault several tasks and threads share; clones share it.
#[derive(Debug, Clone)]
pub struct SharedVault(Arc<Mutex<Vault>>);

impl SharedVault {
    pub fn new(vault: Vault) -> Self {
        Self(Arc::new(Mutex::new(vault)))
    }

    /// The vault, for one brief step from synchronous code. A panic while
    /// it was held leaves SQLite consistent (every step is one
    /// transaction), so a poisoned lock is still safe to use.
    pub fn lock(&self) -> MutexGuard<'_, Vault> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The vault itself, once no other handle to it is left (the engine
    /// shut down); `None` while one is.
    pub fn into_inner(self) -> Option<Vault> {
        let mutex = Arc::into_inner(self.0)?;
        Some(mutex.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Run one step with the vault from async code, off the async workers
    /// (see [`blocking`]).
    pub fn with<R>(&self, f: impl FnOnce(&mut Vault) -> R) -> R {
        blocking(|| f(&mut self.lock()))
    }
}

/// Run blocking work (SQLite, fsync, decryption) from async code. On a
/// multi-threaded runtime (the app's, the CLI's engine) the current worker
/// hands its other tasks to a fresh one first (`block_in_place`), so they
/// keep running while this one blocks; unlike `spawn_blocking` the step can
/// borrow from its caller, which the sync pass needs (a batch, a page). A
/// current-thread runtime has no other worker to hand to (a test, a
/// one-shot CLI pass that is the only task), so the step runs in place.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> (tempfile::TempDir, SharedVault) {
        let dir = tempfile::tempdir().expect("tempdir");
        let v = Vault::open(dir.path(), &crate::keys::MemoryStore::new()).expect("open");
        (dir, SharedVault::new(v))
    }

    /// On a multi-threaded runtime a long vault step does not hold up the
    /// runtime's other tasks: with a single worker running the step, a task
    /// spawned during the step still runs before the step ends.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_step_leaves_the_async_worker_free() {
        let (_dir, vault) = shared();
        let step = tokio::spawn(async move {
            vault.with(|v| {
                let (tx, rx) = std::sync::mpsc::channel::<()>();
                Handle::current().spawn(async move { tx.send(()).expect("send") });
                // Only possible if this step is not occupying the only worker.
                rx.recv_timeout(std::time::Duration::from_secs(60)).expect("the other task ran during the step");
                v.list().expect("list").len()
            })
        });
        assert_eq!(step.await.expect("joined"), 0);
    }

    #[tokio::test]
    async fn on_a_current_thread_runtime_the_step_runs_in_place() {
        let (_dir, vault) = shared();
        let id =
            vault.with(|v| v.create(crate::NoteDraft { title: "t".into(), ..Default::default() })).expect("create").id;
        assert_eq!(vault.lock().get(id).expect("get").title, "t");
    }
}
