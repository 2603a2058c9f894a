// `sqlx::migrate!` embeds the migration files at compile time; without this
// a new or changed migration would not trigger a rebuild.
//
// The PostgreSQL tests run when OUTPOST_TEST_PG_URL is set. Without it they
// are marked ignored (with a reason cargo prints), so a run without
// PostgreSQL shows them as skipped instead of counting them as passed;
// except under CI (CI=true or 1), where they run and fail for want of the
// URL, since a CI run that skips them would pass without testing PostgreSQL.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-env-changed=OUTPOST_TEST_PG_URL");
    println!("cargo:rerun-if-env-changed=CI");
    println!("cargo:rustc-check-cfg=cfg(outpost_pg_tests)");
    let url_set = std::env::var_os("OUTPOST_TEST_PG_URL").is_some_and(|v| !v.is_empty());
    // `1` too, as scripts/test.sh reads it.
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    if url_set || ci {
        println!("cargo:rustc-cfg=outpost_pg_tests");
    }
}
