//! Load and soak: many real devices against one real sync server process
//! (see `outpost_sim::soak`). Prints a Markdown summary; exits 1 if a note
//! was lost or any request failed, 2 if the run could not be carried out.
//!
//! ```text
//! soak --server-bin target/release/outpost --minutes 10            # SQLite
//! soak --server-bin target/release/outpost --minutes 10 --postgres "$OUTPOST_TEST_PG_URL"
//! soak serve --listen 127.0.0.1:8787 --db sqlite://server.db      # the server alone
//! ```
//!
//! `soak serve` runs `outpost_server::serve` with the defaults `outpost
//! serve` uses; without `--server-bin` a run starts this binary that way.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use outpost_sim::soak::{self, ServerCommand, SoakConfig};

#[derive(Debug, Parser)]
#[command(about = "Load and soak: many real devices against one real sync server process")]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the sync server as `outpost serve` does (the default server of a run)
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://USER:PASS@HOST/DB`
    #[arg(long)]
    db: String,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[arg(long, default_value_t = 250)]
    accounts: usize,
    #[arg(long, default_value_t = 4)]
    devices_per_account: usize,
    /// Length of the load phase
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
    /// Mean seconds between one device's sync passes
    #[arg(long, default_value_t = 10.0)]
    sync_every: f64,
    /// Chance of an edit before a pass
    #[arg(long, default_value_t = 0.3)]
    edit_chance: f64,
    /// Mean note body size in bytes
    #[arg(long, default_value_t = 2048)]
    body_bytes: usize,
    /// Seconds between readings of the server's memory
    #[arg(long, default_value_t = 5.0)]
    sample_every: f64,
    /// Seconds before memory growth is measured [default: a tenth of the run, at least 60 s or half of it]
    #[arg(long)]
    warmup: Option<f64>,
    /// Devices logging in (and draining) at once
    #[arg(long, default_value_t = 16)]
    setup_concurrency: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The server program (`outpost`); default: this binary's `serve`
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Use this PostgreSQL database instead of SQLite
    #[arg(long)]
    postgres: Option<String>,
    /// Also write the full report (with every memory sample) as JSON here
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Cmd::Serve(args)) => serve(args).map(|()| true),
        None => run(cli.run),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("soak: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = outpost_server::Config::new(args.db);
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let shutdown = async {
            #[cfg(unix)]
            if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = tokio::signal::ctrl_c() => {},
                }
                return;
            }
            let _ = tokio::signal::ctrl_c().await;
        };
        outpost_server::serve(listener, config, shutdown).await.context("running the sync server")
    })
}

fn run(args: RunArgs) -> anyhow::Result<bool> {
    let program = match args.server_bin {
        Some(p) => p,
        None => std::env::current_exe().context("finding this binary to run its server")?,
    };
    let duration = Duration::from_secs_f64(args.minutes * 60.0);
    let warmup = args
        .warmup
        .map_or_else(|| (duration / 10).max(Duration::from_secs(60)).min(duration / 2), Duration::from_secs_f64);
    let config = SoakConfig {
        accounts: args.accounts,
        devices_per_account: args.devices_per_account,
        duration,
        sync_every: Duration::from_secs_f64(args.sync_every),
        edit_chance: args.edit_chance,
        body_bytes: args.body_bytes,
        sample_every: Duration::from_secs_f64(args.sample_every),
        warmup,
        setup_concurrency: args.setup_concurrency,
        seed: args.seed,
        server: ServerCommand { program: program.clone(), postgres_url: args.postgres },
    };
    eprintln!(
        "soak: {} devices ({} accounts x {}) for {:.1} min on {}, server {}",
        config.devices(),
        config.accounts,
        config.devices_per_account,
        args.minutes,
        config.backend_name(),
        program.display()
    );
    let report = runtime()?.block_on(soak::run(&config)).context("running the soak")?;
    println!("{}", report.markdown());
    if let Some(path) = args.json {
        let json = serde_json::to_vec_pretty(&report).context("encoding the report")?;
        std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report.passed())
}
