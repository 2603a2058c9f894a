//! No echo at the storage layer, on SQLite and PostgreSQL: a pull with
//! `skip` leaves out a version only when its seq is named and the asking
//! session wrote it; versions stored before writers were recorded (NULL)
//! and other sessions' versions always come; the cursor moves past what
//! was left out, and the page's limit counts it.

mod common;

use common::pg_url;
use outpost_protocol::v1::{Bytes, Op, PushResult, SkipRanges};
use outpost_protocol::Hlc;
use outpost_server::backend::{self, NewUser};
use uuid::Uuid;

fn op(i: u64) -> Op {
    Op {
        op_id: Uuid::new_v4(),
        note_id: Uuid::new_v4(),
        base_rev: 0,
        hlc: Hlc::new(1_750_000_000_000 + i, 0, 7),
        deleted: false,
        payload: Bytes(vec![i as u8; 16]),
    }
}

async fn skip_rules(url: &str) {
    let b = backend::open(url).await.expect("open");
    let user = Uuid::new_v4();
    b.create_user(&NewUser {
        id: user,
        username: format!("echo-{}", user.simple()),
        auth_hash: "$argon2id$unused".into(),
        wrapped_key: vec![1],
        kdf_params: vec![],
        created_ms: 0,
    })
    .await
    .expect("user");
    let (w1, w2) = ([1u8; 32], [2u8; 32]);
    // seqs 1-3: no writer (as stored before writers were recorded);
    // 4-5: w1; 6: w2; 7: w1.
    let mut seqs = Vec::new();
    for (writer, n) in [(None, 3), (Some(&w1), 2), (Some(&w2), 1), (Some(&w1), 1)] {
        let ops: Vec<Op> = (0..n).map(|i| op(seqs.len() as u64 + i)).collect();
        for r in b.push_by(user, writer, &ops, u64::MAX).await.expect("push") {
            let PushResult::Applied { seq, .. } = r else { panic!("{r:?}") };
            seqs.push(seq);
        }
    }
    assert_eq!(seqs, (1..=7).collect::<Vec<_>>());
    let all = SkipRanges::from_seqs(1..=7);
    let got = |page: &outpost_protocol::v1::PullResponse| page.changes.iter().map(|c| c.seq).collect::<Vec<_>>();

    let page = b.pull_skipping(user, 0, 1000, usize::MAX, Some((&w1, &all))).await.expect("pull");
    assert_eq!((got(&page), page.next_cursor, page.more), (vec![1, 2, 3, 6], 7, false), "w1's own left out");
    let page = b.pull_skipping(user, 0, 1000, usize::MAX, Some((&w2, &all))).await.expect("pull");
    assert_eq!((got(&page), page.next_cursor), (vec![1, 2, 3, 4, 5, 7], 7), "w2's own left out");
    let page =
        b.pull_skipping(user, 0, 1000, usize::MAX, Some((&w1, &SkipRanges::from_seqs([4])))).await.expect("pull");
    assert_eq!(got(&page), vec![1, 2, 3, 5, 6, 7], "only the seqs named");
    // The limit counts the versions looked at: 1-5, of which 4 and 5 left out.
    let page = b.pull_skipping(user, 0, 5, usize::MAX, Some((&w1, &all))).await.expect("pull");
    assert_eq!((got(&page), page.next_cursor, page.more), (vec![1, 2, 3], 5, true));
    // A page of nothing but the device's own still moves the cursor.
    let page = b.pull_skipping(user, 6, 1000, usize::MAX, Some((&w1, &all))).await.expect("pull");
    assert_eq!((got(&page), page.next_cursor, page.more), (vec![], 7, false));
    // Without skip: everything, as before.
    let page = b.pull(user, 0, 1000, usize::MAX).await.expect("pull");
    assert_eq!(got(&page), (1..=7).collect::<Vec<_>>());
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_rules_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    skip_rules(&format!("sqlite://{}", dir.path().join("server.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(outpost_pg_tests), ignore = "SKIPPED: PostgreSQL tests, OUTPOST_TEST_PG_URL not set")]
async fn skip_rules_on_postgres() {
    let url = pg_url("skip_rules_on_postgres").await;
    skip_rules(&url).await;
}
