//! What the shell holds: the data directory, the open vault (none while
//! locked), the key store that opened it, and the sync engine while an
//! account is signed in. Everything else lives in the core.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use outpost_core::account::Session;
use outpost_core::engine::{Engine, EngineOptions, NotesChanged, SyncStatus};
use outpost_core::keys::{KeyStore, KeyringStore, PassphraseStore};
use outpost_core::{SharedVault, Vault};
use serde::Serialize;
use tauri::{AppHandle, Emitter};
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use crate::error::{IpcError, IpcResult};

/// Set by the run command and the end-to-end tests: unlock with this
/// passphrase instead of the OS keyring (as the CLI does).
pub const PASSPHRASE_ENV: &str = "OUTPOST_PASSPHRASE";
/// The data directory (a second instance with another one is a second device).
pub const DATA_DIR_ENV: &str = "OUTPOST_DATA_DIR";
/// The sync server offered in Settings (the run command's embedded server).
pub const SERVER_ENV: &str = "OUTPOST_SERVER_URL";

/// The event that carries the engine's [`SyncStatus`].
pub const SYNC_STATUS_EVENT: &str = "sync-status";
/// The event that carries a [`NotesChangedEvent`].
pub const NOTES_CHANGED_EVENT: &str = "notes-changed";

/// Notes a sync pass changed on this device (pulled, merged, acknowledged,
/// failed): the UI re-reads these (`note_summaries`, and the open note if
/// it is among them). `all` when the shell fell behind and cannot say
/// which: re-read everything.
#[derive(Debug, Clone, Serialize, specta::Type, PartialEq, Eq)]
pub struct NotesChangedEvent {
    pub ids: Vec<Uuid>,
    pub all: bool,
}

/// Why the store is not open yet.
#[derive(Debug, Clone, Serialize, specta::Type, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Lock {
    /// Open.
    Open,
    /// A passphrase store: ask for its passphrase.
    Passphrase,
    /// No store yet and no OS keyring: ask the user to choose a passphrase.
    NewPassphrase,
    /// The store's key is in an OS keyring that cannot be reached. Fail
    /// closed: never a new key (the message says how to recover).
    KeyUnavailable { message: String },
}

pub struct AppState {
    pub data_dir: PathBuf,
    pub default_server: Option<String>,
    open: RwLock<Option<Opened>>,
    lock: RwLock<Lock>,
    /// Becomes true once the start-up open has decided `lock`: the store is
    /// opened off the main thread, while the window and webview come up.
    settled: tokio::sync::watch::Sender<bool>,
    engine: tokio::sync::Mutex<Option<Engine>>,
}

#[derive(Clone)]
struct Opened {
    vault: SharedVault,
    keys: Arc<dyn KeyStore + Send + Sync>,
}

impl Opened {
    fn open(dir: &Path, keys: Arc<dyn KeyStore + Send + Sync>) -> outpost_core::Result<Self> {
        let vault = Vault::open(dir, keys.as_ref())?;
        Ok(Self { vault: SharedVault::new(vault), keys })
    }
}

/// What the start-up open found: the open store, or why it is locked.
pub struct StartupOpen(Result<Opened, Lock>);

/// Open the store the way the CLI does: the passphrase from the
/// environment, else the OS keyring, else wait for the user. Needs nothing
/// of Tauri, so `run` starts it before the window exists.
pub fn open_at_start(dir: &Path) -> StartupOpen {
    let opened = |keys| Opened::open(dir, keys).map_err(|e| key_unavailable(IpcError::from(e)));
    StartupOpen((|| {
        if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
            return opened(passphrase_store(&p).map_err(key_unavailable)?);
        }
        let methods = outpost_core::vault::key_methods(dir).map_err(|e| key_unavailable(e.into()))?;
        if methods.iter().any(|m| m == "passphrase") {
            return Err(Lock::Passphrase);
        }
        if methods.iter().any(|m| m == "keyring") || KeyringStore::probe().is_ok() {
            return opened(Arc::new(KeyringStore));
        }
        Err(Lock::NewPassphrase)
    })())
}

impl AppState {
    pub fn new(data_dir: PathBuf, default_server: Option<String>) -> Self {
        Self {
            data_dir,
            default_server,
            open: RwLock::new(None),
            lock: RwLock::new(Lock::Passphrase),
            settled: tokio::sync::watch::channel(false).0,
            engine: tokio::sync::Mutex::new(None),
        }
    }

    /// Take the result of the start-up open (`open_at_start`, run on its
    /// own thread from the process's first moment) and tell whoever waits.
    pub fn settle(&self, start: StartupOpen) -> Lock {
        let lock = match start.0 {
            Ok(opened) => {
                *write(&self.open) = Some(opened);
                Lock::Open
            }
            Err(lock) => lock,
        };
        *write(&self.lock) = lock.clone();
        self.settled.send_replace(true);
        lock
    }

    /// The start-up open itself failed (it panicked): say so rather than
    /// leave the UI waiting.
    pub fn open_failed(&self, message: String) {
        *write(&self.lock) = Lock::KeyUnavailable { message };
        self.settled.send_replace(true);
    }

    /// The lock state once the start-up open has finished (it runs beside
    /// the window's and webview's start; Argon2id alone takes about 0.3 s).
    pub async fn settled_lock_state(&self) -> Lock {
        let mut settled = self.settled.subscribe();
        // The sender lives as long as the state, so this cannot fail.
        let _ = settled.wait_for(|s| *s).await;
        self.lock_state()
    }

    /// Unlock (or create) a passphrase store with `passphrase`.
    pub fn unlock(&self, passphrase: &str) -> IpcResult<()> {
        if self.opened().is_ok() {
            return Ok(());
        }
        self.open_with(passphrase_store(passphrase)?)?;
        *write(&self.lock) = Lock::Open;
        Ok(())
    }

    fn open_with(&self, keys: Arc<dyn KeyStore + Send + Sync>) -> outpost_core::Result<()> {
        *write(&self.open) = Some(Opened::open(&self.data_dir, keys)?);
        Ok(())
    }

    pub fn lock_state(&self) -> Lock {
        read(&self.lock).clone()
    }

    fn opened(&self) -> IpcResult<Opened> {
        read(&self.open).clone().ok_or_else(IpcError::locked)
    }

    /// The shared vault (the engine holds the same one).
    pub fn vault(&self) -> IpcResult<SharedVault> {
        Ok(self.opened()?.vault)
    }

    /// Run `f` on the vault, holding it only for that (never across I/O
    /// with the network), off the async workers: commands are async, and a
    /// save's fsync or a pulled page the engine is applying should not
    /// hold up the runtime's other tasks.
    pub fn with_vault<T>(&self, f: impl FnOnce(&mut Vault) -> outpost_core::Result<T>) -> IpcResult<T> {
        Ok(self.vault()?.with(f)?)
    }

    /// A local change happened: wake the engine (debounced there).
    pub async fn changed(&self) {
        if let Some(engine) = self.engine.lock().await.as_ref() {
            engine.local_change();
        }
    }

    pub async fn engine<T>(&self, f: impl FnOnce(&Engine) -> T) -> Option<T> {
        self.engine.lock().await.as_ref().map(f)
    }

    /// Start the engine if the store has a signed-in account, and stream
    /// its status to the UI as `sync-status` events.
    pub async fn start_engine(&self, app: &AppHandle) -> IpcResult<bool> {
        let vault = self.vault()?;
        let session = outpost_core::account::session(&vault.lock())?;
        let Session::Active { remote, .. } = session else { return Ok(false) };
        let mut slot = self.engine.lock().await;
        if slot.is_some() {
            return Ok(true);
        }
        let policy = vault.with(|v| v.sync_policy())?;
        let engine =
            Engine::start(vault, remote, &self.data_dir, EngineOptions { policy, ..EngineOptions::default() })?;
        forward_status(app.clone(), engine.status());
        forward_notes_changed(app.clone(), engine.notes_changed());
        // Metered networks and battery, from the OS, for the sync policy.
        tauri::async_runtime::spawn(engine.situation_handle().follow_os());
        *slot = Some(engine);
        Ok(true)
    }

    pub async fn stop_engine(&self) {
        if let Some(engine) = self.engine.lock().await.take() {
            engine.shutdown().await;
        }
    }

    /// Replace an empty store (nothing written yet on this device) by one
    /// under an account's key, keeping the old file aside.
    pub async fn adopt_account_key(&self, key: impl Into<outpost_core::crypto::KeyRing>) -> IpcResult<SharedVault> {
        let key = key.into();
        self.stop_engine().await;
        let opened = self.opened()?;
        {
            let mut v = opened.vault.lock();
            // One of the account's keys (after a rotation, an older or a
            // newer one): the store takes in the others.
            if key.iter().any(|k| v.has_key(k)) {
                v.learn_keys(&key)?;
                return Ok(opened.vault.clone());
            }
            if !v.is_empty()? {
                return Err(IpcError::new(
                    "store_not_empty",
                    "this device already holds notes under its own key, so it cannot join another account \
                     without re-encrypting them. Export them (outpost notes export), or join from a new data \
                     directory; nothing was changed",
                ));
            }
        }
        *write(&self.open) = None;
        drop(opened.vault);
        set_aside(&self.data_dir)?;
        let vault = Vault::open_for_account(&self.data_dir, opened.keys.as_ref(), key)?;
        let vault = SharedVault::new(vault);
        *write(&self.open) = Some(Opened { vault: vault.clone(), keys: opened.keys });
        Ok(vault)
    }
}

/// The engine's status, to the window as `sync-status` events.
fn forward_status(app: AppHandle, mut status: watch::Receiver<SyncStatus>) {
    tauri::async_runtime::spawn(async move {
        loop {
            let now = status.borrow_and_update().clone();
            if let Err(e) = app.emit(SYNC_STATUS_EVENT, now) {
                tracing::warn!(error = %e, "could not send the sync status to the window");
            }
            if status.changed().await.is_err() {
                break; // the engine stopped
            }
        }
    });
}

/// Notes a sync pass changed, to the window as `notes-changed` events, so
/// it re-reads those instead of its whole list.
fn forward_notes_changed(app: AppHandle, mut changed: broadcast::Receiver<NotesChanged>) {
    tauri::async_runtime::spawn(async move {
        loop {
            let event = match changed.recv().await {
                Ok(c) => NotesChangedEvent { ids: c.ids, all: false },
                // Fell behind: which notes is unknown, so all of them.
                Err(broadcast::error::RecvError::Lagged(_)) => NotesChangedEvent { ids: Vec::new(), all: true },
                Err(broadcast::error::RecvError::Closed) => break, // the engine stopped
            };
            if let Err(e) = app.emit(NOTES_CHANGED_EVENT, event) {
                tracing::warn!(error = %e, "could not tell the window which notes changed");
            }
        }
    });
}

/// Move an empty store's files aside (kept, never deleted).
fn set_aside(dir: &Path) -> IpcResult<()> {
    let db = outpost_core::store::db_path(dir);
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", db.display()));
        if from.exists() {
            let to = PathBuf::from(format!("{}.empty-{stamp}{suffix}", db.display()));
            std::fs::rename(&from, &to)
                .map_err(|e| IpcError::new("io", format!("could not move {} aside: {e}", from.display())))?;
        }
    }
    Ok(())
}

fn passphrase_store(p: &str) -> IpcResult<Arc<dyn KeyStore + Send + Sync>> {
    Ok(Arc::new(PassphraseStore::new(p.to_owned()).map_err(outpost_core::Error::from)?))
}

fn key_unavailable(e: IpcError) -> Lock {
    Lock::KeyUnavailable { message: e.message }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use outpost_core::crypto::DataKey;
    use outpost_core::keys::MemoryStore;
    use outpost_core::NoteDraft;

    use super::*;

    /// A state whose store is open under an in-memory key store (the
    /// keyring and passphrase paths are the core's and the CLI's tests).
    fn open_state(dir: &Path) -> (AppState, Arc<dyn KeyStore + Send + Sync>) {
        let keys: Arc<dyn KeyStore + Send + Sync> = Arc::new(MemoryStore::new());
        let state = AppState::new(dir.to_path_buf(), None);
        state.open_with(keys.clone()).expect("open");
        (state, keys)
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into())
            .collect();
        names.sort();
        names
    }

    /// A device with nothing of its own takes the account's key: its empty
    /// store is moved aside (kept, never deleted) and a store under the
    /// account's key takes its place, which opens again after a restart.
    #[tokio::test]
    async fn an_empty_store_adopts_the_account_key_and_keeps_the_old_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (state, keys) = open_state(dir.path());
        assert!(outpost_core::store::db_path(dir.path()).exists(), "the empty store exists");
        let account_key = DataKey::generate();

        let vault = state.adopt_account_key(account_key.clone()).await.expect("adopted");
        assert!(vault.lock().has_key(&account_key));
        assert!(state.vault().expect("open").lock().has_key(&account_key), "the state holds the new store");
        let aside: Vec<String> = names(dir.path()).into_iter().filter(|n| n.starts_with("outpost.db.empty-")).collect();
        assert!(!aside.is_empty(), "the old store is kept aside: {:?}", names(dir.path()));
        let kept = std::fs::read(dir.path().join(&aside[0])).expect("read the kept file");
        assert!(kept.starts_with(b"SQLite format 3\0"), "the old store itself, kept whole");

        // The same key again changes nothing.
        vault.lock().create(NoteDraft { title: "joined".into(), ..Default::default() }).expect("create");
        let again = state.adopt_account_key(account_key.clone()).await.expect("same key");
        assert_eq!(again.lock().list().expect("list").len(), 1, "the same store, not a new one");
        drop((vault, again));
        *write(&state.open) = None;

        let reopened = Vault::open(dir.path(), keys.as_ref()).expect("reopens");
        assert!(reopened.has_key(&account_key));
        assert_eq!(reopened.list().expect("list")[0].title, "joined");
    }

    /// A store holding notes under its own key is never swapped: the
    /// log-in is refused with a code the UI shows, and nothing moves.
    #[tokio::test]
    async fn a_store_with_notes_refuses_another_key_and_moves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (state, _keys) = open_state(dir.path());
        let id = state
            .with_vault(|v| v.create(NoteDraft { title: "mine".into(), ..Default::default() }))
            .expect("create")
            .id;
        let files = names(dir.path());

        let e = state.adopt_account_key(DataKey::generate()).await.expect_err("refused");
        assert_eq!(e.code, "store_not_empty", "{e:?}");
        assert_eq!(names(dir.path()), files, "no file moved");
        assert_eq!(state.with_vault(|v| v.get(id)).expect("still open").title, "mine");
    }

    #[test]
    fn set_aside_moves_the_database_and_its_wal_and_shm_together() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = outpost_core::store::db_path(dir.path());
        for (suffix, content) in [("", "db"), ("-wal", "wal"), ("-shm", "shm")] {
            std::fs::write(format!("{}{suffix}", db.display()), content).expect("write");
        }
        std::fs::write(dir.path().join("network.json"), "{}").expect("write");
        set_aside(dir.path()).expect("set aside");

        let after = names(dir.path());
        assert!(!db.exists(), "{after:?}");
        let moved: Vec<&String> = after.iter().filter(|n| n.contains(".empty-")).collect();
        assert_eq!(moved.len(), 3, "{after:?}");
        let stamp = moved[0].trim_start_matches("outpost.db.empty-");
        for (suffix, content) in [("", "db"), ("-wal", "wal"), ("-shm", "shm")] {
            let stamp = stamp.trim_end_matches("-wal").trim_end_matches("-shm");
            let kept = std::fs::read_to_string(format!("{}.empty-{stamp}{suffix}", db.display())).expect("kept");
            assert_eq!(kept, content, "one stamp for all three, content intact");
        }
        assert!(after.contains(&"network.json".to_owned()), "other files stay");

        // Nothing to move is not an error.
        let empty = tempfile::tempdir().expect("tempdir");
        set_aside(empty.path()).expect("nothing to move");
        assert!(names(empty.path()).is_empty());
    }
}
