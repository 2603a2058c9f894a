//! `crypto::seal` and `crypto::open` of a ~2 KB Markdown body and of a
//! 60-byte title: zstd (bodies only) plus AES-256-GCM. Reported per call,
//! as the median over 30 batches of 1,000 calls.
//!
//! `cargo bench -p outpost-core --bench crypto`

mod common;

use std::time::{Duration, Instant};

use common::*;
use outpost_core::crypto::{self, Binding, DataKey, Field};
use outpost_protocol::Hlc;
use uuid::Uuid;

const BATCHES: usize = 30;
const PER_BATCH: u32 = 1_000;

/// Per-call time of `f`, one sample per batch.
fn per_call(mut f: impl FnMut()) -> Stats {
    for _ in 0..PER_BATCH {
        f();
    }
    let samples: Vec<Duration> = (0..BATCHES)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..PER_BATCH {
                f();
            }
            t.elapsed() / PER_BATCH
        })
        .collect();
    Stats::of(&samples)
}

fn main() {
    print_context();
    let key = DataKey::generate();
    let id = Uuid::now_v7();
    let hlc = Hlc::new(1_700_000_000_000, 0, 42);
    let body = bodies(1, 2048, 5).remove(0);
    let title = "Weekly review of the garden project and budget".as_bytes();
    let b_body = Binding { note_id: &id, field: Field::Body, hlc: &hlc };
    let b_title = Binding { note_id: &id, field: Field::Title, hlc: &hlc };
    let sealed_body = crypto::seal(&key, &b_body, body.as_bytes()).expect("seal");
    let sealed_title = crypto::seal(&key, &b_title, title).expect("seal");

    let rows = [
        (
            format!("seal body, {} B -> {} B", body.len(), sealed_body.len()),
            per_call(|| {
                std::hint::black_box(crypto::seal(&key, &b_body, std::hint::black_box(body.as_bytes())).expect("seal"));
            }),
        ),
        (
            format!("open body, {} B", sealed_body.len()),
            per_call(|| {
                std::hint::black_box(crypto::open(&key, &b_body, std::hint::black_box(&sealed_body)).expect("open"));
            }),
        ),
        (
            format!("seal title, {} B", title.len()),
            per_call(|| {
                std::hint::black_box(crypto::seal(&key, &b_title, std::hint::black_box(title)).expect("seal"));
            }),
        ),
        (
            format!("open title, {} B", sealed_title.len()),
            per_call(|| {
                std::hint::black_box(crypto::open(&key, &b_title, std::hint::black_box(&sealed_title)).expect("open"));
            }),
        ),
    ];
    // Where a body seal goes: compression with a fresh zstd context per
    // call (what `crypto::seal` does), with one reused context, and the
    // AES-256-GCM part alone (cipher set up per call, as in `seal`).
    let compressed = zstd::bulk::compress(body.as_bytes(), 3).expect("compress");
    let mut reused = zstd::bulk::Compressor::new(3).expect("zstd context");
    let nonce = [7u8; 12];
    let profile = [
        (
            "profile: zstd compress, new context per call".to_owned(),
            per_call(|| {
                std::hint::black_box(zstd::bulk::compress(std::hint::black_box(body.as_bytes()), 3).expect("compress"));
            }),
        ),
        (
            "profile: zstd compress, reused context".to_owned(),
            per_call(|| {
                std::hint::black_box(reused.compress(std::hint::black_box(body.as_bytes())).expect("compress"));
            }),
        ),
        (
            format!("profile: AES-256-GCM encrypt {} B, new cipher", compressed.len()),
            per_call(|| {
                use aes_gcm::aead::{Aead, KeyInit};
                let cipher = aes_gcm::Aes256Gcm::new(&[9u8; 32].into());
                std::hint::black_box(
                    cipher
                        .encrypt(aes_gcm::Nonce::from_slice(&nonce), std::hint::black_box(&compressed[..]))
                        .expect("encrypt"),
                );
            }),
        ),
    ];
    header_us(&format!("Sealing, per call ({BATCHES} batches of {PER_BATCH})"));
    for (case, s) in rows.iter().chain(&profile) {
        row_us(case, s);
    }
}
