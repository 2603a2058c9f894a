//! The store's side of attached files (`crate::files` has the model): a
//! file added here is sealed chunk by chunk into `file_chunks` in the
//! transaction that appends its reference to the note, so it is durable
//! upload work from that moment (like a note's outbox entry); each chunk
//! is marked sent when the server has it, so an upload resumes at the
//! first chunk the server lacks. Downloaded chunks land in the same table,
//! one transaction each, checked before they are stored. Chunks are
//! always sealed: plaintext exists only in memory, or in the file a user
//! asks for (`write_file_to`).

use std::io::Write;

use rusqlite::{params, OptionalExtension, TransactionBehavior};
use uuid::Uuid;

use super::Vault;
use crate::error::{Error, Result};
use crate::files::{self, FileCounts, FileId, FileInfo, FileState, IdHasher, Manifest};
use crate::model::NotePatch;
use crate::store;

/// Sealed bytes of cached chunks a device keeps before evicting files the
/// server holds, unless "keep all files" is on.
pub const DEFAULT_CACHE_LIMIT: u64 = 1024 * 1024 * 1024;
const KEEP_ALL_KEY: &str = "files.keep_all";
const CACHE_LIMIT_KEY: &str = "files.cache_limit";

/// A declaration the server has not had yet: a note references a file.
#[derive(Clone, Debug)]
pub struct PendingDeclaration {
    pub note_id: Uuid,
    pub file_id: FileId,
    pub chunk_count: u32,
    pub sealed_size: u64,
    pub manifest: Vec<u8>,
}

fn file_id_col(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<FileId> {
    let b = r.get_ref(i)?.as_blob()?;
    let id: [u8; 32] = b.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Blob, "a file id is not 32 bytes".into())
    })?;
    Ok(FileId(id))
}

fn to_u32(v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Corrupt("a file's chunk count is out of range".into()))
}

impl Vault {
    /// Attaches `bytes` (named `name`) to note `note_id`: the file is
    /// sealed into the store as upload work, and its reference appended to
    /// the note's body, in one transaction. A file the account already has
    /// (the same bytes, in this note or another) is not stored again: the
    /// note only gets the reference. Refused before anything is written
    /// when over [`files::MAX_FILE_BYTES`] or the note does not exist.
    pub fn add_file(&mut self, note_id: Uuid, name: &str, bytes: &[u8]) -> Result<FileInfo> {
        self.store_file(note_id, name, bytes, true)
    }

    /// As [`Vault::add_file`], but the note's body is left as it is: for
    /// an editor that inserts the reference ([`files::reference`]) at its
    /// cursor and saves it with the user's other changes, so the note does
    /// not change under it. The file is attached to the note either way
    /// (listed, uploaded, declared).
    pub fn attach_file(&mut self, note_id: Uuid, name: &str, bytes: &[u8]) -> Result<FileInfo> {
        self.store_file(note_id, name, bytes, false)
    }

    fn store_file(&mut self, note_id: Uuid, name: &str, bytes: &[u8], append: bool) -> Result<FileInfo> {
        if bytes.len() as u64 > files::MAX_FILE_BYTES {
            return Err(Error::TooLarge { what: "file", size: bytes.len(), limit: files::MAX_FILE_BYTES as usize });
        }
        self.get(note_id)?;
        let id = files::file_id(self.key.first(), bytes);
        let name = files::clean_name(name);
        let mime = files::mime_for(&name).to_owned();
        let known: Option<String> =
            self.conn.query_row("SELECT state FROM files WHERE id = ?1", [&id.0[..]], |r| r.get(0)).optional()?;
        // Sealed before the transaction: the CPU work holds no lock.
        let sealed = match known.as_deref() {
            Some(state) if state != FileState::Removing.as_str() => None,
            _ => Some(self.seal_file(&id, &name, &mime, bytes)?),
        };
        let now = crate::time::now_ms();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some((manifest, chunks)) = &sealed {
            // A file being removed and added again starts afresh.
            tx.execute("DELETE FROM file_chunks WHERE file_id = ?1", [&id.0[..]])?;
            tx.execute("DELETE FROM files WHERE id = ?1", [&id.0[..]])?;
            let sealed_size: usize = chunks.iter().map(Vec::len).sum();
            tx.execute(
                "INSERT INTO files (id, manifest, chunk_count, sealed_size, state, want, last_used, created_at)
                 VALUES (?1, ?2, ?3, ?4, 'upload', 0, ?5, ?5)",
                params![&id.0[..], manifest, chunks.len() as i64, sealed_size as i64, now],
            )?;
            let mut insert = tx.prepare("INSERT INTO file_chunks (file_id, idx, data, sent) VALUES (?1, ?2, ?3, 0)")?;
            for (i, chunk) in chunks.iter().enumerate() {
                insert.execute(params![&id.0[..], i as i64, chunk])?;
            }
        }
        tx.execute(
            "INSERT INTO note_files (note_id, file_id, declared) VALUES (?1, ?2, 0) ON CONFLICT DO NOTHING",
            params![note_id.as_bytes(), &id.0[..]],
        )?;
        if append {
            let mut w = super::Writer { conn: &tx, key: &self.key, clock: &self.clock };
            let note = super::rows::read_note(&tx, &self.key, note_id)?
                .filter(|n| !n.deleted)
                .ok_or_else(|| Error::NoteNotFound(note_id.to_string()))?;
            if !files::references_in(&note.body).contains(&id) {
                let mut body = note.body;
                if !body.is_empty() && !body.ends_with('\n') {
                    body.push('\n');
                }
                body.push_str(&files::reference(&id, &name, &mime));
                body.push('\n');
                w.edit(note_id, NotePatch { body: Some(body), ..NotePatch::default() })?;
            }
        }
        tx.commit()?;
        self.file_info(&id)
    }

    fn seal_file(&self, id: &FileId, name: &str, mime: &str, bytes: &[u8]) -> Result<(Vec<u8>, Vec<Vec<u8>>)> {
        let count = files::chunk_count(bytes.len() as u64);
        let manifest = Manifest {
            name: name.to_owned(),
            mime: mime.to_owned(),
            size: bytes.len() as u64,
            chunk_bytes: files::CHUNK_BYTES as u32,
            chunk_count: count,
        };
        let sealed_manifest = files::seal_manifest(&self.key, id, &manifest)?;
        let mut chunks = Vec::with_capacity(count as usize);
        if bytes.is_empty() {
            chunks.push(files::seal_chunk(&self.key, id, 0, count, &[])?);
        }
        for (i, piece) in bytes.chunks(files::CHUNK_BYTES).enumerate() {
            chunks.push(files::seal_chunk(&self.key, id, i as u32, count, piece)?);
        }
        Ok((sealed_manifest, chunks))
    }

    /// One file as this device knows it.
    pub fn file_info(&self, id: &FileId) -> Result<FileInfo> {
        let row: Option<(Vec<u8>, i64, String)> = self
            .conn
            .query_row("SELECT manifest, chunk_count, state FROM files WHERE id = ?1", [&id.0[..]], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let (manifest, chunk_count, state) = row.ok_or_else(|| Error::FileNotFound(id.hex()))?;
        let m = files::open_manifest(&self.key, id, &manifest)?;
        let state = FileState::parse(&state).ok_or_else(|| Error::Corrupt(format!("file state {state:?}")))?;
        let (local, sent): (i64, i64) = self.conn.query_row(
            "SELECT count(*), COALESCE(SUM(sent), 0) FROM file_chunks WHERE file_id = ?1",
            [&id.0[..]],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let chunk_count = to_u32(chunk_count)?;
        let sent_chunks = match state {
            FileState::Synced | FileState::Remote => chunk_count,
            _ => to_u32(sent)?,
        };
        let mut stmt = self.conn.prepare("SELECT note_id FROM note_files WHERE file_id = ?1 ORDER BY note_id")?;
        let notes = stmt.query_map([&id.0[..]], |r| super::rows::uuid_col(r, 0))?.collect::<Result<Vec<_>, _>>()?;
        Ok(FileInfo {
            id: *id,
            name: m.name,
            mime: m.mime,
            size: m.size,
            chunk_count,
            local_chunks: to_u32(local)?,
            sent_chunks,
            state,
            notes,
        })
    }

    /// The files a note references, as this device knows them.
    pub fn files_of_note(&self, note_id: Uuid) -> Result<Vec<FileInfo>> {
        self.get(note_id)?;
        let mut stmt = self.conn.prepare(
            "SELECT nf.file_id FROM note_files nf JOIN files f ON f.id = nf.file_id
             WHERE nf.note_id = ?1 AND f.state <> 'removing' ORDER BY f.created_at, f.id",
        )?;
        let ids = stmt.query_map([note_id.as_bytes()], |r| file_id_col(r, 0))?.collect::<Result<Vec<_>, _>>()?;
        ids.iter().map(|id| self.file_info(id)).collect()
    }

    /// The chunk indexes of a file not on this device.
    pub fn missing_chunks(&self, id: &FileId) -> Result<Vec<u32>> {
        let info = self.file_info(id)?;
        let mut stmt = self.conn.prepare("SELECT idx FROM file_chunks WHERE file_id = ?1")?;
        let have: std::collections::HashSet<i64> =
            stmt.query_map([&id.0[..]], |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok((0..info.chunk_count).filter(|i| !have.contains(&i64::from(*i))).collect())
    }

    /// Writes the file's plaintext to `out`, chunk by chunk, and checks it
    /// whole (every chunk opens where it belongs, the sizes add up, the
    /// keyed hash is the file's id). Fails if a chunk is not on this device
    /// ([`Error::FileNotDownloaded`]); what was written before a failure
    /// is the caller's to throw away (the CLI writes a temporary file and
    /// renames it only on success).
    pub fn write_file_to(&mut self, id: &FileId, out: &mut dyn Write) -> Result<u64> {
        let info = self.file_info(id)?;
        let missing = self.missing_chunks(id)?;
        if !missing.is_empty() {
            return Err(Error::FileNotDownloaded { id: id.hex(), missing: missing.len(), chunks: info.chunk_count });
        }
        let forged = |what: String| Error::Forged(format!("file {id}: {what}; nothing was written"));
        let mut hasher = IdHasher::new(self.key.first());
        let mut written = 0u64;
        for idx in 0..info.chunk_count {
            let blob: Vec<u8> = self.conn.query_row(
                "SELECT data FROM file_chunks WHERE file_id = ?1 AND idx = ?2",
                params![&id.0[..], i64::from(idx)],
                |r| r.get(0),
            )?;
            let plain = files::open_chunk(&self.key, id, idx, info.chunk_count, &blob)
                .map_err(|e| forged(format!("chunk {idx} does not open ({e})")))?;
            hasher.update(&plain);
            written += plain.len() as u64;
            out.write_all(&plain).map_err(|e| Error::io("writing the file", e))?;
        }
        if written != info.size {
            return Err(forged(format!("its chunks hold {written} bytes, its manifest says {}", info.size)));
        }
        if hasher.finish() != *id {
            return Err(forged("its bytes do not hash to its id".into()));
        }
        self.conn
            .execute("UPDATE files SET last_used = ?2 WHERE id = ?1", params![&id.0[..], crate::time::now_ms()])?;
        Ok(written)
    }

    /// The file's plaintext, checked as [`Vault::write_file_to`] checks it.
    pub fn read_file(&mut self, id: &FileId) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.write_file_to(id, &mut out)?;
        Ok(out)
    }

    /// Removes a file: its references leave every note's text (each such
    /// note is an edit that syncs), its chunks leave this device, and the
    /// server is told at the next sync, after which its garbage collection
    /// deletes it. How many notes were edited.
    pub fn remove_file(&mut self, id: &FileId) -> Result<usize> {
        let info = self.file_info(id)?;
        if info.state == FileState::Removing {
            return Err(Error::FileNotFound(id.hex()));
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut edited = 0;
        {
            let mut w = super::Writer { conn: &tx, key: &self.key, clock: &self.clock };
            for note_id in &info.notes {
                let Some(note) = super::rows::read_note(&tx, &self.key, *note_id)?.filter(|n| !n.deleted) else {
                    continue;
                };
                let body = files::remove_references(&note.body, id);
                if body != note.body {
                    w.edit(*note_id, NotePatch { body: Some(body), ..NotePatch::default() })?;
                    edited += 1;
                }
            }
        }
        tx.execute("DELETE FROM note_files WHERE file_id = ?1", [&id.0[..]])?;
        tx.execute("DELETE FROM file_chunks WHERE file_id = ?1", [&id.0[..]])?;
        let never_sent = info.state == FileState::Upload && info.sent_chunks == 0 && !declared(&tx, id)?;
        if never_sent {
            tx.execute("DELETE FROM files WHERE id = ?1", [&id.0[..]])?;
        } else {
            tx.execute("UPDATE files SET state = 'removing', want = 0 WHERE id = ?1", [&id.0[..]])?;
        }
        tx.commit()?;
        Ok(edited)
    }

    /// Files waiting to move, and the cache's size.
    pub fn file_counts(&self) -> Result<FileCounts> {
        file_counts(&self.conn)
    }

    /// "Keep all files on this device": every file is downloaded at sync
    /// and none is evicted.
    pub fn keep_all_files(&self) -> Result<bool> {
        Ok(store::get_kv(&self.conn, "settings", KEEP_ALL_KEY)?.as_deref() == Some("1"))
    }

    pub fn set_keep_all_files(&mut self, keep: bool) -> Result<()> {
        store::set_kv(&self.conn, "settings", KEEP_ALL_KEY, if keep { "1" } else { "0" })
    }

    /// Sealed bytes of downloaded or uploaded chunks kept before the least
    /// recently used files the server holds are evicted.
    pub fn file_cache_limit(&self) -> Result<u64> {
        match store::get_kv(&self.conn, "settings", CACHE_LIMIT_KEY)? {
            Some(v) => v.parse().map_err(|_| Error::Corrupt(format!("file cache limit {v:?}"))),
            None => Ok(DEFAULT_CACHE_LIMIT),
        }
    }

    pub fn set_file_cache_limit(&mut self, bytes: u64) -> Result<()> {
        store::set_kv(&self.conn, "settings", CACHE_LIMIT_KEY, &bytes.to_string())
    }

    /// Asks for a file's bytes: the next sync downloads what is missing.
    pub fn want_file(&mut self, id: &FileId) -> Result<()> {
        self.file_info(id)?;
        self.conn.execute(
            "UPDATE files SET want = 1, last_used = ?2 WHERE id = ?1",
            params![&id.0[..], crate::time::now_ms()],
        )?;
        Ok(())
    }

    /// Drops the chunks of the least recently used files the server holds
    /// until the cache is within its limit (nothing with "keep all files"
    /// on, never a chunk still to upload). Sealed bytes freed.
    pub fn evict_files(&mut self) -> Result<u64> {
        if self.keep_all_files()? {
            return Ok(0);
        }
        let limit = self.file_cache_limit()?;
        let mut cached = file_counts(&self.conn)?.cached_bytes;
        let mut freed = 0;
        let mut stmt = self.conn.prepare(
            "SELECT f.id, SUM(length(c.data)) FROM files f JOIN file_chunks c ON c.file_id = f.id
             WHERE f.state IN ('synced', 'remote') GROUP BY f.id ORDER BY f.last_used, f.id",
        )?;
        let candidates =
            stmt.query_map([], |r| Ok((file_id_col(r, 0)?, r.get::<_, i64>(1)?)))?.collect::<Result<Vec<_>, _>>()?;
        drop(stmt);
        for (id, bytes) in candidates {
            if cached <= limit {
                break;
            }
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM file_chunks WHERE file_id = ?1", [&id.0[..]])?;
            tx.execute("UPDATE files SET want = 0 WHERE id = ?1", [&id.0[..]])?;
            tx.commit()?;
            let bytes = u64::try_from(bytes).unwrap_or(0);
            cached = cached.saturating_sub(bytes);
            freed += bytes;
        }
        Ok(freed)
    }

    // The transfer's steps (`files::transfer`), each one short transaction.

    /// Note references the server has not been told of.
    pub fn pending_file_declarations(&self) -> Result<Vec<PendingDeclaration>> {
        let mut stmt = self.conn.prepare(
            "SELECT nf.note_id, f.id, f.chunk_count, f.sealed_size, f.manifest
             FROM note_files nf JOIN files f ON f.id = nf.file_id
             WHERE nf.declared = 0 AND f.state <> 'removing' ORDER BY f.created_at, nf.note_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((super::rows::uuid_col(r, 0)?, file_id_col(r, 1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?, r.get(4)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (note_id, file_id, count, size, manifest) = row?;
            out.push(PendingDeclaration {
                note_id,
                file_id,
                chunk_count: to_u32(count)?,
                sealed_size: u64::try_from(size).map_err(|_| Error::Corrupt("a file's size".into()))?,
                manifest,
            });
        }
        Ok(out)
    }

    /// The server knows `note_id` references the file, and holds the
    /// chunks `have`.
    pub fn record_file_declared(&mut self, note_id: Uuid, id: &FileId, have: &[u32]) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE note_files SET declared = 1 WHERE note_id = ?1 AND file_id = ?2",
            params![note_id.as_bytes(), &id.0[..]],
        )?;
        {
            let mut sent = tx.prepare("UPDATE file_chunks SET sent = 1 WHERE file_id = ?1 AND idx = ?2")?;
            for idx in have {
                sent.execute(params![&id.0[..], i64::from(*idx)])?;
            }
        }
        tx.commit()?;
        self.finish_upload_if_done(id)
    }

    /// The server holds the chunks `have` of the file: marked sent.
    pub fn record_chunks_held(&mut self, id: &FileId, have: &[u32]) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut sent = tx.prepare("UPDATE file_chunks SET sent = 1 WHERE file_id = ?1 AND idx = ?2")?;
            for idx in have {
                sent.execute(params![&id.0[..], i64::from(*idx)])?;
            }
        }
        tx.commit()?;
        self.finish_upload_if_done(id)
    }

    /// The server does not know the file (never declared, or collected):
    /// every note's reference is declared again at the next pass, and every
    /// chunk still here is sent again.
    pub fn redeclare_file(&mut self, id: &FileId) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("UPDATE note_files SET declared = 0 WHERE file_id = ?1", [&id.0[..]])?;
        tx.execute("UPDATE file_chunks SET sent = 0 WHERE file_id = ?1", [&id.0[..]])?;
        tx.commit()?;
        Ok(())
    }

    /// Files added here with chunks still to send.
    pub fn pending_file_uploads(&self) -> Result<Vec<FileId>> {
        let mut stmt = self.conn.prepare("SELECT id FROM files WHERE state = 'upload' ORDER BY created_at, id")?;
        let ids = stmt.query_map([], |r| file_id_col(r, 0))?.collect::<Result<Vec<_>, _>>()?;
        Ok(ids)
    }

    /// The chunk indexes of a file still to send, ascending.
    pub fn unsent_chunks(&self, id: &FileId) -> Result<Vec<u32>> {
        let mut stmt = self.conn.prepare("SELECT idx FROM file_chunks WHERE file_id = ?1 AND sent = 0 ORDER BY idx")?;
        let idx = stmt.query_map([&id.0[..]], |r| r.get::<_, i64>(0))?.collect::<Result<Vec<_>, _>>()?;
        idx.into_iter().map(to_u32).collect()
    }

    /// A sealed chunk as stored (and sent).
    pub fn sealed_chunk(&self, id: &FileId, idx: u32) -> Result<Vec<u8>> {
        self.conn
            .query_row(
                "SELECT data FROM file_chunks WHERE file_id = ?1 AND idx = ?2",
                params![&id.0[..], i64::from(idx)],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| Error::FileNotDownloaded { id: id.hex(), missing: 1, chunks: 1 })
    }

    /// The server holds chunk `idx`: it is not sent again.
    pub fn record_chunk_sent(&mut self, id: &FileId, idx: u32) -> Result<()> {
        self.conn.execute(
            "UPDATE file_chunks SET sent = 1 WHERE file_id = ?1 AND idx = ?2",
            params![&id.0[..], i64::from(idx)],
        )?;
        self.finish_upload_if_done(id)
    }

    fn finish_upload_if_done(&mut self, id: &FileId) -> Result<()> {
        self.conn.execute(
            "UPDATE files SET state = 'synced' WHERE id = ?1 AND state = 'upload'
             AND NOT EXISTS (SELECT 1 FROM file_chunks WHERE file_id = ?1 AND sent = 0)
             AND NOT EXISTS (SELECT 1 FROM note_files WHERE file_id = ?1 AND declared = 0)",
            [&id.0[..]],
        )?;
        Ok(())
    }

    /// Files removed here that the server is still to be told of.
    pub fn pending_file_removals(&self) -> Result<Vec<FileId>> {
        let mut stmt = self.conn.prepare("SELECT id FROM files WHERE state = 'removing' ORDER BY id")?;
        let ids = stmt.query_map([], |r| file_id_col(r, 0))?.collect::<Result<Vec<_>, _>>()?;
        Ok(ids)
    }

    /// The server was told of a removal: the file is forgotten here.
    pub fn forget_removed_file(&mut self, id: &FileId) -> Result<()> {
        self.conn.execute("DELETE FROM files WHERE id = ?1 AND state = 'removing'", [&id.0[..]])?;
        Ok(())
    }

    /// A file the server lists: learnt (state remote) if this device did
    /// not know it, with the notes that reference it. Its manifest must
    /// open under this account's key and id, else it is refused
    /// ([`Error::Forged`]) and nothing is stored. True if it was new.
    pub fn learn_remote_file(
        &mut self,
        id: &FileId,
        chunk_count: u32,
        sealed_size: u64,
        manifest: &[u8],
        notes: &[Uuid],
    ) -> Result<bool> {
        let m = files::open_manifest(&self.key, id, manifest).map_err(|e| {
            Error::Forged(format!("the server's manifest of file {id} does not open ({e}); it was not stored"))
        })?;
        if m.chunk_count != chunk_count || files::chunk_count(m.size) != chunk_count {
            return Err(Error::Forged(format!(
                "the server lists file {id} with {chunk_count} chunks, its manifest says {}; it was not stored",
                m.chunk_count
            )));
        }
        let now = crate::time::now_ms();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let new = tx.execute(
            "INSERT INTO files (id, manifest, chunk_count, sealed_size, state, want, last_used, created_at)
             VALUES (?1, ?2, ?3, ?4, 'remote', 0, ?5, ?5) ON CONFLICT DO NOTHING",
            params![&id.0[..], manifest, i64::from(chunk_count), sealed_size as i64, now],
        )? == 1;
        let removing: bool =
            tx.query_row("SELECT state = 'removing' FROM files WHERE id = ?1", [&id.0[..]], |r| r.get(0))?;
        if !removing {
            let mut insert = tx.prepare(
                "INSERT INTO note_files (note_id, file_id, declared) VALUES (?1, ?2, 1)
                 ON CONFLICT DO UPDATE SET declared = 1",
            )?;
            for note in notes {
                insert.execute(params![note.as_bytes(), &id.0[..]])?;
            }
        }
        tx.commit()?;
        Ok(new)
    }

    /// Files to download now: asked for, or all with "keep all files" on;
    /// with chunks missing here.
    pub fn wanted_file_downloads(&self) -> Result<Vec<FileId>> {
        let keep_all = self.keep_all_files()?;
        let mut stmt = self.conn.prepare(
            "SELECT id FROM files WHERE state IN ('synced', 'remote') AND (want = 1 OR ?1)
             AND (SELECT count(*) FROM file_chunks WHERE file_id = files.id) < chunk_count
             ORDER BY last_used DESC, id",
        )?;
        let ids = stmt.query_map([keep_all], |r| file_id_col(r, 0))?.collect::<Result<Vec<_>, _>>()?;
        Ok(ids)
    }

    /// Stores a downloaded chunk after checking that it opens as chunk
    /// `idx` of this file: a chunk tampered with (or cut short) on the
    /// server is refused ([`Error::Forged`]) and nothing is stored.
    pub fn store_downloaded_chunk(&mut self, id: &FileId, idx: u32, data: &[u8]) -> Result<()> {
        let info = self.file_info(id)?;
        if idx >= info.chunk_count {
            return Err(Error::Forged(format!(
                "the server sent chunk {idx} of file {id}, which has {}",
                info.chunk_count
            )));
        }
        let plain = files::open_chunk(&self.key, id, idx, info.chunk_count, data).map_err(|e| {
            Error::Forged(format!(
                "chunk {idx} of file {id} from the server does not open ({e}): it was tampered with or cut short; \
                 it was not stored"
            ))
        })?;
        let full = idx + 1 < info.chunk_count;
        let expected = if full {
            files::CHUNK_BYTES as u64
        } else {
            info.size - u64::from(info.chunk_count - 1) * files::CHUNK_BYTES as u64
        };
        if plain.len() as u64 != expected {
            return Err(Error::Forged(format!(
                "chunk {idx} of file {id} holds {} bytes where {expected} belong; it was not stored",
                plain.len()
            )));
        }
        self.conn.execute(
            "INSERT INTO file_chunks (file_id, idx, data, sent) VALUES (?1, ?2, ?3, 1) ON CONFLICT DO NOTHING",
            params![&id.0[..], i64::from(idx), data],
        )?;
        Ok(())
    }
}

/// Whether the server was told of the file by any note.
fn declared(conn: &rusqlite::Connection, id: &FileId) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM note_files WHERE file_id = ?1 AND declared = 1)",
        [&id.0[..]],
        |r| r.get(0),
    )?)
}

/// [`Vault::file_counts`] on a bare connection (`outpost status` reads
/// it without the key).
pub fn file_counts(conn: &rusqlite::Connection) -> Result<FileCounts> {
    let keep_all = store::get_kv(conn, "settings", KEEP_ALL_KEY)?.as_deref() == Some("1");
    let (upload_files, upload_bytes): (i64, i64) = conn.query_row(
        "SELECT count(DISTINCT f.id), COALESCE(SUM(length(c.data)), 0) FROM files f
         JOIN file_chunks c ON c.file_id = f.id AND c.sent = 0 WHERE f.state = 'upload'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (download_files, download_bytes): (i64, i64) = conn.query_row(
        "SELECT count(*), COALESCE(SUM(MAX(sealed_size - have_bytes, 0)), 0) FROM (
           SELECT f.sealed_size, f.chunk_count,
             (SELECT count(*) FROM file_chunks c WHERE c.file_id = f.id) AS have,
             (SELECT COALESCE(SUM(length(c.data)), 0) FROM file_chunks c WHERE c.file_id = f.id) AS have_bytes
           FROM files f WHERE f.state IN ('synced', 'remote') AND (f.want = 1 OR ?1)
         ) WHERE have < chunk_count",
        [keep_all],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let cached: i64 = conn.query_row("SELECT COALESCE(SUM(length(data)), 0) FROM file_chunks", [], |r| r.get(0))?;
    let u = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok(FileCounts {
        upload_files: u(upload_files),
        upload_bytes: u(upload_bytes),
        download_files: u(download_files),
        download_bytes: u(download_bytes),
        cached_bytes: u(cached),
    })
}

/// [`Vault::file_counts`] of the store in `dir`, read without the key
/// (sizes and states are plaintext metadata); zero for a store older than
/// attachments.
pub fn peek_file_counts(dir: &std::path::Path) -> Result<FileCounts> {
    let path = store::db_path(dir);
    if !path.exists() {
        return Err(Error::Invalid(format!("no Outpost store in {}", dir.display())));
    }
    let conn = store::connect(&path)?;
    store::migrate::ensure_not_newer(&conn)?;
    let has_files: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'files')",
        [],
        |r| r.get(0),
    )?;
    if !has_files {
        return Ok(FileCounts::default());
    }
    file_counts(&conn)
}
