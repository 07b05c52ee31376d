//! Every sink kind under every way a run can stop early: a cancel, a
//! fail-fast error, a panic, each at an item well inside a batched
//! stream, and each also for a run nested in a stage of an outer run that
//! is cancelled. The run ends with the outcome it should, leaves no live
//! task, and never hangs (a watchdog turns a hang into a failure).

mod common;

use common::watchdog;
use futures::StreamExt;
use pipeline_core::{Cancel, Error, LiveTasks, Pipeline, StageConfig};

const SINKS: [&str; 7] = [
    "for_each", "fold", "collect", "first", "take", "iter", "stream",
];

/// Ends `flow` with the sink `kind`; `Ok(())` or the run's error. `first`
/// and `take` ask for more than the run makes before it stops.
fn finish(kind: &str, flow: pipeline_core::Flow<u64>) -> Result<(), Error> {
    match kind {
        "for_each" => flow.for_each(drop).run(),
        "fold" => flow.fold(0, |a, n| a ^ n).run().map(drop),
        "collect" => flow.collect::<Vec<_>>().run().map(drop),
        "first" => flow
            .filter("late", |n| *n > 1_000_000)
            .first()
            .run()
            .map(drop),
        "take" => flow.take(1_000_000).run().map(drop),
        "iter" => flow.iter().find_map(Result::err).map_or(Ok(()), Err),
        // This crate's `block_on`: inside an inline stage it keeps the
        // executor going while it blocks (`smol::block_on` would not).
        _ => pipeline_core::block_on(async {
            let mut s = flow.stream();
            while let Some(r) = s.next().await {
                r?;
            }
            Ok(())
        }),
    }
}

/// A batched stream of items through a stage that does `what` at item 500.
fn stopping(p: &Pipeline, what: &'static str) -> pipeline_core::Flow<u64> {
    p.from_iter(StageConfig::new("gen").batch(64), 0u64..)
        .try_map(StageConfig::new("stop").workers(2), move |n| {
            if n == 500 {
                match what {
                    "cancel" => Cancel::current().expect("set in a stage").cancel(),
                    "error" => return Err(std::io::Error::other("500")),
                    _ => panic!("500"),
                }
            }
            Ok(n)
        })
}

fn check(kind: &str, what: &str, res: Result<(), Error>, live: &LiveTasks) {
    match what {
        "cancel" => assert!(
            matches!(res, Err(Error::Cancelled)),
            "{kind}/{what}: {res:?}"
        ),
        "error" => assert!(
            matches!(&res, Err(e) if e.stage_name() == Some("stop")),
            "{kind}/{what}: {res:?}"
        ),
        _ => assert!(
            matches!(res, Err(Error::Panic { .. })),
            "{kind}/{what}: {res:?}"
        ),
    }
    assert_eq!(live.get(), 0, "{kind}/{what}: no live task");
}

#[test]
fn every_sink_ends_with_the_outcome_of_a_cancel_an_error_or_a_panic() {
    for kind in SINKS {
        for what in ["cancel", "error", "panic"] {
            let (res, live) = watchdog(format!("{kind}/{what}"), move || {
                let p = Pipeline::new();
                let live = p.live_tasks();
                (finish(kind, stopping(&p, what)), live)
            });
            check(kind, what, res, &live);
        }
    }
}

#[test]
fn every_sink_nested_in_a_stage_ends_when_the_outer_run_is_cancelled() {
    for kind in SINKS {
        for blocking in [false, true] {
            let what = format!("{kind} (blocking stage: {blocking})");
            let res = watchdog(what.clone(), move || {
                let p = Pipeline::new();
                let outer = p.cancel_signal();
                let cfg = if blocking {
                    StageConfig::new("outer").blocking()
                } else {
                    StageConfig::new("outer")
                };
                let inner_live = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
                let lives = inner_live.clone();
                let res = p
                    .from_iter("gen", 0..2u32)
                    .map(cfg.workers(2), move |_| {
                        let inner = Pipeline::new();
                        lives.lock().unwrap().push(inner.live_tasks());
                        // The inner run is endless: only the outer cancel,
                        // made by one of its stages, ends it.
                        let outer = outer.clone();
                        let trip = move |n| {
                            if n == 100 {
                                outer.cancel();
                            }
                            n
                        };
                        finish(kind, inner.from_iter("endless", 0u64..).map("trip", trip))
                    })
                    .for_each(|r| {
                        assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
                    })
                    .run();
                let lives = inner_live.lock().unwrap();
                assert!(lives.iter().all(|l| l.get() == 0), "no inner task lives");
                res
            });
            assert!(matches!(res, Err(Error::Cancelled)), "{what}: {res:?}");
        }
    }
}
