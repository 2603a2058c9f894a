//! One user's account on a sync server, two ways: straight on the server's
//! storage ([`BackendAccount`], for the big simulation), or through a real
//! HTTP server on 127.0.0.1 with real log-ins ([`HttpAccount`], for
//! `outpost conflict-sim`). Devices join either the same way: they adopt
//! the account's data key and get a transport carrying a session.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use outpost_core::account;
use outpost_core::crypto::DataKey;
use outpost_core::keys::{KdfParams, KdfPolicy, MemoryStore};
use outpost_core::remote::Remote;
use outpost_core::sync::SyncTransport;
use outpost_core::Vault;
use outpost_server::backend::NewUser;
use outpost_server::Backend;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::error::SimError;
use crate::transport::BackendTransport;

/// An account devices can join.
pub trait SimAccount: Send + Sync {
    type Transport: SyncTransport + 'static;
    /// The account's data key, which every device's store adopts.
    fn key(&self) -> &DataKey;
    /// A transport with its own session, for one more device.
    fn connect(&self) -> impl Future<Output = Result<Self::Transport, SimError>> + Send;
}

/// Where the simulation keeps its stores: a RAM disk when there is one
/// (`/dev/shm` on Linux; thousands of fsyncs a second), else the temp dir.
/// `OUTPOST_SIM_DIR` overrides both.
pub fn scratch_base() -> PathBuf {
    if let Some(dir) = std::env::var_os("OUTPOST_SIM_DIR") {
        return PathBuf::from(dir);
    }
    let shm = Path::new("/dev/shm");
    let writable = shm.is_dir() && tempfile::tempdir_in(shm).is_ok();
    if writable {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// A fresh private directory under [`scratch_base`], removed on drop.
pub fn scratch_dir(prefix: &str) -> Result<tempfile::TempDir, SimError> {
    let base = scratch_base();
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&base)
        .map_err(SimError::io(format!("creating a scratch directory in {}", base.display())))
}

/// A sync server's storage in this process (SQLite in a scratch
/// directory), without HTTP.
#[derive(Debug)]
pub struct InProcessServer {
    backend: Arc<dyn Backend>,
    _dir: tempfile::TempDir,
}

impl InProcessServer {
    pub async fn open() -> Result<Self, SimError> {
        let dir = scratch_dir("outpost-sim-server-")?;
        let url = format!("sqlite://{}", dir.path().join("server.db").display());
        let backend = outpost_server::backend::open(&url).await?;
        Ok(Self { backend, _dir: dir })
    }

    pub fn backend(&self) -> Arc<dyn Backend> {
        self.backend.clone()
    }

    /// A new account (users are isolated, so many simulations can share one
    /// server, each under its own user).
    pub async fn account(&self, username: &str) -> Result<BackendAccount, SimError> {
        let user = NewUser {
            id: Uuid::new_v4(),
            username: username.to_owned(),
            // Never logged in through: devices get a transport directly.
            auth_hash: String::new(),
            wrapped_key: Vec::new(),
            kdf_params: Vec::new(),
            created_ms: 0,
        };
        self.backend.create_user(&user).await?;
        Ok(BackendAccount { backend: self.backend.clone(), user_id: user.id, key: DataKey::generate() })
    }
}

/// An account on an [`InProcessServer`].
#[derive(Debug, Clone)]
pub struct BackendAccount {
    backend: Arc<dyn Backend>,
    user_id: Uuid,
    key: DataKey,
}

impl SimAccount for BackendAccount {
    type Transport = BackendTransport;
    fn key(&self) -> &DataKey {
        &self.key
    }
    fn connect(&self) -> impl Future<Output = Result<BackendTransport, SimError>> + Send {
        let t = BackendTransport::new(self.backend.clone(), self.user_id);
        async move { Ok(t) }
    }
}

/// The real sync server (`outpost_server::serve`) on 127.0.0.1:0 in this
/// process, on SQLite in a scratch directory (or on the PostgreSQL of
/// [`HttpServer::start_on`]). Stops when dropped.
#[derive(Debug)]
pub struct HttpServer {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    dir: tempfile::TempDir,
}

impl HttpServer {
    /// Must be called inside a tokio runtime, which then runs the server.
    pub async fn start() -> Result<Self, SimError> {
        Self::start_on(None).await
    }

    /// [`HttpServer::start`] on the database `database_url` names (a
    /// PostgreSQL URL); `None`: SQLite in a scratch directory.
    pub async fn start_on(database_url: Option<&str>) -> Result<Self, SimError> {
        let dir = scratch_dir("outpost-sim-http-")?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(SimError::io("binding 127.0.0.1:0 for the sync server"))?;
        let addr = listener.local_addr().map_err(SimError::io("reading the server's address"))?;
        let database_url = match database_url {
            Some(url) => url.to_owned(),
            None => format!("sqlite://{}", dir.path().join("server.db").display()),
        };
        let mut config = outpost_server::Config::new(database_url);
        // Every simulated device logs in from 127.0.0.1.
        config.login_attempts = 100_000;
        config.register_attempts = 100_000;
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(e) = outpost_server::serve(listener, config, shutdown).await {
                tracing::error!(error = %e, "the simulated sync server stopped");
            }
        });
        // The listener is bound: connections queue until the server runs.
        Ok(Self { url: format!("http://{addr}"), stop: Some(stop), dir })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Register a new account the way the app does (a store's data key
    /// wrapped under a passphrase; cheap KDF parameters).
    pub async fn account(&self, username: &str) -> Result<HttpAccount, SimError> {
        let key = DataKey::generate();
        let dir = self.dir.path().join(format!("registrar-{username}"));
        let mut vault =
            Vault::open_for_account(&dir, &MemoryStore::new(), key.clone()).map_err(SimError::core("registrar"))?;
        let remote = Remote::new(&self.url)?;
        account::register_with(&mut vault, &remote, username, PASSPHRASE, KdfParams::insecure_for_tests())
            .await
            .map_err(SimError::core("registrar"))?;
        Ok(HttpAccount { url: self.url.clone(), username: username.to_owned(), key })
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The simulation's accounts all use this passphrase; nothing real is
/// protected by it.
const PASSPHRASE: &str = "simulated devices only";

/// An account on an [`HttpServer`]; each device logs in with the passphrase.
#[derive(Debug, Clone)]
pub struct HttpAccount {
    url: String,
    username: String,
    key: DataKey,
}

impl SimAccount for HttpAccount {
    type Transport = Remote;
    fn key(&self) -> &DataKey {
        &self.key
    }
    async fn connect(&self) -> Result<Remote, SimError> {
        let remote = Remote::new(&self.url)?;
        let (key, session) =
            account::log_in_with(&remote, &self.username, PASSPHRASE, &KdfPolicy::insecure_for_tests())
                .await
                .map_err(SimError::core(&self.username))?;
        if key.current().id() != self.key.id() {
            return Err(SimError::KeyMismatch);
        }
        Ok(remote.with_token(session.token))
    }
}
