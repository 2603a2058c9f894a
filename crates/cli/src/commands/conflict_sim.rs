//! `outpost conflict-sim`: the named conflict scenarios of `outpost-sim`,
//! played by simulated devices against a real sync server started in this
//! process on 127.0.0.1, each printed with what should happen and what did.
//! The scenarios live in `outpost_sim::scenarios`; this is the printer.

use anyhow::{bail, Context};
use clap::builder::PossibleValuesParser;
use clap::Args;
use outpost_sim::scenarios::{self, ScenarioReport, SCENARIOS};
use outpost_sim::HttpServer;

#[derive(Debug, Args)]
pub struct ConflictSimArgs {
    /// Run only this scenario (repeat for more); all of them by default
    #[arg(long = "scenario", value_name = "NAME", value_parser = PossibleValuesParser::new(SCENARIOS.iter().map(|s| s.name)))]
    scenarios: Vec<String>,
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
    let chosen: Vec<&str> = if args.scenarios.is_empty() {
        SCENARIOS.iter().map(|s| s.name).collect()
    } else {
        args.scenarios.iter().map(String::as_str).collect()
    };
    if args.list {
        let listed: Vec<_> = chosen.iter().map(|n| scenarios::find(n)).collect::<Result<_, _>>()?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&listed)?);
        } else {
            for s in listed {
                println!("{}\n  story:    {}\n  expected: {}", s.name, s.story, s.expected);
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
        anyhow::Ok(reports)
    })?;
    let failed: Vec<&str> = reports.iter().filter(|r| !r.passed).map(|r| r.name.as_str()).collect();
    if args.json {
        let out = serde_json::json!({ "passed": failed.is_empty(), "scenarios": reports });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{} of {} scenarios behaved as expected", reports.len() - failed.len(), reports.len());
    }
    if !failed.is_empty() {
        bail!("scenarios that did not behave as expected: {}", failed.join(", "));
    }
    Ok(())
}

fn print_report(r: &ScenarioReport) {
    let verdict = if r.passed { "as expected" } else { "NOT AS EXPECTED" };
    println!("== {} ({verdict}, {} ms)", r.name, r.elapsed_ms);
    println!("  story:    {}", r.story);
    println!("  expected: {}", r.expected);
    println!("  what happened:");
    for line in &r.observed {
        println!("    {line}");
    }
    println!("  checks:");
    for c in &r.checks {
        println!("    {} {}: {}", if c.passed { "ok  " } else { "FAIL" }, c.what, c.detail);
    }
    println!();
}
