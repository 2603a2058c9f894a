//! Writes the real-prose corpus as JSON Lines (`{"title","body","tags"}`
//! per line, what `outpost notes import` reads) and prints its sizes.
//!
//!   outpost-corpus --out corpus.jsonl            # every note, at least 10,000
//!   outpost-corpus --count 100000 --out big.jsonl

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

#[derive(Parser)]
#[command(about = "Real prose for Outpost's benchmarks: documentation split into notes at its headings")]
struct Args {
    /// Folder of reStructuredText sources (default: Debian's python3-doc).
    #[arg(long)]
    source: Option<PathBuf>,
    /// Refuse to write fewer notes than this.
    #[arg(long, default_value_t = 10_000)]
    min: usize,
    /// Exactly this many notes (going round the corpus if it has fewer).
    #[arg(long)]
    count: Option<usize>,
    /// Write here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = match args.source {
        Some(dir) => dir,
        None => outpost_corpus::default_source()?,
    };
    let mut notes = outpost_corpus::from_dir(&dir)?;
    if notes.len() < args.min {
        return Err(outpost_corpus::CorpusError::TooFew { dir, found: notes.len(), wanted: args.min }.into());
    }
    if let Some(n) = args.count {
        notes = outpost_corpus::scaled(&notes, n);
    }
    let sink: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::new(sink);
    for note in &notes {
        serde_json::to_writer(&mut out, note)?;
        out.write_all(b"\n")?;
    }
    out.flush().context("writing the corpus")?;
    eprintln!("outpost-corpus: {} (from {})", outpost_corpus::stats(&notes), dir.display());
    Ok(())
}
