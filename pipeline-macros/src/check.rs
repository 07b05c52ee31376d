//! Graph rules (names, edges, cycles, options) -> a validated [`Model`].
//!
//! Every rule is checked and every violation kept, each at the span of the
//! user's token; the errors are combined into one `syn::Error` so the user
//! sees them all in one build. A stage that already has an error at its
//! name gets no second one that would only follow from the first.

mod graph;
mod options;

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};

use syn::ext::IdentExt;
use syn::Ident;

use crate::ast::{Body, Header, Input, Policy, Role, StageDecl};
use crate::suggest::did_you_mean;

/// A pipeline that passed every check, its stages in an order where each
/// comes after its inputs.
pub(crate) struct Model {
    pub header: Option<Header>,
    pub policy: Option<Policy>,
    /// In dependency order.
    pub nodes: Vec<Node>,
}

/// One checked stage.
pub(crate) struct Node {
    pub decl: StageDecl,
    /// The parsed body (checked to be present).
    pub body: Body,
    /// The stage's name as a string (raw identifiers unraw'd).
    pub name: String,
    /// The stages it reads, as the identifiers to span the reads at, with
    /// their indices in `Model::nodes`.
    pub inputs: Vec<(Ident, usize)>,
    /// How many stages read it.
    pub readers: usize,
}

/// What the rules share while they run.
pub(super) struct Ctx<'a> {
    stages: &'a [StageDecl],
    names: Vec<String>,
    index: HashMap<String, usize>,
    errors: Vec<syn::Error>,
    /// Stages with an error at their name already.
    flagged: BTreeSet<usize>,
    /// Whether some stage did not parse or some reference did not resolve:
    /// then the edges are not all known, and unread outputs are not
    /// reported (they would likely follow from the first error).
    incomplete: bool,
}

impl Ctx<'_> {
    /// Reports `msg` at stage `i`'s name unless it has an error there
    /// already.
    fn flag(&mut self, i: usize, msg: impl std::fmt::Display) {
        if self.flagged.insert(i) {
            self.errors.push(err(&self.stages[i].name, msg));
        }
    }

    /// Reports `msg` at stage `i`'s name even if it has an error there.
    fn flag_too(&mut self, i: usize, msg: impl std::fmt::Display) {
        self.flagged.insert(i);
        self.errors.push(err(&self.stages[i].name, msg));
    }
}

/// Checks `input`, returning every error at once.
pub(crate) fn check(input: Input) -> syn::Result<Model> {
    let Input {
        header,
        policy,
        stages,
        errors,
    } = input;
    let mut cx = Ctx {
        stages: &stages,
        names: stages.iter().map(|s| s.name.unraw().to_string()).collect(),
        index: HashMap::new(),
        errors,
        flagged: BTreeSet::new(),
        incomplete: false,
    };
    for (i, s) in stages.iter().enumerate() {
        let name = cx.names[i].clone();
        if let Entry::Vacant(slot) = cx.index.entry(name.clone()) {
            slot.insert(i);
        } else {
            cx.flag(i, format!("duplicate stage name `{name}`: each stage needs its own name, shown in stats and errors"));
        }
        if s.role == Role::Unknown && s.kind != "__missing" {
            let kinds = crate::ast::KINDS;
            cx.errors.push(err(
                &s.kind,
                format!(
                    "unknown stage kind `{}`{}; expected one of: {}",
                    s.kind,
                    did_you_mean(&s.kind.to_string(), kinds.iter().copied()),
                    kinds.join(", ")
                ),
            ));
        }
        if s.body.is_none() {
            cx.incomplete = true;
        }
        options::check_options(s, &mut cx.errors);
        if let Some(Body::Sink(call)) = &s.body {
            options::check_sink(call, &mut cx.errors);
        }
    }
    let inputs: Vec<Vec<(Ident, usize)>> = (0..stages.len())
        .map(|i| graph::resolve_inputs(&mut cx, i))
        .collect();
    let mut readers = vec![0usize; stages.len()];
    for (_, j) in inputs.iter().flatten() {
        readers[*j] += 1;
    }
    graph::check_ends(&mut cx, &readers);
    let order = graph::topological_order(&mut cx, &inputs);
    if let Some(e) = cx.errors.into_iter().reduce(|mut a, b| {
        a.combine(b);
        a
    }) {
        return Err(e);
    }
    let names = cx.names;
    Ok(model(header, policy, stages, names, inputs, readers, order))
}

fn model(
    header: Option<Header>,
    policy: Option<Policy>,
    stages: Vec<StageDecl>,
    names: Vec<String>,
    inputs: Vec<Vec<(Ident, usize)>>,
    readers: Vec<usize>,
    order: Vec<usize>,
) -> Model {
    let mut position = vec![0; stages.len()];
    for (pos, &i) in order.iter().enumerate() {
        position[i] = pos;
    }
    let mut slots: Vec<Option<Node>> = stages
        .into_iter()
        .zip(names)
        .zip(inputs)
        .zip(readers)
        .map(|(((mut decl, name), inputs), readers)| {
            let body = decl.body.take()?;
            let inputs = inputs
                .into_iter()
                .map(|(id, j)| (id, position[j]))
                .collect();
            Some(Node {
                decl,
                body,
                name,
                inputs,
                readers,
            })
        })
        .collect();
    let nodes = order.iter().filter_map(|&i| slots[i].take()).collect();
    Model {
        header,
        policy,
        nodes,
    }
}

fn err(at: &Ident, msg: impl std::fmt::Display) -> syn::Error {
    syn::Error::new(at.span(), msg)
}
