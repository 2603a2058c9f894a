//! What the PostgreSQL halves of the sim's tests share.

/// The PostgreSQL URL the tests were built for (`OUTPOST_TEST_PG_URL`).
pub fn pg_url() -> String {
    std::env::var("OUTPOST_TEST_PG_URL").ok().filter(|u| !u.is_empty()).expect(
        "PostgreSQL tests cannot run: OUTPOST_TEST_PG_URL is unset now but was set when they were built; set it, \
         or rebuild to skip them",
    )
}

/// Under CI=true the PostgreSQL half is not optional (see soak.rs): a build
/// without `OUTPOST_TEST_PG_URL` fails `which` tests instead of skipping.
pub fn assert_postgres_not_left_out_under_ci(which: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci || cfg!(outpost_pg_tests),
        "CI=true, but this build has no OUTPOST_TEST_PG_URL: the PostgreSQL {which} tests cannot run"
    );
}
