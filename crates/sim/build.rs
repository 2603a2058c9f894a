// The PostgreSQL soak runs only when OUTPOST_TEST_PG_URL is set at build
// time; otherwise it is marked ignored (with a reason cargo prints), so a
// run without PostgreSQL shows it as skipped instead of counting it as
// passed. The same switch as crates/server/build.rs.
fn main() {
    println!("cargo:rerun-if-env-changed=OUTPOST_TEST_PG_URL");
    println!("cargo:rustc-check-cfg=cfg(outpost_pg_tests)");
    if std::env::var_os("OUTPOST_TEST_PG_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo:rustc-cfg=outpost_pg_tests");
    }
}
