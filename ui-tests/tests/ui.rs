//! Runs the compile-fail and pass cases under `tests/ui` with trybuild.
//!
//! The `.stderr` files hold the exact diagnostics of the pinned toolchain
//! (`rust-toolchain.toml`); regenerate with `TRYBUILD=overwrite cargo test -p puffs-ui-tests`
//! and review every change as a user would read it.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
