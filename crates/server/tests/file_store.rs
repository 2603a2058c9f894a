//! Attached files on the server (`/v1/files`), the same story on SQLite
//! and on PostgreSQL (where two instances on one database serve each
//! other's uploads): declaring, chunks stored once and resent safely,
//! limits before any write, the quota, another account's id answered like
//! no id, and garbage collection (marked when no live note references a
//! file, kept through the grace period, unmarked when its note comes back,
//! deleted after it).

use outpost_protocol::v1::{
    AccountKeyResponse, Encoding, ErrorBody, FileDeclareRequest, FileListResponse, FileStatusResponse, Op, PushRequest,
    PushResponse, PushResult,
};
use outpost_protocol::Hlc;
use rand::RngCore as _;
use reqwest::{Method, StatusCode};
use uuid::Uuid;

mod common;
use common::devices::{answer, error, register, Device};
use common::{pg_url, start_on, start_with};

const MIB: u64 = 1024 * 1024;
const HOUR_MS: i64 = 3600 * 1000;

fn random(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rand::thread_rng().fill_bytes(&mut v);
    v
}

fn new_id() -> String {
    random(32).iter().map(|b| format!("{b:02x}")).collect()
}

async fn declare(
    d: &Device,
    id: &str,
    note_id: Uuid,
    chunk_count: u32,
    size: u64,
) -> Result<FileStatusResponse, (StatusCode, ErrorBody)> {
    let body = FileDeclareRequest { note_id, chunk_count, size, manifest: b"SEALED-MANIFEST".to_vec().into() };
    let resp = d
        .req(Method::PUT, &format!("/v1/files/{id}"))
        .header("content-type", d.enc.media_type())
        .body(d.enc.encode(&body).expect("encode"))
        .send()
        .await
        .expect("declare");
    answer(d.enc, resp).await
}

async fn status(d: &Device, id: &str) -> Result<FileStatusResponse, (StatusCode, ErrorBody)> {
    answer(d.enc, d.req(Method::GET, &format!("/v1/files/{id}")).send().await.expect("status")).await
}

async fn put_chunk(d: &Device, id: &str, idx: u32, data: &[u8]) -> Result<(), (StatusCode, ErrorBody)> {
    let resp = d
        .req(Method::PUT, &format!("/v1/files/{id}/chunks/{idx}"))
        .header("content-type", "application/octet-stream")
        .body(data.to_vec())
        .send()
        .await
        .expect("put chunk");
    if resp.status() == StatusCode::NO_CONTENT {
        return Ok(());
    }
    Err(error(resp).await)
}

async fn get_chunk(d: &Device, id: &str, idx: u32) -> Result<Vec<u8>, (StatusCode, ErrorBody)> {
    let resp = d.req(Method::GET, &format!("/v1/files/{id}/chunks/{idx}")).send().await.expect("get chunk");
    if resp.status() == StatusCode::OK {
        return Ok(resp.bytes().await.expect("body").to_vec());
    }
    Err(error(resp).await)
}

async fn drop_file(d: &Device, id: &str) -> StatusCode {
    d.req(Method::DELETE, &format!("/v1/files/{id}")).send().await.expect("drop").status()
}

/// Pushes a version of `note_id` (a tombstone if `deleted`) on `base_rev`.
async fn push_note(d: &Device, note_id: Uuid, base_rev: u64, deleted: bool) -> u64 {
    let op = Op {
        op_id: Uuid::now_v7(),
        note_id,
        base_rev,
        hlc: Hlc::new(1_730_000_000_000 + base_rev, 0, 7),
        deleted,
        payload: b"CIPHERTEXT".to_vec().into(),
    };
    let answer: PushResponse = d.post("/v1/push", &PushRequest { ops: vec![op] }).await.expect("pushed");
    match answer.results[0] {
        PushResult::Applied { rev, .. } => rev,
        ref other => panic!("push not applied: {other:?}"),
    }
}

fn refused<T: std::fmt::Debug>(r: Result<T, (StatusCode, ErrorBody)>, status: StatusCode, code: &str, what: &str) {
    match r {
        Err((s, body)) => assert_eq!((s, body.code.as_str()), (status, code), "{what}: {}", body.message),
        Ok(v) => panic!("{what}: expected {status} {code}, got {v:?}"),
    }
}

/// The story; `one` and `two` are the bases of two instances (the same one
/// on SQLite).
async fn story(url: &str, two_instances: bool) {
    let mut config = outpost_server::Config::new(url);
    config.file_quota_bytes = 3 * MIB;
    config.file_gc_interval = std::time::Duration::ZERO;
    // The backend beside the servers: on PostgreSQL an instance of its
    // own, like theirs; a SQLite file takes one open backend, so there the
    // server runs on it.
    let backend = outpost_server::backend::open(url).await.expect("the backend beside the servers");
    let one =
        if two_instances { start_with(config.clone()).await } else { start_on(config.clone(), backend.clone()).await };
    let two = if two_instances { Some(start_with(config).await) } else { None };
    let base_two = two.as_ref().map_or(one.base.clone(), |s| s.base.clone());
    let (_alice, mut laptop) = register(&one.base, Encoding::Postcard, "alice", "laptop").await;
    let phone = Device { base: base_two.clone(), ..laptop.clone() };
    laptop.enc = Encoding::Json;
    let (_bob, bob) = register(&base_two, Encoding::Json, "bob", "bob").await;
    let key: AccountKeyResponse =
        answer(laptop.enc, laptop.req(Method::GET, "/v1/account/key").send().await.expect("key")).await.expect("key");
    let alice_id = key.user_id;

    // Declared on one instance, uploaded there, served by the other.
    let photo = new_id();
    let (n1, n2) = (Uuid::now_v7(), Uuid::now_v7());
    let chunk0 = random(MIB as usize);
    let chunk1 = random(100);
    let size = chunk0.len() as u64 + chunk1.len() as u64;
    let s = declare(&laptop, &photo, n1, 2, size).await.expect("declared");
    assert_eq!((s.have.clone(), s.file.stored_chunks, s.file.notes.clone()), (vec![], 0, vec![n1]));
    put_chunk(&laptop, &photo, 0, &chunk0).await.expect("chunk 0");
    put_chunk(&laptop, &photo, 0, &chunk0).await.expect("chunk 0 again: a resend is fine");
    refused(put_chunk(&laptop, &photo, 2, b"x").await, StatusCode::BAD_REQUEST, "invalid_query", "index past count");
    refused(
        put_chunk(&laptop, &photo, 1, &random(200)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "limit_exceeded",
        "past the declared size",
    );
    put_chunk(&laptop, &photo, 1, &chunk1).await.expect("chunk 1");
    let s = status(&phone, &photo).await.expect("status on the other instance");
    assert_eq!((s.have, s.file.stored_chunks, s.file.size), (vec![0, 1], 2, size));
    assert_eq!(get_chunk(&phone, &photo, 0).await.expect("served"), chunk0);
    assert_eq!(get_chunk(&phone, &photo, 1).await.expect("served"), chunk1);
    // The same file for a second note: one copy, two references.
    let s = declare(&phone, &photo, n2, 2, size).await.expect("declared again");
    assert_eq!((s.file.notes.len(), s.have.len()), (2, 2));
    assert_eq!(backend.file_usage(alice_id).await.expect("usage"), size, "counted once");

    // Limits before any write.
    for (count, size, what) in [(0, 10, "no chunks"), (5000, 10, "too many chunks"), (1, 200 * MIB, "too large")] {
        refused(
            declare(&laptop, &new_id(), n1, count, size).await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "limit_exceeded",
            what,
        );
    }
    refused(status(&laptop, "not-an-id").await, StatusCode::NOT_FOUND, "file_not_found", "a bad id");

    // Another account: alice's id is like no id, and declaring it makes
    // bob a file of his own, never alice's bytes.
    refused(status(&bob, &photo).await, StatusCode::NOT_FOUND, "file_not_found", "bob's status");
    refused(get_chunk(&bob, &photo, 0).await, StatusCode::NOT_FOUND, "file_not_found", "bob's get");
    refused(put_chunk(&bob, &photo, 0, b"evil").await, StatusCode::NOT_FOUND, "file_not_found", "bob's put");
    assert_eq!(drop_file(&bob, &photo).await, StatusCode::NOT_FOUND);
    declare(&bob, &photo, Uuid::now_v7(), 2, size).await.expect("bob's own file");
    refused(get_chunk(&bob, &photo, 0).await, StatusCode::NOT_FOUND, "chunk_not_found", "bob's empty file");
    let listed: FileListResponse =
        answer(bob.enc, bob.req(Method::GET, "/v1/files").send().await.expect("list")).await.expect("list");
    assert_eq!(listed.files.len(), 1);
    assert_eq!(listed.files[0].stored_chunks, 0);

    // Quota: 3 MiB; alice holds 1 MiB + 100 bytes.
    let big = new_id();
    refused(
        declare(&laptop, &big, n1, 2, 2 * MIB).await,
        StatusCode::INSUFFICIENT_STORAGE,
        "quota_exceeded",
        "past the quota",
    );
    refused(status(&laptop, &big).await, StatusCode::NOT_FOUND, "file_not_found", "nothing of it stored");
    let small = new_id();
    declare(&laptop, &small, n1, 1, MIB).await.expect("within the quota");
    assert_eq!(backend.file_usage(alice_id).await.expect("usage"), size + MIB);

    // Garbage collection. Both notes of the photo deleted on the server:
    // marked, kept through the grace period, then deleted with its chunks.
    let now = outpost_server_now();
    let r1 = push_note(&laptop, n1, 0, false).await;
    let r2 = push_note(&laptop, n2, 0, false).await;
    let gc = backend.collect_files(now, HOUR_MS).await.expect("gc");
    assert_eq!((gc.marked, gc.deleted), (0, 0), "live notes keep their files");
    push_note(&laptop, n2, r2, true).await;
    let gc = backend.collect_files(now, HOUR_MS).await.expect("gc");
    assert_eq!((gc.marked, gc.deleted), (0, 0), "one live note is enough");
    let r1 = push_note(&laptop, n1, r1, true).await;
    let gc = backend.collect_files(now, HOUR_MS).await.expect("gc");
    assert_eq!((gc.marked, gc.deleted), (2, 0), "the photo and the small file: no live note");
    // n1 comes back (restored): its files count again.
    push_note(&laptop, n1, r1, false).await;
    let gc = backend.collect_files(now + 2 * HOUR_MS, HOUR_MS).await.expect("gc");
    assert_eq!((gc.unmarked, gc.deleted), (2, 0), "a restored note keeps its files");
    // Dropped explicitly (`files rm`): gone after the grace period only.
    assert_eq!(drop_file(&laptop, &photo).await, StatusCode::NO_CONTENT);
    let gc = backend.collect_files(outpost_server_now(), HOUR_MS).await.expect("gc");
    assert_eq!(gc.deleted, 0, "within the grace period");
    assert_eq!(get_chunk(&phone, &photo, 0).await.expect("still there"), chunk0);
    let gc = backend.collect_files(outpost_server_now() + 2 * HOUR_MS, HOUR_MS).await.expect("gc");
    assert_eq!((gc.deleted, gc.bytes), (1, size));
    refused(get_chunk(&phone, &photo, 0).await, StatusCode::NOT_FOUND, "file_not_found", "collected");
    assert_eq!(backend.file_usage(alice_id).await.expect("usage"), MIB, "the quota freed");
    status(&laptop, &small).await.expect("the small file stays");
    // Bob's file of the same id was never touched by alice's collection.
    status(&bob, &photo).await.expect("bob's file stays");

    one.stop().await;
    if let Some(two) = two {
        two.stop().await;
    }
    // (On SQLite the server closed it already; closing again is harmless.)
    backend.close().await;
}

fn outpost_server_now() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis())
        .expect("ms")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn files_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    story(&format!("sqlite://{}", dir.path().join("server.db").display()), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(outpost_pg_tests), ignore = "SKIPPED: PostgreSQL tests, OUTPOST_TEST_PG_URL not set")]
async fn files_on_postgres_across_two_instances() {
    story(&pg_url("files_on_postgres_across_two_instances").await, true).await;
}
