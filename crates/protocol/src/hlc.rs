//! Hybrid logical clock stamps (Kulkarni et al., "Logical Physical Clocks").
//!
//! A stamp is `(wall_ms, counter, node)`. Stamps order first by wall time,
//! then by the logical counter, then by the node id, so two devices never
//! produce equal stamps and every device orders every pair the same way.
//! The clock that issues stamps lives in `outpost-core`; this is only the
//! value that travels.
//!
//! DO NOT change [`Hlc::to_bytes`] or the text form: both are bound into
//! stored ciphertext (AEAD associated data) and database ordering.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A hybrid logical clock stamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hlc {
    /// Physical part: milliseconds since the Unix epoch, as the issuing
    /// device believed it (never trusted alone: device clocks are wrong).
    pub wall_ms: u64,
    /// Logical part: breaks ties within one millisecond and carries
    /// causality when a device's wall clock lags a stamp it has seen.
    pub counter: u32,
    /// The issuing device, so stamps from two devices never compare equal.
    pub node: u64,
}

/// Length of the text form: 12 hex digits, `-`, 8, `-`, 16.
pub const HLC_TEXT_LEN: usize = 38;

impl Hlc {
    /// The smallest stamp; older than anything a clock issues.
    pub const ZERO: Hlc = Hlc { wall_ms: 0, counter: 0, node: 0 };

    /// The largest wall time representable in the text form (48 bits of
    /// milliseconds, about the year 10889).
    pub const MAX_WALL_MS: u64 = (1 << 48) - 1;

    pub const fn new(wall_ms: u64, counter: u32, node: u64) -> Self {
        Self { wall_ms, counter, node }
    }

    /// Fixed 20-byte big-endian form, used as associated data.
    pub fn to_bytes(&self) -> [u8; 20] {
        let mut out = [0u8; 20];
        out[..8].copy_from_slice(&self.wall_ms.to_be_bytes());
        out[8..12].copy_from_slice(&self.counter.to_be_bytes());
        out[12..].copy_from_slice(&self.node.to_be_bytes());
        out
    }

    pub fn from_bytes(b: &[u8; 20]) -> Self {
        let mut w = [0u8; 8];
        let mut c = [0u8; 4];
        let mut n = [0u8; 8];
        w.copy_from_slice(&b[..8]);
        c.copy_from_slice(&b[8..12]);
        n.copy_from_slice(&b[12..]);
        Self { wall_ms: u64::from_be_bytes(w), counter: u32::from_be_bytes(c), node: u64::from_be_bytes(n) }
    }
}

impl fmt::Display for Hlc {
    /// Fixed-width lowercase hex, so text order equals stamp order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:012x}-{:08x}-{:016x}", self.wall_ms, self.counter, self.node)
    }
}

/// A string that is not an HLC stamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a clock stamp: expected 12-8-16 hex digits like 0193f2a1b2c3-00000000-1a2b3c4d5e6f7081")]
pub struct HlcParseError;

impl FromStr for Hlc {
    type Err = HlcParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        if b.len() != HLC_TEXT_LEN || b[12] != b'-' || b[21] != b'-' {
            return Err(HlcParseError);
        }
        let hex = |part: &str| -> Result<u64, HlcParseError> {
            if part.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)) {
                u64::from_str_radix(part, 16).map_err(|_| HlcParseError)
            } else {
                Err(HlcParseError)
            }
        };
        let wall_ms = hex(&s[..12])?;
        let counter = u32::try_from(hex(&s[13..21])?).map_err(|_| HlcParseError)?;
        let node = hex(&s[22..])?;
        Ok(Self { wall_ms, counter, node })
    }
}

impl Serialize for Hlc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hlc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_hlc() -> impl Strategy<Value = Hlc> {
        (0..=Hlc::MAX_WALL_MS, any::<u32>(), any::<u64>()).prop_map(|(w, c, n)| Hlc::new(w, c, n))
    }

    proptest! {
        #[test]
        fn text_round_trips(h in arb_hlc()) {
            prop_assert_eq!(h.to_string().parse::<Hlc>(), Ok(h));
        }

        #[test]
        fn bytes_round_trip(h in arb_hlc()) {
            prop_assert_eq!(Hlc::from_bytes(&h.to_bytes()), h);
        }

        #[test]
        fn text_order_is_stamp_order(a in arb_hlc(), b in arb_hlc()) {
            prop_assert_eq!(a.cmp(&b), a.to_string().cmp(&b.to_string()));
        }
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "",
            "0193f2a1b2c3-00000000-1a2b3c4d5e6f708",
            "0193f2a1b2c3_00000000-1a2b3c4d5e6f7081",
            "0193F2A1B2C3-00000000-1a2b3c4d5e6f7081",
            "+193f2a1b2c3-00000000-1a2b3c4d5e6f7081",
        ] {
            assert_eq!(bad.parse::<Hlc>(), Err(HlcParseError), "{bad:?}");
        }
    }

    #[test]
    fn serde_uses_text_form() {
        let h = Hlc::new(1_700_000_000_000, 3, 42);
        let json = serde_json::to_string(&h).expect("serialise");
        assert_eq!(json, format!("\"{h}\""));
        assert_eq!(serde_json::from_str::<Hlc>(&json).expect("parse"), h);
    }
}
