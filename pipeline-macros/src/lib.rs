//! stub
use proc_macro::TokenStream;
/// stub
#[proc_macro]
pub fn pipeline(input: TokenStream) -> TokenStream { input }
