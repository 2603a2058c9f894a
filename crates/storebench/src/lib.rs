//! sqlx 0.8 against rusqlite 0.32 on the local store's schema, for the two
//! paths the app lives on: saving a note and listing titles. The numbers
//! and the choice they back are in `BENCHMARKS.md` and `ARCHITECTURE.md`.
//!
//! # Layout
//! - this file: the schema (read from `crates/core/migrations`, so it stays
//!   the engine's), the rows both backends write, and [`build`], which fills
//!   a store with rusqlite so that both backends start from the same file.
//! - [`rusqlite_store`] and [`sqlx_store`]: the same SQL and pragmas as the
//!   engine (`crates/core/src/store`, `crates/core/src/vault.rs`) through
//!   each crate; the save is one `BEGIN IMMEDIATE` transaction that upserts
//!   the note row and queues or coalesces its outbox entry, committed with
//!   fsync (WAL, `synchronous=FULL`).
//!
//! The blobs are random bytes of the sizes the engine writes (sealed title,
//! body and meta): ciphertext does not compress, and no crypto is timed
//! here, only the database crates.
//!
//! The bench itself is `benches/compare.rs`:
//! `cargo bench -p outpost-storebench`.

#![forbid(unsafe_code)]

pub mod rusqlite_store;
pub mod sqlx_store;

use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use uuid::Uuid;

/// Sizes of the sealed fields of a ~2 KB note.
pub const TITLE_BYTES: usize = 60;
pub const BODY_BYTES: usize = 2048;
pub const META_BYTES: usize = 120;

/// The engine's note upsert (`Writer::write` in `crates/core/src/vault.rs`).
pub const UPSERT_NOTE: &str = "INSERT INTO notes (id, hlc, pinned, created_at, updated_at, deleted, title, meta, body)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
     ON CONFLICT (id) DO UPDATE SET hlc = excluded.hlc, pinned = excluded.pinned,
       updated_at = excluded.updated_at, deleted = excluded.deleted,
       title = excluded.title, meta = excluded.meta, body = excluded.body";

/// Fold a change into the note's unsent outbox entry, if it has one.
pub const COALESCE_OUTBOX: &str = "UPDATE outbox SET hlc = ?2, deleted = ?3, title = ?4, meta = ?5, body = ?6,
       coalesced = coalesced + 1, updated_at = ?7
     WHERE note_id = ?1 AND state = 'pending' AND attempts = 0";

/// Queue a new outbox entry when there was none to fold into.
pub const INSERT_OUTBOX: &str =
    "INSERT INTO outbox (op_id, note_id, hlc, deleted, title, meta, body, created_at, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)";

/// The list-titles path: ids and sealed titles in list order, read through
/// the `notes_list` index.
pub const LIST_TITLES: &str = "SELECT id, title FROM notes WHERE deleted = 0 ORDER BY pinned DESC, updated_at DESC";

/// Why a bench store could not be built or used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading the migrations in {path}: {source}")]
    Migrations { path: PathBuf, source: std::io::Error },
    #[error("rusqlite: {0}")]
    Rusqlite(#[from] rusqlite::Error),
    #[error("sqlx: {0}")]
    Sqlx(#[from] sqlx::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One save: a note row with its three sealed fields and its outbox entry.
#[derive(Debug, Clone)]
pub struct Save {
    pub id: [u8; 16],
    /// Op id of the outbox entry, used when a new one is queued.
    pub op_id: [u8; 16],
    /// HLC stamp in the engine's 38-character text form.
    pub hlc: String,
    pub pinned: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub title: Vec<u8>,
    pub meta: Vec<u8>,
    pub body: Vec<u8>,
}

/// Makes [`Save`]s with random (ciphertext-like) blobs and growing stamps.
#[derive(Debug)]
pub struct Gen {
    rng: StdRng,
    /// Wall time of the next stamp, in ms; one tick per save.
    now_ms: i64,
}

impl Gen {
    pub fn new(seed: u64) -> Self {
        Self { rng: StdRng::seed_from_u64(seed), now_ms: 1_700_000_000_000 }
    }

    fn blob(&mut self, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        self.rng.fill_bytes(&mut b);
        b
    }

    /// A save of note `id`, or of a new note when `id` is `None`.
    pub fn save(&mut self, id: Option<[u8; 16]>) -> Save {
        self.now_ms += 1;
        let id = id.unwrap_or_else(|| *Uuid::now_v7().as_bytes());
        Save {
            id,
            op_id: *Uuid::now_v7().as_bytes(),
            hlc: format!("{:012x}-{:08x}-{:016x}", self.now_ms, 0, 0x0bad_cafe_u64),
            pinned: self.rng.gen_bool(0.03),
            created_at: self.now_ms,
            updated_at: self.now_ms,
            title: self.blob(TITLE_BYTES),
            meta: self.blob(META_BYTES),
            body: self.blob(BODY_BYTES),
        }
    }

    /// A random index below `n`.
    pub fn pick(&mut self, n: usize) -> usize {
        self.rng.gen_range(0..n)
    }
}

/// The engine's migrations, in order, read from `crates/core/migrations`.
pub fn migrations() -> Result<Vec<String>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/migrations");
    let io = |source| Error::Migrations { path: dir.clone(), source };
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).map_err(io)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>().map_err(io)?;
    files.retain(|p| p.extension().is_some_and(|e| e == "sql"));
    files.sort();
    files.iter().map(|p| std::fs::read_to_string(p).map_err(io)).collect()
}

/// Create a store at `path` with the engine's schema and `rows` notes, each
/// with a pending outbox entry (a store that has not synced yet, as the
/// seeder leaves it). Returns the note ids. Not timed by the bench.
pub fn build(path: &Path, rows: usize, seed: u64) -> Result<Vec<[u8; 16]>> {
    let mut conn = rusqlite_store::connect(path)?;
    for sql in migrations()? {
        conn.execute_batch(&sql)?;
    }
    let mut gen = Gen::new(seed);
    let mut ids = Vec::with_capacity(rows);
    let tx = conn.transaction()?;
    for _ in 0..rows {
        let s = gen.save(None);
        rusqlite_store::write(&tx, &s)?;
        ids.push(s.id);
    }
    tx.commit()?;
    Ok(ids)
}
