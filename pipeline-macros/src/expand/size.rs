//! How much code the macro emits: a guard against the reusable form
//! growing back into per-type copies of runtime logic.

use proc_macro2::{TokenStream, TokenTree};
use quote::quote;

/// The leaf tokens (identifiers, punctuation, literals) of `tokens`, counted
/// through every group.
fn leaves(tokens: TokenStream) -> usize {
    tokens
        .into_iter()
        .map(|t| match t {
            TokenTree::Group(g) => leaves(g.stream()),
            _ => 1,
        })
        .sum()
}

/// The expansion of `input`, which must be a valid invocation.
fn expansion(input: TokenStream) -> TokenStream {
    let model = syn::parse2::<crate::ast::Input>(input)
        .and_then(crate::check::check)
        .expect("the measured invocation is valid");
    super::expand(&model)
}

/// The README's reusable example, with a doc comment on a stage.
fn squares() -> TokenStream {
    quote! {
        /// Squares of `1..=n`.
        pub Squares(n: u64, jobs: usize) -> Vec<u64> {
            gen: source 1..=n;
            /// The squaring stage.
            sq:  map |x: u64| x * x [workers = jobs, ordered];
            out: sink collect();
        }
    }
}

/// Fan-out to two readers, then fan-in: five stages.
fn fan_in() -> TokenStream {
    quote! {
        pub FanIn(n: u64) -> u64 {
            gen:  source 0..n;
            sq1:  map |x: u64| x * x from gen;
            sq2:  map |x: u64| x * x from gen;
            both: merge sq1, sq2;
            out:  sink fold(0u64, |a, x| a + x);
        }
    }
}

/// Whether `tokens` holds the identifier `word`, at any depth.
fn mentions(tokens: TokenStream, word: &str) -> bool {
    tokens.into_iter().any(|t| match t {
        TokenTree::Group(g) => mentions(g.stream(), word),
        TokenTree::Ident(i) => i == word,
        _ => false,
    })
}

/// The reusable form writes data and one trait impl: the runtime's
/// methods are not copied into the user's crate, and the expansion stays
/// well under the 1964 tokens (Squares) and 2221 (FanIn) it had when it
/// did copy them.
#[test]
fn reusable_form_emits_data_and_one_impl_not_the_runtime() {
    for (name, input, limit) in [("Squares", squares(), 1000), ("FanIn", fan_in(), 1250)] {
        let out = expansion(input);
        let (tokens, chars) = (leaves(out.clone()), out.to_string().len());
        println!("reusable {name}: {tokens} tokens, {chars} chars");
        assert!(tokens < limit, "{name}: {tokens} tokens");
        for method in [
            "run",
            "run_async",
            "build",
            "stats",
            "to_mermaid",
            "to_dot",
            "stage_mut",
        ] {
            assert!(!mentions(out.clone(), method), "{name} emits `{method}`");
        }
    }
}
