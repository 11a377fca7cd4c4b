//! Lets the integration tests mark their PostgreSQL variants as ignored when
//! `TEST_DATABASE_URL` is not set (see `db_test!` in tests/common/mod.rs).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(pingyi_postgres_tests)");
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=pingyi_postgres_tests");
    }
}
