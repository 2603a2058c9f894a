// `sqlx::migrate!` embeds the migration files at compile time; without this
// a new or changed migration would not trigger a rebuild.
//
// The PostgreSQL tests run only when OUTPOST_TEST_PG_URL is set; otherwise
// they are marked ignored (with a reason cargo prints), so a run without
// PostgreSQL shows them as skipped instead of counting them as passed.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-env-changed=OUTPOST_TEST_PG_URL");
    println!("cargo:rustc-check-cfg=cfg(outpost_pg_tests)");
    if std::env::var_os("OUTPOST_TEST_PG_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo:rustc-cfg=outpost_pg_tests");
    }
}
