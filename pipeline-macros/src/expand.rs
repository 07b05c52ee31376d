//! `quote!` of the model into calls of pipeline-core's public builder API.
//!
//! Every generated path is fully qualified (`::pipeline::...`), every local
//! is hygienic (`Span::mixed_site`), and each stage's builder call is
//! spanned at the user's tokens for that stage, so a type error between two
//! stages lands on the stage (or the `from`/`merge` reference) that
//! disagrees.

mod graph;
mod reusable;

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Type};

use crate::ast::{Body, Policy, SourceMode};
use crate::check::{Model, Node};

/// The code for a checked model: a block expression, or the items of the
/// reusable form.
pub(crate) fn expand(model: &Model) -> TokenStream {
    match &model.header {
        Some(header) => reusable::expand(model, header),
        None => expression(model),
    }
}

/// `{ let pipeline = ...; let stage = ...; ...; sink }`.
fn expression(model: &Model) -> TokenStream {
    let p = pipeline_var();
    let policy = model.policy.as_ref().map(policy_call);
    let body = stages(model, written_config, None);
    quote! {
        {
            let #p = ::pipeline::Pipeline::new() #policy;
            #body
        }
    }
}

/// `.with_policy(...)` for a `policy = ...;` line.
fn policy_call(policy: &Policy) -> TokenStream {
    let value = policy_value(policy);
    quote!(.with_policy(#value))
}

/// The `ErrorPolicy` value of a `policy = ...;` line.
pub(crate) fn policy_value(policy: &Policy) -> TokenStream {
    match policy {
        Policy::Continue(span) => quote_spanned!(*span=> ::pipeline::ErrorPolicy::Continue),
        Policy::FailFast(span) => quote_spanned!(*span=> ::pipeline::ErrorPolicy::FailFast),
        Policy::Expr(e) => quote_spanned!(e.span()=> #e),
    }
}

/// The hygienic local holding the builder's `Pipeline`.
pub(crate) fn pipeline_var() -> Ident {
    Ident::new("__pipeline", Span::mixed_site())
}

/// The hygienic local holding stage `name`'s flow.
fn stage_var(node: &Node) -> Ident {
    Ident::new(&format!("__stage_{}", node.name), Span::mixed_site())
}

/// `StageConfig::new("name").workers(..)...` from the options as written.
pub(crate) fn written_config(node: &Node) -> TokenStream {
    let name = &node.name;
    let setters = node.decl.options.iter().map(|opt| {
        let method = &opt.name;
        match &opt.value {
            Some(v) => quote_spanned!(v.span()=> .#method(#v)),
            None => quote!(.#method()),
        }
    });
    quote!(::pipeline::StageConfig::new(#name) #(#setters)*)
}

/// The `let` of every stage but the sink, in dependency order, then the
/// sink's expression (a `Run`, `RunStream` or `RunIter`). `config` gives
/// each stage's `StageConfig` expression; `output` is the reusable form's
/// declared output type, which `collect()` then collects into.
pub(crate) fn stages(
    model: &Model,
    config: impl Fn(&Node) -> TokenStream,
    output: Option<&Type>,
) -> TokenStream {
    let p = pipeline_var();
    let vars: Vec<Ident> = model.nodes.iter().map(stage_var).collect();
    let mut out = TokenStream::new();
    for (node, var) in model.nodes.iter().zip(&vars) {
        let kind = node.decl.kind.span();
        let reads: Vec<TokenStream> = node
            .inputs
            .iter()
            .map(|(at, j)| {
                // Hygienic, but located at the user's reference.
                let v = Ident::new(
                    &vars[*j].to_string(),
                    Span::mixed_site().located_at(at.span()),
                );
                if model.nodes[*j].readers > 1 {
                    quote_spanned!(at.span()=> ::core::clone::Clone::clone(&#v))
                } else {
                    quote_spanned!(at.span()=> #v)
                }
            })
            .collect();
        let input = reads.first().cloned().unwrap_or_default();
        let cfg = config(node);
        let made = match &node.body {
            Body::Source { mode, expr } => {
                let method = Ident::new(
                    match mode {
                        SourceMode::Iter => "from_iter",
                        SourceMode::Stream => "from_stream",
                        SourceMode::Blocking => "from_blocking",
                        SourceMode::Async => "from_async",
                    },
                    kind,
                );
                quote_spanned!(kind=> #p.#method(#cfg, #expr))
            }
            // A stage declared with `retry` is built through
            // `Flow::retrying`, which clones each item for its attempts.
            Body::Stage { func } if node.decl.has_option("retry") => {
                let method = &node.decl.kind;
                quote_spanned!(kind=> ::pipeline::Retrying::#method(
                    ::pipeline::Flow::retrying(#input), #cfg, #func
                ))
            }
            Body::Stage { func } => {
                let method = &node.decl.kind;
                quote_spanned!(kind=> ::pipeline::Flow::#method(#input, #cfg, #func))
            }
            Body::Merge { .. } => {
                quote_spanned!(kind=> #p.merge(#cfg, [#(#reads),*]))
            }
            Body::Sink(call) => {
                out.extend(sink(node, call, input, output));
                continue;
            }
        };
        out.extend(quote!(let #var = #made;));
    }
    out
}

/// The sink's call: `Flow::collect::<C>(input).name("out")` and friends.
fn sink(
    node: &Node,
    call: &crate::ast::SinkCall,
    input: TokenStream,
    output: Option<&Type>,
) -> TokenStream {
    let name = &node.name;
    let span = call.method.span();
    let method = &call.method;
    let args = &call.args;
    match method.to_string().as_str() {
        "stream" => quote_spanned!(span=> ::pipeline::Flow::named_stream(#input, #name)),
        "iter" => quote_spanned!(span=> ::pipeline::Flow::named_iter(#input, #name)),
        "collect" => {
            let ty = match (&call.turbofish, output) {
                (Some(t), _) => quote!(#t),
                (None, Some(out)) => quote_spanned!(span=> ::<#out>),
                (None, None) => quote_spanned!(span=> ::<::std::vec::Vec<_>>),
            };
            quote_spanned!(span=> ::pipeline::Flow::collect #ty (#input).name(#name))
        }
        _ => quote_spanned!(span=> ::pipeline::Flow::#method(#input #(, #args)*).name(#name)),
    }
}

#[cfg(test)]
mod size;
