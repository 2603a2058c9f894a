//! The log-in second factor: TOTP (RFC 6238) with the parameters every
//! authenticator app takes by default (SHA-1, 6 digits, 30 s steps). The
//! HMAC and truncation are `totp-rs`'s; this module picks the parameters,
//! makes secrets and decides which time step a code belongs to, so the
//! caller can refuse a step already used.

use outpost_protocol::v1::{TOTP_DIGITS, TOTP_STEP_SECS};
use totp_rs::{Algorithm, TOTP};

/// Bytes of a new secret: 160 bits, RFC 4226's recommendation.
pub const SECRET_BYTES: usize = 20;
/// The issuer authenticator apps show next to the code.
pub const ISSUER: &str = "Outpost";

/// A fresh random secret from the operating system's generator.
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
    secret
}

fn totp(secret: &[u8], username: &str) -> TOTP {
    // Skew 0: `accept` tries the neighbouring steps itself, one at a time,
    // to learn which one matched. The secret is always ours (20 bytes) and
    // the digits 6, so the checked constructor's checks cannot fail; the
    // account name may hold `:`, which `get_url` percent-encodes.
    TOTP::new_unchecked(
        Algorithm::SHA1,
        TOTP_DIGITS,
        0,
        TOTP_STEP_SECS,
        secret.to_vec(),
        Some(ISSUER.to_owned()),
        username.to_owned(),
    )
}

/// The secret in base32 (no padding) and as an `otpauth://` URI.
pub fn describe(secret: &[u8], username: &str) -> (String, String) {
    let t = totp(secret, username);
    (t.get_secret_base32(), t.get_url())
}

/// The time step of `unix_secs`.
pub fn step_of(unix_secs: u64) -> i64 {
    i64::try_from(unix_secs / TOTP_STEP_SECS).unwrap_or(i64::MAX)
}

/// The time step `code` was made for, if it is the code of the current
/// step or of one step either side (clock drift, a code typed just as it
/// changed) and later than `used_up_to` (the last step accepted). Spaces
/// in the code are ignored ("123 456", as apps show it).
pub fn accept(secret: &[u8], code: &str, unix_secs: u64, used_up_to: Option<i64>) -> Option<i64> {
    let code: String = code.chars().filter(|c| *c != ' ').collect();
    if code.len() != TOTP_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret, "");
    let now = step_of(unix_secs);
    // Earliest first: of two matching steps (a one-in-a-million chance),
    // the earlier one is used up, leaving the next code usable.
    (now.saturating_sub(1)..=now.saturating_add(1)).find(|&step| {
        let Ok(at) = u64::try_from(step) else { return false };
        used_up_to.is_none_or(|used| step > used) && t.check(&code, at.saturating_mul(TOTP_STEP_SECS))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 secret and its 8-digit codes, whose
    /// last 6 digits are the 6-digit codes.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_match_rfc_6238_test_vectors() {
        for (time, code8) in [(59u64, "94287082"), (1_111_111_109, "07081804"), (2_000_000_000, "69279037")] {
            let code = &code8[2..];
            assert_eq!(accept(RFC_SECRET, code, time, None), Some(step_of(time)), "at {time}");
        }
    }

    #[test]
    fn one_step_either_side_and_no_further() {
        let secret = [7u8; SECRET_BYTES];
        let t = totp(&secret, "");
        let now = 1_700_000_000u64;
        let at = |offset: i64| now.checked_add_signed(offset).expect("in range");
        for (offset, ok) in [(-60, false), (-30, true), (0, true), (30, true), (60, false)] {
            let code = t.generate(at(offset));
            assert_eq!(accept(&secret, &code, now, None).is_some(), ok, "offset {offset}");
        }
    }

    #[test]
    fn a_used_step_and_earlier_ones_are_refused() {
        let secret = [9u8; SECRET_BYTES];
        let now = 1_700_000_000u64;
        let code = totp(&secret, "").generate(now);
        let step = accept(&secret, &code, now, None).expect("current code");
        assert_eq!(accept(&secret, &code, now, Some(step)), None);
        assert_eq!(accept(&secret, &code, now, Some(step + 1)), None);
        assert_eq!(accept(&secret, &code, now, Some(step - 1)), Some(step));
    }

    #[test]
    fn malformed_codes_are_refused() {
        let secret = [1u8; SECRET_BYTES];
        let now = 1_700_000_000u64;
        let code = totp(&secret, "").generate(now);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(accept(&secret, &spaced, now, None).is_some());
        for bad in ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦"] {
            assert_eq!(accept(&secret, bad, now, None), None, "{bad:?}");
        }
    }

    #[test]
    fn the_uri_names_issuer_account_and_secret() {
        let (b32, uri) = describe(&[0u8; SECRET_BYTES], "ali ce:x");
        assert_eq!(b32, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(uri, format!("otpauth://totp/Outpost:ali%20ce%3Ax?secret={b32}&issuer=Outpost"));
    }
}
