//! The declared graph of a [`Declared`] pipeline as constant data, and its
//! two renderings ([`Declared::to_mermaid`], [`Declared::to_dot`]) with
//! the last run's counts on the links.

use std::fmt::Write as _;

use super::Declared;

/// The stages of a declared pipeline and the links between them, in
/// declaration order: the data `pipeline!` writes for a named pipeline
/// ([`Declared::LAYOUT`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Layout {
    /// Every stage, the sink included, as declared.
    pub stages: &'static [StageRow],
    /// Every link; `from` and `to` index [`stages`](Self::stages).
    pub links: &'static [LinkRow],
}

impl Layout {
    /// A layout of `stages` joined by `links`.
    pub const fn new(stages: &'static [StageRow], links: &'static [LinkRow]) -> Self {
        Layout { stages, links }
    }
}

/// One stage of a [`Layout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StageRow {
    /// The stage's name: its row in the stats, its name in errors.
    pub name: &'static str,
    /// The kind as declared: `source`, `map`, `merge`, `sink`, ...
    pub kind: &'static str,
}

impl StageRow {
    /// The stage called `name`, of kind `kind`.
    pub const fn new(name: &'static str, kind: &'static str) -> Self {
        StageRow { name, kind }
    }
}

/// One link of a [`Layout`]: the stage `to` reads what `from` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkRow {
    /// The index of the writing stage.
    pub from: usize,
    /// The index of the reading stage.
    pub to: usize,
    /// Which counter of the last run tells how many items crossed.
    pub count: LinkCount,
}

impl LinkRow {
    /// The link from stage `from` to stage `to`, counted by `count`.
    pub const fn new(from: usize, to: usize, count: LinkCount) -> Self {
        LinkRow { from, to, count }
    }
}

/// Which counter of the last run gives the number of items on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkCount {
    /// What the reading stage received: it reads only this link.
    Received,
    /// What the writing stage sent: this link is its only output (a merge
    /// reading several stages).
    Sent,
    /// Not known from the counters (a merge's input that other stages
    /// read too).
    Unknown,
}

/// Each stage's label and each link's count, from the last run's stats
/// (nothing counted before the first run).
struct Rows {
    labels: Vec<String>,
    links: Vec<(usize, usize, Option<u64>)>,
}

fn rows<D: Declared>(pipeline: &D) -> Rows {
    let layout = D::LAYOUT;
    let snap = pipeline.stats().snapshot();
    let find = |name: &str| snap.iter().find(|s| s.name == name);
    let labels = layout
        .stages
        .iter()
        .map(|row| {
            let (name, kind) = (row.name, row.kind);
            let workers = find(name)
                .map(|s| s.width)
                .or_else(|| pipeline.stage(name).map(|c| c.workers))
                .unwrap_or(1);
            if ["source", "merge", "sink"].contains(&kind) || workers == 1 {
                format!("{name}: {kind}")
            } else {
                format!("{name}: {kind}, {workers} workers")
            }
        })
        .collect();
    let links = layout
        .links
        .iter()
        .map(|link| {
            let count = match link.count {
                LinkCount::Received => find(layout.stages[link.to].name).map(|s| s.items_in),
                LinkCount::Sent => find(layout.stages[link.from].name).map(|s| s.items_out),
                LinkCount::Unknown => None,
            };
            (link.from, link.to, count)
        })
        .collect();
    Rows { labels, links }
}

/// The declared graph of `pipeline` as a Mermaid flowchart.
pub(super) fn mermaid<D: Declared>(pipeline: &D) -> String {
    let Rows { labels, links } = rows(pipeline);
    let mut out = String::from("flowchart LR\n");
    for (i, label) in labels.iter().enumerate() {
        let _ = writeln!(out, "    n{i}[\"{label}\"]");
    }
    for (a, b, count) in links {
        let _ = match count {
            Some(c) => writeln!(out, "    n{a} -->|{c}| n{b}"),
            None => writeln!(out, "    n{a} --> n{b}"),
        };
    }
    out
}

/// The declared graph of `pipeline` in Graphviz DOT.
pub(super) fn dot<D: Declared>(pipeline: &D) -> String {
    let Rows { labels, links } = rows(pipeline);
    let mut out = String::from("digraph pipeline {\n    rankdir=LR;\n");
    for (i, label) in labels.iter().enumerate() {
        let _ = writeln!(out, "    n{i} [label=\"{label}\"];");
    }
    for (a, b, count) in links {
        let _ = match count {
            Some(c) => writeln!(out, "    n{a} -> n{b} [label=\"{c}\"];"),
            None => writeln!(out, "    n{a} -> n{b};"),
        };
    }
    out.push_str("}\n");
    out
}
