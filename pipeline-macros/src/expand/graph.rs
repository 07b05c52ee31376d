//! The declared graph of the reusable form as constant data
//! (`Declared::LAYOUT`): each stage's name and kind, each link and which
//! counter of the last run tells its item count. `to_mermaid()` and
//! `to_dot()` render it in pipeline-core.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::Body;
use crate::check::Model;

/// `::pipeline::Layout::new(&[stages], &[links])`.
pub(super) fn layout(model: &Model) -> TokenStream {
    let stages = model.nodes.iter().map(|n| {
        let (name, kind) = (&n.name, n.decl.kind.to_string());
        quote!(::pipeline::StageRow::new(#name, #kind))
    });
    // Which counter a link a -> b shows: what b received, when b reads
    // only a; for a merge, what a sent, when the merge is a's only reader.
    let links = model.nodes.iter().enumerate().flat_map(|(b, node)| {
        node.inputs.iter().map(move |&(_, a)| {
            let count = match node.body {
                Body::Merge { .. } if model.nodes[a].readers == 1 => quote!(Sent),
                Body::Merge { .. } => quote!(Unknown),
                _ => quote!(Received),
            };
            quote!(::pipeline::LinkRow::new(#a, #b, ::pipeline::LinkCount::#count))
        })
    });
    quote!(::pipeline::Layout::new(&[#(#stages),*], &[#(#links),*]))
}
