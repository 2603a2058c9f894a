//! Bootstrap snapshots: what a new device downloads instead of every note
//! sealed on its own (docs/protocol.md, "Bootstrap snapshots").
//!
//! Every note travels sealed alone, so it is compressed alone: a median
//! note of a few hundred bytes barely compresses, and each carries three
//! ciphertext headers and tags. A device that has synced makes a snapshot
//! of what the server held at its cursor (each note's last version agreed
//! with the server, plaintext in memory only), cuts it into chunks of about
//! 2.5 MiB, compresses each chunk whole (notes compress together: far
//! better than alone) and seals it under the account's data key, bound to
//! the snapshot's cursor, the chunk's index and the chunk count, so the
//! server can neither read, reorder, mix nor truncate chunks. A new device
//! opens the chunks, seals each note again itself (new nonces, the same
//! stamps) and applies them as one pulled page, then pulls from the cursor.
//!
//! ```text
//! chunk = seal(key, binding(SNAPSHOT_ID, Field::Snapshot, Hlc(cursor, index, count)),
//!              zstd(postcard([Entry, ...])))
//! ```

use outpost_protocol::v1::Encoding;
use outpost_protocol::Hlc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(test)]
use crate::crypto::DataKey;
use crate::crypto::{self, Binding, Field, Keys};
use crate::error::{Error, Result};

/// The note id every snapshot chunk is bound to: no note has it (notes
/// get UUIDv7 ids; this one is version 8, "outpost snapshot").
pub const SNAPSHOT_ID: Uuid = Uuid::from_u128(0x6f75_7470_6f73_7420_836e_8170_7368_6f74);

/// A chunk closes once its entries pass this many bytes; with one note at
/// its largest on top it stays below [`MAX_CHUNK_PLAINTEXT`].
pub const CHUNK_TARGET_BYTES: usize = 2 * 1024 * 1024 + 512 * 1024;
/// The most a chunk may inflate to: a guard against a decompression bomb
/// from a hostile server (it cannot seal one, but the check is cheap).
pub const MAX_CHUNK_PLAINTEXT: usize = 4 * 1024 * 1024;
/// zstd level of a chunk: made once, downloaded by every new device.
const LEVEL: i32 = 12;

/// One note in a snapshot: its version as the server holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: Uuid,
    pub rev: u64,
    /// The version's stamp ([`Hlc::to_bytes`]).
    pub hlc: [u8; 20],
    pub deleted: bool,
    pub title: String,
    /// The sealed metadata's plaintext (JSON), carried as it is, so fields
    /// this build does not know survive.
    pub meta: Vec<u8>,
    pub body: String,
}

impl Entry {
    fn size(&self) -> usize {
        16 + 8 + 20 + 1 + self.title.len() + self.meta.len() + self.body.len()
    }
}

fn binding_hlc(cursor: u64, index: u32, count: u32) -> Hlc {
    Hlc::new(cursor, index, u64::from(count))
}

/// Cuts `entries` into chunks of about [`CHUNK_TARGET_BYTES`].
pub fn cut(entries: Vec<Entry>) -> Vec<Vec<Entry>> {
    let mut chunks = Vec::new();
    let mut current = Vec::new();
    let mut size = 0;
    for e in entries {
        size += e.size();
        current.push(e);
        if size >= CHUNK_TARGET_BYTES {
            chunks.push(std::mem::take(&mut current));
            size = 0;
        }
    }
    if !current.is_empty() || chunks.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// Compresses and seals chunk `index` of `count` of a snapshot at `cursor`.
pub fn seal_chunk<K: Keys + ?Sized>(
    key: &K,
    cursor: u64,
    index: u32,
    count: u32,
    entries: &[Entry],
) -> Result<Vec<u8>> {
    let plain = Encoding::Postcard.encode(&entries).map_err(|e| Error::Invalid(e.to_string()))?;
    if plain.len() > MAX_CHUNK_PLAINTEXT {
        return Err(Error::Invalid(format!("a snapshot chunk of {} bytes is over the limit", plain.len())));
    }
    let packed = zstd::bulk::compress(&plain, LEVEL).map_err(|e| Error::Invalid(format!("compressing: {e}")))?;
    let hlc = binding_hlc(cursor, index, count);
    Ok(crypto::seal(key, &Binding { note_id: &SNAPSHOT_ID, field: Field::Snapshot, hlc: &hlc }, &packed)?)
}

/// Opens chunk `index` of `count` of a snapshot at `cursor`: refused if it
/// was tampered with, sealed under another key, or belongs to another
/// snapshot or place.
pub fn open_chunk<K: Keys + ?Sized>(key: &K, cursor: u64, index: u32, count: u32, blob: &[u8]) -> Result<Vec<Entry>> {
    let hlc = binding_hlc(cursor, index, count);
    let packed = crypto::open(key, &Binding { note_id: &SNAPSHOT_ID, field: Field::Snapshot, hlc: &hlc }, blob)
        .map_err(|source| Error::Decrypt { note: format!("snapshot chunk {index} of {count}"), source })?;
    let plain = zstd::bulk::decompress(&packed, MAX_CHUNK_PLAINTEXT)
        .map_err(|e| Error::Corrupt(format!("snapshot chunk {index}: {e}")))?;
    Encoding::Postcard.decode(&plain).map_err(|e| Error::Corrupt(format!("snapshot chunk {index}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: u64, body: &str) -> Entry {
        Entry {
            id: Uuid::now_v7(),
            rev: i,
            hlc: Hlc::new(1_700_000_000_000 + i, 0, 7).to_bytes(),
            deleted: false,
            title: format!("note {i}"),
            meta: br#"{"tags":["x"],"pinned":false}"#.to_vec(),
            body: body.to_string(),
        }
    }

    #[test]
    fn chunks_round_trip_and_compress_together() {
        let key = DataKey::generate();
        let prose = "Offline-first notes keep every word on the device first, then sync. ";
        let entries: Vec<Entry> = (0..400).map(|i| entry(i, &prose.repeat(1 + (i as usize % 5)))).collect();
        let plain: usize = entries.iter().map(Entry::size).sum();
        let blob = seal_chunk(&key, 42, 0, 1, &entries).expect("seal");
        assert!(blob.len() * 10 < plain, "{} sealed bytes for {plain}", blob.len());
        assert_eq!(open_chunk(&key, 42, 0, 1, &blob).expect("open"), entries);
    }

    #[test]
    fn a_chunk_opens_only_at_its_place() {
        let key = DataKey::generate();
        let entries = vec![entry(1, "body")];
        let blob = seal_chunk(&key, 42, 1, 3, &entries).expect("seal");
        for (cursor, index, count) in [(43, 1, 3), (42, 0, 3), (42, 1, 2)] {
            let err = open_chunk(&key, cursor, index, count, &blob).expect_err("moved chunk");
            assert!(matches!(err, Error::Decrypt { .. }), "{err}");
        }
        let mut tampered = blob.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(matches!(open_chunk(&key, 42, 1, 3, &tampered), Err(Error::Decrypt { .. })));
        assert!(matches!(open_chunk(&DataKey::generate(), 42, 1, 3, &blob), Err(Error::Decrypt { .. })));
        assert_eq!(open_chunk(&key, 42, 1, 3, &blob).expect("in place"), entries);
    }

    #[test]
    fn cut_keeps_order_and_bounds_chunks() {
        let big = "x".repeat(600 * 1024);
        let entries: Vec<Entry> = (0..10).map(|i| entry(i, &big)).collect();
        let chunks = cut(entries.clone());
        assert!(chunks.len() >= 2, "{} chunks", chunks.len());
        for c in &chunks {
            assert!(c.iter().map(Entry::size).sum::<usize>() < MAX_CHUNK_PLAINTEXT);
        }
        assert_eq!(chunks.concat(), entries);
        assert_eq!(cut(Vec::new()), vec![Vec::<Entry>::new()]);
    }
}
