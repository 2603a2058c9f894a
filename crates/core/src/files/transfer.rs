//! Moving attached files between the store and the server: a file pass
//! runs after the notes' pass (notes first, so a large upload never holds
//! a note back), in steps that each take the vault only briefly:
//!
//! 1. removals the user made here are told to the server;
//! 2. every note reference the server has not had is declared
//!    (`PUT /v1/files/{id}`), whose answer lists the chunks the server
//!    holds: those are marked sent, so an upload interrupted anywhere (a
//!    lost connection, a killed process) resumes at the first chunk the
//!    server lacks, and a file another device uploaded is not sent again;
//! 3. for each file with chunks to send, the server's list of the chunks
//!    it holds is asked for again (a chunk stored just before a cut is not
//!    sent twice), then each unsent chunk is sent and marked sent;
//! 4. the server's list of files is learnt (manifests checked), when the
//!    caller asks for it ([`Learn`]), and files asked for, or all with
//!    "keep all files" on, are downloaded chunk by chunk, each checked
//!    before it is stored;
//! 5. the cache is brought within its limit.
//!
//! A failure stops the pass with what was done kept; the next pass goes
//! on from there. Every request is idempotent.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::files::FileId;
use crate::remote::{Remote, RemoteError};
use crate::sync::VaultAccess;
use outpost_protocol::v1::FileDeclareRequest;

/// What one file pass did.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct FilePassReport {
    pub declared: u64,
    pub chunks_sent: u64,
    pub bytes_sent: u64,
    pub chunks_received: u64,
    pub bytes_received: u64,
    /// Whether the server's list was asked for ([`Learn`]).
    pub listed: bool,
    /// Files learnt from the server's list.
    pub learnt: u64,
    /// Removals told to the server.
    pub removed: u64,
    /// Sealed bytes evicted from the cache.
    pub evicted: u64,
}

/// Steps 1 to 3: removals, declarations, chunks.
pub async fn upload<A: VaultAccess>(vault: &A, remote: &Remote, report: &mut FilePassReport) -> Result<()> {
    for id in vault.with(|v| v.pending_file_removals())? {
        match remote.drop_file(&id.hex()).await {
            Ok(()) => {}
            Err(e) if e.is_file_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        vault.with(|v| v.forget_removed_file(&id))?;
        report.removed += 1;
    }
    for d in vault.with(|v| v.pending_file_declarations())? {
        let req = FileDeclareRequest {
            note_id: d.note_id,
            chunk_count: d.chunk_count,
            size: d.sealed_size,
            manifest: d.manifest.into(),
        };
        let status = remote.declare_file(&d.file_id.hex(), &req).await?;
        vault.with(|v| v.record_file_declared(d.note_id, &d.file_id, &status.have))?;
        report.declared += 1;
    }
    for id in vault.with(|v| v.pending_file_uploads())? {
        // What the server holds now: a chunk it stored just before this
        // device was cut off (or killed) is not sent again.
        match remote.file_status(&id.hex()).await {
            Ok(status) => vault.with(|v| v.record_chunks_held(&id, &status.have))?,
            Err(e) if e.is_file_not_found() => {
                // Collected, or never declared: declared afresh next pass.
                vault.with(|v| v.redeclare_file(&id))?;
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        for idx in vault.with(|v| v.unsent_chunks(&id))? {
            let sealed = vault.with(|v| v.sealed_chunk(&id, idx))?;
            let len = sealed.len() as u64;
            remote.put_chunk(&id.hex(), idx, sealed).await?;
            vault.with(|v| v.record_chunk_sent(&id, idx))?;
            report.chunks_sent += 1;
            report.bytes_sent += len;
        }
    }
    Ok(())
}

/// Learns the server's files (step 4's first half): how many were new.
pub async fn learn<A: VaultAccess>(vault: &A, remote: &Remote) -> Result<u64> {
    let list = remote.list_files().await?;
    let mut learnt = 0;
    for f in list.files {
        let Some(id) = FileId::parse(&f.file_id) else {
            return Err(Error::Remote(RemoteError::Decode(format!("the server listed a file id {:?}", f.file_id))));
        };
        if vault.with(|v| v.learn_remote_file(&id, f.chunk_count, f.size, &f.manifest.0, &f.notes))? {
            learnt += 1;
        }
    }
    Ok(learnt)
}

/// Downloads what this device lacks of file `id`, chunk by chunk, each
/// checked and stored in its own transaction (a download cut anywhere
/// resumes where it stopped). A file this device does not know is looked
/// up on the server first; another account's id is
/// [`Error::FileNotFound`], exactly like an id nobody has.
pub async fn download<A: VaultAccess>(
    vault: &A,
    remote: &Remote,
    id: &FileId,
    report: &mut FilePassReport,
) -> Result<()> {
    let known = match vault.with(|v| v.file_info(id)) {
        Ok(_) => true,
        Err(Error::FileNotFound(_)) => false,
        Err(e) => return Err(e),
    };
    if !known {
        let status = match remote.file_status(&id.hex()).await {
            Ok(s) => s,
            Err(e) if e.is_file_not_found() => return Err(Error::FileNotFound(id.hex())),
            Err(e) => return Err(e.into()),
        };
        let f = status.file;
        vault.with(|v| v.learn_remote_file(id, f.chunk_count, f.size, &f.manifest.0, &f.notes))?;
    }
    for idx in vault.with(|v| v.missing_chunks(id))? {
        let sealed = match remote.get_chunk(&id.hex(), idx).await {
            Ok(s) => s,
            Err(e) if e.is_file_not_found() => return Err(Error::FileNotFound(id.hex())),
            Err(e) => return Err(e.into()),
        };
        let len = sealed.len() as u64;
        vault.with(|v| v.store_downloaded_chunk(id, idx, &sealed))?;
        report.chunks_received += 1;
        report.bytes_received += len;
    }
    Ok(())
}

/// Whether a file pass asks for the server's list of files (step 4). The
/// list holds every file of the account, so a pass that asks for it each
/// time costs a request (and the list's bytes) even when nothing moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learn {
    /// Always (the app's file task runs a pass only when it has file work).
    Always,
    /// Only if the notes' pass just before pulled changes (`true`): a
    /// pulled note may reference a file this device has not learnt; or
    /// with "keep all files" on. A file still unknown here (its note came
    /// in a pass before the file was declared) is looked up by id when it
    /// is asked for ([`download`]), and learnt by the next pass that pulls.
    IfNotesPulled(bool),
}

/// One whole file pass (steps 1 to 5), after the notes' pass.
pub async fn sync_files<A: VaultAccess>(vault: &A, remote: &Remote, list: Learn) -> Result<FilePassReport> {
    let mut report = FilePassReport::default();
    upload(vault, remote, &mut report).await?;
    let wanted = match list {
        Learn::Always => true,
        Learn::IfNotesPulled(pulled) => pulled || vault.with(|v| v.keep_all_files())?,
    };
    if wanted {
        report.listed = true;
        report.learnt = learn(vault, remote).await?;
    }
    for id in vault.with(|v| v.wanted_file_downloads())? {
        download(vault, remote, &id, &mut report).await?;
    }
    report.evicted = vault.with(|v| v.evict_files())?;
    Ok(report)
}
