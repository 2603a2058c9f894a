use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use clap::Args;

use crate::stop::StopSignals;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (plain HTTP: put a TLS reverse proxy in front
    /// for anything but this machine; see docs/protocol.md, "Deployment")
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// `sqlite://PATH` (created if missing) or `postgres://USER:PASS@HOST/DB`
    /// [default: sqlite://<data-dir>/server.db]
    #[arg(long, env = "OUTPOST_SERVER_DB")]
    db: Option<String>,
    /// Take client addresses from X-Forwarded-For (only behind a proxy that sets it)
    #[arg(long)]
    trust_forwarded_for: bool,
    /// Log-in attempts allowed per username and client address per minute
    /// (a log-in is two: start and finish; passphrase proofs and two-factor
    /// codes count too) [default: 10]
    #[arg(long, value_name = "N")]
    login_attempts: Option<u32>,
    /// MiB of attached files (sealed) one account may store; a file past
    /// it is refused with `507 quota_exceeded` before any of it is written
    /// [default: 10240]
    #[arg(long, value_name = "MIB")]
    file_quota_mib: Option<u64>,
    /// Hours a file no live note references is kept before garbage
    /// collection deletes it [default: 168]
    #[arg(long, value_name = "HOURS")]
    file_gc_grace_hours: Option<u64>,
    /// Seconds between garbage collections on this instance (0: none)
    /// [default: 3600]
    #[arg(long, value_name = "SECS")]
    file_gc_every_secs: Option<u64>,
}

/// Run the sync server until Ctrl-C or SIGTERM, then shut down gracefully.
pub fn run(dir: &Path, args: ServeArgs) -> anyhow::Result<()> {
    let db = match args.db {
        Some(db) => db,
        None => {
            // Owner-only from the start (the server tightens an existing
            // one too): it will hold every account's wrapped key.
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).with_context(|| format!("creating {}", dir.display()))?;
            format!("sqlite://{}", dir.join("server.db").display())
        }
    };
    let mut config = outpost_server::Config::new(db.clone());
    config.trust_forwarded_for = args.trust_forwarded_for;
    if let Some(n) = args.login_attempts {
        config.login_attempts = n;
    }
    if let Some(mib) = args.file_quota_mib {
        config.file_quota_bytes = mib.saturating_mul(1024 * 1024);
    }
    if let Some(h) = args.file_gc_grace_hours {
        config.file_gc_grace = std::time::Duration::from_secs(h.saturating_mul(3600));
    }
    if let Some(s) = args.file_gc_every_secs {
        config.file_gc_interval = std::time::Duration::from_secs(s);
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    rt.block_on(async move {
        // Before the port opens: from the first connection on, a Ctrl-C
        // shuts the server down gracefully.
        let mut stop = StopSignals::listen()?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        // Opened (and migrated) before saying it listens, so a database it
        // cannot serve (another server has it, say) is the only message.
        let store = outpost_server::backend::open(&config.database_url).await.context("opening the database")?;
        // The database URL may hold a password: show only its scheme.
        let scheme = db.split("://").next().unwrap_or("?");
        eprintln!("outpost sync server listening on http://{addr} ({scheme} backend); Ctrl-C stops it");
        let shutdown = async move {
            stop.recv().await;
            eprintln!("shutting down");
        };
        outpost_server::serve_on(listener, store, config, shutdown).await.context("running the sync server")
    })
}
