//! Account deletion, `POST /v1/account/delete`, against a real server on
//! 127.0.0.1, on SQLite always and on PostgreSQL when `OUTPOST_TEST_PG_URL`
//! is set (see `build.rs`).
//!
//! What must hold: a wrong passphrase proof deletes nothing; a right one
//! leaves no row of the account in any table, ends every session's event
//! stream at once, and from then on every token of the account is answered
//! `410 account_deleted` (not a `401`); other accounts are untouched; the
//! username can be registered again.

use std::time::Duration;

use outpost_protocol::v1::{
    AccountKeyResponse, DeleteAccountRequest, Encoding, ErrorBody, Op, PushRequest, PushResponse,
};
use outpost_protocol::Hlc;
use reqwest::{Method, StatusCode};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

mod common;
use common::devices::{answer, error, log_in, register, Device};
use common::{pg_url, start, start_with};

/// How soon a deleted account's event streams must end.
const STREAM_ENDS_WITHIN: Duration = Duration::from_secs(1);

/// Tables that hold nothing of any one account, and so have no column
/// naming one: anything else the schema grows must be checked below.
const TABLES_OF_NO_ACCOUNT: [&str; 3] = ["server_secrets", "deleted_sessions", "_sqlx_migrations"];

async fn delete(device: &Device, auth_key: &[u8]) -> Result<(), (StatusCode, ErrorBody)> {
    device.post_no_content("/v1/account/delete", &DeleteAccountRequest { auth_key: auth_key.to_vec().into() }).await
}

async fn user_id(device: &Device) -> Uuid {
    let resp = device.req(Method::GET, "/v1/account/key").send().await.expect("account key");
    let key: AccountKeyResponse = answer(device.enc, resp).await.expect("the account's key");
    key.user_id
}

async fn push_one(device: &Device) {
    let op = Op {
        op_id: Uuid::now_v7(),
        note_id: Uuid::now_v7(),
        base_rev: 0,
        hlc: Hlc::new(1_730_000_000_000, 0, 7),
        deleted: false,
        payload: b"CIPHERTEXT".to_vec().into(),
    };
    let answer: PushResponse = device.post("/v1/push", &PushRequest { ops: vec![op] }).await.expect("pushed");
    assert_eq!(answer.results.len(), 1);
}

fn assert_gone(result: Result<impl std::fmt::Debug, (StatusCode, ErrorBody)>, what: &str) {
    match result {
        Err((status, body)) => {
            assert_eq!((status, body.code.as_str()), (StatusCode::GONE, "account_deleted"), "{what}: {}", body.message);
        }
        Ok(v) => panic!("{what}: expected 410 account_deleted, got {v:?}"),
    }
}

/// The rows the database holds of the account `user_id` named `username`,
/// per table, in every table that has a `user_id` or `username` column (or
/// is `users`); and fails if a table has neither and is not known to hold
/// nothing of an account.
async fn rows_of(url: &str, user_id: Uuid, username: &str) -> Vec<(String, i64)> {
    use sqlx::Connection as _;
    // The same statements on either database; only the catalogue differs.
    macro_rules! count_rows {
        ($conn:expr, $tables:expr, $columns:expr) => {{
            let conn = $conn;
            let tables: Vec<String> = sqlx::query_scalar($tables).fetch_all(&mut *conn).await.expect("tables");
            let mut found = Vec::new();
            for table in tables {
                let columns: Vec<String> =
                    sqlx::query_scalar($columns).bind(&table).fetch_all(&mut *conn).await.expect("columns");
                let has = |c: &str| columns.iter().any(|x| x == c);
                let (by_id, by_name, is_users) = (has("user_id"), has("username"), table == "users");
                assert!(
                    by_id || by_name || is_users || TABLES_OF_NO_ACCOUNT.contains(&table.as_str()),
                    "table {table} is new: does it hold anything of an account? Check it here"
                );
                let id_column = if is_users { "id" } else { "user_id" };
                let mut n = 0i64;
                if by_id || is_users {
                    let sql = format!("SELECT count(*) FROM {table} WHERE {id_column} = $1");
                    n += sqlx::query_scalar::<_, i64>(&sql).bind(user_id).fetch_one(&mut *conn).await.expect("count");
                }
                // The users row counts once, by its id.
                if by_name && !is_users {
                    let sql = format!("SELECT count(*) FROM {table} WHERE username = $1");
                    n += sqlx::query_scalar::<_, i64>(&sql).bind(username).fetch_one(&mut *conn).await.expect("count");
                }
                found.push((table, n));
            }
            found
        }};
    }
    let mut found = if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.expect("open the server's database");
        let found = count_rows!(
            &mut conn,
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            "SELECT name FROM pragma_table_info($1)"
        );
        conn.close().await.expect("close");
        found
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.expect("connect to PostgreSQL");
        let found = count_rows!(
            &mut conn,
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1"
        );
        conn.close().await.expect("close");
        found
    };
    found.sort();
    found
}

fn count_in(rows: &[(String, i64)], table: &str) -> i64 {
    rows.iter().find(|(t, _)| t == table).map_or_else(|| panic!("no table {table} in {rows:?}"), |(_, n)| *n)
}

async fn deletion_story(url: &str) {
    let server = start(url).await;
    let base = server.base.as_str();

    // Alice: a laptop (JSON) and a phone (postcard), a note on the server,
    // a log-in started; bob, who must not notice anything.
    let (alice, laptop) = register(base, Encoding::Json, "alice", "laptop").await;
    let phone = log_in(base, Encoding::Postcard, &alice, Some("phone")).await;
    let (_bob, bob) = register(base, Encoding::Json, "bob", "bob's box").await;
    push_one(&laptop).await;
    push_one(&bob).await;
    let start_body = outpost_protocol::v1::LoginStartRequest { username: alice.username.clone() };
    let started = reqwest::Client::new()
        .post(format!("{base}/v1/login/start"))
        .json(&start_body)
        .send()
        .await
        .expect("login start");
    assert_eq!(started.status(), StatusCode::OK);
    // A second factor set up (pending is enough for a row).
    laptop.totp_setup(&alice.auth_key).await.expect("totp setup");
    let alice_id = user_id(&laptop).await;
    let before = rows_of(url, alice_id, &alice.username).await;
    for (table, n) in
        [("users", 1), ("sessions", 2), ("notes", 1), ("ops", 1), ("login_challenges", 1), ("account_totp", 1)]
    {
        assert_eq!(count_in(&before, table), n, "{table} before: {before:?}");
    }

    // A wrong passphrase (another auth key) deletes nothing, and says so
    // apart from a bad token; a malformed key is a 400.
    let wrong = delete(&laptop, &[7u8; 32]).await.expect_err("a wrong auth key");
    assert_eq!((wrong.0, wrong.1.code.as_str()), (StatusCode::FORBIDDEN, "wrong_passphrase"), "{}", wrong.1.message);
    let short = delete(&laptop, &[7u8; 4]).await.expect_err("a malformed auth key");
    assert_eq!(short.0, StatusCode::BAD_REQUEST);
    assert_eq!(rows_of(url, alice_id, &alice.username).await, before, "nothing deleted");
    assert_eq!(laptop.sessions().await.expect("still there").sessions.len(), 2);
    // Without a session, no deletion at all.
    let anonymous = Device { token: "x".repeat(43), ..laptop.clone() };
    let refused = delete(&anonymous, &alice.auth_key).await.expect_err("no session");
    assert_eq!((refused.0, refused.1.code.as_str()), (StatusCode::UNAUTHORIZED, "invalid_token"));

    // The right proof, from the laptop: everything of alice's goes, and
    // the phone's open event stream ends at once.
    let mut phone_events = phone.open_events().await;
    delete(&laptop, &alice.auth_key).await.expect("alice deletes her account");
    assert!(
        phone_events.ends_within(STREAM_ENDS_WITHIN).await.is_some(),
        "the phone's event stream ended within {STREAM_ENDS_WITHIN:?}"
    );
    let after = rows_of(url, alice_id, &alice.username).await;
    assert!(after.iter().all(|(_, n)| *n == 0), "no row of alice's is left: {after:?}");

    // Both of her tokens are answered 410 account_deleted, on every
    // authenticated endpoint, including a second deletion.
    assert_gone(laptop.sessions().await, "the laptop lists sessions");
    assert_gone(phone.sessions().await, "the phone lists sessions");
    let pull = phone.req(Method::GET, "/v1/pull").send().await.expect("pull");
    assert_gone(Err::<(), _>(error(pull).await), "the phone pulls");
    let events = phone.req(Method::GET, "/v1/events").send().await.expect("events");
    assert_gone(Err::<(), _>(error(events).await), "the phone reopens its stream");
    assert_gone(delete(&laptop, &alice.auth_key).await, "deleting twice");

    // What the server keeps of it: the two token hashes, nothing else.
    let kept = kept_token_hashes(url).await;
    for token in [&laptop.token, &phone.token] {
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        assert!(kept.contains(&hash.to_vec()), "a deleted session's token hash is kept for its 410");
    }

    // Bob is untouched.
    assert_eq!(bob.sessions().await.expect("bob's session lives").sessions.len(), 1);
    let bob_pull = bob.req(Method::GET, "/v1/pull").send().await.expect("bob pulls");
    let page: outpost_protocol::v1::PullResponse = answer(bob.enc, bob_pull).await.expect("bob's notes");
    assert_eq!(page.changes.len(), 1, "bob's note is still there");

    // The name is free again: a new account under it starts empty, and the
    // old tokens do not reach it.
    let again = common::devices::Keys { username: alice.username.clone(), auth_key: vec![9u8; 32] };
    let fresh = register_as(base, &again).await;
    let new_id = user_id(&fresh).await;
    assert_ne!(new_id, alice_id, "a new account");
    let pull = fresh.req(Method::GET, "/v1/pull").send().await.expect("pull");
    let page: outpost_protocol::v1::PullResponse = answer(fresh.enc, pull).await.expect("empty");
    assert!(page.changes.is_empty(), "nothing of the deleted account's");
    assert_gone(laptop.sessions().await, "the old laptop token after the name is taken again");
    // And the new account can be deleted too (with its own proof only).
    assert_eq!(delete(&fresh, &alice.auth_key).await.expect_err("the old proof").1.code, "wrong_passphrase");
    delete(&fresh, &again.auth_key).await.expect("delete the new one");

    server.stop().await;
}

/// Registers `keys`'s exact username and auth key.
async fn register_as(base: &str, keys: &common::devices::Keys) -> Device {
    let body = outpost_protocol::v1::RegisterRequest {
        username: keys.username.clone(),
        auth_key: keys.auth_key.clone().into(),
        wrapped_key: b"WRAPPED".to_vec().into(),
        kdf_params: b"{}".to_vec().into(),
    };
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{base}/v1/register"))
        .header("content-type", Encoding::Json.media_type())
        .json(&body)
        .send()
        .await
        .expect("register");
    let session: outpost_protocol::v1::SessionResponse =
        answer(Encoding::Json, resp).await.expect("the name is free again");
    Device { http, base: base.to_owned(), token: session.token.0, enc: Encoding::Json }
}

async fn kept_token_hashes(url: &str) -> Vec<Vec<u8>> {
    use sqlx::Connection as _;
    let sql = "SELECT token_hash FROM deleted_sessions";
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.expect("open");
        sqlx::query_scalar(sql).fetch_all(&mut conn).await.expect("hashes")
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
        sqlx::query_scalar(sql).fetch_all(&mut conn).await.expect("hashes")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn account_deletion_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    deletion_story(&format!("sqlite://{}", dir.path().join("server.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(outpost_pg_tests), ignore = "SKIPPED: PostgreSQL tests, OUTPOST_TEST_PG_URL not set")]
async fn account_deletion_on_postgres() {
    deletion_story(&pg_url("account_deletion_on_postgres").await).await;
}

/// Guesses at the passphrase through deletion draw on the log-in budget of
/// the name: past it, even the right proof waits, and nothing is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_at_deletion_are_rate_limited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = outpost_server::Config::new(format!("sqlite://{}", dir.path().join("server.db").display()));
    config.login_attempts = 2;
    let server = start_with(config).await;
    let (alice, laptop) = register(&server.base, Encoding::Json, "alice", "laptop").await;
    for guess in [1u8, 2] {
        let refused = delete(&laptop, &[guess; 32]).await.expect_err("a wrong guess");
        assert_eq!(refused.1.code, "wrong_passphrase");
    }
    let limited = delete(&laptop, &alice.auth_key).await.expect_err("over the budget");
    assert_eq!((limited.0, limited.1.code.as_str()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    assert_eq!(laptop.sessions().await.expect("the account lives").sessions.len(), 1);
    server.stop().await;
}

/// On PostgreSQL the end of the sessions travels by `NOTIFY`: a deletion
/// on one instance ends a stream on another as fast, and that instance
/// answers the token `410` too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(outpost_pg_tests), ignore = "SKIPPED: PostgreSQL tests, OUTPOST_TEST_PG_URL not set")]
async fn deletion_crosses_instances_on_postgres() {
    let url = pg_url("deletion_crosses_instances_on_postgres").await;
    let one = start(&url).await;
    let two = start(&url).await;
    let (alice, laptop) = register(&one.base, Encoding::Json, "alice", "laptop").await;
    let phone = log_in(&two.base, Encoding::Postcard, &alice, Some("phone")).await;
    let mut phone_events = phone.open_events().await;
    delete(&laptop, &alice.auth_key).await.expect("deleted on instance one");
    assert!(phone_events.ends_within(STREAM_ENDS_WITHIN).await.is_some(), "the stream on instance two ended");
    assert_gone(phone.sessions().await, "the phone on instance two");
    one.stop().await;
    two.stop().await;
}
