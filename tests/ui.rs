//! The `pipeline!` macro's compile errors, each checked against its
//! expected message in `tests/ui/*.stderr` (regenerate with
//! `TRYBUILD=overwrite cargo test --test ui`, then review the text).

#[test]
fn pipeline_macro_rejections() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
