//! The reusable form: a documented pipeline type with constructor
//! arguments, its config struct (one `StageConfig` field per stage), and
//! one `impl ::pipeline::Declared` that gives the runtime the
//! declaration's data: the stage table, the lookup of a stage's settings
//! by name, and the graph's builder calls. Every method a user calls
//! (`run`, `stage_mut`, `stats`, `to_mermaid`, ...) is a provided method
//! of that trait, written once in pipeline-core.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{parse_quote, Ident, Type};

use super::{graph, pipeline_var, policy_value, stages, written_config};
use crate::ast::{Body, Header};
use crate::check::{Model, Node};

/// What the generated items share.
struct Names<'a> {
    model: &'a Model,
    header: &'a Header,
    config_ty: Ident,
    /// Every stage but the sink: the stages that have settings.
    nodes: Vec<&'a Node>,
    arg_names: Vec<&'a Ident>,
    arg_tys: Vec<&'a Type>,
    /// The hygienic parameter holding the settings in `declare`.
    config_var: Ident,
}

pub(super) fn expand(model: &Model, header: &Header) -> TokenStream {
    let names = Names {
        model,
        header,
        config_ty: format_ident!("{}Config", header.name),
        nodes: model
            .nodes
            .iter()
            .filter(|n| !matches!(n.body, Body::Sink(_)))
            .collect(),
        arg_names: header.args.iter().map(|a| &a.name).collect(),
        arg_tys: header.args.iter().map(|a| &a.ty).collect(),
        config_var: Ident::new("__config", Span::mixed_site()),
    };
    let types = types(&names);
    let constructor = constructor(&names);
    let declared = declared_impl(&names);
    quote!(#types #constructor #declared)
}

/// The pipeline type, its config struct, and `Debug`.
fn types(n: &Names) -> TokenStream {
    let Header {
        attrs, vis, name, ..
    } = n.header;
    let config_ty = &n.config_ty;
    let fields = n.nodes.iter().map(|node| {
        let field = &node.decl.name;
        let summary = format!(" Settings of stage `{}` (`{}`).", node.name, node.decl.kind);
        let docs = &node.decl.docs;
        quote!(#[doc = #summary] #(#docs)* pub #field: ::pipeline::StageConfig,)
    });
    let struct_docs = struct_docs(n);
    let config_doc = format!(
        " The settings of every stage of [`{name}`], one public field per stage, \
         also reachable by name with \
         [`Declared::stage_mut`](::pipeline::Declared::stage_mut)."
    );
    quote! {
        #(#attrs)*
        #struct_docs
        #[derive(Clone)]
        #vis struct #name {
            state: ::pipeline::DeclaredState<#name>,
        }

        #[doc = #config_doc]
        #[derive(Debug, Clone, PartialEq, Eq)]
        #vis struct #config_ty {
            #(#fields)*
        }

        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Debug::fmt(&self.state, f)
            }
        }
    }
}

/// `new(args)`: the arguments kept, each stage's settings as written.
fn constructor(n: &Names) -> TokenStream {
    let name = &n.header.name;
    let (arg_names, arg_tys, config_ty) = (&n.arg_names, &n.arg_tys, &n.config_ty);
    let fields = n.nodes.iter().map(|node| &node.decl.name);
    let written = n.nodes.iter().map(|node| written_config(node));
    let policy = match &n.model.policy {
        Some(pol) => policy_value(pol),
        None => quote!(::pipeline::ErrorPolicy::FailFast),
    };
    let (cfg_var, policy_var) = (
        Ident::new("__config", Span::mixed_site()),
        Ident::new("__policy", Span::mixed_site()),
    );
    // Option expressions may use the arguments: they see clones.
    let clones =
        quote!(#(let #arg_names = ::core::clone::Clone::clone(&#arg_names); let _ = &#arg_names;)*);
    quote! {
        impl #name {
            /// Declares the pipeline. Each stage's settings start as written
            /// in the declaration (option expressions are evaluated here,
            /// once); change them with
            /// [`Declared::stage_mut`](::pipeline::Declared::stage_mut) or
            /// [`Declared::config_mut`](::pipeline::Declared::config_mut)
            /// before a run.
            #[allow(clippy::too_many_arguments)]
            pub fn new(#(#arg_names: #arg_tys),*) -> Self {
                let (#cfg_var, #policy_var) = {
                    #clones
                    (#config_ty { #(#fields: #written,)* }, #policy)
                };
                Self {
                    state: ::pipeline::DeclaredState::new((#(#arg_names,)*), #cfg_var, #policy_var),
                }
            }
        }
    }
}

/// `impl ::pipeline::Declared`: the stage table, the settings by name, and
/// the graph's builder calls.
fn declared_impl(n: &Names) -> TokenStream {
    let name = &n.header.name;
    let (arg_names, arg_tys, config_ty) = (&n.arg_names, &n.arg_tys, &n.config_ty);
    let name_str = name.to_string();
    let fields: Vec<&Ident> = n.nodes.iter().map(|node| &node.decl.name).collect();
    let keys: Vec<&String> = n.nodes.iter().map(|node| &node.name).collect();
    let layout = graph::layout(n.model);
    let built = built_type(n);
    let (p, cfg) = (pipeline_var(), &n.config_var);
    let body = stages(
        n.model,
        |node| {
            let f = &node.decl.name;
            quote!(::core::clone::Clone::clone(&#cfg.#f))
        },
        Some(&output_type(n.header)),
    );
    quote! {
        impl ::pipeline::Declared for #name {
            type Args = (#(#arg_tys,)*);
            type Config = #config_ty;
            type Built = #built;
            const NAME: &'static str = #name_str;
            const STAGES: &'static [&'static str] = &[#(#keys),*];
            const LAYOUT: ::pipeline::Layout = #layout;

            fn state(&self) -> &::pipeline::DeclaredState<Self> {
                &self.state
            }

            fn state_mut(&mut self) -> &mut ::pipeline::DeclaredState<Self> {
                &mut self.state
            }

            fn stage_in<'a>(#cfg: &'a #config_ty, name: &str) -> ::core::option::Option<&'a ::pipeline::StageConfig> {
                match name {
                    #(#keys => ::core::option::Option::Some(&#cfg.#fields),)*
                    _ => ::core::option::Option::None,
                }
            }

            fn stage_in_mut<'a>(#cfg: &'a mut #config_ty, name: &str) -> ::core::option::Option<&'a mut ::pipeline::StageConfig> {
                match name {
                    #(#keys => ::core::option::Option::Some(&mut #cfg.#fields),)*
                    _ => ::core::option::Option::None,
                }
            }

            fn declare(#p: ::pipeline::Pipeline, (#(#arg_names,)*): Self::Args, #cfg: &#config_ty) -> #built {
                #(let _ = &#arg_names;)*
                #body
            }
        }
    }
}

/// The declared output, `()` when none is written.
fn output_type(h: &Header) -> Type {
    h.output.clone().unwrap_or_else(|| parse_quote!(()))
}

/// What `build` gives, spanned at the declared output so that a sink that
/// does not give it is reported there.
fn built_type(n: &Names) -> TokenStream {
    let h = n.header;
    let out = output_type(h);
    let at = h.output.as_ref().map_or(h.name.span(), |t| t.span());
    let sink = n.model.nodes.iter().find_map(|node| match &node.body {
        Body::Sink(call) => Some(call.method.to_string()),
        _ => None,
    });
    match sink.as_deref() {
        Some("stream") => quote_spanned!(at=> ::pipeline::RunStream<#out>),
        Some("iter") => quote_spanned!(at=> ::pipeline::RunIter<#out>),
        _ => quote_spanned!(at=> ::pipeline::Run<#out>),
    }
}

/// A default summary when the user wrote none, then the stage table.
fn struct_docs(n: &Names) -> TokenStream {
    let (model, h, config_ty) = (n.model, n.header, &n.config_ty);
    let name = &h.name;
    let has_doc = h.attrs.iter().any(|a| a.path().is_ident("doc"));
    let mut lines: Vec<String> = Vec::new();
    if !has_doc {
        lines.push(format!(
            " The `{name}` pipeline, declared with `pipeline!`."
        ));
    }
    lines.push(String::new());
    lines.push(" # Stages".into());
    lines.push(String::new());
    lines.push(" | stage | kind | reads |".into());
    lines.push(" |---|---|---|".into());
    for node in &model.nodes {
        let reads: Vec<String> = node
            .inputs
            .iter()
            .map(|(_, j)| format!("`{}`", model.nodes[*j].name))
            .collect();
        lines.push(format!(
            " | `{}` | {} | {} |",
            node.name,
            node.decl.kind,
            reads.join(", ")
        ));
    }
    lines.push(String::new());
    lines.push(format!(
        " Settings per stage: [`{config_ty}`], by field or by name with \
         [`Declared::stage_mut`](::pipeline::Declared::stage_mut); changed \
         settings apply from the next run. Runs, stats and graphs: the \
         methods of [`Declared`](::pipeline::Declared), in scope with \
         `use pipeline::Declared;`."
    ));
    quote!(#(#[doc = #lines])*)
}
