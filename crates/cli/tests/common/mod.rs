//! Shared helpers for the CLI tests: run the real `outpost` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const PASS: &str = "correct horse battery staple";

pub fn outpost(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_outpost"));
    c.arg("--data-dir").arg(dir).env("OUTPOST_PASSPHRASE", PASS).env_remove("OUTPOST_DATA_DIR");
    c
}

pub fn run_ok(dir: &Path, args: &[&str]) -> String {
    let out = outpost(dir).args(args).output().expect("run outpost");
    assert!(out.status.success(), "outpost {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

pub fn run(dir: &Path, args: &[&str]) -> Output {
    outpost(dir).args(args).output().expect("run outpost")
}

pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().to_path_buf(), std::fs::read(e.path()).expect("read")))
        .collect();
    v.sort();
    v
}
