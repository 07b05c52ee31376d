//! The `pipeline!` macro; see its documentation in the `pipeline` crate.

mod ast;
mod check;
mod expand;
mod parse;

use proc_macro::TokenStream;

/// Declares a pipeline (docs to come).
#[proc_macro]
pub fn pipeline(input: TokenStream) -> TokenStream {
    let input = proc_macro2::TokenStream::from(input);
    let reusable = parse::looks_reusable(&input);
    let result = syn::parse2::<ast::Input>(input).and_then(check::check);
    match result {
        Ok(model) => expand::expand(&model).into(),
        Err(e) if reusable => e.to_compile_error().into(),
        Err(e) => {
            // In expression position: a block whose value is the last error,
            // so the caller's code sees an error type and adds no errors of
            // its own.
            let errors = e.into_iter().map(|e| e.to_compile_error());
            quote::quote!({ #(#errors)* }).into()
        }
    }
}
