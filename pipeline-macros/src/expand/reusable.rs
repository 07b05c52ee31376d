//! The reusable form: a documented pipeline type with constructor
//! arguments, one `StageConfig` per stage (by field and by name), and
//! `build`/`run`/`run_async` that declare the graph afresh for each run.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{parse_quote, Ident, Type};

use super::{graph, pipeline_var, policy_value, stages, written_config};
use crate::ast::{Body, Header};
use crate::check::{Model, Node};

pub(super) fn expand(model: &Model, h: &Header) -> TokenStream {
    let Header {
        attrs,
        vis,
        name,
        args,
        output,
    } = h;
    let config_ty = format_ident!("{}Config", name);
    let out_ty: Type = output.clone().unwrap_or_else(|| parse_quote!(()));
    let arg_names: Vec<&Ident> = args.iter().map(|a| &a.name).collect();
    let arg_tys: Vec<&Type> = args.iter().map(|a| &a.ty).collect();
    let nodes: Vec<&Node> = model
        .nodes
        .iter()
        .filter(|n| !matches!(n.body, Body::Sink(_)))
        .collect();
    let fields: Vec<&Ident> = nodes.iter().map(|n| &n.decl.name).collect();
    let keys: Vec<&String> = nodes.iter().map(|n| &n.name).collect();
    let field_docs = nodes.iter().map(|n| {
        let summary = format!(" Settings of stage `{}` (`{}`).", n.name, n.decl.kind);
        let docs = &n.decl.docs;
        quote!(#[doc = #summary] #(#docs)*)
    });
    let written = nodes.iter().map(|n| written_config(n));
    let p = pipeline_var();
    let (cfg_var, policy_var) = (
        Ident::new("__config", Span::mixed_site()),
        Ident::new("__policy", Span::mixed_site()),
    );
    let policy = match &model.policy {
        Some(pol) => policy_value(pol),
        None => quote!(::pipeline::ErrorPolicy::FailFast),
    };
    // A sink that does not give the declared output is reported there.
    let at = output.as_ref().map_or(name.span(), |t| t.span());
    let sink = model.nodes.iter().find_map(|n| match &n.body {
        Body::Sink(call) => Some(call.method.to_string()),
        _ => None,
    });
    let (ret, run) = match sink.as_deref() {
        Some("stream") => (
            quote_spanned!(at=> ::pipeline::RunStream<#out_ty>),
            quote!(),
        ),
        Some("iter") => (quote_spanned!(at=> ::pipeline::RunIter<#out_ty>), quote!()),
        _ => (
            quote_spanned!(at=> ::pipeline::Run<#out_ty>),
            run_methods(&out_ty),
        ),
    };
    let body = stages(
        model,
        |n| {
            let f = &n.decl.name;
            quote!(::core::clone::Clone::clone(&self.config.#f))
        },
        Some(&out_ty),
    );
    let struct_docs = struct_docs(model, h, &config_ty);
    let config_doc = format!(
        " The settings of every stage of [`{name}`], one public field per stage, \
         also reachable by name with [`stage_mut`](Self::stage_mut)."
    );
    let graph = graph::methods(model);
    let clones =
        quote!(#(let #arg_names = ::core::clone::Clone::clone(&#arg_names); let _ = &#arg_names;)*);
    quote! {
        #(#attrs)*
        #struct_docs
        #[derive(Clone)]
        #vis struct #name {
            args: (#(#arg_tys,)*),
            config: #config_ty,
            policy: ::pipeline::ErrorPolicy,
            stats: ::pipeline::Stats,
            live: ::pipeline::LiveTasks,
            cancel: ::pipeline::Cancel,
            errors: ::pipeline::Errors,
        }

        #[doc = #config_doc]
        #[derive(Debug, Clone, PartialEq, Eq)]
        #vis struct #config_ty {
            #(#field_docs pub #fields: ::pipeline::StageConfig,)*
        }

        impl #config_ty {
            /// The names of the stages that have settings (every stage but
            /// the sink), sources first.
            pub const STAGES: &'static [&'static str] = &[#(#keys),*];

            /// The settings of the stage called `name`, if there is one.
            pub fn stage(&self, name: &str) -> ::core::option::Option<&::pipeline::StageConfig> {
                match name {
                    #(#keys => ::core::option::Option::Some(&self.#fields),)*
                    _ => ::core::option::Option::None,
                }
            }

            /// The settings of the stage called `name`, to change before a run.
            pub fn stage_mut(&mut self, name: &str) -> ::core::option::Option<&mut ::pipeline::StageConfig> {
                match name {
                    #(#keys => ::core::option::Option::Some(&mut self.#fields),)*
                    _ => ::core::option::Option::None,
                }
            }
        }

        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(::core::stringify!(#name))
                    .field("config", &self.config)
                    .field("policy", &self.policy)
                    .finish_non_exhaustive()
            }
        }

        impl #name {
            /// Declares the pipeline. Each stage's settings start as written
            /// in the declaration (option expressions are evaluated here,
            /// once); change them with [`stage_mut`](Self::stage_mut) or
            /// [`config_mut`](Self::config_mut) before a run.
            #[allow(clippy::too_many_arguments)]
            pub fn new(#(#arg_names: #arg_tys),*) -> Self {
                let (#cfg_var, #policy_var) = {
                    #clones
                    (#config_ty { #(#fields: #written,)* }, #policy)
                };
                Self {
                    args: (#(#arg_names,)*),
                    config: #cfg_var,
                    policy: #policy_var,
                    stats: ::core::default::Default::default(),
                    live: ::core::default::Default::default(),
                    cancel: ::core::default::Default::default(),
                    errors: ::core::default::Default::default(),
                }
            }

            /// The settings of every stage.
            pub fn config(&self) -> &#config_ty {
                &self.config
            }

            /// The settings of every stage, to change before a run.
            pub fn config_mut(&mut self) -> &mut #config_ty {
                &mut self.config
            }

            /// The settings of the stage called `name` (`None` for the sink
            /// and for names not in this pipeline).
            pub fn stage(&self, name: &str) -> ::core::option::Option<&::pipeline::StageConfig> {
                self.config.stage(name)
            }

            /// The settings of the stage called `name`, to change before a
            /// run: `p.stage_mut("digest").map(|c| c.workers = 8)`.
            pub fn stage_mut(&mut self, name: &str) -> ::core::option::Option<&mut ::pipeline::StageConfig> {
                self.config.stage_mut(name)
            }

            /// The error policy of the next run.
            pub fn policy(&self) -> ::pipeline::ErrorPolicy {
                self.policy
            }

            /// Sets the error policy of the next runs.
            pub fn set_policy(&mut self, policy: ::pipeline::ErrorPolicy) {
                self.policy = policy;
            }

            /// Sets the error policy of the runs (builder style).
            pub fn with_policy(mut self, policy: ::pipeline::ErrorPolicy) -> Self {
                self.policy = policy;
                self
            }

            /// Declares one run with the current settings and a fresh clone
            /// of every argument, and returns it without running it: take
            /// its `live_tasks()` or `cancel_signal()` first, then run it.
            /// A `stream()` or `iter()` sink starts the run here.
            /// [`stats`](Self::stats) and [`live_tasks`](Self::live_tasks)
            /// now refer to this run.
            pub fn build(&mut self) -> #ret {
                let (#(#arg_names,)*) = ::core::clone::Clone::clone(&self.args);
                #(let _ = &#arg_names;)*
                let #p = ::pipeline::Pipeline::new().with_policy(self.policy);
                self.stats = #p.stats();
                self.live = #p.live_tasks();
                self.cancel = #p.cancel_signal();
                self.errors = #p.errors();
                #body
            }

            #run

            /// The per-stage counters of the last run (empty before the first).
            pub fn stats(&self) -> ::pipeline::Stats {
                ::core::clone::Clone::clone(&self.stats)
            }

            /// The live-task counter of the last run: 0 once it has ended.
            pub fn live_tasks(&self) -> ::pipeline::LiveTasks {
                ::core::clone::Clone::clone(&self.live)
            }

            /// The close-to-cancel signal of the last run built.
            pub fn cancel_signal(&self) -> ::pipeline::Cancel {
                ::core::clone::Clone::clone(&self.cancel)
            }

            /// Errors that reached the sink of the last run as items under
            /// `ErrorPolicy::Continue`.
            pub fn errors(&self) -> ::pipeline::Errors {
                ::core::clone::Clone::clone(&self.errors)
            }

            #graph
        }
    }
}

/// `run` and `run_async`, for sinks that give a `Run`.
fn run_methods(out: &Type) -> TokenStream {
    quote! {
        /// Runs the pipeline once with the current settings.
        ///
        /// # Errors
        /// The run's first error (a stage's error or panic, naming the
        /// stage), `Error::Cancelled` if cancelled from outside, or
        /// `Error::Config` for a width, buffer, window or batch of 0.
        /// Every task of the run has ended when this returns.
        pub fn run(&mut self) -> ::core::result::Result<#out, ::pipeline::Error> {
            self.build().run()
        }

        /// Runs the pipeline once inside async code; see [`run`](Self::run).
        ///
        /// # Errors
        /// As [`run`](Self::run).
        pub async fn run_async(&mut self) -> ::core::result::Result<#out, ::pipeline::Error> {
            self.build().run_async().await
        }
    }
}

/// A default summary when the user wrote none, then the stage table.
fn struct_docs(model: &Model, h: &Header, config_ty: &Ident) -> TokenStream {
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
    for n in &model.nodes {
        let reads: Vec<String> = n
            .inputs
            .iter()
            .map(|(_, j)| format!("`{}`", model.nodes[*j].name))
            .collect();
        lines.push(format!(
            " | `{}` | {} | {} |",
            n.name,
            n.decl.kind,
            reads.join(", ")
        ));
    }
    lines.push(String::new());
    lines.push(format!(
        " Settings per stage: [`{config_ty}`], by field or by name with \
         [`stage_mut`]({name}::stage_mut); changed settings apply from the next run."
    ));
    quote!(#(#[doc = #lines])*)
}
