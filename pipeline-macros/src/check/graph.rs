//! Graph rules: every reference names a stage, one source at least, one
//! sink, every output read, no cycle.

use std::collections::BTreeSet;

use syn::ext::IdentExt;
use syn::Ident;

use super::{err, Ctx};
use crate::ast::{Body, Role, SINKS};
use crate::suggest::did_you_mean;

/// The stages that stage `i` reads: its `from`, its merge list, or the stage
/// declared just before it.
pub(super) fn resolve_inputs(cx: &mut Ctx, i: usize) -> Vec<(Ident, usize)> {
    let s = &cx.stages[i];
    let named: Vec<Ident> = match (s.role, &s.body, &s.from) {
        (Role::Source, _, Some((kw, _))) => {
            cx.errors
                .push(err(kw, "a source has no input: it makes the items"));
            return Vec::new();
        }
        (Role::Source, _, None) => return Vec::new(),
        (Role::Merge, _, Some((kw, _))) => {
            cx.errors.push(err(kw, crate::ast::MERGE_FROM));
            return Vec::new();
        }
        (Role::Merge, Some(Body::Merge { inputs }), None) => {
            if inputs.len() < 2 {
                cx.errors.push(err(
                    &s.kind,
                    "a merge needs at least two inputs: `m: merge a, b;`",
                ));
            }
            inputs.clone()
        }
        (Role::Merge, _, None) => return Vec::new(),
        (_, _, Some((_, input))) => vec![input.clone()],
        (_, _, None) => {
            let here = s.name.unraw();
            let Some(prev) = i.checked_sub(1).map(|p| &cx.stages[p]) else {
                // With no source at all, `check_ends` says so at this stage.
                if cx.stages.iter().any(|s| s.role == Role::Source) {
                    cx.flag(i, format!("`{here}` has no input: the first stage is a source, or names its input with `from`"));
                }
                return Vec::new();
            };
            if prev.role == Role::Sink {
                let sink = prev.name.unraw();
                cx.flag(i, format!("`{here}` comes after the sink `{sink}`, which has no output; name its input with `from`"));
                return Vec::new();
            }
            // Read the stage just before, spanned at this stage's kind.
            vec![Ident::new(&prev.name.unraw().to_string(), s.kind.span())]
        }
    };
    let mut out: Vec<(Ident, usize)> = Vec::new();
    for r in named {
        let key = r.unraw().to_string();
        let found = cx.index.get(&key).copied();
        cx.incomplete |= !matches!(found, Some(j) if cx.stages[j].role != Role::Sink);
        match found {
            None => {
                let hint = did_you_mean(&key, cx.names.iter().map(String::as_str));
                cx.errors.push(err(
                    &r,
                    format!("no stage named `{key}` in this pipeline{hint}"),
                ));
            }
            Some(j) if cx.stages[j].role == Role::Sink => cx.errors.push(err(
                &r,
                format!("`{key}` is the sink: it ends the pipeline and has no output to read"),
            )),
            Some(j) if out.iter().any(|(_, k)| *k == j) => cx
                .errors
                .push(err(&r, format!("`{key}` is read twice by the same stage"))),
            Some(j) => out.push((r, j)),
        }
    }
    out
}

/// One source at least, exactly one sink, and every output read.
pub(super) fn check_ends(cx: &mut Ctx, readers: &[usize]) {
    let stages = cx.stages;
    if !stages.iter().any(|s| s.role == Role::Source) {
        let msg = "this pipeline has no source: start it with one, as in `gen: source 0..10;`";
        match stages.first() {
            Some(_) => cx.flag_too(0, msg),
            None => cx
                .errors
                .push(syn::Error::new(proc_macro2::Span::call_site(), msg)),
        }
    }
    let sinks: Vec<usize> = (0..stages.len())
        .filter(|&i| stages[i].role == Role::Sink)
        .collect();
    let last = stages.len().checked_sub(1);
    match (sinks.as_slice(), last) {
        ([], Some(last)) => cx.flag_too(
            last,
            format!("this pipeline has no sink: end it with one after this stage, as in `out: sink collect();` (sinks: {SINKS})"),
        ),
        ([], None) => {}
        ([first, more @ ..], _) => {
            let first = stages[*first].name.unraw();
            for &s in more {
                cx.flag(s, format!("a pipeline has one sink and `{first}` is already it; to send a stage's items two ways, fan it out with `from` and `merge`"));
            }
        }
    }
    if cx.incomplete {
        return;
    }
    for (i, s) in stages.iter().enumerate() {
        if readers[i] == 0 && !matches!(s.role, Role::Sink | Role::Unknown) {
            let name = s.name.unraw();
            cx.flag(i, format!("the output of `{name}` is never read: give a later stage `from {name}`, or remove it"));
        }
    }
}

/// Kahn's order over the input edges, taking the earliest declared ready
/// stage first (so a pipeline without forward references keeps its
/// declaration order). A cycle is reported at its earliest declared stage.
pub(super) fn topological_order(cx: &mut Ctx, inputs: &[Vec<(Ident, usize)>]) -> Vec<usize> {
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
        return order;
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
    let path: Vec<&str> = cycle.iter().map(|&i| cx.names[i].as_str()).collect();
    let msg = format!(
        "these stages form a cycle: {} -> {}; a stage cannot read its own output, even through other stages",
        path.join(" -> "),
        path[0]
    );
    cx.errors.push(err(&cx.stages[cycle[0]].name, msg));
    Vec::new()
}
