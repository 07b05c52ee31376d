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

#[test]
fn reusable_form_size_is_reported() {
    for (name, input) in [("Squares", squares()), ("FanIn", fan_in())] {
        let out = expansion(input);
        let (tokens, chars) = (leaves(out.clone()), out.to_string().len());
        println!("reusable {name}: {tokens} tokens, {chars} chars");
    }
}
