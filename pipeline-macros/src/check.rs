//! Graph rules: names, edges, cycles, options -> a validated [`Model`].
//!
//! Every rule is checked and every violation kept, each at the span of the
//! user's token; the errors are combined into one `syn::Error` so the user
//! sees them all in one build.

use std::collections::{BTreeSet, HashMap};

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{Expr, Ident, Lit};

use crate::parse::{Body, Header, Input, Policy, Role, SinkCall, StageDecl, SINKS};

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

const OPTIONS: &str = "workers, buffer, ordered, window, unordered, blocking, batch";

/// Checks `input`, returning every error at once.
pub(crate) fn check(input: Input) -> syn::Result<Model> {
    let mut errors = input.errors;
    let stages = input.stages;
    let names: Vec<String> = stages.iter().map(|s| s.name.unraw().to_string()).collect();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, s) in stages.iter().enumerate() {
        if index.contains_key(names[i].as_str()) {
            errors.push(err(
                &s.name,
                format!("duplicate stage name `{}`: each stage needs its own name, shown in stats and errors", names[i]),
            ));
        } else {
            index.insert(&names[i], i);
        }
        check_options(s, &mut errors);
        if let Some(Body::Sink(call)) = &s.body {
            check_sink(call, &mut errors);
        }
    }
    let inputs: Vec<Vec<(Ident, usize)>> = (0..stages.len())
        .map(|i| resolve_inputs(&stages, i, &index, &mut errors))
        .collect();
    let mut readers = vec![0usize; stages.len()];
    for ins in &inputs {
        for (_, j) in ins {
            readers[*j] += 1;
        }
    }
    check_ends(&stages, &readers, &mut errors);
    let order = match topological_order(&inputs) {
        Ok(order) => order,
        Err(cycle) => {
            let path: Vec<&str> = cycle.iter().map(|&i| names[i].as_str()).collect();
            errors.push(err(
                &stages[cycle[0]].name,
                format!(
                    "these stages form a cycle: {} -> {}",
                    path.join(" -> "),
                    path[0]
                ),
            ));
            Vec::new()
        }
    };
    if let Some(e) = errors.into_iter().reduce(|mut a, b| {
        a.combine(b);
        a
    }) {
        return Err(e);
    }
    Ok(model(
        input.header,
        input.policy,
        stages,
        names,
        inputs,
        readers,
        order,
    ))
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

/// Known option, value present or not as it should be, no repeats, no
/// conflicts, applies to this kind, no literal 0.
fn check_options(s: &StageDecl, errors: &mut Vec<syn::Error>) {
    let mut seen: Vec<String> = Vec::new();
    for opt in &s.options {
        let name = opt.name.to_string();
        let takes_value = match name.as_str() {
            "workers" | "buffer" | "window" | "batch" => true,
            "ordered" | "unordered" | "blocking" => false,
            _ => {
                errors.push(err(
                    &opt.name,
                    format!("unknown option `{name}`; expected one of: {OPTIONS}"),
                ));
                continue;
            }
        };
        if seen.contains(&name) {
            errors.push(err(&opt.name, format!("option `{name}` is given twice")));
            continue;
        }
        seen.push(name.clone());
        match (&opt.value, takes_value) {
            (None, true) => errors.push(err(
                &opt.name,
                format!("option `{name}` needs a value, as in `{name} = 4`"),
            )),
            (Some(v), false) => errors.push(syn::Error::new_spanned(
                v,
                format!("option `{name}` is a flag and takes no value"),
            )),
            (Some(v), true) if is_literal_zero(v) => errors.push(syn::Error::new_spanned(
                v,
                format!("`{name}` must be at least 1"),
            )),
            _ => {}
        }
        if let Some(why) = not_applicable(s.role, &name) {
            errors.push(err(&opt.name, why));
        }
    }
    let has = |n: &str| seen.iter().any(|s| s == n);
    if has("unordered") && (has("ordered") || has("window")) {
        let at = s
            .options
            .iter()
            .find(|o| o.name == "unordered")
            .map_or(&s.name, |o| &o.name);
        errors.push(err(
            at,
            "`unordered` contradicts `ordered`/`window` on the same stage",
        ));
    }
}

/// A known sink with the right number of arguments; only `collect` takes
/// a type.
fn check_sink(call: &SinkCall, errors: &mut Vec<syn::Error>) {
    let m = &call.method;
    let arity = match m.to_string().as_str() {
        "collect" | "first" | "stream" | "iter" => 0,
        "take" | "for_each" => 1,
        "fold" => 2,
        other => {
            errors.push(err(
                m,
                format!("unknown sink `{other}`; expected one of: {SINKS}"),
            ));
            return;
        }
    };
    if call.args.len() != arity {
        let usage = SINKS
            .split(", ")
            .find(|s| s.starts_with(&format!("{m}(")))
            .unwrap_or("");
        errors.push(err(
            m,
            format!(
                "`{m}` takes {arity} argument{}: `{usage}`",
                if arity == 1 { "" } else { "s" }
            ),
        ));
    }
    if let (Some(t), false) = (&call.turbofish, m == "collect") {
        errors.push(syn::Error::new_spanned(
            t,
            format!("`{m}` takes no type; only `collect::<C>()` does"),
        ));
    }
}

fn not_applicable(role: Role, option: &str) -> Option<String> {
    match role {
        Role::Source if option == "blocking" => Some(
            "a source is made blocking by its form: `source blocking |em| ...`".into(),
        ),
        Role::Source if !matches!(option, "buffer" | "batch") => Some(format!(
            "option `{option}` does not apply to a source (it has one producer); a source takes `buffer` and `batch`"
        )),
        Role::Merge if option != "buffer" => Some(format!(
            "option `{option}` does not apply to a merge; a merge takes `buffer`"
        )),
        Role::Sink => Some(format!(
            "option `{option}` does not apply to a sink: it runs in the caller's task and sends nothing"
        )),
        Role::Stage(op) if op.is_async() && option == "blocking" => Some(format!(
            "`blocking` has no effect on `{}`: its async function already runs as a task",
            op.method()
        )),
        _ => None,
    }
}

fn is_literal_zero(e: &Expr) -> bool {
    match e {
        Expr::Lit(l) => matches!(&l.lit, Lit::Int(i) if i.base10_parse::<u128>().ok() == Some(0)),
        Expr::Paren(p) => is_literal_zero(&p.expr),
        Expr::Group(g) => is_literal_zero(&g.expr),
        _ => false,
    }
}

/// The stages that stage `i` reads: its `from`, its merge list, or the stage
/// declared just before it.
fn resolve_inputs(
    stages: &[StageDecl],
    i: usize,
    index: &HashMap<&str, usize>,
    errors: &mut Vec<syn::Error>,
) -> Vec<(Ident, usize)> {
    let s = &stages[i];
    let named: Vec<Ident> = match (s.role, &s.body, &s.from) {
        (Role::Source, _, Some((kw, _))) => {
            errors.push(err(kw, "a source has no input: it makes the items"));
            return Vec::new();
        }
        (Role::Source, _, None) => return Vec::new(),
        (Role::Merge, _, Some((kw, _))) => {
            errors.push(err(
                kw,
                "a merge names its inputs after `merge`: `m: merge a, b;`",
            ));
            return Vec::new();
        }
        (Role::Merge, Some(Body::Merge { inputs }), None) => {
            if inputs.len() < 2 {
                errors.push(err(
                    &s.kind,
                    "a merge needs at least two inputs: `m: merge a, b;`",
                ));
            }
            inputs.clone()
        }
        (Role::Merge, _, None) => return Vec::new(),
        (_, _, Some((_, input))) => vec![input.clone()],
        (_, _, None) => {
            let Some(prev) = i.checked_sub(1).map(|p| &stages[p]) else {
                errors.push(err(
                    &s.name,
                    format!("`{}` has no input: a pipeline starts with a source, as in `gen: source 0..10;`", s.name.unraw()),
                ));
                return Vec::new();
            };
            if prev.role == Role::Sink {
                errors.push(err(
                    &s.name,
                    format!("`{}` comes after the sink `{}`, which has no output; name its input with `from`", s.name.unraw(), prev.name.unraw()),
                ));
                return Vec::new();
            }
            // Read the stage just before, spanned at this stage's kind.
            vec![Ident::new(&prev.name.unraw().to_string(), s.kind.span())]
        }
    };
    let mut out: Vec<(Ident, usize)> = Vec::new();
    for r in named {
        let key = r.unraw().to_string();
        match index.get(key.as_str()) {
            None => errors.push(err(&r, format!("no stage named `{key}` in this pipeline"))),
            Some(&j) if stages[j].role == Role::Sink => errors.push(err(
                &r,
                format!("`{key}` is the sink: it ends the pipeline and has no output to read"),
            )),
            Some(&j) if out.iter().any(|(_, k)| *k == j) => {
                errors.push(err(&r, format!("`{key}` is read twice by the same stage")))
            }
            Some(&j) => out.push((r, j)),
        }
    }
    out
}

/// One source at least, exactly one sink, and every output read.
fn check_ends(stages: &[StageDecl], readers: &[usize], errors: &mut Vec<syn::Error>) {
    if !stages.iter().any(|s| s.role == Role::Source) {
        errors.push(syn::Error::new(
            Span::call_site(),
            "this pipeline has no source: start it with one, as in `gen: source 0..10;`",
        ));
    }
    let sinks: Vec<&StageDecl> = stages.iter().filter(|s| s.role == Role::Sink).collect();
    match sinks.as_slice() {
        [] => errors.push(syn::Error::new(
            Span::call_site(),
            format!("this pipeline has no sink: end it with one, as in `out: sink collect();` (sinks: {SINKS})"),
        )),
        [first, more @ ..] => {
            for s in more {
                errors.push(err(
                    &s.name,
                    format!("a pipeline has one sink and `{}` is already it; to read a stage twice, fan it out with `from` and `merge`", first.name.unraw()),
                ));
            }
        }
    }
    for (s, &n) in stages.iter().zip(readers) {
        if n == 0 && !matches!(s.role, Role::Sink | Role::Unknown) {
            errors.push(err(
                &s.name,
                format!(
                    "the output of `{}` is never read: give a later stage `from {}`, or remove it",
                    s.name.unraw(),
                    s.name.unraw()
                ),
            ));
        }
    }
}

/// Kahn's order over the input edges, taking the earliest declared ready
/// stage first (so a pipeline without forward references keeps its
/// declaration order), or one cycle as stage indices in data-flow order.
fn topological_order(inputs: &[Vec<(Ident, usize)>]) -> Result<Vec<usize>, Vec<usize>> {
    let n = inputs.len();
    let mut pending: Vec<usize> = inputs.iter().map(Vec::len).collect();
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, ins) in inputs.iter().enumerate() {
        for (_, j) in ins {
            readers[*j].push(i);
        }
    }
    let mut order = Vec::with_capacity(n);
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| pending[i] == 0).collect();
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &r in &readers[i] {
            pending[r] -= 1;
            if pending[r] == 0 {
                ready.insert(r);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Walk inputs from a stuck stage until one repeats: that is a cycle.
    let mut path: Vec<usize> = Vec::new();
    let mut at = (0..n).find(|&i| pending[i] > 0).unwrap_or(0);
    while !path.contains(&at) {
        path.push(at);
        at = inputs[at]
            .iter()
            .map(|(_, j)| *j)
            .find(|&j| pending[j] > 0)
            .unwrap_or(at);
    }
    let start = path.iter().position(|&i| i == at).unwrap_or(0);
    let mut cycle = path.split_off(start);
    cycle.reverse();
    let first = (0..cycle.len()).min_by_key(|&k| cycle[k]).unwrap_or(0);
    cycle.rotate_left(first);
    Err(cycle)
}
