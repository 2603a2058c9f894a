//! Sealing note fields: compress, then AES-256-GCM.
//!
//! A sealed blob is
//!
//! ```text
//! version (1) | flags (1) | key id (4, BE) | nonce (12) | ciphertext + tag (16)
//! ```
//!
//! and its associated data is the 6-byte header followed by the note id (16
//! bytes), the field (1 byte) and the change's HLC stamp (20 bytes), so a blob
//! cannot be moved to another note, another field or another version of the
//! same note, and its header (compression flag, key id) cannot be edited.
//! Compression happens before encryption, because ciphertext does not
//! compress; it is skipped where it would not help (short titles).
//!
//! DO NOT change the associated data layout or the header: every stored and
//! synced ciphertext depends on it. Add a new `version` instead.

use std::cell::RefCell;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use outpost_protocol::Hlc;
use rand::RngCore;
use uuid::Uuid;
use zeroize::{Zeroize, Zeroizing};

/// Current blob format version.
const VERSION: u8 = 1;
const FLAG_ZSTD: u8 = 0b0000_0001;
const HEADER_LEN: usize = 6;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Bytes a sealed blob adds to its (compressed) plaintext.
pub const OVERHEAD: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;
/// Plaintexts shorter than this are stored uncompressed.
const COMPRESS_MIN: usize = 96;
const ZSTD_LEVEL: i32 = 3;
/// Upper bound of any plaintext we will ever inflate: a guard against
/// decompression bombs in blobs from elsewhere.
pub const MAX_PLAINTEXT: usize = 4 * 1024 * 1024;

/// Which part of a note a blob holds. Bound into the associated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Field {
    Title = 1,
    Body = 2,
    /// Tags, pinned flag and times, as JSON.
    Meta = 3,
    /// The key-check constant in the `keys` table (not note content).
    KeyCheck = 0xF0,
    /// The sync session token, sealed at rest.
    Secret = 0xF1,
    /// A chunk of a bootstrap snapshot (`snapshot.rs`).
    Snapshot = 0xE0,
}

/// Identifies a data key; written into every blob so keys can be rotated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyId(pub u32);

/// A 256-bit data key. The raw bytes are zeroed on drop and never printed;
/// the AES key schedule is expanded once per key, not once per blob (it was
/// a measurable part of listing 10,000 titles).
#[derive(Clone)]
pub struct DataKey {
    id: KeyId,
    bytes: Zeroizing<[u8; 32]>,
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey").field("id", &self.id).field("bytes", &"<redacted>").finish()
    }
}

impl DataKey {
    /// A fresh random key from the OS random source.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let mut id = [0u8; 4];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let key = Self::from_parts(KeyId(u32::from_be_bytes(id)), bytes);
        bytes.zeroize();
        key
    }

    pub fn from_parts(id: KeyId, bytes: [u8; 32]) -> Self {
        let cipher = Aes256Gcm::new((&bytes).into());
        Self { id, bytes: Zeroizing::new(bytes), cipher }
    }

    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The raw key, for wrapping and for the OS keyring only.
    pub(crate) fn expose(&self) -> &[u8; 32] {
        &self.bytes
    }

    fn cipher(&self) -> &Aes256Gcm {
        &self.cipher
    }
}

/// Why a blob could not be opened. None of these reveal plaintext.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("encrypted data is truncated or not an Outpost ciphertext")]
    Malformed,
    #[error("encrypted data uses format version {0}, which this version of Outpost cannot read; update Outpost")]
    UnknownVersion(u8),
    #[error("encrypted data was made with key {found:08x}, but this store's key is {expected:08x}")]
    WrongKeyId { found: u32, expected: u32 },
    #[error("encrypted data failed authentication: it was tampered with, moved from another note or field, or the key is wrong")]
    Authentication,
    #[error("decrypted data does not decompress: {0}")]
    Decompress(String),
    #[error("plaintext of {0} bytes is larger than the {MAX_PLAINTEXT}-byte limit")]
    TooLarge(usize),
    /// A blob sealed under a data key this device does not hold: the
    /// account's key was rotated on another device and this one has not
    /// fetched the new key yet.
    #[error(
        "encrypted data was made with data key {0:08x}, which this device does not have yet: the account's data \
         key was changed on another device. Give the account passphrase to fetch it (`outpost account keys`, or \
         log in again)"
    )]
    UnknownKey(u32),
}

/// The keys a blob can be sealed with and opened with: one [`DataKey`], or
/// a store's [`KeyRing`].
pub trait Keys {
    /// The key new blobs are sealed with.
    fn sealing_key(&self) -> &DataKey;
    /// The key with id `id`, to open a blob that names it.
    fn opening_key(&self, id: u32) -> Result<&DataKey, CryptoError>;
}

impl Keys for DataKey {
    fn sealing_key(&self) -> &DataKey {
        self
    }
    fn opening_key(&self, id: u32) -> Result<&DataKey, CryptoError> {
        if id == self.id.0 {
            Ok(self)
        } else {
            Err(CryptoError::WrongKeyId { found: id, expected: self.id.0 })
        }
    }
}

/// Every data key a store can read, and the one it writes with (the
/// newest, after a rotation). Old keys stay so that what they sealed
/// stays readable.
#[derive(Clone, Debug)]
pub struct KeyRing {
    current: DataKey,
    /// The other keys, oldest first; never the current one.
    others: Vec<DataKey>,
}

impl KeyRing {
    pub fn new(current: DataKey) -> Self {
        Self { current, others: Vec::new() }
    }

    /// The key new blobs are sealed with.
    pub fn current(&self) -> &DataKey {
        &self.current
    }

    /// Every key but the current one, oldest first.
    pub fn others(&self) -> &[DataKey] {
        &self.others
    }

    pub fn get(&self, id: KeyId) -> Option<&DataKey> {
        std::iter::once(&self.current).chain(&self.others).find(|k| k.id == id)
    }

    /// Whether `key` (its id and its bytes) is one of these keys.
    pub fn contains(&self, key: &DataKey) -> bool {
        self.get(key.id()).is_some_and(|k| k.bytes == key.bytes)
    }

    /// Adds `key` as an old key; a key held already is left as it is.
    /// False when another key has its id (ids are random: a forgery).
    pub fn insert(&mut self, key: DataKey) -> bool {
        match self.get(key.id()) {
            Some(k) => k.bytes == key.bytes,
            None => {
                self.others.push(key);
                true
            }
        }
    }

    /// Makes the held key `id` the current one; false if not held.
    pub fn make_current(&mut self, id: KeyId) -> bool {
        if self.current.id == id {
            return true;
        }
        let Some(at) = self.others.iter().position(|k| k.id == id) else { return false };
        let new = self.others.remove(at);
        let old = std::mem::replace(&mut self.current, new);
        self.others.push(old);
        true
    }

    /// The oldest key this ring holds: the same on every device of the
    /// account whatever rotations happened since (the ring travels whole),
    /// so keyed ids that must not change with a rotation (attached files'
    /// ids) derive from it.
    pub fn first(&self) -> &DataKey {
        self.others.first().unwrap_or(&self.current)
    }

    /// Every key, the current one first.
    pub fn iter(&self) -> impl Iterator<Item = &DataKey> {
        std::iter::once(&self.current).chain(&self.others)
    }
}

impl From<DataKey> for KeyRing {
    fn from(key: DataKey) -> Self {
        Self::new(key)
    }
}

impl Keys for KeyRing {
    fn sealing_key(&self) -> &DataKey {
        &self.current
    }
    fn opening_key(&self, id: u32) -> Result<&DataKey, CryptoError> {
        self.get(KeyId(id)).ok_or(CryptoError::UnknownKey(id))
    }
}

/// The id of the key `blob` names in its header, if it is a blob.
pub fn key_id_of(blob: &[u8]) -> Option<KeyId> {
    (blob.len() >= OVERHEAD && blob[0] == VERSION)
        .then(|| KeyId(u32::from_be_bytes([blob[2], blob[3], blob[4], blob[5]])))
}

/// Where a blob belongs: checked on every open.
#[derive(Clone, Copy, Debug)]
pub struct Binding<'a> {
    pub note_id: &'a Uuid,
    pub field: Field,
    pub hlc: &'a Hlc,
}

fn aad(header: &[u8; HEADER_LEN], b: &Binding<'_>) -> [u8; HEADER_LEN + 16 + 1 + 20] {
    let mut out = [0u8; HEADER_LEN + 16 + 1 + 20];
    out[..HEADER_LEN].copy_from_slice(header);
    out[HEADER_LEN..HEADER_LEN + 16].copy_from_slice(b.note_id.as_bytes());
    out[HEADER_LEN + 16] = b.field as u8;
    out[HEADER_LEN + 17..].copy_from_slice(&b.hlc.to_bytes());
    out
}

/// Compress (where it helps) and encrypt `plaintext` for `binding`.
pub fn seal<K: Keys + ?Sized>(keys: &K, binding: &Binding<'_>, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let key = keys.sealing_key();
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(CryptoError::TooLarge(plaintext.len()));
    }
    let mut flags = 0u8;
    let compressed;
    let body: &[u8] = if plaintext.len() >= COMPRESS_MIN {
        match compress(plaintext) {
            Ok(c) if c.len() < plaintext.len() => {
                flags |= FLAG_ZSTD;
                compressed = c;
                &compressed
            }
            _ => plaintext,
        }
    } else {
        plaintext
    };
    let mut header = [0u8; HEADER_LEN];
    header[0] = VERSION;
    header[1] = flags;
    header[2..6].copy_from_slice(&key.id.0.to_be_bytes());
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let aad = aad(&header, binding);
    let ct = key
        .cipher()
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: body, aad: &aad })
        // AES-GCM encryption fails only for messages over 64 GiB.
        .map_err(|_| CryptoError::TooLarge(body.len()))?;
    let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + ct.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Check a blob's length, version, flags and key id; returns its header
/// and the key it names.
fn check_header<'k, K: Keys + ?Sized>(
    keys: &'k K,
    blob: &[u8],
) -> Result<([u8; HEADER_LEN], &'k DataKey), CryptoError> {
    if blob.len() < OVERHEAD {
        return Err(CryptoError::Malformed);
    }
    let mut header = [0u8; HEADER_LEN];
    header.copy_from_slice(&blob[..HEADER_LEN]);
    if header[0] != VERSION {
        return Err(CryptoError::UnknownVersion(header[0]));
    }
    if header[1] & !FLAG_ZSTD != 0 {
        return Err(CryptoError::Malformed);
    }
    let key_id = u32::from_be_bytes([header[2], header[3], header[4], header[5]]);
    Ok((header, keys.opening_key(key_id)?))
}

thread_local! {
    /// One zstd context per thread, kept: making one costs more than
    /// compressing a short note (its tables are allocated and set up each
    /// time), and a sync applies thousands.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// zstd at [`ZSTD_LEVEL`], through this thread's kept context. The frame
/// records the content size, which [`decompress`] sizes its buffer by.
fn compress(plaintext: &[u8]) -> std::io::Result<Vec<u8>> {
    COMPRESSOR.with(|slot| {
        let mut slot = slot.borrow_mut();
        let c = match slot.as_mut() {
            Some(c) => c,
            None => slot.insert(zstd::bulk::Compressor::new(ZSTD_LEVEL)?),
        };
        c.compress(plaintext)
    })
}

/// Inflates a zstd frame of at most [`MAX_PLAINTEXT`] bytes, into a buffer
/// of the size its header gives (not [`MAX_PLAINTEXT`] each time).
fn decompress(packed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let size = match zstd::zstd_safe::get_frame_content_size(packed) {
        Ok(Some(n)) if n <= MAX_PLAINTEXT as u64 => n as usize,
        Ok(Some(n)) => return Err(CryptoError::Decompress(format!("{n} bytes inflated; the most is {MAX_PLAINTEXT}"))),
        _ => MAX_PLAINTEXT,
    };
    DECOMPRESSOR.with(|slot| {
        let mut slot = slot.borrow_mut();
        let d = match slot.as_mut() {
            Some(d) => d,
            None => slot.insert(zstd::bulk::Decompressor::new().map_err(|e| CryptoError::Decompress(e.to_string()))?),
        };
        d.decompress(packed, size).map_err(|e| CryptoError::Decompress(e.to_string()))
    })
}

/// Authenticate and decrypt (without inflating) a blob sealed for `binding`.
fn decrypt<K: Keys + ?Sized>(
    keys: &K,
    binding: &Binding<'_>,
    blob: &[u8],
) -> Result<([u8; HEADER_LEN], Vec<u8>), CryptoError> {
    let (header, key) = check_header(keys, blob)?;
    let aad = aad(&header, binding);
    let body = key
        .cipher()
        .decrypt(
            Nonce::from_slice(&blob[HEADER_LEN..HEADER_LEN + NONCE_LEN]),
            Payload { msg: &blob[HEADER_LEN + NONCE_LEN..], aad: &aad },
        )
        .map_err(|_| CryptoError::Authentication)?;
    Ok((header, body))
}

/// Authenticate, decrypt and decompress a blob sealed for `binding`.
pub fn open<K: Keys + ?Sized>(keys: &K, binding: &Binding<'_>, blob: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let (header, body) = decrypt(keys, binding, blob)?;
    if header[1] & FLAG_ZSTD != 0 {
        decompress(&body)
    } else {
        Ok(body)
    }
}

/// Check that a blob authenticates for `binding` without inflating it:
/// what a pull does before it stores a change from elsewhere.
pub fn authenticate<K: Keys + ?Sized>(keys: &K, binding: &Binding<'_>, blob: &[u8]) -> Result<(), CryptoError> {
    decrypt(keys, binding, blob).map(drop)
}

/// Compress (where it helps) and encrypt `plaintext` under the blob format
/// above, with `context` in place of the note binding in the associated
/// data (attached files: file id, part, index, count; see `crate::files`).
/// A context is never 37 bytes long, the length of a note binding, so a
/// blob of one kind never opens as the other.
pub fn seal_in_context<K: Keys + ?Sized>(keys: &K, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let key = keys.sealing_key();
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(CryptoError::TooLarge(plaintext.len()));
    }
    let mut flags = 0u8;
    let compressed;
    let packed = if plaintext.len() >= COMPRESS_MIN { compress(plaintext).ok() } else { None };
    let body: &[u8] = match packed {
        Some(c) if c.len() < plaintext.len() => {
            flags |= FLAG_ZSTD;
            compressed = c;
            &compressed
        }
        _ => plaintext,
    };
    let mut header = [0u8; HEADER_LEN];
    header[0] = VERSION;
    header[1] = flags;
    header[2..6].copy_from_slice(&key.id.0.to_be_bytes());
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let mut aad = Vec::with_capacity(HEADER_LEN + context.len());
    aad.extend_from_slice(&header);
    aad.extend_from_slice(context);
    let ct = key
        .cipher()
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: body, aad: &aad })
        .map_err(|_| CryptoError::TooLarge(body.len()))?;
    let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + ct.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Authenticate, decrypt and decompress a blob sealed by
/// [`seal_in_context`] for `context`.
pub fn open_in_context<K: Keys + ?Sized>(keys: &K, context: &[u8], blob: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let (header, key) = check_header(keys, blob)?;
    let mut aad = Vec::with_capacity(HEADER_LEN + context.len());
    aad.extend_from_slice(&header);
    aad.extend_from_slice(context);
    let body = key
        .cipher()
        .decrypt(
            Nonce::from_slice(&blob[HEADER_LEN..HEADER_LEN + NONCE_LEN]),
            Payload { msg: &blob[HEADER_LEN + NONCE_LEN..], aad: &aad },
        )
        .map_err(|_| CryptoError::Authentication)?;
    if header[1] & FLAG_ZSTD != 0 {
        decompress(&body)
    } else {
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn binding<'a>(id: &'a Uuid, field: Field, hlc: &'a Hlc) -> Binding<'a> {
        Binding { note_id: id, field, hlc }
    }

    proptest! {
        #[test]
        fn round_trips(data in proptest::collection::vec(any::<u8>(), 0..4096), repeat in 1usize..8) {
            let key = DataKey::generate();
            let id = Uuid::now_v7();
            let hlc = Hlc::new(1, 2, 3);
            let pt = data.repeat(repeat);
            let b = binding(&id, Field::Body, &hlc);
            let blob = seal(&key, &b, &pt).expect("seal");
            prop_assert_eq!(open(&key, &b, &blob).expect("open"), pt);
        }
    }

    #[test]
    fn compresses_text_before_encrypting() {
        let key = DataKey::generate();
        let id = Uuid::now_v7();
        let hlc = Hlc::new(1, 2, 3);
        let pt = "The quick brown fox jumps over the lazy dog. ".repeat(100);
        let blob = seal(&key, &binding(&id, Field::Body, &hlc), pt.as_bytes()).expect("seal");
        assert!(blob.len() < pt.len() / 4, "{} bytes for {}", blob.len(), pt.len());
        assert_eq!(blob[1] & FLAG_ZSTD, FLAG_ZSTD);
    }

    #[test]
    fn nonces_are_fresh() {
        let key = DataKey::generate();
        let id = Uuid::now_v7();
        let hlc = Hlc::new(1, 2, 3);
        let b = binding(&id, Field::Title, &hlc);
        assert_ne!(seal(&key, &b, b"same").expect("seal"), seal(&key, &b, b"same").expect("seal"));
    }

    #[test]
    fn binding_is_enforced() {
        let key = DataKey::generate();
        let (id, other_id) = (Uuid::now_v7(), Uuid::now_v7());
        let (hlc, other_hlc) = (Hlc::new(10, 0, 1), Hlc::new(10, 1, 1));
        let blob = seal(&key, &binding(&id, Field::Title, &hlc), b"secret title").expect("seal");
        let wrong = [
            binding(&other_id, Field::Title, &hlc),
            binding(&id, Field::Body, &hlc),
            binding(&id, Field::Title, &other_hlc),
        ];
        for b in wrong {
            assert_eq!(open(&key, &b, &blob), Err(CryptoError::Authentication), "{b:?}");
        }
        assert!(open(&key, &binding(&id, Field::Title, &hlc), &blob).is_ok());
    }

    #[test]
    fn tampering_is_detected() {
        let key = DataKey::generate();
        let id = Uuid::now_v7();
        let hlc = Hlc::new(10, 0, 1);
        let b = binding(&id, Field::Body, &hlc);
        let blob = seal(&key, &b, "x".repeat(500).as_bytes()).expect("seal");
        for i in 0..blob.len() {
            let mut t = blob.clone();
            t[i] ^= 0x01;
            assert!(open(&key, &b, &t).is_err(), "flipping byte {i} went unnoticed");
        }
        assert_eq!(open(&key, &b, &blob[..blob.len() - 1]), Err(CryptoError::Authentication));
        assert_eq!(open(&key, &b, &blob[..10]), Err(CryptoError::Malformed));
    }

    #[test]
    fn wrong_key_is_detected() {
        let key = DataKey::generate();
        let other = DataKey::from_parts(key.id(), [7u8; 32]);
        let id = Uuid::now_v7();
        let hlc = Hlc::new(10, 0, 1);
        let b = binding(&id, Field::Body, &hlc);
        let blob = seal(&key, &b, b"hello").expect("seal");
        assert_eq!(open(&other, &b, &blob), Err(CryptoError::Authentication));
        let rotated = DataKey::generate();
        assert!(matches!(open(&rotated, &b, &blob), Err(CryptoError::WrongKeyId { .. })));
    }

    #[test]
    fn authenticate_agrees_with_open() {
        let key = DataKey::generate();
        let id = Uuid::now_v7();
        let hlc = Hlc::new(10, 0, 1);
        let b = binding(&id, Field::Body, &hlc);
        let blob = seal(&key, &b, "y".repeat(400).as_bytes()).expect("seal");
        assert_eq!(authenticate(&key, &b, &blob), Ok(()));
        let mut t = blob.clone();
        t[HEADER_LEN + NONCE_LEN + 3] ^= 0x80;
        assert_eq!(authenticate(&key, &b, &t), Err(CryptoError::Authentication));
        let other = Uuid::now_v7();
        assert_eq!(authenticate(&key, &binding(&other, Field::Body, &hlc), &blob), Err(CryptoError::Authentication));
    }

    #[test]
    fn debug_never_prints_key_bytes() {
        let key = DataKey::from_parts(KeyId(1), [0xAB; 32]);
        let s = format!("{key:?}");
        assert!(!s.to_lowercase().contains("ab, ab") && !s.contains("171"), "{s}");
    }
}
