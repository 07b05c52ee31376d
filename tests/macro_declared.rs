//! Pipelines declared in the reusable form share `pipeline::Declared`:
//! generic code over the trait works for any of them, the stage table and
//! layout are data, and every method comes from the runtime.

use std::future::Future;

use pipeline::{
    pipeline, Declared, Error, Kind, LinkCount, LinkRow, Run, RunIter, StageConfig, StageRow,
};

pipeline! {
    /// Squares `0..n` on `width` workers, in order.
    pub Squares(n: u64, width: usize) -> Vec<u64> {
        gen: source 0..n;
        sq:  map |x: u64| x * x [workers = width, ordered];
        out: sink collect();
    }
}

pipeline! {
    /// The lengths of `words`, summed, after a filter.
    pub Lengths(words: Vec<String>) -> usize {
        gen:  source words;
        keep: filter |w: &String| !w.is_empty();
        len:  map |w: String| w.len() [workers = 2];
        out:  sink fold(0usize, |a: usize, n: usize| a + n);
    }
}

pipeline! {
    /// Fan-out to two readers, then fan-in, read through an iterator.
    pub Fan(n: u64) -> u64 {
        gen:  source 0..n;
        a:    map |x: u64| x + 1 from gen;
        b:    map |x: u64| x + 2 from gen;
        both: merge a, b;
        out:  sink iter();
    }
}

/// Sets every stage of `p` that has settings to `workers` (where a width
/// applies) and runs it; returns the output and the width each stage ran at.
fn run_wide<D, T>(p: &mut D, workers: usize) -> Result<(T, Vec<(String, usize)>), Error>
where
    D: Declared<Built = Run<T>>,
    T: Send + 'static,
{
    for name in D::STAGES {
        let kind = D::LAYOUT
            .stages
            .iter()
            .find(|s| s.name == *name)
            .map(|s| s.kind);
        if !matches!(kind, Some("source" | "merge")) {
            p.stage_mut(name)
                .expect("every listed stage has settings")
                .workers = workers;
        }
    }
    let out = p.run()?;
    let widths = p
        .stats()
        .snapshot()
        .into_iter()
        .filter(|s| s.kind == Kind::Stage)
        .map(|s| (s.name, s.width))
        .collect();
    Ok((out, widths))
}

#[test]
fn generic_code_over_the_trait_runs_two_different_pipelines() {
    let mut squares = Squares::new(5, 1);
    let (out, widths) = run_wide(&mut squares, 3).unwrap();
    assert_eq!(out, [0, 1, 4, 9, 16]);
    assert_eq!(widths, [("sq".to_string(), 3)]);

    let words = ["a", "", "bcd", "ef"].map(String::from).to_vec();
    let mut lengths = Lengths::new(words);
    let (out, widths) = run_wide(&mut lengths, 4).unwrap();
    assert_eq!(out, 6);
    assert_eq!(widths, [("keep".into(), 4), ("len".into(), 4)]);
    assert_eq!(lengths.live_tasks().get(), 0);
}

/// Sets the width of the stage called `name`, as a CLI flag would.
fn set_workers<D: Declared>(p: &mut D, name: &str, workers: usize) -> Result<(), String> {
    match p.stage_mut(name) {
        Some(cfg) => {
            cfg.workers = workers;
            Ok(())
        }
        None => Err(format!("{} has no stage `{name}`", D::NAME)),
    }
}

#[test]
fn an_unknown_stage_name_or_the_sink_has_no_settings() {
    let mut p = Squares::new(3, 1);
    assert_eq!(
        set_workers(&mut p, "nope", 2),
        Err("Squares has no stage `nope`".into())
    );
    assert!(p.stage_mut("out").is_none(), "the sink has no settings");
    assert!(p.stage("nope").is_none());
    assert_eq!(set_workers(&mut p, "sq", 2), Ok(()));
    assert_eq!(p.config().sq.workers, 2);
}

#[test]
fn stage_lookup_works_on_a_config_apart_from_its_pipeline() {
    let p = Squares::new(3, 2);
    let mut config = p.config().clone();
    Squares::stage_in_mut(&mut config, "gen").unwrap().buffer = 9;
    assert_eq!(config.gen.buffer, 9);
    assert_eq!(Squares::stage_in(&config, "sq"), Some(&config.sq));
    assert_eq!(
        p.config().gen,
        StageConfig::new("gen"),
        "a copy was changed"
    );
}

#[test]
fn the_stage_table_and_layout_are_the_declared_graph() {
    assert_eq!(Fan::NAME, "Fan");
    assert_eq!(Fan::STAGES, ["gen", "a", "b", "both"]);
    let stages: Vec<StageRow> = ["source", "map", "map", "merge", "sink"]
        .iter()
        .zip(["gen", "a", "b", "both", "out"])
        .map(|(kind, name)| StageRow::new(name, kind))
        .collect();
    assert_eq!(Fan::LAYOUT.stages, stages);
    // a and b read only gen: what they received; the merge is a's and
    // b's only reader: what they sent.
    let links = [
        LinkRow::new(0, 1, LinkCount::Received),
        LinkRow::new(0, 2, LinkCount::Received),
        LinkRow::new(1, 3, LinkCount::Sent),
        LinkRow::new(2, 3, LinkCount::Sent),
        LinkRow::new(3, 4, LinkCount::Received),
    ];
    assert_eq!(Fan::LAYOUT.links, links);
}

/// Every item of a pipeline whose sink is `iter()`, errors as strings.
fn drain<D, T>(mut p: D) -> Vec<Result<T, String>>
where
    D: Declared<Built = RunIter<T>>,
    T: Send + 'static,
{
    p.build().map(|r| r.map_err(|e| e.to_string())).collect()
}

#[test]
fn generic_code_reads_an_iter_sink_through_the_trait() {
    // a and b share gen's channel: each item goes through one of them.
    let items = drain(Fan::new(3));
    assert_eq!(items.len(), 3);
    for item in items {
        assert!((1..=4).contains(&item.unwrap()));
    }
}

fn send_and_static<F: Future + Send + 'static>(f: F) -> F {
    f
}

#[test]
fn run_async_gives_a_send_future_that_does_not_borrow_the_pipeline() {
    let mut p = Squares::new(4, 2);
    let fut = send_and_static(p.run_async());
    p.stage_mut("sq").unwrap().workers = 1; // the run was declared already
    let out = std::thread::spawn(move || smol::block_on(fut))
        .join()
        .unwrap();
    assert_eq!(out.unwrap(), [0, 1, 4, 9]);
    assert_eq!(p.stats().stage("sq").unwrap().width, 2);
}

#[test]
fn a_clone_keeps_the_settings_and_runs_on_its_own() {
    let mut p = Squares::new(3, 1).with_policy(pipeline::ErrorPolicy::Continue);
    p.stage_mut("sq").unwrap().workers = 2;
    let mut q = p.clone();
    assert_eq!(q.config(), p.config());
    assert_eq!(q.policy(), pipeline::ErrorPolicy::Continue);
    assert_eq!(q.run().unwrap(), [0, 1, 4]);
    assert!(p.stats().snapshot().is_empty(), "the original has not run");
    assert!(format!("{q:?}").starts_with("Squares { config: SquaresConfig {"));
}

mod through_the_prelude {
    use pipeline::prelude::*;

    pipeline! {
        /// Doubles.
        pub(crate) Doubles(n: u32) -> Vec<u32> {
            gen: source 0..n;
            dbl: map |x: u32| 2 * x;
            out: sink collect();
        }
    }

    #[test]
    fn the_prelude_brings_the_macro_and_the_trait() {
        let mut p = Doubles::new(3);
        let mut out = p.run().unwrap();
        out.sort();
        assert_eq!(out, [0, 2, 4]);
        assert!(p.to_dot().contains("n1 -> n2 [label=\"3\"];"));
    }
}
