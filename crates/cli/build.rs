// The PostgreSQL tests of this crate (crates/cli/tests/old_format.rs) run
// as the server's do (crates/server/build.rs): when OUTPOST_TEST_PG_URL is
// set, or under CI (CI=true or 1), where they fail for want of the URL
// instead of passing untested; otherwise they are marked ignored, with the
// reason cargo prints.
fn main() {
    println!("cargo:rerun-if-env-changed=OUTPOST_TEST_PG_URL");
    println!("cargo:rerun-if-env-changed=CI");
    println!("cargo:rustc-check-cfg=cfg(outpost_pg_tests)");
    let url_set = std::env::var_os("OUTPOST_TEST_PG_URL").is_some_and(|v| !v.is_empty());
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    if url_set || ci {
        println!("cargo:rustc-cfg=outpost_pg_tests");
    }
}
