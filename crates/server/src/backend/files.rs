//! Attached files: declared with their sizes and sealed manifest, stored
//! chunk by chunk in the database (so every instance on one PostgreSQL
//! serves every other's uploads), referenced by notes, collected when no
//! live note references them. Every statement is scoped by the caller's
//! user id: another account's file id matches no row.
//!
//! The quota counts a file's declared sealed size from the moment it is
//! declared (`file_usage`, one row per account, its own row so uploads
//! never wait on the counter row pushes take), so a file that does not fit
//! is refused before any of its bytes are written.

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};
use uuid::Uuid;

use super::{to_u64, BackendError, Dialect, SqlBackend};

/// A file as the backend stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRecord {
    pub file_id: [u8; 32],
    pub chunk_count: u32,
    /// Declared sealed bytes (counted against the quota).
    pub size: u64,
    /// Sealed bytes of the chunks stored so far.
    pub stored: u64,
    pub manifest: Vec<u8>,
    /// Indexes of the chunks stored, ascending.
    pub have: Vec<u32>,
    /// Notes that declared it.
    pub notes: Vec<Uuid>,
}

/// What declaring a file asks for.
#[derive(Clone, Debug)]
pub struct FileDeclaration<'a> {
    pub file_id: &'a [u8; 32],
    pub note_id: Uuid,
    pub chunk_count: u32,
    pub size: u64,
    pub manifest: &'a [u8],
}

/// The outcome of storing one chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkPut {
    /// Stored now.
    Stored,
    /// It was there already (a resent chunk): nothing changed.
    AlreadyThere,
    /// The account has no such file: declare it first.
    NoFile,
    /// The index is not below the file's chunk count.
    OutOfRange { chunk_count: u32 },
    /// The chunk would take the file past its declared size.
    OverSize { size: u64 },
}

/// What one garbage collection did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileGcReport {
    /// Files found with no live reference now (their grace period starts).
    pub marked: u64,
    /// Files referenced again after being marked.
    pub unmarked: u64,
    /// Files deleted with their chunks (grace period over).
    pub deleted: u64,
    /// Sealed bytes freed.
    pub bytes: u64,
}

/// A reference counts while its note is not a tombstone on the server.
const LIVE_REF: &str = "EXISTS (SELECT 1 FROM file_refs r WHERE r.user_id = files.user_id AND r.file_id = files.file_id
     AND NOT EXISTS (SELECT 1 FROM notes n WHERE n.user_id = r.user_id AND n.note_id = r.note_id AND n.deleted))";

fn to_i64(v: u64) -> Result<i64, BackendError> {
    i64::try_from(v).map_err(|_| BackendError::Corrupt("a size past i64"))
}

fn marked_len(rows: &[i64]) -> u64 {
    rows.len() as u64
}

fn to_u32(v: i64) -> Result<u32, BackendError> {
    u32::try_from(v).map_err(|_| BackendError::Corrupt("a chunk index or count out of range"))
}

impl<DB> SqlBackend<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Uuid: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Decode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Decode<'q, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    pub(super) async fn files_declare(
        &self,
        user_id: Uuid,
        d: &FileDeclaration<'_>,
        quota_bytes: u64,
    ) -> Result<FileRecord, BackendError> {
        let mut tx = DB::begin_write(&self.writer).await?;
        let created: Option<i64> = sqlx::query_scalar(
            "INSERT INTO files (user_id, file_id, chunk_count, size, stored, manifest, created_ms)
             VALUES ($1, $2, $3, $4, 0, $5, $6) ON CONFLICT (user_id, file_id) DO NOTHING RETURNING size",
        )
        .bind(user_id)
        .bind(d.file_id.as_slice())
        .bind(i64::from(d.chunk_count))
        .bind(to_i64(d.size)?)
        .bind(d.manifest)
        .bind(crate::now_ms())
        .fetch_optional(&mut *tx)
        .await?;
        if created.is_some() {
            // The quota's counter, raised only if it stays within the
            // quota: atomic, so two declarations racing cannot both slip in.
            let size = to_i64(d.size)?;
            let quota = i64::try_from(quota_bytes).unwrap_or(i64::MAX);
            let raised: Option<i64> = sqlx::query_scalar(
                "INSERT INTO file_usage (user_id, bytes) SELECT $1, $2 WHERE $2 <= $3
                 ON CONFLICT (user_id) DO UPDATE SET bytes = file_usage.bytes + excluded.bytes
                 WHERE file_usage.bytes + excluded.bytes <= $3 RETURNING bytes",
            )
            .bind(user_id)
            .bind(size)
            .bind(quota)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| match e {
                // The account was deleted in between (foreign key).
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => BackendError::AccountDeleted,
                e => e.into(),
            })?;
            if raised.is_none() {
                let used: Option<i64> = sqlx::query_scalar("SELECT bytes FROM file_usage WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                // Dropping `tx` rolls the declaration back.
                return Err(BackendError::FileQuotaExceeded {
                    stored: to_u64(used.unwrap_or(0))?,
                    size: d.size,
                    quota: quota_bytes,
                });
            }
        }
        sqlx::query(
            "INSERT INTO file_refs (user_id, file_id, note_id) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, file_id, note_id) DO NOTHING",
        )
        .bind(user_id)
        .bind(d.file_id.as_slice())
        .bind(d.note_id)
        .execute(&mut *tx)
        .await?;
        // Referenced again: no longer on its way out.
        sqlx::query("UPDATE files SET unreferenced_ms = NULL WHERE user_id = $1 AND file_id = $2")
            .bind(user_id)
            .bind(d.file_id.as_slice())
            .execute(&mut *tx)
            .await?;
        let record = Self::file_in(&mut *tx, user_id, d.file_id).await?;
        tx.commit().await?;
        record.ok_or(BackendError::Corrupt("a file declared in this transaction is gone"))
    }

    async fn file_in(
        conn: &mut DB::Connection,
        user_id: Uuid,
        file_id: &[u8; 32],
    ) -> Result<Option<FileRecord>, BackendError> {
        let row: Option<(i64, i64, i64, Vec<u8>)> =
            sqlx::query_as("SELECT chunk_count, size, stored, manifest FROM files WHERE user_id = $1 AND file_id = $2")
                .bind(user_id)
                .bind(file_id.as_slice())
                .fetch_optional(&mut *conn)
                .await?;
        let Some((chunk_count, size, stored, manifest)) = row else { return Ok(None) };
        let have: Vec<i64> =
            sqlx::query_scalar("SELECT idx FROM file_chunks WHERE user_id = $1 AND file_id = $2 ORDER BY idx")
                .bind(user_id)
                .bind(file_id.as_slice())
                .fetch_all(&mut *conn)
                .await?;
        let notes: Vec<Uuid> =
            sqlx::query_scalar("SELECT note_id FROM file_refs WHERE user_id = $1 AND file_id = $2 ORDER BY note_id")
                .bind(user_id)
                .bind(file_id.as_slice())
                .fetch_all(&mut *conn)
                .await?;
        Ok(Some(FileRecord {
            file_id: *file_id,
            chunk_count: to_u32(chunk_count)?,
            size: to_u64(size)?,
            stored: to_u64(stored)?,
            manifest,
            have: have.into_iter().map(to_u32).collect::<Result<_, _>>()?,
            notes,
        }))
    }

    pub(super) async fn files_get(
        &self,
        user_id: Uuid,
        file_id: &[u8; 32],
    ) -> Result<Option<FileRecord>, BackendError> {
        let mut conn = self.reader.acquire().await?;
        Self::file_in(&mut *conn, user_id, file_id).await
    }

    pub(super) async fn files_list(&self, user_id: Uuid) -> Result<Vec<FileRecord>, BackendError> {
        let ids: Vec<Vec<u8>> = sqlx::query_scalar("SELECT file_id FROM files WHERE user_id = $1 ORDER BY created_ms")
            .bind(user_id)
            .fetch_all(&self.reader)
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        let mut conn = self.reader.acquire().await?;
        for id in ids {
            let id: [u8; 32] = id.try_into().map_err(|_| BackendError::Corrupt("a file id is not 32 bytes"))?;
            if let Some(record) = Self::file_in(&mut *conn, user_id, &id).await? {
                out.push(record);
            }
        }
        Ok(out)
    }

    pub(super) async fn files_put_chunk(
        &self,
        user_id: Uuid,
        file_id: &[u8; 32],
        idx: u32,
        data: &[u8],
    ) -> Result<ChunkPut, BackendError> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT chunk_count, size FROM files WHERE user_id = $1 AND file_id = $2")
                .bind(user_id)
                .bind(file_id.as_slice())
                .fetch_optional(&self.reader)
                .await?;
        let Some((chunk_count, size)) = row else { return Ok(ChunkPut::NoFile) };
        let chunk_count = to_u32(chunk_count)?;
        if idx >= chunk_count {
            return Ok(ChunkPut::OutOfRange { chunk_count });
        }
        let len = to_i64(data.len() as u64)?;
        let mut tx = DB::begin_write(&self.writer).await?;
        // The file's running total first, raised only within its declared
        // size: the row lock (PostgreSQL) or the one writer (SQLite) orders
        // concurrent chunks of one file, and a file gone meanwhile (garbage
        // collected) matches nothing.
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT idx FROM file_chunks WHERE user_id = $1 AND file_id = $2 AND idx = $3")
                .bind(user_id)
                .bind(file_id.as_slice())
                .bind(i64::from(idx))
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_some() {
            return Ok(ChunkPut::AlreadyThere);
        }
        let raised: Option<i64> = sqlx::query_scalar(
            "UPDATE files SET stored = stored + $3 WHERE user_id = $1 AND file_id = $2 AND stored + $3 <= size
             RETURNING stored",
        )
        .bind(user_id)
        .bind(file_id.as_slice())
        .bind(len)
        .fetch_optional(&mut *tx)
        .await?;
        if raised.is_none() {
            let still: Option<i64> = sqlx::query_scalar("SELECT size FROM files WHERE user_id = $1 AND file_id = $2")
                .bind(user_id)
                .bind(file_id.as_slice())
                .fetch_optional(&mut *tx)
                .await?;
            return Ok(match still {
                None => ChunkPut::NoFile,
                Some(_) => ChunkPut::OverSize { size: to_u64(size)? },
            });
        }
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO file_chunks (user_id, file_id, idx, data) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, file_id, idx) DO NOTHING RETURNING idx",
        )
        .bind(user_id)
        .bind(file_id.as_slice())
        .bind(i64::from(idx))
        .bind(data)
        .fetch_optional(&mut *tx)
        .await?;
        if inserted.is_none() {
            // Another instance stored it between the check and here: its
            // bytes stand, and the total raised above rolls back.
            return Ok(ChunkPut::AlreadyThere);
        }
        tx.commit().await?;
        Ok(ChunkPut::Stored)
    }

    pub(super) async fn files_get_chunk(
        &self,
        user_id: Uuid,
        file_id: &[u8; 32],
        idx: u32,
    ) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(sqlx::query_scalar("SELECT data FROM file_chunks WHERE user_id = $1 AND file_id = $2 AND idx = $3")
            .bind(user_id)
            .bind(file_id.as_slice())
            .bind(i64::from(idx))
            .fetch_optional(&self.reader)
            .await?)
    }

    pub(super) async fn files_drop(
        &self,
        user_id: Uuid,
        file_id: &[u8; 32],
        now_ms: i64,
    ) -> Result<bool, BackendError> {
        let mut tx = DB::begin_write(&self.writer).await?;
        let found: Option<i64> = sqlx::query_scalar(
            "UPDATE files SET unreferenced_ms = COALESCE(unreferenced_ms, $3)
             WHERE user_id = $1 AND file_id = $2 RETURNING size",
        )
        .bind(user_id)
        .bind(file_id.as_slice())
        .bind(now_ms)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM file_refs WHERE user_id = $1 AND file_id = $2")
            .bind(user_id)
            .bind(file_id.as_slice())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(found.is_some())
    }

    pub(super) async fn files_usage(&self, user_id: Uuid) -> Result<u64, BackendError> {
        let used: Option<i64> = sqlx::query_scalar("SELECT bytes FROM file_usage WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.reader)
            .await?;
        to_u64(used.unwrap_or(0))
    }

    pub(super) async fn files_collect(&self, now_ms: i64, grace_ms: i64) -> Result<FileGcReport, BackendError> {
        let mut report = FileGcReport::default();
        let mut tx = DB::begin_write(&self.writer).await?;
        let unmarked: Vec<i64> = sqlx::query_scalar(&format!(
            "UPDATE files SET unreferenced_ms = NULL WHERE unreferenced_ms IS NOT NULL AND {LIVE_REF} RETURNING size"
        ))
        .fetch_all(&mut *tx)
        .await?;
        let marked: Vec<i64> = sqlx::query_scalar(&format!(
            "UPDATE files SET unreferenced_ms = $1 WHERE unreferenced_ms IS NULL AND NOT {LIVE_REF} RETURNING size"
        ))
        .bind(now_ms)
        .fetch_all(&mut *tx)
        .await?;
        report.unmarked = marked_len(&unmarked);
        report.marked = marked_len(&marked);
        tx.commit().await?;
        let due: Vec<(Uuid, Vec<u8>)> = sqlx::query_as(
            "SELECT user_id, file_id FROM files WHERE unreferenced_ms IS NOT NULL AND unreferenced_ms <= $1",
        )
        .bind(now_ms.saturating_sub(grace_ms))
        .fetch_all(&self.writer)
        .await?;
        for (user_id, file_id) in due {
            // One file per transaction; the condition is checked again, so
            // a declaration that referenced it meanwhile keeps it.
            let mut tx = DB::begin_write(&self.writer).await?;
            let size: Option<i64> = sqlx::query_scalar(
                "DELETE FROM files WHERE user_id = $1 AND file_id = $2
                 AND unreferenced_ms IS NOT NULL AND unreferenced_ms <= $3 RETURNING size",
            )
            .bind(user_id)
            .bind(file_id.as_slice())
            .bind(now_ms.saturating_sub(grace_ms))
            .fetch_optional(&mut *tx)
            .await?;
            let Some(size) = size else { continue };
            for delete in [
                "DELETE FROM file_chunks WHERE user_id = $1 AND file_id = $2",
                "DELETE FROM file_refs WHERE user_id = $1 AND file_id = $2",
            ] {
                sqlx::query(delete).bind(user_id).bind(file_id.as_slice()).execute(&mut *tx).await?;
            }
            sqlx::query("UPDATE file_usage SET bytes = bytes - $2 WHERE user_id = $1")
                .bind(user_id)
                .bind(size)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            report.deleted += 1;
            report.bytes += to_u64(size)?;
        }
        Ok(report)
    }
}
