//! The article's pipelines declared with `pipeline!` give the same results
//! as the same pipelines written with the builder, inline here.

use std::sync::mpsc;
use std::time::Duration;

use pipeline::{pipeline, Cancel, Error, Pipeline, StageConfig};

/// Upper bound on any wait that only a broken runtime would exceed.
const GUARD: Duration = Duration::from_secs(30);

fn sq(n: u64) -> u64 {
    n * n
}

fn sorted(mut v: Vec<u64>) -> Vec<u64> {
    v.sort_unstable();
    v
}

#[test]
fn sq_gives_the_same_squares_as_the_builder() {
    let by_macro = pipeline! {
        gen: source [2u64, 3];
        sq:  map sq;
        out: sink collect();
    }
    .run()
    .unwrap();
    let by_builder = Pipeline::new()
        .from_iter("gen", [2u64, 3])
        .map("sq", sq)
        .collect::<Vec<_>>()
        .run()
        .unwrap();
    assert_eq!(by_macro, by_builder);
    assert_eq!(by_macro, [4, 9]);
}

#[test]
fn sq_of_sq_gives_the_same_as_the_builder() {
    let by_macro = pipeline! {
        gen: source 1..=100u64;
        sq1: map sq [workers = 3];
        sq2: map sq [workers = 2];
        out: sink collect();
    }
    .run()
    .unwrap();
    let by_builder = Pipeline::new()
        .from_iter("gen", 1..=100u64)
        .map(StageConfig::new("sq1").workers(3), sq)
        .map(StageConfig::new("sq2").workers(2), sq)
        .collect::<Vec<_>>()
        .run()
        .unwrap();
    assert_eq!(sorted(by_macro), sorted(by_builder));
}

#[test]
fn fan_out_and_merge_give_the_same_as_the_builder() {
    // Two sq readers of one channel, then merge: every item once.
    let run = pipeline! {
        gen:  source 1..=1000u64;
        sq1:  map sq from gen;
        sq2:  map sq from gen;
        both: merge sq1, sq2;
        out:  sink collect();
    };
    let stats = run.stats();
    let by_macro = run.run().unwrap();

    let p = Pipeline::new();
    let gen = p.from_iter("gen", 1..=1000u64);
    let sq1 = gen.clone().map("sq1", sq);
    let sq2 = gen.map("sq2", sq);
    let by_builder = p
        .merge("both", [sq1, sq2])
        .collect::<Vec<_>>()
        .run()
        .unwrap();

    assert_eq!(sorted(by_macro), sorted(by_builder));
    // Each item went to exactly one of the two readers.
    let read = |name| stats.stage(name).map_or(0, |s| s.items_in);
    assert_eq!(read("sq1") + read("sq2"), 1000);
    assert_eq!(read("both"), 1000);
}

#[test]
fn early_stop_gives_the_same_first_value_and_leaves_no_live_tasks() {
    let run = pipeline! {
        gen:   source 2u64..;
        sq:    map sq [ordered, workers = 2];
        first: sink first();
    };
    let live = run.live_tasks();
    let by_macro = run.run().unwrap();
    assert_eq!(live.get(), 0);

    let p = Pipeline::new();
    let live = p.live_tasks();
    let by_builder = p
        .from_iter("gen", 2u64..)
        .map(StageConfig::new("sq").ordered().workers(2), sq)
        .first()
        .run()
        .unwrap();
    assert_eq!(live.get(), 0);
    assert_eq!(by_macro, by_builder);
    assert_eq!(by_macro, Some(4));
}

/// Runs `run` on a thread, cancels it from outside once the sink has seen
/// an item, and returns what the run returned.
fn cancel_after_first_item<O: Send + 'static>(
    run: pipeline::Run<O>,
    seen: mpsc::Receiver<()>,
) -> Result<O, Error> {
    let cancel: Cancel = run.cancel_signal();
    let handle = std::thread::spawn(move || run.run());
    seen.recv_timeout(GUARD).expect("the first item arrives");
    cancel.cancel();
    handle.join().expect("the run does not panic")
}

#[test]
fn cancel_from_outside_gives_the_same_error_as_the_builder() {
    let (tx, seen) = mpsc::channel();
    let run = pipeline! {
        gen: source 0u64..;
        sq:  map sq [workers = 4, buffer = 1];
        out: sink for_each(move |_| {
            let _ = tx.send(());
        });
    };
    let live = run.live_tasks();
    let by_macro = cancel_after_first_item(run, seen);
    assert_eq!(live.get(), 0);

    let (tx, seen) = mpsc::channel();
    let p = Pipeline::new();
    let live = p.live_tasks();
    let run = p
        .from_iter("gen", 0u64..)
        .map(StageConfig::new("sq").workers(4).buffer(1), sq)
        .for_each(move |_| {
            let _ = tx.send(());
        });
    let by_builder = cancel_after_first_item(run, seen);
    assert_eq!(live.get(), 0);

    assert!(matches!(by_macro, Err(Error::Cancelled)), "{by_macro:?}");
    assert!(
        matches!(by_builder, Err(Error::Cancelled)),
        "{by_builder:?}"
    );
}
