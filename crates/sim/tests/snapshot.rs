//! Bootstrap snapshots: a device that synced uploads one; a new device
//! starts from it and ends with exactly the notes a full pull gives, in far
//! fewer bytes; a tampered or missing snapshot falls back to the pull; the
//! server keeps only the newest, refuses stale and out-of-range uploads and
//! keeps accounts apart. Real stores and the real HTTP server, on SQLite,
//! and on PostgreSQL when `OUTPOST_TEST_PG_URL` is set (under CI=true a
//! build without it fails instead of skipping).

mod common;

use common::{assert_postgres_not_left_out_under_ci, pg_url};
use std::future::Future;

use outpost_core::keys::MemoryStore;
use outpost_core::remote::{Remote, RemoteError, Traffic};
use outpost_core::sync::{sync_once, SyncReport, SyncTransport, WithoutSnapshots};
use outpost_core::{Note, NoteDraft, NotePatch, Vault};
use outpost_protocol::v1::{Op, PullResponse, PushResponse, SkipRanges, SnapshotChunkUpload};
use outpost_sim::{HttpAccount, HttpServer, SimAccount};
use uuid::Uuid;

struct Device {
    vault: Vault,
    remote: Remote,
    _dir: tempfile::TempDir,
}

impl Device {
    async fn join(account: &HttpAccount) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = MemoryStore::new();
        let vault = Vault::open_for_account(dir.path(), &keys, account.key().clone()).expect("open");
        let remote = account.connect().await.expect("log in");
        Device { vault, remote, _dir: dir }
    }

    async fn sync(&mut self) -> SyncReport {
        sync_once(&mut self.vault, &self.remote).await.expect("sync")
    }

    /// Every note, deleted ones included, by id: what must match.
    fn everything(&self) -> Vec<(Uuid, String, String, Vec<String>, bool, bool)> {
        let mut ids: Vec<Uuid> = self.vault.list().expect("list").into_iter().map(|n| n.id).collect();
        ids.sort();
        ids.into_iter()
            .map(|id| {
                let n: Note = self.vault.get(id).expect("note");
                (n.id, n.title, n.body, n.tags, n.pinned, n.deleted)
            })
            .collect()
    }
}

/// A hostile server: flips a byte of each snapshot chunk it hands out.
struct Twisted<'a> {
    inner: &'a Remote,
}

impl SyncTransport for Twisted<'_> {
    fn push(&self, ops: Vec<Op>) -> impl Future<Output = Result<PushResponse, RemoteError>> + Send {
        self.inner.push(ops)
    }
    fn pull(&self, cursor: u64, limit: u32) -> impl Future<Output = Result<PullResponse, RemoteError>> + Send {
        self.inner.pull(cursor, limit)
    }
    fn pull_skipping(
        &self,
        cursor: u64,
        limit: u32,
        skip: &SkipRanges,
    ) -> impl Future<Output = Result<PullResponse, RemoteError>> + Send {
        self.inner.pull_skipping(cursor, limit, skip)
    }
    fn traffic(&self) -> Traffic {
        self.inner.traffic()
    }
    fn snapshots(&self) -> bool {
        true
    }
    fn snapshot_info(
        &self,
    ) -> impl Future<Output = Result<Option<outpost_protocol::v1::SnapshotInfo>, RemoteError>> + Send {
        self.inner.snapshot_info()
    }
    async fn snapshot_chunk(&self, cursor: u64, index: u32) -> Result<Vec<u8>, RemoteError> {
        let mut chunk = self.inner.snapshot_chunk(cursor, index).await?;
        let middle = chunk.len() / 2;
        chunk[middle] ^= 0x40;
        Ok(chunk)
    }
    fn put_snapshot_chunk(
        &self,
        upload: &SnapshotChunkUpload,
    ) -> impl Future<Output = Result<outpost_protocol::v1::SnapshotPutResponse, RemoteError>> + Send {
        self.inner.put_snapshot_chunk(upload)
    }
}

fn unique(name: &str) -> String {
    format!("{name}-{}", Uuid::new_v4().simple())
}

const SENTENCES: &[&str] = &[
    "The outbox keeps every change until the server has answered it.",
    "A device that was offline for a week sends its edits when it is back.",
    "Merges happen on the device, line by line, against the shared base.",
    "Nothing leaves the device unencrypted; the server relays sealed bytes.",
    "Search runs in memory and never writes what it indexed to disk.",
    "Pinned notes come first, then the newest, then everything else.",
    "Conflicts keep both versions until someone decides between them.",
];

fn prose(i: usize) -> String {
    (0..(3 + i % 9)).map(|k| SENTENCES[(i * 7 + k * 3) % SENTENCES.len()]).collect::<Vec<_>>().join(" ")
}

async fn starts_from_the_snapshot(url: Option<&str>) {
    let server = HttpServer::start_on(url).await.expect("server");
    let account = server.account(&unique("snap")).await.expect("account");
    let mut a = Device::join(&account).await;
    // More notes than the parts a snapshot is stored in (1,000).
    let ids: Vec<Uuid> = a
        .vault
        .batch(|w| {
            (0..2_100)
                .map(|i| {
                    let draft = NoteDraft {
                        title: format!("Note {i}"),
                        body: prose(i),
                        tags: vec![format!("t{}", i % 4)],
                        pinned: i % 50 == 0,
                    };
                    w.create(draft).map(|n| n.id)
                })
                .collect()
        })
        .expect("create");
    for id in &ids[..5] {
        a.vault.delete(*id).expect("delete");
    }
    let first = a.sync().await;
    assert!(first.snapshot_uploaded, "{first:?}");
    let info = a.remote.snapshot_info().await.expect("info").expect("a snapshot on the server");
    assert_eq!(info.cursor, a.vault.cursor().expect("cursor"));

    // Changes after the snapshot: too few for a new one; a new device pulls
    // them after starting from it.
    a.vault
        .edit(ids[10], NotePatch { body: Some("edited after the snapshot".into()), ..Default::default() })
        .expect("edit");
    a.vault.delete(ids[11]).expect("delete");
    let late = a
        .vault
        .create(NoteDraft { title: "Late".into(), body: "after".into(), ..Default::default() })
        .expect("create")
        .id;
    let second = a.sync().await;
    assert!(!second.snapshot_uploaded, "{second:?}");

    let mut b = Device::join(&account).await;
    let got = b.sync().await;
    assert!(got.from_snapshot, "{got:?}");
    assert_eq!(b.everything(), a.everything());
    assert_eq!(b.vault.get(late).expect("late note").body, "after");

    // The same account pulled note by note, for comparison.
    let mut c = Device::join(&account).await;
    let plain = WithoutSnapshots(&c.remote);
    let pulled = sync_once(&mut c.vault, &plain).await.expect("sync");
    assert!(!pulled.from_snapshot);
    assert_eq!(c.everything(), a.everything());
    eprintln!(
        "300 notes: from the snapshot {} B received, pulling note by note {} B",
        got.bytes_received, pulled.bytes_received
    );
    assert!(
        got.bytes_received * 2 < pulled.bytes_received,
        "from the snapshot {} bytes, pulling {} bytes",
        got.bytes_received,
        pulled.bytes_received
    );

    // B works on from there: its edit reaches A, A's reaches B.
    b.vault.edit(ids[20], NotePatch { body: Some("from B".into()), ..Default::default() }).expect("edit");
    let pushed = b.sync().await;
    assert_eq!(pushed.pushed, 1, "{pushed:?}");
    a.sync().await;
    assert_eq!(a.vault.get(ids[20]).expect("note").body, "from B");
    a.vault.edit(ids[21], NotePatch { body: Some("from A".into()), ..Default::default() }).expect("edit");
    a.sync().await;
    b.sync().await;
    assert_eq!(b.everything(), a.everything());

    // A hostile server's tampered chunk: refused, and the pass pulls instead.
    let mut d = Device::join(&account).await;
    let hostile = Twisted { inner: &d.remote };
    let fell_back = sync_once(&mut d.vault, &hostile).await.expect("sync");
    assert!(!fell_back.from_snapshot, "{fell_back:?}");
    assert_eq!(d.everything(), a.everything());
}

async fn server_rules(url: Option<&str>) {
    let server = HttpServer::start_on(url).await.expect("server");
    let account = server.account(&unique("rules")).await.expect("account");
    let mut a = Device::join(&account).await;
    for i in 0..3 {
        a.vault.create(NoteDraft { title: format!("n{i}"), body: prose(i), ..Default::default() }).expect("create");
    }
    a.sync().await;
    let latest = a.vault.cursor().expect("cursor");
    assert_eq!(latest, 3);
    let remote = &a.remote;
    assert_eq!(remote.snapshot_info().await.expect("info"), None);
    let put = |cursor: u64, index: u32, of: u32, data: &[u8]| SnapshotChunkUpload {
        cursor,
        index,
        of,
        data: data.to_vec().into(),
    };

    // Past the account's latest change: refused.
    let err = remote.put_snapshot_chunk(&put(latest + 1, 0, 1, b"x")).await.expect_err("future cursor");
    assert_eq!(err.code(), "cursor_out_of_range", "{err}");
    // Bad shapes: refused.
    for bad in [put(2, 1, 1, b"x"), put(2, 0, 0, b"x"), put(2, 0, 1, b"")] {
        let err = remote.put_snapshot_chunk(&bad).await.expect_err("bad chunk");
        assert!(matches!(err, RemoteError::Server { status: 400 | 413, .. }), "{err}");
    }
    // Two chunks at cursor 2: complete with the second; resending is fine.
    assert!(!remote.put_snapshot_chunk(&put(2, 0, 2, b"first")).await.expect("put").complete);
    assert!(!remote.put_snapshot_chunk(&put(2, 0, 2, b"first")).await.expect("put again").complete);
    assert_eq!(remote.snapshot_info().await.expect("info"), None, "incomplete is not a snapshot");
    assert!(remote.put_snapshot_chunk(&put(2, 1, 2, b"second")).await.expect("put").complete);
    let info = remote.snapshot_info().await.expect("info").expect("complete");
    assert_eq!((info.cursor, info.chunks, info.bytes), (2, 2, 11));
    assert_eq!(remote.snapshot_chunk(2, 1).await.expect("chunk"), b"second");
    // An older cursor is stale now.
    let err = remote.put_snapshot_chunk(&put(1, 0, 1, b"old")).await.expect_err("stale");
    assert!(err.is_snapshot_stale(), "{err}");
    // A newer one replaces it once complete, and the old one is gone.
    assert!(remote.put_snapshot_chunk(&put(3, 0, 1, b"newest")).await.expect("put").complete);
    assert_eq!(remote.snapshot_info().await.expect("info").expect("newest").cursor, 3);
    let err = remote.snapshot_chunk(2, 0).await.expect_err("old one dropped");
    assert_eq!(err.code(), "no_snapshot", "{err}");

    // Another account sees none of it.
    let other = server.account(&unique("other")).await.expect("account");
    let o = Device::join(&other).await;
    assert_eq!(o.remote.snapshot_info().await.expect("info"), None);
    let err = o.remote.snapshot_chunk(3, 0).await.expect_err("not theirs");
    assert_eq!(err.code(), "no_snapshot", "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_on_sqlite() {
    assert_postgres_not_left_out_under_ci("snapshot");
    starts_from_the_snapshot(None).await;
    server_rules(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(outpost_pg_tests), ignore = "SKIPPED: PostgreSQL tests, OUTPOST_TEST_PG_URL not set")]
async fn snapshots_on_postgres() {
    let url = pg_url();
    starts_from_the_snapshot(Some(&url)).await;
    server_rules(Some(&url)).await;
}
