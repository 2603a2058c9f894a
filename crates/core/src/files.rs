//! Attached files: ids, manifests, chunks and their sealing, and the
//! Markdown references notes carry. No I/O here: the store's side is
//! `vault/files.rs`, the server's `files/transfer.rs`.
//!
//! - A file's id is HMAC-SHA256 of its plaintext under a key derived from
//!   the account's data key (HKDF-SHA256, info `outpost file id v1`): the
//!   same bytes get the same id on every device of the account (so a file
//!   added twice, to one note or two, is stored once), while the server,
//!   which has no key, cannot tell which file an id is, nor confirm a guess.
//! - The plaintext is split into chunks of [`CHUNK_BYTES`] (the last one
//!   shorter); each is compressed where that helps and sealed with the data
//!   key (AES-256-GCM, the note blob format of `crypto.rs`), its associated
//!   data binding the file id, the chunk's index and the chunk count: a
//!   chunk cannot be moved to another file or place, and a file cannot be
//!   cut short or lengthened without the count failing.
//! - The manifest (name, media type, plaintext size, chunking) is sealed
//!   the same way, bound to the file id.
//! - A file read back is checked whole: every chunk opens, the sizes add up
//!   to the manifest's, and the keyed hash of the bytes is the file's id.

use hkdf::{Hkdf, HkdfExtract};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::crypto::{self, CryptoError, DataKey, Keys};

pub mod transfer;

/// Largest plaintext of one file: 100 MiB (the protocol's limit).
pub const MAX_FILE_BYTES: u64 = outpost_protocol::v1::MAX_FILE_BYTES;
/// Plaintext bytes per chunk.
pub const CHUNK_BYTES: usize = outpost_protocol::v1::FILE_CHUNK_BYTES;
/// The link target prefix of a reference in a note's Markdown.
pub const SCHEME: &str = "outpost-file:";
/// Longest file name kept (bytes); longer ones are cut at a character.
pub const MAX_NAME_BYTES: usize = 255;

const ID_INFO: &[u8] = b"outpost file id v1";
const CHUNK_CONTEXT: &[u8] = b"outpost-file-chunk\0";
const MANIFEST_CONTEXT: &[u8] = b"outpost-file-manifest\0";

/// A file's id: the keyed hash of its plaintext. Printed as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub [u8; 32]);

impl FileId {
    /// Parses 64 hex digits (as printed, or as a path segment).
    pub fn parse(s: &str) -> Option<Self> {
        outpost_protocol::v1::parse_file_id(s.trim()).map(FileId)
    }

    pub fn hex(&self) -> String {
        outpost_protocol::v1::file_id_hex(&self.0)
    }
}

impl std::fmt::Display for FileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.hex())
    }
}

impl std::fmt::Debug for FileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileId({})", self.hex())
    }
}

impl Serialize for FileId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.hex())
    }
}

/// What the sealed manifest says of a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub mime: String,
    /// Plaintext bytes.
    pub size: u64,
    pub chunk_bytes: u32,
    pub chunk_count: u32,
}

/// Where a file stands on this device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileState {
    /// Added here; chunks still to send.
    Upload,
    /// The server holds all of it.
    Synced,
    /// Learnt from the server; bytes come when asked.
    Remote,
    /// Removed here; the server is still to be told.
    Removing,
}

impl FileState {
    pub fn as_str(self) -> &'static str {
        match self {
            FileState::Upload => "upload",
            FileState::Synced => "synced",
            FileState::Remote => "remote",
            FileState::Removing => "removing",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "upload" => FileState::Upload,
            "synced" => FileState::Synced,
            "remote" => FileState::Remote,
            "removing" => FileState::Removing,
            _ => return None,
        })
    }
}

/// A file as a device lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileInfo {
    pub id: FileId,
    pub name: String,
    pub mime: String,
    /// Plaintext bytes.
    pub size: u64,
    pub chunk_count: u32,
    /// Chunks on this device (all: it can be read offline).
    pub local_chunks: u32,
    /// Chunks the server is known to hold (of a file added here: sent).
    pub sent_chunks: u32,
    pub state: FileState,
    /// Notes of this device that reference it.
    pub notes: Vec<uuid::Uuid>,
}

/// Files waiting to move, for `outpost status` and the app's status bar.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FileCounts {
    /// Files with chunks still to upload, and those chunks' sealed bytes.
    pub upload_files: u64,
    pub upload_bytes: u64,
    /// Files asked for (or kept on this device) with chunks still to
    /// download, and about how many sealed bytes those are.
    pub download_files: u64,
    pub download_bytes: u64,
    /// Sealed bytes of chunks held on this device (upload queue and cache).
    pub cached_bytes: u64,
}

/// The key file ids are made with, derived from the data key.
struct IdKey(Zeroizing<[u8; 32]>);

impl IdKey {
    fn new(key: &DataKey) -> Self {
        let hk = Hkdf::<Sha256>::new(None, key.expose());
        let mut out = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's limit of 8,160.
        hk.expand(ID_INFO, out.as_mut()).unwrap_or_else(|_| unreachable!("32 bytes of HKDF output"));
        IdKey(out)
    }
}

/// The keyed hash of a file's bytes, fed in pieces.
pub struct IdHasher(HkdfExtract<Sha256>);

impl std::fmt::Debug for IdHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdHasher")
    }
}

impl IdHasher {
    pub fn new(key: &DataKey) -> Self {
        // HKDF-Extract(salt, ikm) is HMAC-SHA256(salt, ikm) (RFC 5869):
        // the id key as the HMAC key, the file's bytes as the message.
        let id_key = IdKey::new(key);
        IdHasher(HkdfExtract::<Sha256>::new(Some(id_key.0.as_ref())))
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.input_ikm(bytes);
    }

    pub fn finish(self) -> FileId {
        let (prk, _) = self.0.finalize();
        let mut id = [0u8; 32];
        id.copy_from_slice(&prk);
        FileId(id)
    }
}

/// The id of `plaintext` in the account whose data key is `key`.
pub fn file_id(key: &DataKey, plaintext: &[u8]) -> FileId {
    let mut h = IdHasher::new(key);
    h.update(plaintext);
    h.finish()
}

/// How many chunks a file of `size` bytes has (an empty file has one,
/// empty, chunk).
pub fn chunk_count(size: u64) -> u32 {
    let n = size.div_ceil(CHUNK_BYTES as u64).max(1);
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn chunk_context(id: &FileId, index: u32, count: u32) -> Vec<u8> {
    let mut c = Vec::with_capacity(CHUNK_CONTEXT.len() + 40);
    c.extend_from_slice(CHUNK_CONTEXT);
    c.extend_from_slice(&id.0);
    c.extend_from_slice(&index.to_be_bytes());
    c.extend_from_slice(&count.to_be_bytes());
    c
}

fn manifest_context(id: &FileId) -> Vec<u8> {
    let mut c = Vec::with_capacity(MANIFEST_CONTEXT.len() + 32);
    c.extend_from_slice(MANIFEST_CONTEXT);
    c.extend_from_slice(&id.0);
    c
}

pub fn seal_chunk<K: Keys + ?Sized>(
    key: &K,
    id: &FileId,
    index: u32,
    count: u32,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    crypto::seal_in_context(key, &chunk_context(id, index, count), plaintext)
}

pub fn open_chunk<K: Keys + ?Sized>(
    key: &K,
    id: &FileId,
    index: u32,
    count: u32,
    blob: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    crypto::open_in_context(key, &chunk_context(id, index, count), blob)
}

pub fn seal_manifest<K: Keys + ?Sized>(key: &K, id: &FileId, m: &Manifest) -> Result<Vec<u8>, CryptoError> {
    let json = serde_json::to_vec(m).map_err(|_| CryptoError::Malformed)?;
    crypto::seal_in_context(key, &manifest_context(id), &json)
}

pub fn open_manifest<K: Keys + ?Sized>(key: &K, id: &FileId, blob: &[u8]) -> Result<Manifest, CryptoError> {
    let json = crypto::open_in_context(key, &manifest_context(id), blob)?;
    serde_json::from_slice(&json).map_err(|_| CryptoError::Malformed)
}

/// A file name as kept: the last path component, control characters and
/// brackets dropped (it goes into Markdown link text), cut to
/// [`MAX_NAME_BYTES`]; `file` if nothing is left.
pub fn clean_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let mut out = String::new();
    for c in last.chars().filter(|c| !c.is_control() && !matches!(c, '[' | ']' | '(' | ')')) {
        if out.len() + c.len_utf8() > MAX_NAME_BYTES {
            break;
        }
        out.push(c);
    }
    let out = out.trim().to_owned();
    if out.is_empty() {
        "file".to_owned()
    } else {
        out
    }
}

/// A media type from a file name's extension; `application/octet-stream`
/// when unknown. Only decides whether a reference is an image.
pub fn mime_for(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "md" => "text/markdown",
        "json" => "application/json",
        "zip" => "application/zip",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

/// The Markdown a note gets for a file: an image for image types, a link
/// otherwise.
pub fn reference(id: &FileId, name: &str, mime: &str) -> String {
    let bang = if mime.starts_with("image/") { "!" } else { "" };
    format!("{bang}[{name}]({SCHEME}{id})")
}

/// The file ids a note's Markdown references, in order, each once.
pub fn references_in(body: &str) -> Vec<FileId> {
    let mut out = Vec::new();
    let needle = format!("]({SCHEME}");
    let mut rest = body;
    while let Some(at) = rest.find(&needle) {
        let after = &rest[at + needle.len()..];
        if let Some(id) = after.get(..64).and_then(FileId::parse) {
            if after[64..].starts_with(')') && !out.contains(&id) {
                out.push(id);
            }
        }
        rest = &rest[at + needle.len()..];
    }
    out
}

/// `body` without its references to `id` (`![text](outpost-file:ID)` and
/// `[text](outpost-file:ID)`), and without the line a reference leaves
/// empty.
pub fn remove_references(body: &str, id: &FileId) -> String {
    let target = format!("]({SCHEME}{id})");
    let mut out = String::with_capacity(body.len());
    for line in body.split_inclusive('\n') {
        if !line.contains(&target) {
            out.push_str(line);
            continue;
        }
        let mut kept = String::new();
        let mut rest = line;
        while let Some(end) = rest.find(&target) {
            let head = &rest[..end];
            // The link text starts at the last '[' before it.
            let start = head.rfind('[').unwrap_or(end);
            let start = if start > 0 && head.as_bytes()[start - 1] == b'!' { start - 1 } else { start };
            kept.push_str(&rest[..start]);
            rest = &rest[end + target.len()..];
        }
        kept.push_str(rest);
        if !kept.trim().is_empty() {
            out.push_str(&kept);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::KeyId;

    fn key() -> DataKey {
        DataKey::from_parts(KeyId(7), [3u8; 32])
    }

    #[test]
    fn ids_are_keyed_and_streaming_agrees() {
        let data = b"hello file".repeat(1000);
        let a = file_id(&key(), &data);
        let mut h = IdHasher::new(&key());
        for piece in data.chunks(333) {
            h.update(piece);
        }
        assert_eq!(h.finish(), a);
        assert_ne!(file_id(&DataKey::from_parts(KeyId(7), [4u8; 32]), &data), a, "another key, another id");
        assert_ne!(file_id(&key(), b"other"), a);
    }

    #[test]
    fn chunks_are_bound_to_file_index_and_count() {
        let id = file_id(&key(), b"x");
        let other = file_id(&key(), b"y");
        let blob = seal_chunk(&key(), &id, 1, 3, b"chunk bytes").expect("seal");
        assert_eq!(open_chunk(&key(), &id, 1, 3, &blob).expect("open"), b"chunk bytes");
        for (fid, i, n) in [(other, 1, 3), (id, 0, 3), (id, 1, 2)] {
            assert_eq!(open_chunk(&key(), &fid, i, n, &blob), Err(CryptoError::Authentication));
        }
        let m = Manifest { name: "a.png".into(), mime: "image/png".into(), size: 1, chunk_bytes: 1, chunk_count: 1 };
        let sealed = seal_manifest(&key(), &id, &m).expect("seal");
        assert_eq!(open_manifest(&key(), &id, &sealed).expect("open"), m);
        assert!(open_manifest(&key(), &other, &sealed).is_err());
        assert!(open_chunk(&key(), &id, 0, 1, &sealed).is_err(), "a manifest is no chunk");
    }

    #[test]
    fn references_are_found_and_removed() {
        let a = file_id(&key(), b"a");
        let b = file_id(&key(), b"b");
        let body = format!(
            "intro\n{}\ntext [doc]({SCHEME}{b}) after\n{}\n",
            reference(&a, "cat.png", "image/png"),
            reference(&a, "cat.png", "image/png")
        );
        assert_eq!(references_in(&body), vec![a, b]);
        let without_a = remove_references(&body, &a);
        assert_eq!(without_a, format!("intro\ntext [doc]({SCHEME}{b}) after\n"));
        assert_eq!(references_in(&remove_references(&without_a, &b)), vec![]);
        assert_eq!(remove_references(&without_a, &b), "intro\ntext  after\n");
    }

    #[test]
    fn names_are_cleaned() {
        assert_eq!(clean_name("/tmp/x/photo [1].png"), "photo 1.png");
        assert_eq!(clean_name(""), "file");
        assert_eq!(clean_name(&"é".repeat(300)).len(), 254);
        assert_eq!(chunk_count(0), 1);
        assert_eq!(chunk_count(CHUNK_BYTES as u64), 1);
        assert_eq!(chunk_count(CHUNK_BYTES as u64 + 1), 2);
    }
}
