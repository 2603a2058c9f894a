//! Sessions an account can see and end: `GET /v1/sessions`,
//! `DELETE /v1/sessions/{id}`, `POST /v1/sessions/revoke-others`, against a
//! real server on 127.0.0.1, on SQLite always and on PostgreSQL when
//! `OUTPOST_TEST_PG_URL` is set (see `build.rs` and `tests/story.rs`).
//!
//! What must hold: a listing shows every device's session with its name and
//! which one is the caller's; a revoked session's token is refused from then
//! on and its open event stream ends within a second; revoke-others keeps
//! the caller's; another account's session id is a 404 exactly like an
//! unknown one, and ends nothing.

use std::time::Duration;

use outpost_protocol::v1::{ChangePassphraseRequest, Encoding, ErrorBody};
use reqwest::{Method, StatusCode};
use uuid::Uuid;

mod common;
use common::devices::{log_in, register, try_log_in};
use common::{pg_url, start_with};

/// How soon a revoked session's event stream must end.
const STREAM_ENDS_WITHIN: Duration = Duration::from_secs(1);

fn assert_refused(result: Result<impl std::fmt::Debug, (StatusCode, ErrorBody)>, code: &str, what: &str) {
    match result {
        Err((status, body)) => {
            assert_eq!(body.code, code, "{what}: {}", body.message);
            let expected = match code {
                "invalid_token" => StatusCode::UNAUTHORIZED,
                _ => StatusCode::NOT_FOUND,
            };
            assert_eq!(status, expected, "{what}");
        }
        Ok(v) => panic!("{what}: expected {code}, got {v:?}"),
    }
}

async fn sessions_story(url: &str) {
    let mut config = outpost_server::Config::new(url);
    // Every request writes last seen, so the listing's times can be checked.
    config.last_seen_interval = Duration::ZERO;
    let server = start_with(config).await;
    let base = server.base.as_str();

    // Two devices of alice's (one speaks JSON, one postcard), one of bob's.
    let (alice, laptop) = register(base, Encoding::Json, "alice", "Alice's laptop").await;
    let phone = log_in(base, Encoding::Postcard, &alice, Some("Zoë's phone \u{202E}")).await;
    let (_bob, bob) = register(base, Encoding::Json, "bob", "bob's desktop").await;

    // The listing: both of alice's sessions, named, the caller's marked.
    let list = laptop.sessions().await.expect("alice lists").sessions;
    assert_eq!(list.len(), 2, "alice's two sessions, none of bob's: {list:?}");
    let names: Vec<_> = list.iter().map(|s| s.device_name.as_deref()).collect();
    assert_eq!(names, [Some("Alice's laptop"), Some("Zoë's phone")], "names, oldest first, sanitized");
    assert_eq!(list.iter().map(|s| s.current).collect::<Vec<_>>(), [true, false], "the laptop asked");
    let phone_view = phone.sessions().await.expect("the phone lists").sessions;
    assert_eq!(phone_view.iter().map(|s| s.current).collect::<Vec<_>>(), [false, true], "the phone asked");
    for s in &list {
        assert!(s.created_at_ms > 0 && s.last_seen_at_ms >= s.created_at_ms && s.expires_at_ms > s.created_at_ms);
        assert_eq!(s.id.get_version_num(), 4, "a random id");
        let id = s.id.to_string();
        assert!(!laptop.token.contains(&id) && !phone.token.contains(&id), "the id is not the token");
    }
    assert_ne!(list[0].id, list[1].id);
    let (laptop_id, phone_id) = (list[0].id, list[1].id);
    let bob_id = bob.sessions().await.expect("bob lists").sessions[0].id;

    // Last seen moves with use (written on every request here).
    let before = phone_view[1].last_seen_at_ms;
    let again = phone.sessions().await.expect("again").sessions;
    assert!(again[1].last_seen_at_ms >= before, "last seen never goes back");

    // Bob, as an attacker, names alice's phone session: the answer is the
    // one an unknown id gets, byte for byte, and the phone lives on.
    let mut phone_events = phone.open_events().await;
    let theirs = bob.revoke(&phone_id.to_string()).await.expect_err("another account's session");
    let unknown = bob.revoke(&Uuid::new_v4().to_string()).await.expect_err("an unknown session");
    assert_eq!(theirs.0, StatusCode::NOT_FOUND);
    assert_eq!(theirs.1, unknown.1, "another account's id reads exactly like an unknown one");
    assert_eq!(theirs.1.code, "session_not_found");
    assert_refused(bob.revoke("not-a-uuid").await, "session_not_found", "a malformed id");
    assert_refused(bob.revoke(&laptop_id.to_string()).await, "session_not_found", "alice's laptop, by bob");
    assert_eq!(phone.sessions().await.expect("the phone still works").sessions.len(), 2);
    assert_eq!(laptop.sessions().await.expect("alice's sessions").sessions.len(), 2, "bob ended nothing");

    // Alice ends the phone's session from the laptop: its token is refused
    // from then on and its open stream ends within a second.
    laptop.revoke(&phone_id.to_string()).await.expect("alice revokes her phone");
    let ended = phone_events.ends_within(STREAM_ENDS_WITHIN).await;
    assert!(ended.is_some(), "the revoked session's event stream ended within {STREAM_ENDS_WITHIN:?}");
    assert_refused(phone.sessions().await, "invalid_token", "the revoked token lists");
    let pull = phone.req(Method::GET, "/v1/pull").send().await.expect("pull");
    assert_eq!(pull.status(), StatusCode::UNAUTHORIZED, "the revoked token pulls");
    let reopen = phone.req(Method::GET, "/v1/events").send().await.expect("events");
    assert_eq!(reopen.status(), StatusCode::UNAUTHORIZED, "the revoked token cannot reopen its stream");
    assert_refused(laptop.revoke(&phone_id.to_string()).await, "session_not_found", "revoking twice");
    let left = laptop.sessions().await.expect("after revoke").sessions;
    assert_eq!(left.iter().map(|s| s.id).collect::<Vec<_>>(), [laptop_id]);

    // Revoke-others: two more devices, one with a stream open and one that
    // gave no name; the laptop keeps its session, bob keeps his.
    let tablet = log_in(base, Encoding::Json, &alice, None).await;
    let desktop = log_in(base, Encoding::Postcard, &alice, Some("desk")).await;
    let listed = laptop.sessions().await.expect("three").sessions;
    assert_eq!(
        listed.iter().map(|s| s.device_name.as_deref()).collect::<Vec<_>>(),
        [Some("Alice's laptop"), None, Some("desk")]
    );
    let mut desktop_events = desktop.open_events().await;
    let mut bob_events = bob.open_events().await;
    let revoked = laptop.revoke_others().await.expect("revoke others");
    assert_eq!(revoked.revoked, 2);
    assert!(desktop_events.ends_within(STREAM_ENDS_WITHIN).await.is_some(), "the desktop's stream ended within 1 s");
    assert_refused(tablet.sessions().await, "invalid_token", "the tablet after revoke-others");
    assert_refused(desktop.sessions().await, "invalid_token", "the desktop after revoke-others");
    let kept = laptop.sessions().await.expect("the laptop keeps its session").sessions;
    assert_eq!(kept.len(), 1);
    assert!(kept[0].current && kept[0].id == laptop_id);
    let bobs = bob.sessions().await.expect("bob's session is untouched").sessions;
    assert_eq!(bobs.iter().map(|s| s.id).collect::<Vec<_>>(), [bob_id]);
    assert!(bob_events.ends_within(Duration::from_millis(300)).await.is_none(), "bob's stream goes on");
    assert_eq!(laptop.revoke_others().await.expect("nothing else").revoked, 0);

    // Revoking one's own session is a log-out.
    laptop.revoke(&laptop_id.to_string()).await.expect("alice revokes her own session");
    assert_refused(laptop.sessions().await, "invalid_token", "after revoking one's own");

    server.stop().await;
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("server.db").display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    sessions_story(&sqlite_url(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(outpost_pg_tests), ignore = "SKIPPED: PostgreSQL tests, OUTPOST_TEST_PG_URL not set")]
async fn sessions_on_postgres() {
    sessions_story(&pg_url("sessions_on_postgres").await).await;
}

/// On PostgreSQL the revocation travels by `NOTIFY`: a stream on another
/// instance than the one that revoked ends as fast.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(outpost_pg_tests), ignore = "SKIPPED: PostgreSQL tests, OUTPOST_TEST_PG_URL not set")]
async fn revocation_crosses_instances_on_postgres() {
    let url = pg_url("revocation_crosses_instances_on_postgres").await;
    let one = start_with(outpost_server::Config::new(&url)).await;
    let two = start_with(outpost_server::Config::new(&url)).await;
    let (alice, laptop) = register(&one.base, Encoding::Json, "alice", "laptop").await;
    let phone = log_in(&two.base, Encoding::Json, &alice, Some("phone")).await;
    let mut phone_events = phone.open_events().await;
    let list = laptop.sessions().await.expect("list").sessions;
    let phone_id = list.iter().find(|s| !s.current).expect("the phone's session").id;
    laptop.revoke(&phone_id.to_string()).await.expect("revoke on instance one");
    assert!(phone_events.ends_within(STREAM_ENDS_WITHIN).await.is_some(), "the stream on instance two ended");
    assert_refused(phone.sessions().await, "invalid_token", "the revoked token on instance two");
    one.stop().await;
    two.stop().await;
}

/// Sessions made before the migration that added ids and names get a
/// random id, no name, and their creation time as last seen; their tokens
/// still work.
#[tokio::test]
async fn existing_sqlite_sessions_get_an_id_and_no_name() {
    use sqlx::Connection as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(&dir);
    let options: sqlx::sqlite::SqliteConnectOptions = url.parse().expect("url");
    let mut conn = sqlx::SqliteConnection::connect_with(&options.create_if_missing(true)).await.expect("connect");
    let mut before =
        sqlx::migrate::Migrator::new(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite")))
            .await
            .expect("migrations");
    before.migrations = before.migrations.iter().filter(|m| m.version < 20250510000000).cloned().collect();
    before.run(&mut conn).await.expect("migrate to before sessions had ids");
    let user = Uuid::now_v7();
    let (hash_a, hash_b) = ([1u8; 32], [2u8; 32]);
    sqlx::query("INSERT INTO users (id, username, auth_hash, wrapped_key, kdf_params, seq, created_ms) VALUES ($1, 'old', 'x', x'00', x'', 0, 1)")
        .bind(user)
        .execute(&mut conn)
        .await
        .expect("user");
    for (hash, created) in [(hash_a, 1000i64), (hash_b, 2000)] {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_ms, expires_ms) VALUES ($1, $2, $3, $4)")
            .bind(hash.as_slice())
            .bind(user)
            .bind(created)
            .bind(i64::MAX)
            .execute(&mut conn)
            .await
            .expect("session");
    }
    conn.close().await.expect("close");

    let backend = outpost_server::backend::open(&url).await.expect("open and migrate");
    let list = backend.list_sessions(user, &hash_a, 5000).await.expect("list");
    assert_eq!(list.len(), 2);
    assert!(list[0].current && !list[1].current);
    assert_ne!(list[0].id, list[1].id, "each its own id");
    for (s, created) in list.iter().zip([1000, 2000]) {
        assert_eq!(s.id.get_version_num(), 4, "a random version-4 id: {}", s.id);
        assert_eq!(s.device_name, None);
        assert_eq!((s.created_ms, s.last_seen_ms), (created, created));
    }
    assert_eq!(backend.session_user(&hash_b, 5000).await.expect("lookup").map(|s| s.user_id), Some(user));
    assert!(backend.revoke_session(user, list[1].id, 5000).await.expect("revoke"));
    assert_eq!(backend.session_user(&hash_b, 5000).await.expect("lookup"), None);
    backend.close().await;
}

// ---------------------------------------------------------------------------
// Passphrase change: `POST /v1/account/passphrase`.

fn random_key() -> Vec<u8> {
    (0..32).map(|_| rand::random::<u8>()).collect()
}

/// A change from `current` (the auth key and the wrapped key it replaces)
/// to a new auth key and `wrapped`.
fn change(current: &[u8], replaces: &[u8], new_auth: &[u8], wrapped: &[u8], keep: bool) -> ChangePassphraseRequest {
    ChangePassphraseRequest {
        current_auth_key: current.to_vec().into(),
        current_wrapped_key: replaces.to_vec().into(),
        auth_key: new_auth.to_vec().into(),
        wrapped_key: wrapped.to_vec().into(),
        kdf_params: format!("{{\"for\":\"{}\"}}", String::from_utf8_lossy(wrapped)).into_bytes().into(),
        keep_other_sessions: keep,
    }
}

fn assert_code<T: std::fmt::Debug>(
    result: Result<T, (StatusCode, ErrorBody)>,
    status: StatusCode,
    code: &str,
    what: &str,
) {
    match result {
        Err((s, body)) => {
            assert_eq!((s, body.code.as_str()), (status, code), "{what}: {}", body.message);
        }
        Ok(v) => panic!("{what}: expected {status} {code}, got {v:?}"),
    }
}

async fn passphrase_story(url: &str) {
    let mut config = outpost_server::Config::new(url);
    // This story logs in often; the limiter has a test of its own below.
    config.login_attempts = 1000;
    let server = start_with(config).await;
    let base = server.base.as_str();
    let (mut alice, laptop) = register(base, Encoding::Json, "alice", "laptop").await;
    let phone = log_in(base, Encoding::Postcard, &alice, Some("phone")).await;
    let old_auth = alice.auth_key.clone();
    let key = laptop.account_key().await;
    assert_eq!(key.wrapped_key.0, b"WRAPPED");

    // A wrong proof: refused as a wrong passphrase (403, the session is
    // fine), and nothing changed: the key, the sessions, the old log-in.
    let wrong = change(&random_key(), b"WRAPPED", &random_key(), b"WRAPPED-X", false);
    assert_code(laptop.change_passphrase(&wrong).await, StatusCode::FORBIDDEN, "wrong_passphrase", "a wrong proof");
    assert_eq!(phone.account_key().await.wrapped_key.0, b"WRAPPED", "the key is unchanged");
    assert_eq!(phone.sessions().await.expect("the phone still lists").sessions.len(), 2, "no session ended");
    log_in(base, Encoding::Json, &alice, None).await;
    // So is a proof that is not even a key's length.
    let short = change(b"short", b"WRAPPED", &random_key(), b"WRAPPED-X", false);
    assert_code(laptop.change_passphrase(&short).await, StatusCode::BAD_REQUEST, "malformed_body", "a short proof");

    // The right proof, naming a wrapped key that is not the account's
    // (another change won): 409, nothing changed.
    let stale = change(&old_auth, b"SOMETHING-ELSE", &random_key(), b"WRAPPED-X", false);
    assert_code(laptop.change_passphrase(&stale).await, StatusCode::CONFLICT, "key_changed", "a stale key");
    assert_eq!(laptop.account_key().await.wrapped_key.0, b"WRAPPED");
    assert_eq!(laptop.sessions().await.expect("list").sessions.len(), 3, "no session ended");

    // Two devices change at once from the same key: exactly one wins, the
    // other is told the key changed, and the account holds the winner's.
    let (a, b) = (random_key(), random_key());
    let (to_a, to_b) =
        (change(&old_auth, b"WRAPPED", &a, b"WRAPPED-A", true), change(&old_auth, b"WRAPPED", &b, b"WRAPPED-B", true));
    let (ra, rb) = tokio::join!(laptop.change_passphrase(&to_a), phone.change_passphrase(&to_b));
    let (won, winner_auth, winner_wrapped) = match (&ra, &rb) {
        (Ok(_), Err((StatusCode::CONFLICT, e))) if e.code == "key_changed" => ("laptop", a, &b"WRAPPED-A"[..]),
        (Err((StatusCode::CONFLICT, e)), Ok(_)) if e.code == "key_changed" => ("phone", b, &b"WRAPPED-B"[..]),
        other => panic!("exactly one of two concurrent changes wins: {other:?}"),
    };
    let now = laptop.account_key().await;
    assert_eq!(now.wrapped_key.0, winner_wrapped, "the {won}'s change is the account's");
    assert_eq!(now.kdf_params.0, format!("{{\"for\":\"{}\"}}", String::from_utf8_lossy(winner_wrapped)).into_bytes());
    // keep_other_sessions: nobody was logged out.
    assert_eq!(laptop.sessions().await.expect("list").sessions.len(), 3, "kept every session");
    for r in [&ra, &rb].into_iter().flatten() {
        assert_eq!(r.sessions_ended, 0);
    }
    // The old passphrase no longer logs in; the new one does.
    assert_code(
        try_log_in(base, Encoding::Json, &alice, None).await.map(drop),
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "the old auth key",
    );
    alice.auth_key = winner_auth.clone();
    let tablet = log_in(base, Encoding::Postcard, &alice, Some("tablet")).await;
    // The old proof is now wrong.
    let again = change(&old_auth, winner_wrapped, &random_key(), b"WRAPPED-X", false);
    assert_code(tablet.change_passphrase(&again).await, StatusCode::FORBIDDEN, "wrong_passphrase", "the old proof");

    // Another change, ending the other sessions: their tokens are refused
    // and their open event streams end within a second; the caller's
    // session and another account's go on.
    let (_bob, bob) = register(base, Encoding::Json, "bob", "bob's").await;
    let mut phone_events = phone.open_events().await;
    let mut bob_events = bob.open_events().await;
    let sessions_before = tablet.sessions().await.expect("list").sessions.len() as u64;
    let last = random_key();
    let done = tablet
        .change_passphrase(&change(&winner_auth, winner_wrapped, &last, b"WRAPPED-LAST", false))
        .await
        .expect("the tablet changes the passphrase");
    assert_eq!(done.sessions_ended, sessions_before - 1, "every session but the tablet's");
    assert!(phone_events.ends_within(STREAM_ENDS_WITHIN).await.is_some(), "the phone's stream ended within 1 s");
    assert_refused(phone.sessions().await, "invalid_token", "the phone after the change");
    assert_refused(laptop.sessions().await, "invalid_token", "the laptop after the change");
    let left = tablet.sessions().await.expect("the tablet keeps its session").sessions;
    assert_eq!(left.len(), 1);
    assert!(left[0].current);
    assert_eq!(tablet.account_key().await.wrapped_key.0, b"WRAPPED-LAST");
    assert_eq!(bob.sessions().await.expect("bob's session").sessions.len(), 1, "bob is untouched");
    assert!(bob_events.ends_within(Duration::from_millis(300)).await.is_none(), "bob's stream goes on");
    alice.auth_key = last;
    log_in(base, Encoding::Json, &alice, None).await;

    // No auth key (raw, or in base64 as JSON carries it) nor wrapped key
    // reached the server's log.
    use base64::Engine as _;
    let log = common::captured_logs();
    let logged = |needle: &[u8]| log.windows(needle.len()).any(|w| w == needle);
    for key in [&old_auth, &winner_auth, &alice.auth_key] {
        let b64 = base64::engine::general_purpose::STANDARD.encode(key);
        assert!(!logged(key) && !logged(b64.as_bytes()), "an auth key is in the log");
    }
    assert!(!logged(b"WRAPPED-LAST") && !logged(b"V1JBUFBFRC1MQVNU"), "a wrapped key is in the log");

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passphrase_change_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    passphrase_story(&sqlite_url(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(outpost_pg_tests), ignore = "SKIPPED: PostgreSQL tests, OUTPOST_TEST_PG_URL not set")]
async fn passphrase_change_on_postgres() {
    passphrase_story(&pg_url("passphrase_change_on_postgres").await).await;
}

/// Proofs of the current passphrase draw on the log-in budget of the
/// account's username: a stolen session cannot guess faster here than at
/// log-in, nor reset its budget by switching between the two.
#[tokio::test]
async fn passphrase_proofs_share_the_log_in_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = outpost_server::Config::new(sqlite_url(&dir));
    config.login_attempts = 4;
    let server = start_with(config).await;
    let (alice, laptop) = register(&server.base, Encoding::Json, "alice", "laptop").await;
    // A log-in is two attempts (start and finish); two wrong proofs make four.
    log_in(&server.base, Encoding::Json, &alice, None).await;
    for _ in 0..2 {
        let wrong = change(&random_key(), b"WRAPPED", &random_key(), b"WRAPPED-X", false);
        assert_code(laptop.change_passphrase(&wrong).await, StatusCode::FORBIDDEN, "wrong_passphrase", "a guess");
    }
    let right = change(&alice.auth_key, b"WRAPPED", &random_key(), b"WRAPPED-X", false);
    assert_code(
        laptop.change_passphrase(&right).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "past the budget",
    );
    assert_code(
        try_log_in(&server.base, Encoding::Json, &alice, None).await.map(drop),
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "log-in shares the budget",
    );
    assert_eq!(laptop.account_key().await.wrapped_key.0, b"WRAPPED", "nothing changed");
    server.stop().await;
}
