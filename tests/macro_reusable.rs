//! The reusable form of `pipeline!`: a named, documented type whose
//! settings are found by stage name, whose arguments are cloned for each
//! run, and which reports the last run's stats, live tasks and errors.

#![deny(missing_docs)]

use std::sync::mpsc;
use std::time::Duration;

use futures::StreamExt;
use pipeline::{pipeline, Cancel, Declared, Error, ErrorPolicy, Kind, StageConfig};

/// Upper bound on any wait that only a broken runtime would exceed.
const GUARD: Duration = Duration::from_secs(30);

pipeline! {
    /// The article's `sq(sq(gen))`, squaring `nums` twice with `width`
    /// workers per stage, in order.
    pub SqSq(nums: Vec<u64>, width: usize) -> Vec<u64> {
        gen: source nums;
        /// The first squaring.
        sq1: map |n: u64| n * n [workers = width, ordered];
        sq2: map |n: u64| n * n [workers = width + 1, ordered, buffer = 2];
        out: sink collect();
    }
}

#[test]
fn new_takes_the_declared_settings_with_the_arguments_evaluated() {
    let p = SqSq::new(vec![1, 2, 3], 2);
    let cfg = p.config();
    assert_eq!(cfg.gen, StageConfig::new("gen"));
    assert_eq!(cfg.sq1, StageConfig::new("sq1").workers(2).ordered());
    assert_eq!(
        cfg.sq2,
        StageConfig::new("sq2").workers(3).ordered().buffer(2)
    );
    assert_eq!(SqSq::STAGES, ["gen", "sq1", "sq2"]);
}

#[test]
fn settings_are_found_by_stage_name() {
    let mut p = SqSq::new(vec![1, 2, 3], 2);
    assert_eq!(p.stage("sq2").map(|c| c.workers), Some(3));
    assert!(p.stage("out").is_none(), "the sink has no settings");
    assert!(p.stage_mut("nope").is_none());
    for name in SqSq::STAGES {
        p.stage_mut(name).expect("every listed stage").buffer = 7;
    }
    assert_eq!(p.config().sq1.buffer, 7);
    assert_eq!(p.config().gen.buffer, 7);
}

#[test]
fn every_run_clones_the_arguments_and_gives_the_same_result() {
    let mut p = SqSq::new(vec![1, 2, 3], 2);
    assert_eq!(p.run().unwrap(), [1, 16, 81]);
    p.stage_mut("sq1").unwrap().workers = 5;
    assert_eq!(p.run().unwrap(), [1, 16, 81]);
    assert_eq!(p.stats().stage("sq1").unwrap().width, 5);
    assert_eq!(p.live_tasks().get(), 0);
}

#[test]
fn stats_are_those_of_the_last_run() {
    let mut p = SqSq::new((0..10).collect(), 1);
    assert!(p.stats().snapshot().is_empty(), "no run yet");
    p.run().unwrap();
    let rows: Vec<(String, Kind, u64)> = p
        .stats()
        .snapshot()
        .into_iter()
        .map(|s| (s.name, s.kind, s.items_in))
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(names, ["gen", "sq1", "sq2", "out"]);
    assert_eq!(rows[3], ("out".into(), Kind::Sink, 10));
}

#[test]
fn run_async_runs_inside_async_code() {
    let mut p = SqSq::new(vec![2, 3], 2);
    let out = smol::block_on(p.run_async()).unwrap();
    assert_eq!(out, [16, 81]);
}

pipeline! {
    /// Checks numbers, failing on multiples of `every`.
    pub Checked(n: u32, every: u32) -> Vec<u32> {
        gen:   source 0..n;
        check: try_map move |x: u32| {
            if x % every == 0 { Err(format!("{x}")) } else { Ok(x) }
        } [workers = 2];
        out:   sink collect();
    }
}

#[test]
fn the_error_policy_can_be_set_per_instance() {
    let mut p = Checked::new(30, 10);
    assert_eq!(p.policy(), ErrorPolicy::FailFast);
    let err = p.run().unwrap_err();
    assert_eq!(err.stage_name(), Some("check"));

    p.set_policy(ErrorPolicy::Continue);
    assert_eq!(p.run().unwrap().len(), 27);
    assert_eq!(p.errors().len(), 3, "no error is dropped");

    let mut p = Checked::new(30, 10).with_policy(ErrorPolicy::Continue);
    assert_eq!(p.run().unwrap().len(), 27);
}

pipeline! {
    /// Errors travel as items, declared in the pipeline itself.
    Lenient(n: u32) -> Vec<u32> {
        policy = continue;
        gen:   source 0..n;
        check: try_map |x: u32| if x == 1 { Err("one") } else { Ok(x) };
        out:   sink collect();
    }
}

#[test]
fn a_declared_policy_is_the_default_of_each_instance() {
    let mut p = Lenient::new(4);
    assert_eq!(p.policy(), ErrorPolicy::Continue);
    assert_eq!(p.run().unwrap(), [0, 2, 3]);
}

pipeline! {
    /// Counts forever, until cancelled.
    pub Forever() -> () {
        gen: source 0u64..;
        sq:  map |n: u64| n * n [workers = 4, buffer = 1];
        out: sink for_each(|_| {});
    }
}

#[test]
fn build_hands_out_the_cancel_signal_and_live_tasks_before_running() {
    let mut p = Forever::new();
    let run = p.build();
    let (cancel, live): (Cancel, _) = (run.cancel_signal(), run.live_tasks());
    let (tx, started) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(());
        run.run()
    });
    started.recv_timeout(GUARD).unwrap();
    cancel.cancel();
    let res = handle.join().unwrap();
    assert!(matches!(res, Err(Error::Cancelled)), "{res:?}");
    assert_eq!(live.get(), 0);
    assert!(
        p.cancel_signal().is_cancelled(),
        "the instance sees its last run"
    );
}

pipeline! {
    /// Squares as a stream.
    pub Streamed(n: u64) -> u64 {
        gen:    source 0..n;
        sq:     map |x: u64| x * x [ordered, workers = 2];
        output: sink stream();
    }
}

#[test]
fn a_stream_sink_starts_the_run_on_build_and_is_named_in_stats() {
    let mut p = Streamed::new(5);
    let mut s = p.build();
    let items: Vec<u64> = smol::block_on(async {
        let mut v = Vec::new();
        while let Some(item) = s.next().await {
            v.push(item.unwrap());
        }
        v
    });
    assert_eq!(items, [0, 1, 4, 9, 16]);
    let sink = p.stats().stage("output").expect("the sink's row is named");
    assert_eq!((sink.kind, sink.items_in), (Kind::Sink, 5));
}

pipeline! {
    /// Fan-out to two readers, then fan-in.
    pub FanIn(n: u64) -> u64 {
        gen:  source 0..n;
        sq1:  map |x: u64| x * x from gen;
        sq2:  map |x: u64| x * x from gen;
        both: merge sq1, sq2;
        out:  sink fold(0u64, |a, x| a + x);
    }
}

#[test]
fn the_graph_exports_to_mermaid_and_dot_with_the_last_runs_counts() {
    let mut p = FanIn::new(100);
    let before = p.to_mermaid();
    assert!(before.starts_with("flowchart LR\n"));
    assert!(
        before.contains("n0 --> n1"),
        "no counts before a run:\n{before}"
    );
    p.stage_mut("sq1").unwrap().workers = 2;
    assert_eq!(p.run().unwrap(), (0..100u64).map(|x| x * x).sum::<u64>());
    let stats = p.stats();
    let got = |name| stats.stage(name).unwrap().items_in;
    let mermaid = p.to_mermaid();
    assert!(mermaid.contains("n1[\"sq1: map, 2 workers\"]"), "{mermaid}");
    assert!(
        mermaid.contains(&format!("n0 -->|{}| n1", got("sq1"))),
        "{mermaid}"
    );
    assert!(
        mermaid.contains(&format!("n0 -->|{}| n2", got("sq2"))),
        "{mermaid}"
    );
    assert!(mermaid.contains("n3 -->|100| n4"), "{mermaid}");
    let dot = p.to_dot();
    assert!(dot.starts_with("digraph pipeline {"), "{dot}");
    assert!(dot.contains("n3 -> n4 [label=\"100\"];"), "{dot}");
    assert_eq!(dot.matches("->").count(), 5, "{dot}");
}

#[test]
fn debug_shows_the_settings() {
    let p = FanIn::new(3);
    let shown = format!("{p:?}");
    assert!(
        shown.starts_with("FanIn { config: FanInConfig {"),
        "{shown}"
    );
}

pipeline! {
    /// Squares `0..n`, every stage batching adaptively or with a fixed
    /// packet size.
    pub Batched(n: u64) -> u64 {
        gen: source 0..n [adaptive];
        sq:  map |x: u64| x * x [batch = 16];
        inc: map |x: u64| x + 1 [adaptive, buffer = 8];
        out: sink fold(0u64, |a: u64, x: u64| a + x);
    }
}

#[test]
fn adaptive_and_batch_options_set_the_packets() {
    let mut p = Batched::new(100);
    let cfg = p.config();
    assert_eq!(cfg.gen, StageConfig::new("gen").adaptive());
    assert_eq!(cfg.sq, StageConfig::new("sq").batch(16));
    assert_eq!(cfg.inc, StageConfig::new("inc").adaptive().buffer(8));
    assert!(cfg.inc.is_adaptive() && !cfg.sq.is_adaptive());
    assert_eq!(cfg.inc.packet_cap(), 8);
    assert_eq!(p.run().unwrap(), (0..100u64).map(|x| x * x + 1).sum());
}

#[test]
fn a_timeout_set_on_a_declared_pipeline_ends_each_of_its_runs() {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut p = Forever::new().with_timeout(Duration::from_millis(50));
        let first = p.run();
        let live = p.live_tasks().get();
        let second = p.run();
        p.set_timeout(None);
        let _ = tx.send((first, second, live, p.timeout()));
    });
    let (first, second, live, timeout) = rx.recv_timeout(GUARD).expect("the runs ended");
    assert!(matches!(first, Err(Error::Timeout { .. })), "{first:?}");
    assert!(matches!(second, Err(Error::Timeout { .. })), "{second:?}");
    assert_eq!(live, 0);
    assert_eq!(timeout, None);
}
