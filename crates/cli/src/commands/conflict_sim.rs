//! `outpost conflict-sim`: the named conflict scenarios of `outpost-sim`,
//! played by simulated devices against a real sync server started in this
//! process on 127.0.0.1, each printed with what should happen and what did.
//! The scenarios live in `outpost_sim::scenarios`; this is the printer.
//! `--file F` adds scenarios written as JSON (`outpost_sim::scenario_file`):
//! every file is read and checked before anything runs.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::builder::PossibleValuesParser;
use clap::Args;
use outpost_sim::scenario_file::{self, ScenarioFile};
use outpost_sim::scenarios::{self, ScenarioReport, SCENARIOS};
use outpost_sim::HttpServer;

/// The file format in brief, after the options of `--help`; the whole of
/// it is in the sim crate's `scenarios/README.md`. The example is run by
/// `tests/conflict_sim.rs`, so it stays true.
const FILE_FORMAT: &str = r#"Scenario files (--file): JSON with name, description, expected (optional, words),
devices, steps and expect. For example:

  {
    "name": "rename-race",
    "description": "The laptop renames a note while the phone adds a line to it.",
    "expected": "The phone merges both cleanly, but always-ask opens a conflict there.",
    "devices": [
      { "name": "laptop" },
      { "name": "phone", "strategy": "always-ask", "clock_skew": "-5m" }
    ],
    "steps": [
      { "create": { "device": "laptop", "note": "n", "title": "Todo", "body": "milk\n" } },
      { "sync": "laptop" },
      { "sync": "phone" },
      { "edit": { "device": "laptop", "note": "n", "title": "Shopping" } },
      { "edit": { "device": "phone", "note": "n", "body": "milk\neggs\n" } },
      { "sync": "laptop" },
      { "sync": "phone" },
      "sync_all"
    ],
    "expect": {
      "converged": true,
      "notes": { "n": { "title": "Shopping", "body": "milk\neggs\n" } },
      "open_conflicts": { "laptop": 0, "phone": 1 }
    }
  }

Devices: name, strategy (auto-merge, last-writer-wins, always-ask), clock_skew ("-5m",
"+1d", or ms). Steps: create, edit (title, body, append, tags, pinned), delete, offline,
online, sync, sync_all (every online device until nothing moves), resolve (keep "mine" or
"theirs", or merged text), strategy (a device's, or a note's on it), wait ("1h"). Expect:
converged; per note converged, deleted, title, body, tags, pinned, lines (each must be in
the body), devices (which to check); open_conflicts per device. A file is checked whole
before anything runs; a mistake is refused with file:line:column or the step.
The full format, and an example for each strategy: crates/sim/scenarios/ in Outpost's
source."#;

#[derive(Debug, Args)]
#[command(after_help = "Scenario files: --help shows their format.", after_long_help = FILE_FORMAT)]
pub struct ConflictSimArgs {
    /// Run only this scenario (repeat for more); all of them by default
    #[arg(long = "scenario", value_name = "NAME", value_parser = PossibleValuesParser::new(SCENARIOS.iter().map(|s| s.name)))]
    scenarios: Vec<String>,
    /// Run the scenario written in this JSON file (repeat for more; format
    /// below); with --file only the files run, unless --scenario names
    /// built-ins too
    #[arg(long = "file", value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Print the reports as JSON
    #[arg(long)]
    json: bool,
    /// List the scenarios and what each should show, without running them
    #[arg(long)]
    list: bool,
}

/// Runs the chosen scenarios; fails (exit 1) if any did not behave as
/// expected, after printing every report.
pub fn run(args: ConflictSimArgs) -> anyhow::Result<()> {
    // Every file is checked before anything runs: one bad file, no run.
    let files: Vec<ScenarioFile> = args
        .files
        .iter()
        .map(|f| scenario_file::load(f))
        .collect::<Result<_, _>>()
        .context("a scenario file was refused; nothing was run")?;
    let chosen: Vec<&str> = if args.scenarios.is_empty() && !files.is_empty() {
        Vec::new()
    } else if args.scenarios.is_empty() {
        SCENARIOS.iter().map(|s| s.name).collect()
    } else {
        args.scenarios.iter().map(String::as_str).collect()
    };
    if args.list {
        let listed: Vec<_> = chosen.iter().map(|n| scenarios::find(n)).collect::<Result<_, _>>()?;
        if args.json {
            let mut out: Vec<serde_json::Value> = listed.iter().map(serde_json::to_value).collect::<Result<_, _>>()?;
            out.extend(files.iter().map(|f| {
                serde_json::json!({
                    "name": f.name, "story": f.description, "expected": f.expected_text(), "file": f.origin
                })
            }));
            out!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            for s in listed {
                out!("{}\n  story:    {}\n  expected: {}", s.name, s.story, s.expected);
            }
            for f in &files {
                out!(
                    "{} (from {})\n  story:    {}\n  expected: {}",
                    f.name,
                    f.origin,
                    f.description,
                    f.expected_text()
                );
            }
        }
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let reports = rt.block_on(async {
        let server = HttpServer::start().await.context("starting an in-process sync server")?;
        let mut reports = Vec::new();
        for name in &chosen {
            let report = scenarios::run(&server, name).await?;
            if !args.json {
                print_report(&report);
            }
            reports.push(report);
        }
        for file in &files {
            let report = scenario_file::run_file(&server, file).await?;
            if !args.json {
                print_report(&report);
            }
            reports.push(report);
        }
        anyhow::Ok(reports)
    })?;
    let failed: Vec<&str> = reports.iter().filter(|r| !r.passed).map(|r| r.name.as_str()).collect();
    if args.json {
        let out = serde_json::json!({ "passed": failed.is_empty(), "scenarios": reports });
        out!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        out!("{} of {} scenarios behaved as expected", reports.len() - failed.len(), reports.len());
    }
    if !failed.is_empty() {
        bail!("scenarios that did not behave as expected: {}", failed.join(", "));
    }
    Ok(())
}

fn print_report(r: &ScenarioReport) {
    let verdict = if r.passed { "as expected" } else { "NOT AS EXPECTED" };
    out!("== {} ({verdict}, {} ms)", r.name, r.elapsed_ms);
    out!("  story:    {}", r.story);
    out!("  expected: {}", r.expected);
    out!("  what happened:");
    for line in &r.observed {
        out!("    {line}");
    }
    out!("  checks:");
    for c in &r.checks {
        out!("    {} {}: {}", if c.passed { "ok  " } else { "FAIL" }, c.what, c.detail);
    }
    out!();
}
