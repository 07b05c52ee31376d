//! How stage tokens split into expression, `from` and options.

use quote::quote;

use crate::ast::{Body, Input, Policy, SourceMode, StageDecl};

fn stages(tokens: proc_macro2::TokenStream) -> Input {
    match syn::parse2::<Input>(tokens) {
        Ok(input) => input,
        Err(e) => panic!("does not parse: {e}"),
    }
}

fn one(tokens: proc_macro2::TokenStream) -> StageDecl {
    let mut input = stages(tokens);
    assert!(
        input.errors.is_empty(),
        "{:?}",
        input
            .errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
    );
    input.stages.remove(0)
}

fn option_names(s: &StageDecl) -> Vec<String> {
    s.options.iter().map(|o| o.name.to_string()).collect()
}

#[test]
fn a_trailing_array_is_an_expression_unless_it_holds_options() {
    let s = one(quote!(pairs: flat_map |n: u64| [n, n];));
    assert!(s.options.is_empty());
    assert!(matches!(s.body, Some(Body::Stage { .. })));

    let s = one(quote!(sq: map f [workers = 2, ordered];));
    assert_eq!(option_names(&s), ["workers", "ordered"]);

    let s = one(quote!(sq: map f [orderd];));
    assert_eq!(
        option_names(&s),
        ["orderd"],
        "a misspelt option is still an option"
    );

    let s = one(quote!(sq: map |n| n == [x] [batch=-1];));
    assert_eq!(option_names(&s), ["batch"]);
}

#[test]
fn a_source_of_only_an_array_or_a_macro_call_has_no_options() {
    for s in [
        one(quote!(gen: source [a, b];)),
        one(quote!(gen: source vec![a, b];)),
    ] {
        assert!(s.options.is_empty());
        assert!(matches!(
            s.body,
            Some(Body::Source {
                mode: SourceMode::Iter,
                ..
            })
        ));
    }
}

#[test]
fn from_and_options_come_in_either_order() {
    for s in [
        one(quote!(b: map f from a [workers = 2];)),
        one(quote!(b: map f [workers = 2] from a;)),
    ] {
        assert_eq!(
            s.from.as_ref().map(|(_, i)| i.to_string()).as_deref(),
            Some("a")
        );
        assert_eq!(option_names(&s), ["workers"]);
    }
    let s = one(quote!(b: map |n| n + from;));
    assert!(s.from.is_none(), "a trailing `from` alone is an expression");
}

#[test]
fn source_modes_apply_only_before_an_expression() {
    let mode = |s: StageDecl| match s.body {
        Some(Body::Source { mode, .. }) => mode,
        _ => panic!("not a source"),
    };
    assert!(mode(one(quote!(gen: source stream s;))) == SourceMode::Stream);
    assert!(mode(one(quote!(gen: source stream;))) == SourceMode::Iter);
    assert!(mode(one(quote!(gen: source stream.items();))) == SourceMode::Iter);
    assert!(mode(one(quote!(gen: source blocking |em| walk(em);))) == SourceMode::Blocking);
    assert!(
        mode(one(
            quote!(gen: source async |em| async move { run(em).await };)
        )) == SourceMode::Async
    );
    assert!(mode(one(quote!(gen: source iter xs [buffer = 1];))) == SourceMode::Iter);
}

#[test]
fn parentheses_around_an_expression_are_dropped() {
    let s = one(quote!(gen: source (table[i]);));
    assert!(matches!(
        s.body,
        Some(Body::Source {
            expr: syn::Expr::Index(_),
            ..
        })
    ));
}

#[test]
fn the_policy_line_and_the_header_are_recognised() {
    let input = stages(quote!(policy = continue; gen: source xs; out: sink collect();));
    assert!(matches!(input.policy, Some(Policy::Continue(_))));
    assert!(input.header.is_none());

    let input = stages(quote!(
        /// Docs.
        pub Name(a: u32) -> Vec<u32> { gen: source 0..a; out: sink collect(); }
    ));
    let header = input.header.expect("a reusable form");
    assert_eq!(header.name.to_string(), "Name");
    assert_eq!(header.args.len(), 1);
    assert!(crate::parse::looks_reusable(&quote!(Name() { })));
    assert!(!crate::parse::looks_reusable(&quote!(gen: source xs;)));
}

#[test]
fn a_bad_stage_is_one_error_and_parsing_goes_on() {
    let input = stages(quote!(
        gen: source;
        sq: map |n| n *;
        out: sink collect();
    ));
    assert_eq!(input.errors.len(), 2);
    assert_eq!(input.stages.len(), 3);
}

#[test]
fn a_missing_semicolon_splits_two_stages_and_only_there() {
    let input = stages(quote!(
        gen: source 0..10u64
        sq: map |n: u64| n * n
        out: sink collect();
    ));
    let names: Vec<String> = input.stages.iter().map(|s| s.name.to_string()).collect();
    assert_eq!(names, ["gen", "sq", "out"]);
    assert_eq!(input.errors.len(), 2);
    assert!(input.errors[0]
        .to_string()
        .contains("missing `;` before stage `sq`"));

    // A closure's parameter typed like a kind, and a path, are not stages.
    let s = one(quote!(f: map |a: map, b: sink| a + b;));
    assert_eq!(s.name, "f");
    let s = one(quote!(g: map pipeline::map;));
    assert!(matches!(s.body, Some(Body::Stage { .. })));
}
