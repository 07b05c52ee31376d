//! `to_mermaid()` and `to_dot()` of the reusable form: the declared graph,
//! with the last run's counts on its edges.
//!
//! The graph is known when the macro runs, so it is generated as constant
//! tables; only the counts and widths are read at run time, from the last
//! run's stats.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::Body;
use crate::check::Model;

/// The private `graph_rows` helper and the two public renderers.
pub(super) fn methods(model: &Model) -> TokenStream {
    let names: Vec<&String> = model.nodes.iter().map(|n| &n.name).collect();
    let kinds: Vec<String> = model
        .nodes
        .iter()
        .map(|n| n.decl.kind.to_string())
        .collect();
    // Which counter an edge a -> b shows: what b received, when b reads
    // only a; for a merge, what a sent, when the merge is a's only reader.
    let edges = model.nodes.iter().enumerate().flat_map(|(b, node)| {
        node.inputs.iter().map(move |&(_, a)| {
            let label = match node.body {
                Body::Merge { .. } if model.nodes[a].readers == 1 => {
                    quote!(::core::option::Option::Some((#a, true)))
                }
                Body::Merge { .. } => quote!(::core::option::Option::None),
                _ => quote!(::core::option::Option::Some((#b, false))),
            };
            quote!((#a, #b, #label))
        })
    });
    quote! {
        /// The nodes (name, kind, label) and edges (from, to, count) of the
        /// declared graph, with the last run's counts.
        #[allow(clippy::type_complexity)]
        fn graph_rows(&self) -> (
            ::std::vec::Vec<(&'static str, ::std::string::String)>,
            ::std::vec::Vec<(usize, usize, ::core::option::Option<u64>)>,
        ) {
            const NODES: &[(&str, &str)] = &[#((#names, #kinds)),*];
            const EDGES: &[(usize, usize, ::core::option::Option<(usize, bool)>)] = &[#(#edges),*];
            let snap = self.stats.snapshot();
            let find = |name: &str| snap.iter().find(|s| s.name == name);
            let nodes = NODES
                .iter()
                .map(|&(name, kind)| {
                    let workers = find(name)
                        .map(|s| s.width)
                        .or_else(|| self.config.stage(name).map(|c| c.workers))
                        .unwrap_or(1);
                    let plain = ["source", "merge", "sink"].contains(&kind) || workers == 1;
                    let label = if plain {
                        ::std::format!("{name}: {kind}")
                    } else {
                        ::std::format!("{name}: {kind}, {workers} workers")
                    };
                    (name, label)
                })
                .collect();
            let edges = EDGES
                .iter()
                .map(|&(a, b, label)| {
                    let count = label.and_then(|(i, sent)| {
                        find(NODES[i].0).map(|s| if sent { s.items_out } else { s.items_in })
                    });
                    (a, b, count)
                })
                .collect();
            (nodes, edges)
        }

        /// The declared graph as a Mermaid flowchart; each edge shows how
        /// many items crossed it in the last run (when that is known).
        pub fn to_mermaid(&self) -> ::std::string::String {
            let (nodes, edges) = self.graph_rows();
            let mut out = ::std::string::String::from("flowchart LR\n");
            for (i, (_, label)) in nodes.iter().enumerate() {
                out.push_str(&::std::format!("    n{i}[\"{label}\"]\n"));
            }
            for (a, b, count) in edges {
                match count {
                    ::core::option::Option::Some(c) => {
                        out.push_str(&::std::format!("    n{a} -->|{c}| n{b}\n"))
                    }
                    ::core::option::Option::None => out.push_str(&::std::format!("    n{a} --> n{b}\n")),
                }
            }
            out
        }

        /// The declared graph in Graphviz DOT; each edge is labelled with
        /// how many items crossed it in the last run (when that is known).
        pub fn to_dot(&self) -> ::std::string::String {
            let (nodes, edges) = self.graph_rows();
            let mut out = ::std::string::String::from("digraph pipeline {\n    rankdir=LR;\n");
            for (i, (_, label)) in nodes.iter().enumerate() {
                out.push_str(&::std::format!("    n{i} [label=\"{label}\"];\n"));
            }
            for (a, b, count) in edges {
                match count {
                    ::core::option::Option::Some(c) => {
                        out.push_str(&::std::format!("    n{a} -> n{b} [label=\"{c}\"];\n"))
                    }
                    ::core::option::Option::None => out.push_str(&::std::format!("    n{a} -> n{b};\n")),
                }
            }
            out.push_str("}\n");
            out
        }
    }
}
