//! The AST of a `pipeline!` invocation: what was written, every span kept.

use proc_macro2::Span;
use syn::{AngleBracketedGenericArguments, Attribute, Expr, Ident, Type, Visibility};

/// The whole invocation: an optional reusable-form header, an optional
/// `policy = ...;` line, the stages, and the errors met while parsing them.
pub(crate) struct Input {
    pub header: Option<Header>,
    pub policy: Option<Policy>,
    pub stages: Vec<StageDecl>,
    pub errors: Vec<syn::Error>,
}

/// `#[doc] pub Name(arg: Type, ...) -> Output`, the reusable form's header.
pub(crate) struct Header {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub args: Vec<Arg>,
    pub output: Option<Type>,
}

/// One constructor argument of the reusable form.
pub(crate) struct Arg {
    pub name: Ident,
    pub ty: Type,
}

/// The error policy line: `policy = continue;`, `policy = fail_fast;`, or
/// `policy = <expr>;` for an `ErrorPolicy` value.
pub(crate) enum Policy {
    Continue(Span),
    FailFast(Span),
    Expr(Expr),
}

/// `name: kind body [from input] [options];`
pub(crate) struct StageDecl {
    /// Doc comments written above the stage.
    pub docs: Vec<Attribute>,
    pub name: Ident,
    /// The kind keyword as written (`map`, `sink`, ...).
    pub kind: Ident,
    pub role: Role,
    /// `None` when the body did not parse (its error is in `Input::errors`).
    pub body: Option<Body>,
    /// `from <stage>`: the `from` keyword and the stage named.
    pub from: Option<(Ident, Ident)>,
    pub options: Vec<Opt>,
}

/// What a stage kind does in the graph.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Source,
    Stage(Op),
    Merge,
    Sink,
    /// An unknown kind; already reported.
    Unknown,
}

/// The transforming stage kinds; each is the builder method of that name.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Map,
    TryMap,
    Filter,
    FilterMap,
    TryFilterMap,
    FlatMap,
    TryFlatMap,
    Inspect,
    Then,
    TryThen,
}

impl Op {
    pub(crate) const ALL: [(&'static str, Op); 10] = [
        ("map", Op::Map),
        ("try_map", Op::TryMap),
        ("filter", Op::Filter),
        ("filter_map", Op::FilterMap),
        ("try_filter_map", Op::TryFilterMap),
        ("flat_map", Op::FlatMap),
        ("try_flat_map", Op::TryFlatMap),
        ("inspect", Op::Inspect),
        ("then", Op::Then),
        ("try_then", Op::TryThen),
    ];

    /// The builder method, also the keyword.
    pub fn method(self) -> &'static str {
        Op::ALL
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("map", |(name, _)| name)
    }

    /// Whether the stage function is async (`then`, `try_then`).
    pub fn is_async(self) -> bool {
        matches!(self, Op::Then | Op::TryThen)
    }

    /// Whether the stage function is fallible (the `try_` kinds), and so
    /// can retry.
    pub fn is_fallible(self) -> bool {
        matches!(
            self,
            Op::TryMap | Op::TryFilterMap | Op::TryFlatMap | Op::TryThen
        )
    }
}

/// The parsed body of a stage, by role.
pub(crate) enum Body {
    Source { mode: SourceMode, expr: Expr },
    Stage { func: Expr },
    Merge { inputs: Vec<Ident> },
    Sink(SinkCall),
}

/// How a source makes its items; each is one builder method.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceMode {
    /// `source <iterable>` or `source iter <iterable>`: `from_iter`.
    Iter,
    /// `source stream <stream>`: `from_stream`.
    Stream,
    /// `source blocking |em| ...`: `from_blocking`.
    Blocking,
    /// `source async |em| async move { ... }`: `from_async`.
    Async,
}

/// `collect()`, `collect::<C>()`, `first()`, `take(n)`, `for_each(f)`,
/// `fold(init, f)`, `stream()`, `iter()`.
pub(crate) struct SinkCall {
    pub method: Ident,
    pub turbofish: Option<AngleBracketedGenericArguments>,
    pub args: Vec<Expr>,
}

/// One option in a stage's `[...]`: `workers = expr` or a flag.
pub(crate) struct Opt {
    pub name: Ident,
    pub value: Option<Expr>,
}

impl StageDecl {
    /// Whether the stage has option `name`.
    pub fn has_option(&self, name: &str) -> bool {
        self.options.iter().any(|o| o.name == name)
    }
}

pub(crate) const SINKS: &str =
    "collect(), first(), take(n), for_each(f), fold(init, f), stream(), iter()";
/// The error for `from` on a merge.
pub(crate) const MERGE_FROM: &str =
    "a merge names its inputs right after `merge`, without `from`: `m: merge a, b;`";

pub(crate) const KINDS: [&str; 13] = [
    "source",
    "map",
    "try_map",
    "filter",
    "filter_map",
    "try_filter_map",
    "flat_map",
    "try_flat_map",
    "inspect",
    "then",
    "try_then",
    "merge",
    "sink",
];

/// The options a stage can take.
pub(crate) const OPTIONS: [&str; 10] = [
    "workers",
    "buffer",
    "ordered",
    "window",
    "unordered",
    "blocking",
    "batch",
    "adaptive",
    "item_timeout",
    "retry",
];
