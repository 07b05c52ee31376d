//! The `pipeline!` macro's compile errors, each checked against its
//! expected message in `tests/ui/*.stderr` (regenerate with
//! `TRYBUILD=overwrite cargo test --test ui`, then review the text), and
//! the declarations in `tests/ui/pass/` that must build without a warning.

#[test]
fn pipeline_macro_rejections() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
