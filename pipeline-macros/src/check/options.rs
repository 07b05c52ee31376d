//! Option and sink rules: known names, values where values belong, no
//! repeats or contradictions, options that fit the stage's kind, no literal 0.

use quote::ToTokens;
use syn::{Expr, Lit};

use super::err;
use crate::ast::{Body, Role, SinkCall, StageDecl, OPTIONS, SINKS};
use crate::suggest::did_you_mean;

/// Known option, value present or not as it should be, no repeats, no
/// conflicts, applies to this kind, no literal 0.
pub(super) fn check_options(s: &StageDecl, errors: &mut Vec<syn::Error>) {
    let mut seen: Vec<String> = Vec::new();
    for opt in &s.options {
        let name = opt.name.to_string();
        let takes_value = match name.as_str() {
            "workers" | "buffer" | "window" | "batch" | "item_timeout" | "retry" => true,
            "ordered" | "unordered" | "blocking" | "adaptive" => false,
            _ => {
                errors.push(err(
                    &opt.name,
                    format!(
                        "unknown option `{name}`{}; expected one of: {}",
                        did_you_mean(&name, OPTIONS.iter().copied()),
                        OPTIONS.join(", ")
                    ),
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
                format!(
                    "option `{name}` needs a value, as in `{name} = 4`{}",
                    index_hint(s, &name)
                ),
            )),
            (Some(v), false) => errors.push(syn::Error::new_spanned(
                v,
                format!("option `{name}` is a flag and takes no value"),
            )),
            (Some(v), true) if name == "item_timeout" && is_number_literal(v) => {
                errors.push(syn::Error::new_spanned(
                    v,
                    "`item_timeout` takes a `Duration`, as in \
                     `item_timeout = std::time::Duration::from_secs(5)`",
                ))
            }
            (Some(v), true) if is_literal_zero(v) => errors.push(syn::Error::new_spanned(
                v,
                format!("`{name}` must be at least 1"),
            )),
            _ => {}
        }
        if let Some(why) = not_applicable(s.role, &name).or_else(|| not_callable(s, &name)) {
            errors.push(err(&opt.name, why));
        }
    }
    let has = |n: &str| seen.iter().any(|s| s == n);
    // (flag, the options it contradicts, the message at the flag)
    let contradictions: [(&str, &[&str], &str); 2] = [
        (
            "unordered",
            &["ordered", "window"],
            "`unordered` contradicts `ordered`/`window` on the same stage",
        ),
        (
            "adaptive",
            &["batch"],
            "`adaptive` contradicts `batch` on the same stage: `batch = n` fixes the packet size",
        ),
    ];
    for (flag, others, why) in contradictions {
        if has(flag) && others.iter().any(|o| has(o)) {
            let at = s
                .options
                .iter()
                .find(|o| o.name == flag)
                .map_or(&s.name, |o| &o.name);
            errors.push(err(at, why));
        }
    }
}

/// A known sink with the right number of arguments; only `collect` takes
/// a type.
pub(super) fn check_sink(call: &SinkCall, errors: &mut Vec<syn::Error>) {
    let m = &call.method;
    let arity = match m.to_string().as_str() {
        "collect" | "first" | "stream" | "iter" => 0,
        "take" | "for_each" => 1,
        "fold" => 2,
        other => {
            let names = SINKS.split(", ").filter_map(|s| s.split('(').next());
            errors.push(err(
                m,
                format!(
                    "unknown sink `{other}`{}; expected one of: {SINKS}",
                    did_you_mean(other, names)
                ),
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

/// For `[name]`, the stage's only option: how to write it if it was
/// meant to index the expression before it (`table[workers]`).
fn index_hint(s: &StageDecl, name: &str) -> String {
    if s.options.len() != 1 {
        return String::new();
    }
    let expr = match &s.body {
        Some(Body::Stage { func: e }) | Some(Body::Source { expr: e, .. }) => e,
        _ => return String::new(),
    };
    // Only what can be indexed: `table`, `self.table`, `tables()`, `t[i]`.
    if !matches!(
        expr,
        Expr::Path(_) | Expr::Field(_) | Expr::Call(_) | Expr::MethodCall(_) | Expr::Index(_)
    ) {
        return String::new();
    }
    let expr = expr.to_token_stream().to_string();
    let expr = if expr.len() <= 40 { expr } else { "...".into() };
    format!(
        "; `[{name}]` at the end of a stage is read as its options: to index `{expr}` \
         with `{name}`, put the expression in parentheses, `({expr}[{name}])`"
    )
}

fn not_applicable(role: Role, option: &str) -> Option<String> {
    match role {
        Role::Source if option == "blocking" => Some(
            "a source is made blocking by its form: `source blocking |em| ...`".into(),
        ),
        Role::Source if !matches!(option, "buffer" | "batch" | "adaptive") => Some(format!(
            "option `{option}` does not apply to a source (it has one producer); a source takes `buffer`, `batch` and `adaptive`"
        )),
        Role::Merge if !matches!(option, "buffer" | "batch" | "adaptive") => Some(format!(
            "option `{option}` does not apply to a merge; a merge takes `buffer`, `batch` and `adaptive`"
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

/// Why option `option` cannot apply to the way stage `s` calls its
/// function: an item timeout on a plain function (which holds its
/// executor thread), retries on a function that cannot fail.
fn not_callable(s: &StageDecl, option: &str) -> Option<String> {
    let Role::Stage(op) = s.role else {
        return None;
    };
    match option {
        "item_timeout" if !op.is_async() && !s.has_option("blocking") => Some(format!(
            "`item_timeout` needs an async stage (`then`, `try_then`) or `blocking`: \
             a plain `{}` call holds its executor thread and cannot be timed",
            op.method()
        )),
        "retry" if !op.is_fallible() => Some(format!(
            "`retry` applies to the `try_` stages, whose function can fail: `{}` cannot",
            op.method()
        )),
        _ => None,
    }
}

/// A number literal, perhaps in parentheses: a number where a
/// `Duration` belongs.
fn is_number_literal(e: &Expr) -> bool {
    match e {
        Expr::Lit(l) => matches!(&l.lit, Lit::Int(_) | Lit::Float(_)),
        Expr::Paren(p) => is_number_literal(&p.expr),
        Expr::Group(g) => is_number_literal(&g.expr),
        _ => false,
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
