//! `outpost files`: attach a file to a note, list a note's files, get one
//! back, remove one; the cache settings. Adding works offline (the file
//! is sealed into the store and uploaded by `outpost sync`); `get`
//! downloads what is missing when the store is logged in.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use outpost_core::account::{self, Session};
use outpost_core::files::{transfer, FileId, FileInfo, MAX_FILE_BYTES};
use outpost_core::net::{self, NetControl, NetMode};
use outpost_core::remote::RemoteError;
use outpost_core::Vault;

use crate::unlock::open_vault;

#[derive(Debug, Subcommand)]
pub enum FilesCmd {
    /// Attach a file (at most 100 MiB) to a note: prints its id and appends
    /// a reference to the note's text; uploaded by the next `outpost sync`
    Add {
        note_id: String,
        path: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// The files a note references
    List {
        note_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Write a file's bytes to PATH (downloading what this device lacks);
    /// PATH appears only once the whole file is checked
    Get {
        file_id: String,
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
    },
    /// Remove a file: its references leave the notes, and the server
    /// deletes it after its grace period
    Rm { file_id: String },
    /// Keep every file on this device, or set the cache limit
    Settings(SettingsArgs),
}

#[derive(Debug, Args)]
pub struct SettingsArgs {
    /// Download every file at sync and never evict ("keep all files on this device")
    #[arg(long, value_name = "on|off")]
    keep_all: Option<OnOff>,
    /// Most MiB of downloaded files kept before the least recently used
    /// ones (which the server holds) are evicted
    #[arg(long, value_name = "MIB")]
    cache_limit_mib: Option<u64>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

pub fn run(dir: &Path, cmd: FilesCmd) -> anyhow::Result<()> {
    match cmd {
        FilesCmd::Add { note_id, path, json } => add(dir, &note_id, &path, json),
        FilesCmd::List { note_id, json } => list(dir, &note_id, json),
        FilesCmd::Get { file_id, out } => get(dir, &file_id, &out),
        FilesCmd::Rm { file_id } => {
            let id = parse_id(&file_id)?;
            let mut vault = open_vault(dir)?;
            let edited = vault.remove_file(&id)?;
            out!("removed {id}; {edited} notes edited; the server is told at the next sync");
            Ok(())
        }
        FilesCmd::Settings(args) => {
            let mut vault = open_vault(dir)?;
            if let Some(k) = args.keep_all {
                vault.set_keep_all_files(matches!(k, OnOff::On))?;
            }
            if let Some(mib) = args.cache_limit_mib {
                vault.set_file_cache_limit(mib.saturating_mul(1024 * 1024))?;
            }
            out!(
                "keep all files: {}; cache limit: {} MiB",
                if vault.keep_all_files()? { "on" } else { "off" },
                vault.file_cache_limit()? / (1024 * 1024)
            );
            Ok(())
        }
    }
}

fn parse_id(s: &str) -> anyhow::Result<FileId> {
    FileId::parse(s).ok_or_else(|| {
        outpost_core::Error::Invalid(format!("{s:?} is not a file id (64 hex digits, as `outpost files add` prints)"))
            .into()
    })
}

fn add(dir: &Path, note_id: &str, path: &Path, json: bool) -> anyhow::Result<()> {
    let note = Vault::parse_id(note_id)?;
    // The limit before reading a byte (and before opening the store).
    let meta = std::fs::metadata(path)
        .map_err(|e| outpost_core::Error::Io { context: format!("reading {}", path.display()), source: e })?;
    if !meta.is_file() {
        bail!(outpost_core::Error::Invalid(format!("{} is not a regular file", path.display())));
    }
    if meta.len() > MAX_FILE_BYTES {
        bail!(outpost_core::Error::TooLarge {
            what: "file",
            size: usize::try_from(meta.len()).unwrap_or(usize::MAX),
            limit: MAX_FILE_BYTES as usize,
        });
    }
    let bytes = std::fs::read(path)
        .map_err(|e| outpost_core::Error::Io { context: format!("reading {}", path.display()), source: e })?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut vault = open_vault(dir)?;
    let info = vault.add_file(note, &name, &bytes)?;
    if json {
        out!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        out!("{}", info.id);
    }
    Ok(())
}

fn list(dir: &Path, note_id: &str, json: bool) -> anyhow::Result<()> {
    let note = Vault::parse_id(note_id)?;
    let vault = open_vault(dir)?;
    let files = vault.files_of_note(note)?;
    if json {
        out!("{}", serde_json::to_string_pretty(&files)?);
        return Ok(());
    }
    for f in &files {
        out!("{}  {:>10}  {:<8}  {}  ({})", f.id, f.size, f.state.as_str(), f.name, where_it_is(f));
    }
    Ok(())
}

fn where_it_is(f: &FileInfo) -> String {
    if f.local_chunks == f.chunk_count {
        "on this device".to_owned()
    } else {
        format!("{} of {} chunks here", f.local_chunks, f.chunk_count)
    }
}

fn get(dir: &Path, file_id: &str, out: &Path) -> anyhow::Result<()> {
    let id = parse_id(file_id)?;
    let mut vault = open_vault(dir)?;
    let missing = match vault.missing_chunks(&id) {
        Ok(m) => !m.is_empty(),
        Err(outpost_core::Error::FileNotFound(_)) => true,
        Err(e) => return Err(e.into()),
    };
    if missing {
        download(dir, &mut vault, &id)?;
    }
    // A temporary file beside the target, renamed over it only once every
    // chunk opened and the whole file hashed to its id: a failure or a
    // kill leaves no partial file at PATH.
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".outpost-partial-")
        .tempfile_in(&parent)
        .with_context(|| format!("creating a temporary file in {}", parent.display()))?;
    let written = vault.write_file_to(&id, tmp.as_file_mut())?;
    tmp.as_file_mut().flush().context("writing the file")?;
    tmp.as_file().sync_all().context("writing the file")?;
    tmp.persist(out).with_context(|| format!("moving the file to {}", out.display()))?;
    eprintln!("wrote {written} bytes to {}", out.display());
    Ok(())
}

fn download(dir: &Path, vault: &mut Vault, id: &FileId) -> anyhow::Result<()> {
    let mode = net::read_control(dir)?;
    if mode == NetMode::Offline {
        return Err(outpost_core::Error::Remote(RemoteError::Offline).into());
    }
    let remote = match account::session(vault)? {
        Session::Active { remote, .. } => remote.with_net(NetControl::new(mode)),
        _ => bail!(outpost_core::Error::FileNotDownloaded { id: id.hex(), missing: 1, chunks: 1 }),
    };
    vault.want_file(id).or_else(|e| match e {
        outpost_core::Error::FileNotFound(_) => Ok(()),
        e => Err(e),
    })?;
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    let mut report = transfer::FilePassReport::default();
    rt.block_on(transfer::download(&Mutex::new(&mut *vault), &remote, id, &mut report))?;
    Ok(())
}
