use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use clap::Args;

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
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        // The database URL may hold a password: show only its scheme.
        let backend = db.split("://").next().unwrap_or("?");
        eprintln!("outpost sync server listening on http://{addr} ({backend} backend); Ctrl-C stops it");
        outpost_server::serve(listener, config, shutdown_signal()).await.context("running the sync server")
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    eprintln!("shutting down");
}
