//! Dates as exports write them, to milliseconds since the Unix epoch:
//! RFC 3339 (`2021-05-26T14:47:44.120Z`, `+02:00`), with a space for the
//! `T` and without seconds (Joplin: `2021-05-26 14:47Z`), a date alone
//! (`2021-05-26`, midnight), Evernote's compact `20210526T144744Z`. A time
//! without a zone is taken as UTC.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// `text` as milliseconds since the Unix epoch, or `None` if it is not a
/// date in one of the forms above.
pub fn parse_date(text: &str) -> Option<i64> {
    let s = normalise(text.trim().trim_matches(|c| c == '"' || c == '\''))?;
    let t = OffsetDateTime::parse(&s, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// The forms above rewritten as strict RFC 3339.
fn normalise(s: &str) -> Option<String> {
    if !s.is_ascii() || s.len() < 8 {
        return None;
    }
    let b = s.as_bytes();
    // Evernote: 20210526T144744Z
    if b.len() >= 15 && b[8] == b'T' && b[..8].iter().all(u8::is_ascii_digit) && b[9..15].iter().all(u8::is_ascii_digit)
    {
        let zone = if s.len() == 15 { "Z" } else { &s[15..] };
        return Some(format!(
            "{}-{}-{}T{}:{}:{}{zone}",
            &s[..4],
            &s[4..6],
            &s[6..8],
            &s[9..11],
            &s[11..13],
            &s[13..15]
        ));
    }
    if s.len() == 10 {
        return Some(format!("{s}T00:00:00Z"));
    }
    if s.len() < 16 || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (date, rest) = (&s[..10], &s[11..]);
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(zone_at);
    let zone = if zone.is_empty() { "Z" } else { zone };
    let clock = if clock.len() == 5 { format!("{clock}:00") } else { clock.to_owned() };
    Some(format!("{date}T{clock}{zone}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_exports_use() {
        let t = 1_622_040_464_000; // 2021-05-26T14:47:44Z
        assert_eq!(parse_date("2021-05-26T14:47:44Z"), Some(t));
        assert_eq!(parse_date("2021-05-26 14:47:44Z"), Some(t));
        assert_eq!(parse_date("2021-05-26T16:47:44+02:00"), Some(t));
        assert_eq!(parse_date("2021-05-26T14:47:44.250Z"), Some(t + 250));
        assert_eq!(parse_date("\"2021-05-26 14:47:44\""), Some(t));
        assert_eq!(parse_date("20210526T144744Z"), Some(t));
        assert_eq!(parse_date("2021-05-26 14:47Z"), Some(t - 44_000));
        assert_eq!(parse_date("2021-05-26"), Some(t - (14 * 3600 + 47 * 60 + 44) * 1000));
        assert_eq!(parse_date("1970-01-01 00:00Z"), Some(0));
        for bad in ["", "yesterday", "2021-13-01", "2021-05-26X14:47", "2021-05-26T25:00:00Z", "2021-05-26T14:47:44Z+"]
        {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }
}
