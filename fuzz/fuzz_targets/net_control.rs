//! The testers' network control file (`network.json`, parsed by
//! `outpost_core::net::parse_control`) from arbitrary bytes.
//!
//! Checked:
//! - no panic;
//! - what it accepts is within the limits (`validate` passes), describes
//!   itself, and survives the trip `write_control` makes: the same JSON
//!   serialisation parsed again gives the same mode;
//! - what it refuses as malformed points at a line and column inside the
//!   file (the error message tells a tester where to look).

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use outpost_core::net::{parse_control, ControlError, NetMode};

fuzz_target!(|data: &[u8]| {
    let path = Path::new("network.json");
    match parse_control(path, data) {
        Ok(mode) => {
            mode.validate().expect("an accepted mode is within the limits");
            assert!(!mode.describe().is_empty());
            // What write_control writes (pretty JSON and a newline).
            let mut json = serde_json::to_vec_pretty(&mode).expect("a mode serialises");
            json.push(b'\n');
            let back = parse_control(path, &json).expect("a written mode reads back");
            match (&mode, &back) {
                (NetMode::Flaky { drop: a, latency_ms: la }, NetMode::Flaky { drop: b, latency_ms: lb }) => {
                    assert_eq!(la, lb);
                    // serde_json without its float_roundtrip feature may
                    // read a float back one unit in the last place off.
                    assert!((a - b).abs() <= f64::EPSILON, "drop {a} read back as {b}");
                }
                _ => assert_eq!(mode, back),
            }
        }
        Err(ControlError::Malformed { line, column, .. }) => {
            let text = String::from_utf8_lossy(data);
            let lines = 1 + data.iter().filter(|&&b| b == b'\n').count();
            assert!(line >= 1 && line <= lines, "line {line} of a {lines}-line file: {text:?}");
            assert!(column <= data.len() + 1, "column {column} of a {}-byte file: {text:?}", data.len());
        }
        Err(ControlError::OutOfRange { .. }) => {}
        Err(other) => panic!("parsing bytes gave an I/O error: {other}"),
    }
});
