//! The op payload: a note's three sealed fields in one opaque byte string,
//! exactly as stored locally, so a change goes from the store to the server
//! and on to other devices without being re-encrypted.
//!
//! ```text
//! version (1) = 1 | title len (u32 BE) | title | meta len (u32 BE) | meta | body
//! ```
//!
//! The server never parses it. Each field is authenticated on its own
//! (crypto.rs), so the framing needs no MAC of its own.

/// The three sealed fields of one note version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub title: Vec<u8>,
    pub meta: Vec<u8>,
    pub body: Vec<u8>,
}

const VERSION: u8 = 1;

/// Why a payload could not be split.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("payload is truncated or malformed")]
    Malformed,
    #[error("payload version {0} is unknown to this version of Outpost; update Outpost")]
    UnknownVersion(u8),
}

impl Sealed {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + self.title.len() + self.meta.len() + self.body.len());
        out.push(VERSION);
        out.extend_from_slice(&(self.title.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.title);
        out.extend_from_slice(&(self.meta.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.meta);
        out.extend_from_slice(&self.body);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, PayloadError> {
        let (&version, rest) = bytes.split_first().ok_or(PayloadError::Malformed)?;
        if version != VERSION {
            return Err(PayloadError::UnknownVersion(version));
        }
        let (title, rest) = take(rest)?;
        let (meta, body) = take(rest)?;
        Ok(Self { title: title.to_vec(), meta: meta.to_vec(), body: body.to_vec() })
    }
}

fn take(b: &[u8]) -> Result<(&[u8], &[u8]), PayloadError> {
    if b.len() < 4 {
        return Err(PayloadError::Malformed);
    }
    let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let rest = &b[4..];
    if rest.len() < n {
        return Err(PayloadError::Malformed);
    }
    Ok(rest.split_at(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(t in proptest::collection::vec(any::<u8>(), 0..300),
                       m in proptest::collection::vec(any::<u8>(), 0..300),
                       b in proptest::collection::vec(any::<u8>(), 0..3000)) {
            let s = Sealed { title: t, meta: m, body: b };
            prop_assert_eq!(Sealed::decode(&s.encode()), Ok(s));
        }

        #[test]
        fn never_panics_on_garbage(g in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Sealed::decode(&g);
        }
    }

    #[test]
    fn rejects_truncation() {
        let s = Sealed { title: vec![1; 10], meta: vec![2; 10], body: vec![3; 10] }.encode();
        assert_eq!(Sealed::decode(&s[..12]), Err(PayloadError::Malformed));
        assert_eq!(Sealed::decode(&[]), Err(PayloadError::Malformed));
        assert_eq!(Sealed::decode(&[9, 0, 0, 0, 0]), Err(PayloadError::UnknownVersion(9)));
    }
}
