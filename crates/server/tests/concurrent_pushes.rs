//! Many devices pushing at once, at the storage layer, on SQLite (where
//! pushes commit in groups, `backend/group.rs`) and PostgreSQL: every push
//! gets its own answer, a push refused for its quota changes nothing while
//! the pushes beside it apply, each account's seqs stay gap-free, and a push
//! sent again gets the first answer.

mod common;

use std::sync::Arc;

use common::pg_url;
use outpost_protocol::v1::{Bytes, Op, PushResult};
use outpost_protocol::Hlc;
use outpost_server::backend::{self, Backend, BackendError, NewUser};
use uuid::Uuid;

const ACCOUNTS: usize = 40;
const ROUNDS: usize = 5;
const OPS: usize = 3;

fn op(round: usize, i: usize, len: usize) -> Op {
    Op {
        op_id: Uuid::new_v4(),
        note_id: Uuid::new_v4(),
        base_rev: 0,
        hlc: Hlc::new(1_750_000_000_000 + (round * OPS + i) as u64, 0, 7),
        deleted: false,
        payload: Bytes(vec![round as u8; len]),
    }
}

async fn many_at_once(url: &str) {
    let b: Arc<dyn Backend> = backend::open(url).await.expect("open");
    let mut users = Vec::new();
    for _ in 0..ACCOUNTS {
        let id = Uuid::new_v4();
        b.create_user(&NewUser {
            id,
            username: format!("many-{}", id.simple()),
            auth_hash: "$argon2id$unused".into(),
            wrapped_key: vec![1],
            kdf_params: vec![],
            created_ms: 0,
        })
        .await
        .expect("user");
        users.push(id);
    }
    // Every account pushes ROUNDS batches, all accounts at once. Account 0
    // has a quota its last batch goes over: that batch alone is refused.
    let tasks: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(n, &user)| {
            let b = b.clone();
            tokio::spawn(async move {
                let mut answers = Vec::new();
                let quota = if n == 0 { ((ROUNDS - 1) * OPS * 100) as u64 } else { u64::MAX };
                for round in 0..ROUNDS {
                    let ops: Vec<Op> = (0..OPS).map(|i| op(round, i, 100)).collect();
                    let answer = b.push_within(user, &ops, quota).await;
                    if let Ok(first) = &answer {
                        // Sent again (a lost answer): the same answers.
                        let again = b.push_within(user, &ops, quota).await.expect("resend");
                        for (a, f) in again.iter().zip(first) {
                            let (PushResult::Duplicate { rev, seq }, PushResult::Applied { rev: r, seq: s }) = (a, f)
                            else {
                                panic!("resend: {a:?} for {f:?}")
                            };
                            assert_eq!((rev, seq), (r, s));
                        }
                    }
                    answers.push(answer);
                }
                (user, answers)
            })
        })
        .collect();
    for task in tasks {
        let (user, answers) = task.await.expect("task");
        let mut seqs = Vec::new();
        for (round, answer) in answers.into_iter().enumerate() {
            if user == users[0] && round == ROUNDS - 1 {
                assert!(matches!(answer, Err(BackendError::QuotaExceeded { .. })), "{answer:?}");
                continue;
            }
            for r in answer.expect("applied") {
                let PushResult::Applied { rev: 1, seq } = r else { panic!("{r:?}") };
                seqs.push(seq);
            }
        }
        let applied = if user == users[0] { (ROUNDS - 1) * OPS } else { ROUNDS * OPS };
        assert_eq!(seqs, (1..=applied as u64).collect::<Vec<_>>(), "gap-free, in order");
        assert_eq!(b.latest_seq(user).await.expect("seq"), applied as u64);
        let page = b.pull(user, 0, 1000, usize::MAX).await.expect("pull");
        assert_eq!(page.changes.len(), applied, "the refused batch stored nothing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_devices_pushing_at_once_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    many_at_once(&format!("sqlite://{}", dir.path().join("server.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(outpost_pg_tests), ignore = "SKIPPED: PostgreSQL tests, OUTPOST_TEST_PG_URL not set")]
async fn many_devices_pushing_at_once_on_postgres() {
    let url = pg_url("many_devices_pushing_at_once_on_postgres").await;
    many_at_once(&url).await;
}
