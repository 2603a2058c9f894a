//! Many devices pushing at once, at the storage layer, on SQLite and
//! PostgreSQL (where pushes commit in groups, `backend/group.rs`): every
//! push gets its own answer, a push refused for its quota changes nothing
//! while the pushes beside it apply, each account's seqs stay gap-free, and
//! a push sent again gets the first answer. Then given pushes in one group:
//! a note written twice, an op id sent twice, a refused push beside
//! others, and an account deleted before its push; and a group of more
//! rows than one statement takes.

mod common;

use std::sync::Arc;

use common::pg_url;
use outpost_protocol::v1::{Bytes, Change, Op, PushResult};
use outpost_protocol::Hlc;
use outpost_server::backend::{self, Backend, BackendError, NewUser, Poke, PostgresBackend, SqliteBackend};
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
        users.push(user(b.as_ref()).await);
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

/// A backend with its way to commit given pushes as one group.
enum Grouped {
    Sqlite(SqliteBackend),
    Postgres(PostgresBackend),
}

impl Grouped {
    fn b(&self) -> &dyn Backend {
        match self {
            Grouped::Sqlite(b) => b,
            Grouped::Postgres(b) => b,
        }
    }

    async fn together(&self, pushes: &[(Uuid, Vec<Op>, u64)]) -> Vec<Result<Vec<PushResult>, BackendError>> {
        match self {
            Grouped::Sqlite(b) => b.push_as_one_group(pushes).await,
            Grouped::Postgres(b) => b.push_as_one_group(pushes).await,
        }
    }
}

async fn user(b: &dyn Backend) -> Uuid {
    let id = Uuid::new_v4();
    b.create_user(&NewUser {
        id,
        username: format!("group-{}", id.simple()),
        auth_hash: "$argon2id$unused".into(),
        wrapped_key: vec![1],
        kdf_params: vec![],
        created_ms: 0,
    })
    .await
    .expect("user");
    id
}

fn edit(note_id: Uuid, base_rev: u64, hlc: u64, payload: &[u8]) -> Op {
    Op {
        op_id: Uuid::new_v4(),
        note_id,
        base_rev,
        hlc: Hlc::new(1_750_000_000_000 + hlc, 0, 7),
        deleted: false,
        payload: Bytes(payload.to_vec()),
    }
}

fn version(op: &Op, rev: u64, seq: u64) -> Change {
    Change { seq, note_id: op.note_id, rev, hlc: op.hlc, deleted: op.deleted, payload: op.payload.clone() }
}

async fn one_group(g: Grouped) {
    let b = g.b();
    let (alice, bob, gone, small) = (user(b).await, user(b).await, user(b).await, user(b).await);
    let mut pokes = b.subscribe();
    // Before the group: alice holds n1 and n3 (seqs 1 and 2), and `gone`'s
    // account is deleted.
    let (n1, n2, n3) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let stored_n3 = edit(n3, 0, 2, b"n3 first");
    let before = b.push(alice, &[edit(n1, 0, 1, b"n1 first"), stored_n3.clone()]).await.expect("before");
    assert_eq!(before[1], PushResult::Applied { rev: 1, seq: 2 });
    assert!(b.delete_account(gone, 0).await.expect("delete"));

    let a1 = edit(n1, 1, 3, b"n1 second");
    let a2 = edit(n2, 0, 4, b"n2 first");
    let stale_n1 = edit(n1, 1, 5, b"n1 from a stale device");
    let a4 = edit(n1, 2, 6, b"n1 third");
    let stale_n3 = edit(n3, 0, 7, b"n3 from a stale device");
    let later_stale_n1 = edit(n1, 2, 8, b"n1 stale again");
    let m1 = edit(Uuid::new_v4(), 0, 9, b"bob's note");
    let too_big = edit(Uuid::new_v4(), 0, 10, &[1; 200]);
    let fits = Op { payload: Bytes(vec![2; 100]), ..too_big.clone() };
    let pushes = vec![
        (alice, vec![a1.clone(), a2.clone()], u64::MAX),
        (bob, vec![m1.clone()], u64::MAX),
        // n1 is at rev 2 now, written by a1 in this group: the stale edit
        // conflicts with that version; a1 again is a duplicate; a4 applies.
        (alice, vec![stale_n1.clone(), a1.clone(), a4.clone(), stale_n3.clone()], u64::MAX),
        (gone, vec![edit(Uuid::new_v4(), 0, 11, b"lost")], u64::MAX),
        (small, vec![too_big.clone()], 150),
        // The same op id, smaller: the refused push left nothing behind.
        (small, vec![fits.clone()], 150),
        (alice, vec![later_stale_n1.clone()], u64::MAX),
    ];
    let answers = g.together(&pushes).await;
    assert_eq!(answers.len(), pushes.len());
    let ok = |i: usize| answers[i].as_ref().unwrap_or_else(|e| panic!("push {i}: {e}")).clone();
    assert_eq!(ok(0), vec![PushResult::Applied { rev: 2, seq: 3 }, PushResult::Applied { rev: 1, seq: 4 }]);
    assert_eq!(ok(1), vec![PushResult::Applied { rev: 1, seq: 1 }]);
    assert_eq!(
        ok(2),
        vec![
            PushResult::Conflict { current: Some(version(&a1, 2, 3)) },
            PushResult::Duplicate { rev: 2, seq: 3 },
            PushResult::Applied { rev: 3, seq: 5 },
            PushResult::Conflict { current: Some(version(&stored_n3, 1, 2)) },
        ]
    );
    assert!(matches!(answers[3], Err(BackendError::AccountDeleted)), "{:?}", answers[3]);
    assert!(
        matches!(answers[4], Err(BackendError::QuotaExceeded { stored: 0, would: 200, quota: 150 })),
        "{:?}",
        answers[4]
    );
    assert_eq!(ok(5), vec![PushResult::Applied { rev: 1, seq: 1 }]);
    assert_eq!(ok(6), vec![PushResult::Conflict { current: Some(version(&a4, 3, 5)) }]);

    // What is stored is what the answers said, gap-free.
    assert_eq!(b.latest_seq(alice).await.expect("seq"), 5);
    let page = b.pull(alice, 0, 100, usize::MAX).await.expect("pull");
    assert_eq!(page.changes, vec![version(&stored_n3, 1, 2), version(&a2, 1, 4), version(&a4, 3, 5)]);
    let page = b.pull(small, 0, 100, usize::MAX).await.expect("pull");
    assert_eq!(page.changes, vec![version(&fits, 1, 1)]);
    // The counter counted only what applied: 100 bytes stored, so 100 more
    // go over 150.
    let more = b.push_within(small, &[edit(Uuid::new_v4(), 0, 12, &[3; 100])], 150).await;
    assert!(matches!(more, Err(BackendError::QuotaExceeded { stored: 100, would: 200, quota: 150 })), "{more:?}");

    // A poke after each push that applied something, with the seq after
    // it: every account whose seq moved hears its seq after the group, and
    // no other account is poked.
    let finals = [(alice, 5), (bob, 1), (small, 1)];
    let mut want = finals.to_vec();
    let heard = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while !want.is_empty() {
            // Other tests' accounts share a PostgreSQL database: theirs
            // are heard too.
            let poke: Poke = match pokes.recv().await {
                Ok(poke) => poke,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(e) => panic!("pokes: {e}"),
            };
            let Some(user) = poke.user_id.filter(|u| [alice, bob, gone, small].contains(u)) else { continue };
            let last = finals.iter().find(|f| f.0 == user).map(|f| f.1);
            assert!(last.is_some_and(|last| poke.seq <= last), "poke {poke:?}");
            want.retain(|&w| w != (user, poke.seq));
        }
    })
    .await;
    assert!(heard.is_ok(), "pokes not heard: {want:?}");

    // The whole group sent again (every answer lost): what applied is a
    // duplicate with the first answer, and nothing moves.
    let again = g.together(&pushes).await;
    let dup = |r: &[PushResult]| -> Vec<PushResult> {
        r.iter()
            .map(|r| match r {
                PushResult::Applied { rev, seq } => PushResult::Duplicate { rev: *rev, seq: *seq },
                other => other.clone(),
            })
            .collect()
    };
    assert_eq!(again[0].as_ref().expect("again"), &dup(&ok(0)));
    assert_eq!(again[1].as_ref().expect("again"), &dup(&ok(1)));
    assert_eq!(again[5].as_ref().expect("again"), &dup(&ok(5)));
    // The refused push is refused again: its op id is the applied one now.
    assert!(matches!(again[4], Ok(ref r) if r == &vec![PushResult::Duplicate { rev: 1, seq: 1 }]), "{:?}", again[4]);
    assert_eq!(b.latest_seq(alice).await.expect("seq"), 5);
    assert_eq!(b.latest_seq(small).await.expect("seq"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_group_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("server.db").display());
    one_group(Grouped::Sqlite(SqliteBackend::open(&url).await.expect("open"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(outpost_pg_tests), ignore = "SKIPPED: PostgreSQL tests, OUTPOST_TEST_PG_URL not set")]
async fn one_group_on_postgres() {
    let url = pg_url("one_group_on_postgres").await;
    one_group(Grouped::Postgres(PostgresBackend::open(&url).await.expect("open"))).await;
}

/// A group larger than one statement's rows (500 on SQLite): 1,200 new
/// notes of one account, a push of another that edits one of its notes
/// and conflicts on another, all in one group; then the whole group again.
/// Every op gets its own answer, in order, across the statements' seams.
async fn a_group_of_many_rows(g: Grouped) {
    const MANY: usize = 1_200;
    let b = g.b();
    let (alice, bob) = (user(b).await, user(b).await);
    let (n1, n2) = (edit(Uuid::new_v4(), 0, 0, b"one"), edit(Uuid::new_v4(), 0, 1, b"two"));
    b.push(bob, &[n1.clone(), n2.clone()]).await.expect("bob's notes");
    let many: Vec<Op> = (0..MANY).map(|i| edit(Uuid::new_v4(), 0, 10 + i as u64, &[i as u8; 40])).collect();
    let bobs = vec![edit(n1.note_id, 1, 5_000, b"one, edited"), edit(n2.note_id, 0, 5_001, b"stale")];
    let pushes = [(alice, many.clone(), u64::MAX), (bob, bobs.clone(), u64::MAX)];
    let answers = g.together(&pushes).await;
    let first = answers[0].as_ref().expect("alice's push");
    let want: Vec<PushResult> = (1..=MANY as u64).map(|seq| PushResult::Applied { rev: 1, seq }).collect();
    assert_eq!(first, &want);
    assert_eq!(
        answers[1].as_ref().expect("bob's push"),
        &vec![PushResult::Applied { rev: 2, seq: 3 }, PushResult::Conflict { current: Some(version(&n2, 1, 2)) }]
    );
    // What is stored is what the answers said: every note, gap-free.
    let mut cursor = 0;
    let mut pulled = Vec::new();
    loop {
        let page = b.pull(alice, cursor, 1_000, usize::MAX).await.expect("pull");
        pulled.extend(page.changes);
        cursor = page.next_cursor;
        if !page.more {
            break;
        }
    }
    let want: Vec<Change> = many.iter().enumerate().map(|(i, op)| version(op, 1, i as u64 + 1)).collect();
    assert_eq!(pulled, want);
    // Sent again: duplicates with the first answers, nothing moves.
    let again = g.together(&pushes).await;
    let dup = |r: &PushResult| match r {
        PushResult::Applied { rev, seq } => PushResult::Duplicate { rev: *rev, seq: *seq },
        other => other.clone(),
    };
    assert_eq!(again[0].as_ref().expect("again"), &first.iter().map(dup).collect::<Vec<_>>());
    assert_eq!(again[1].as_ref().expect("again")[0], PushResult::Duplicate { rev: 2, seq: 3 });
    assert_eq!(b.latest_seq(alice).await.expect("seq"), MANY as u64);
    assert_eq!(b.latest_seq(bob).await.expect("seq"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_many_rows_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("server.db").display());
    a_group_of_many_rows(Grouped::Sqlite(SqliteBackend::open(&url).await.expect("open"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(outpost_pg_tests), ignore = "SKIPPED: PostgreSQL tests, OUTPOST_TEST_PG_URL not set")]
async fn a_group_of_many_rows_on_postgres() {
    let url = pg_url("a_group_of_many_rows_on_postgres").await;
    a_group_of_many_rows(Grouped::Postgres(PostgresBackend::open(&url).await.expect("open"))).await;
}

/// The PostgreSQL pool opens all its connections when the backend opens,
/// not one by one under the first burst of requests (each a hand-shake and
/// a new PostgreSQL process, tens of ms): counted by the application name
/// this backend's connections give.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(outpost_pg_tests), ignore = "SKIPPED: PostgreSQL tests, OUTPOST_TEST_PG_URL not set")]
async fn the_postgres_pool_is_warm_when_it_opens() {
    use sqlx::Connection as _;
    let url = pg_url("the_postgres_pool_is_warm_when_it_opens").await;
    let name = format!("outpost-warm-{}", Uuid::new_v4().simple());
    let sep = if url.contains('?') { '&' } else { '?' };
    let b = PostgresBackend::open(&format!("{url}{sep}application_name={name}")).await.expect("open");
    let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
    let open: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
        .bind(&name)
        .fetch_one(&mut conn)
        .await
        .expect("count");
    // The pool's 16 (the listener's connection is one of them).
    assert!(open >= 16, "{open} connections open");
    drop(b);
}
