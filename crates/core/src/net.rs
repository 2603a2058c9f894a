//! The testers' network control: online, offline, or a simulated bad
//! network (a drop rate and added latency).
//!
//! # Layout
//! - [`NetMode`]: the three modes, and the JSON form kept in
//!   [`CONTROL_FILE`] in the data directory (`{"mode":"offline"}`,
//!   `{"mode":"flaky","drop":0.3,"latency_ms":200}`).
//! - [`read_control`] / [`write_control`]: the file, checked on the way in
//!   and out, replaced atomically so a reader never sees half of it.
//! - [`NetControl`]: the live mode, shared by the [`Remote`] that enforces
//!   it (see `Remote::with_net`) and whoever sets it (the app, a test, the
//!   watcher below).
//! - [`ControlWatcher`]: applies the file to a [`NetControl`] when
//!   `outpost net` (another process) or a hand edit changes it.
//!
//! The fault layer itself lives in the transport (`Remote::send`), so the
//! app, the CLI and the tests all go through the same simulated network.
//!
//! [`Remote`]: crate::remote::Remote

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

mod watcher;
pub use watcher::ControlWatcher;

/// The control file's name inside the data directory.
pub const CONTROL_FILE: &str = "network.json";

/// The longest latency a tester can add: a minute, well past any timeout
/// worth testing, short enough that a typo does not hang the app for hours.
pub const MAX_LATENCY_MS: u64 = 60_000;

/// Bursts of file events closer together than this are read once.
pub(crate) const COALESCE: Duration = Duration::from_millis(100);

/// How the network behaves for a [`crate::remote::Remote`] that has a
/// [`NetControl`] attached.
///
/// The one definition of the mode's shape: the control file, the app's
/// network switch (IPC) and the status all use this serde form
/// (`{"mode":"flaky","drop":0.25,"latency_ms":200}`), and every way in
/// goes through the same checks (`RawMode`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "mode", rename_all = "snake_case", try_from = "RawMode")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum NetMode {
    /// The real network, untouched.
    #[default]
    Online,
    /// Nothing leaves the device: every request fails at once with
    /// `RemoteError::Offline`.
    Offline,
    /// Every request waits `latency_ms` first, and fails with probability
    /// `drop` (0 to 1): either before it is sent, or after the server
    /// answered, with the answer lost.
    Flaky { drop: f64, latency_ms: u64 },
}

/// The file as written, flat, so serde reports every mistake with its
/// line and column (an internally tagged enum buffers the object first and
/// loses them) and refuses fields that do not belong.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
struct RawMode {
    mode: ModeName,
    drop: Option<f64>,
    latency_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
enum ModeName {
    Online,
    Offline,
    Flaky,
}

impl TryFrom<RawMode> for NetMode {
    type Error = &'static str;

    fn try_from(raw: RawMode) -> Result<Self, Self::Error> {
        match (raw.mode, raw.drop, raw.latency_ms) {
            (ModeName::Online, None, None) => Ok(NetMode::Online),
            (ModeName::Offline, None, None) => Ok(NetMode::Offline),
            (ModeName::Online | ModeName::Offline, _, _) => Err("drop and latency_ms belong to mode \"flaky\" only"),
            (ModeName::Flaky, drop, latency_ms) => {
                Ok(NetMode::Flaky { drop: drop.unwrap_or(0.0), latency_ms: latency_ms.unwrap_or(0) })
            }
        }
    }
}

impl NetMode {
    /// Checks the limits: `drop` within 0..=1, `latency_ms` at most
    /// [`MAX_LATENCY_MS`].
    pub fn validate(&self) -> Result<(), ControlError> {
        if let NetMode::Flaky { drop, latency_ms } = *self {
            if !(0.0..=1.0).contains(&drop) {
                return Err(ControlError::OutOfRange {
                    field: "drop",
                    value: drop.to_string(),
                    allowed: "a probability from 0 to 1 (0.25 drops one request in four)",
                });
            }
            if latency_ms > MAX_LATENCY_MS {
                return Err(ControlError::OutOfRange {
                    field: "latency_ms",
                    value: latency_ms.to_string(),
                    allowed: "0 to 60000 milliseconds",
                });
            }
        }
        Ok(())
    }

    /// In plain words, for the CLI and the status bar.
    pub fn describe(&self) -> String {
        match *self {
            NetMode::Online => "online: the real network, no simulated faults".to_owned(),
            NetMode::Offline => "offline: nothing is sent until the network is switched back online".to_owned(),
            NetMode::Flaky { drop, latency_ms } => format!(
                "flaky: {}% of requests dropped, {latency_ms} ms added to each",
                // Shown as a percentage; two decimals are plenty for a tester.
                (drop * 10_000.0).round() / 100.0
            ),
        }
    }
}

/// Why the control file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot read the network control file {}: {source}", path.display())]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error(
        "the network control file {} is not valid (line {line}, column {column}: {message}); \
         run `outpost net online|offline|flaky` to rewrite it",
        path.display()
    )]
    Malformed { path: PathBuf, line: usize, column: usize, message: String },
    #[error("network setting {field} = {value} is out of range: expected {allowed}")]
    OutOfRange { field: &'static str, value: String, allowed: &'static str },
    #[error("cannot write the network control file {}: {source}", path.display())]
    Unwritable { path: PathBuf, source: std::io::Error },
    #[error("cannot watch {} for network control changes: {message}", path.display())]
    Watch { path: PathBuf, message: String },
}

/// The mode set in `dir`'s control file; no file means [`NetMode::Online`].
pub fn read_control(dir: &Path) -> Result<NetMode, ControlError> {
    let path = dir.join(CONTROL_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(NetMode::Online),
        Err(source) => return Err(ControlError::Unreadable { path, source }),
    };
    parse_control(&path, &bytes)
}

/// Parses and checks the file's bytes (`path` only names it in errors).
/// A UTF-8 byte order mark and surrounding whitespace, which editors add,
/// are accepted; anything else that is not one mode object is refused.
pub fn parse_control(path: &Path, bytes: &[u8]) -> Result<NetMode, ControlError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // serde would also take a struct as an array (`["offline"]`): only an
    // object is a control file.
    if let Some(at) = bytes.iter().position(|b| !b.is_ascii_whitespace()) {
        if bytes[at] != b'{' {
            let (line, column) = position(bytes, at);
            return Err(ControlError::Malformed {
                path: path.to_owned(),
                line,
                column,
                message: r#"expected one JSON object such as {"mode":"offline"}"#.to_owned(),
            });
        }
    }
    let mode: NetMode = serde_json::from_slice(bytes).map_err(|e| {
        // Only the mode/field check runs after parsing, without a position:
        // it concerns the whole object, so point at its closing brace.
        let (line, column) = match (e.line(), bytes.iter().rposition(|b| !b.is_ascii_whitespace())) {
            (0, Some(last)) => position(bytes, last),
            _ => (e.line(), e.column()),
        };
        let message = if bytes.iter().all(u8::is_ascii_whitespace) {
            "the file is empty".to_owned()
        } else {
            strip_position(&e.to_string())
        };
        ControlError::Malformed { path: path.to_owned(), line, column, message }
    })?;
    mode.validate()?;
    Ok(mode)
}

/// 1-based line and column of byte `at`, as serde_json counts them.
fn position(bytes: &[u8], at: usize) -> (usize, usize) {
    let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
    let column = 1 + at - bytes[..at].iter().rposition(|&b| b == b'\n').map_or(0, |nl| nl + 1);
    (line, column)
}

/// serde_json appends " at line L column C"; the error shows those itself.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// Writes `mode` to `dir`'s control file: checked first, then a temporary
/// file in the same directory, flushed to disk and renamed over the old
/// one, so a watcher or another process reads the old mode or the new one,
/// never a torn file. `dir` must exist.
pub fn write_control(dir: &Path, mode: &NetMode) -> Result<(), ControlError> {
    mode.validate()?;
    write_atomically(dir, CONTROL_FILE, mode)
}

/// `value` as pretty JSON in `dir/name`: a temporary file in the same
/// directory, flushed to disk and renamed over the old one, so a watcher or
/// another process reads the old content or the new, never a torn file.
pub(crate) fn write_atomically(dir: &Path, name: &str, value: &impl Serialize) -> Result<(), ControlError> {
    let path = dir.join(name);
    let unwritable = |source: std::io::Error| ControlError::Unwritable { path: path.clone(), source };
    let mut json = serde_json::to_vec_pretty(value).map_err(|e| unwritable(std::io::Error::other(e)))?;
    json.push(b'\n');
    let mut tmp =
        tempfile::Builder::new().prefix(&format!(".{name}.")).suffix(".tmp").tempfile_in(dir).map_err(unwritable)?;
    tmp.write_all(&json).map_err(unwritable)?;
    tmp.as_file().sync_all().map_err(unwritable)?;
    tmp.persist(&path).map_err(|e| unwritable(e.error))?;
    // The rename itself is durable once the directory is flushed. Not every
    // platform can open a directory for that (Windows); the file is already
    // complete either way, so a failure here loses at most the new content
    // on power loss.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The live network mode, shared by the `Remote` (which enforces it, read
/// afresh for every request) and whoever sets it. Cheap to clone; clones
/// share the mode.
#[derive(Clone, Debug)]
pub struct NetControl {
    /// The mode, and change notifications for the engine and the UI.
    tx: Arc<watch::Sender<NetMode>>,
    /// Decides which requests a flaky network drops. Seedable, so a test
    /// can replay the same sequence of drops.
    rng: Arc<Mutex<StdRng>>,
}

impl NetControl {
    pub fn new(mode: NetMode) -> Self {
        Self::with_rng(mode, StdRng::from_entropy())
    }

    /// Like [`NetControl::new`], with drops decided by a seeded generator.
    pub fn seeded(mode: NetMode, seed: u64) -> Self {
        Self::with_rng(mode, StdRng::seed_from_u64(seed))
    }

    fn with_rng(mode: NetMode, rng: StdRng) -> Self {
        Self { tx: Arc::new(watch::Sender::new(mode)), rng: Arc::new(Mutex::new(rng)) }
    }

    pub fn mode(&self) -> NetMode {
        self.tx.borrow().clone()
    }

    /// Takes effect on the next request. Subscribers hear of it only if the
    /// mode changed.
    pub fn set(&self, mode: NetMode) {
        self.tx.send_if_modified(|current| {
            if *current == mode {
                return false;
            }
            *current = mode;
            true
        });
    }

    pub fn subscribe(&self) -> watch::Receiver<NetMode> {
        self.tx.subscribe()
    }

    /// A uniform draw from 0 (inclusive) to 1 (exclusive). A poisoned lock
    /// holds a generator that is still fine to draw from.
    pub(crate) fn draw(&self) -> f64 {
        self.rng.lock().unwrap_or_else(PoisonError::into_inner).gen::<f64>()
    }
}

impl Default for NetControl {
    fn default() -> Self {
        Self::new(NetMode::Online)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn parse(s: &str) -> Result<NetMode, ControlError> {
        parse_control(Path::new(CONTROL_FILE), s.as_bytes())
    }

    #[rstest]
    #[case::online(r#"{"mode":"online"}"#, NetMode::Online)]
    #[case::offline(r#"{"mode":"offline"}"#, NetMode::Offline)]
    #[case::flaky(r#"{"mode":"flaky","drop":0.25,"latency_ms":300}"#, NetMode::Flaky { drop: 0.25, latency_ms: 300 })]
    #[case::flaky_defaults(r#"{"mode":"flaky"}"#, NetMode::Flaky { drop: 0.0, latency_ms: 0 })]
    #[case::flaky_integer_drop(r#"{"mode":"flaky","drop":1}"#, NetMode::Flaky { drop: 1.0, latency_ms: 0 })]
    #[case::limits(r#"{"latency_ms":60000,"drop":0,"mode":"flaky"}"#, NetMode::Flaky { drop: 0.0, latency_ms: 60_000 })]
    #[case::whitespace(" \r\n\t{ \"mode\" : \"offline\" }\n\n", NetMode::Offline)]
    #[case::bom("\u{FEFF}{\"mode\":\"offline\"}\n", NetMode::Offline)]
    #[case::bom_and_whitespace("\u{FEFF}\n  {\"mode\":\"online\"}  ", NetMode::Online)]
    fn good_files(#[case] text: &str, #[case] want: NetMode) {
        assert_eq!(parse(text).expect("parses"), want);
    }

    #[rstest]
    #[case::empty("", 1, "empty")]
    #[case::only_whitespace("  \n ", 2, "empty")]
    #[case::only_bom("\u{FEFF}", 1, "empty")]
    #[case::truncated("{\"mode\":\"off", 1, "EOF")]
    #[case::not_json("offline", 1, "expected")]
    #[case::unknown_mode("{\"mode\":\"sleepy\"}", 1, "unknown variant `sleepy`")]
    #[case::missing_mode("{\"drop\":0.5}", 1, "missing field `mode`")]
    #[case::mode_not_string("{\"mode\":1}", 1, "")]
    #[case::duplicate_field("{\"mode\":\"flaky\",\"mode\":\"online\"}", 1, "duplicate field `mode`")]
    #[case::latency_on_online("{\"mode\":\"online\",\"latency_ms\":5}", 1, "flaky\" only")]
    #[case::unknown_field("{\"mode\":\"flaky\",\"dorp\":0.5}", 1, "unknown field `dorp`")]
    #[case::field_on_offline("{\n\"mode\":\"offline\",\n\"drop\":0.5}", 3, "flaky\" only")]
    #[case::drop_as_string("{\"mode\":\"flaky\",\"drop\":\"0.5\"}", 1, "invalid type")]
    #[case::negative_latency("{\"mode\":\"flaky\",\"latency_ms\":-5}", 1, "invalid value")]
    #[case::fractional_latency("{\"mode\":\"flaky\",\"latency_ms\":1.5}", 1, "invalid type")]
    #[case::trailing_garbage("{\"mode\":\"online\"} x", 1, "trailing characters")]
    #[case::two_objects("{\"mode\":\"online\"}\n{\"mode\":\"offline\"}", 2, "trailing characters")]
    #[case::array("[\"offline\"]", 1, "JSON object")]
    #[case::array_on_line_two("\n  [\"offline\"]", 2, "JSON object")]
    #[case::null("null", 1, "JSON object")]
    #[case::bare_string("\"offline\"", 1, "JSON object")]
    fn malformed_files(#[case] text: &str, #[case] line: usize, #[case] needle: &str) {
        match parse(text) {
            Err(ControlError::Malformed { line: l, message, .. }) => {
                assert_eq!(l, line, "line of {text:?}: {message}");
                assert!(message.contains(needle), "{text:?} gave {message:?}, wanted {needle:?}");
                assert!(!message.contains(" at line "), "position shown once: {message}");
            }
            other => panic!("{text:?} should be malformed, got {other:?}"),
        }
    }

    #[test]
    fn malformed_reports_line_and_column() {
        let e = parse("{\n  \"mode\": \"flaky\",\n  \"drop\": oops\n}").expect_err("bad");
        let ControlError::Malformed { line, column, .. } = &e else { panic!("{e:?}") };
        assert_eq!((*line, *column), (3, 11));
        assert!(e.to_string().contains("line 3, column 11"), "{e}");
        let e = parse("\n\n   [1]").expect_err("bad");
        assert!(matches!(e, ControlError::Malformed { line: 3, column: 4, .. }), "{e:?}");
        assert!(e.to_string().contains("outpost net"), "says how to fix it: {e}");
    }

    #[test]
    fn invalid_utf8_is_malformed_not_a_panic() {
        let e = parse_control(Path::new(CONTROL_FILE), b"{\"mode\":\"\xff\xfe\"}").expect_err("bad");
        assert!(matches!(e, ControlError::Malformed { .. }), "{e:?}");
    }

    #[rstest]
    #[case::drop_above_one(r#"{"mode":"flaky","drop":1.5}"#, "drop")]
    #[case::drop_negative(r#"{"mode":"flaky","drop":-0.1}"#, "drop")]
    #[case::latency_too_long(r#"{"mode":"flaky","latency_ms":60001}"#, "latency_ms")]
    #[case::latency_huge(r#"{"mode":"flaky","latency_ms":18446744073709551615}"#, "latency_ms")]
    fn out_of_range(#[case] text: &str, #[case] field: &str) {
        match parse(text) {
            Err(ControlError::OutOfRange { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{text:?} should be out of range, got {other:?}"),
        }
    }

    #[test]
    fn write_refuses_out_of_range_and_leaves_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_control(dir.path(), &NetMode::Offline).expect("write");
        for bad in [
            NetMode::Flaky { drop: 2.0, latency_ms: 0 },
            NetMode::Flaky { drop: f64::NAN, latency_ms: 0 },
            NetMode::Flaky { drop: 0.5, latency_ms: MAX_LATENCY_MS + 1 },
        ] {
            let e = write_control(dir.path(), &bad).expect_err("refused");
            assert!(matches!(e, ControlError::OutOfRange { .. }), "{e:?}");
        }
        assert_eq!(read_control(dir.path()).expect("read"), NetMode::Offline);
        let names: Vec<_> = std::fs::read_dir(dir.path()).expect("ls").map(|e| e.expect("entry").file_name()).collect();
        assert_eq!(names, [CONTROL_FILE], "no temporary files left behind");
    }

    #[rstest]
    #[case(NetMode::Online)]
    #[case(NetMode::Offline)]
    #[case(NetMode::Flaky { drop: 0.0, latency_ms: 0 })]
    #[case(NetMode::Flaky { drop: 0.333, latency_ms: 1234 })]
    #[case(NetMode::Flaky { drop: 1.0, latency_ms: MAX_LATENCY_MS })]
    fn write_then_read(#[case] mode: NetMode) {
        let dir = tempfile::tempdir().expect("tempdir");
        write_control(dir.path(), &NetMode::Offline).expect("first write");
        write_control(dir.path(), &mode).expect("write");
        assert_eq!(read_control(dir.path()).expect("read"), mode);
        let text = std::fs::read_to_string(dir.path().join(CONTROL_FILE)).expect("read text");
        assert!(text.ends_with('\n') && text.contains("\"mode\""), "{text}");
    }

    #[test]
    fn missing_file_is_online_and_missing_dir_cannot_be_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(read_control(dir.path()).expect("read"), NetMode::Online);
        let gone = dir.path().join("nope");
        assert!(matches!(write_control(&gone, &NetMode::Offline), Err(ControlError::Unwritable { .. })));
    }

    #[test]
    fn unreadable_is_reported() {
        // A directory where the file should be cannot be read as a file.
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join(CONTROL_FILE)).expect("mkdir");
        assert!(matches!(read_control(dir.path()), Err(ControlError::Unreadable { .. })));
    }

    #[test]
    fn set_notifies_only_on_change() {
        let c = NetControl::new(NetMode::Online);
        let mut rx = c.subscribe();
        c.set(NetMode::Online);
        assert!(!rx.has_changed().expect("open"), "same mode: no notification");
        c.clone().set(NetMode::Offline);
        assert!(rx.has_changed().expect("open"));
        assert_eq!(*rx.borrow_and_update(), NetMode::Offline);
        assert_eq!(c.mode(), NetMode::Offline, "clones share the mode");
    }

    #[test]
    fn seeded_draws_replay() {
        let a = NetControl::seeded(NetMode::Online, 7);
        let b = NetControl::seeded(NetMode::Online, 7);
        let xs: Vec<f64> = (0..5).map(|_| a.draw()).collect();
        let ys: Vec<f64> = (0..5).map(|_| b.draw()).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
    }

    #[test]
    fn describes_modes_in_plain_words() {
        assert!(NetMode::Offline.describe().starts_with("offline"));
        assert_eq!(
            NetMode::Flaky { drop: 0.25, latency_ms: 200 }.describe(),
            "flaky: 25% of requests dropped, 200 ms added to each"
        );
    }
}
