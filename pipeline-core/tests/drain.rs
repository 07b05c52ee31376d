//! A graceful drain: the sources stop at their next packet, the items they
//! made reach the sink, and the run ends with the sink's value; a stage
//! that holds its items past the drain's time makes the run end with
//! `Error::DrainTimeout` and a count of what it dropped. No test asserts
//! on time: a run that ends passes however long it took, short of the
//! watchdog.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pipeline_core::{Error, Pipeline, StageConfig};

use common::watchdog;

/// Short enough for a quick test of a drain that runs out of time.
const SHORT: Duration = Duration::from_millis(50);
/// Longer than any run here could take.
const LONG: Duration = Duration::from_secs(3600);

/// Items the source `name` sent, once the run has ended.
fn made(stats: &pipeline_core::Stats, name: &str) -> u64 {
    stats.stage(name).expect("a stage of the run").items_out
}

#[test]
fn a_drained_iterator_source_stops_and_every_item_it_made_reaches_the_sink() {
    let (res, made, live) = watchdog("drain of an endless iterator", || {
        let p = Pipeline::new();
        let (live, stats, drain) = (p.live_tasks(), p.stats(), p.drain_handle());
        let res = p
            .from_iter(StageConfig::new("gen").buffer(64), 0u64..)
            .map(StageConfig::new("sq").workers(3), |n| n.wrapping_mul(n))
            .map(StageConfig::new("slow").blocking().workers(2), |n| n)
            .fold(0u64, move |seen, _| {
                if seen == 5000 {
                    drain.drain(LONG);
                }
                seen + 1
            })
            .run();
        (res, made(&stats, "gen"), live.get())
    });
    let seen = res.expect("a drain that ends in time is no error");
    assert!(seen > 5000, "{seen}");
    assert_eq!(seen, made, "every item made before the drain was seen");
    assert_eq!(live, 0);
}

#[test]
fn a_drained_stream_source_waiting_for_its_stream_stops_at_once() {
    // The stream's sender stays open: without the drain the run never ends.
    let (res, made, live) = watchdog("drain of a stream that waits", || {
        let (tx, rx) = async_channel::unbounded::<u32>();
        for i in 0..100 {
            tx.try_send(i).expect("an unbounded channel");
        }
        let p = Pipeline::new();
        let (live, stats, drain) = (p.live_tasks(), p.stats(), p.drain_handle());
        let res = p
            .from_stream("events", rx)
            .map("id", |n| n)
            .fold(Vec::new(), move |mut seen, n| {
                seen.push(n);
                if seen.len() == 100 {
                    drain.drain(LONG);
                }
                seen
            })
            .run();
        drop(tx);
        (res, made(&stats, "events"), live.get())
    });
    let seen = res.expect("drained in time");
    assert_eq!(seen, (0..100).collect::<Vec<_>>());
    assert_eq!(made, 100);
    assert_eq!(live, 0);
}

#[test]
fn a_drained_async_producer_is_dropped_where_it_waits_and_its_items_arrive() {
    let (res, live) = watchdog("drain of an async producer", || {
        let (tx, rx) = async_channel::unbounded::<u32>();
        let p = Pipeline::new();
        let (live, drain) = (p.live_tasks(), p.drain_handle());
        let res = p
            .from_async("feed", move |mut em| async move {
                for i in 0..10 {
                    if em.send(i).await.is_err() {
                        return;
                    }
                }
                // Waits for input that never comes: only the drain ends it.
                let _ = rx.recv().await;
            })
            .map(StageConfig::new("work").workers(2), |n| n + 1)
            .fold(0u32, move |seen, _| {
                if seen == 9 {
                    drain.drain(LONG);
                }
                seen + 1
            })
            .run();
        drop(tx);
        (res, live.get())
    });
    assert_eq!(res.expect("drained in time"), 10);
    assert_eq!(live, 0);
}

#[test]
fn a_drained_blocking_producer_is_refused_its_next_item() {
    let (res, refused, made, live) = watchdog("drain of a blocking producer", || {
        let (tx, rx) = std::sync::mpsc::channel();
        let p = Pipeline::new();
        let (live, stats, drain) = (p.live_tasks(), p.stats(), p.drain_handle());
        let res = p
            .from_blocking("walk", move |em| {
                for i in 0u64.. {
                    if em.emit(i).is_err() {
                        let _ = tx.send(i);
                        return;
                    }
                }
            })
            .map("id", |n| n)
            .fold(0u64, move |seen, _| {
                if seen == 300 {
                    drain.drain(LONG);
                }
                seen + 1
            })
            .run();
        let refused = rx.recv().expect("the producer was refused an item");
        (res, refused, made(&stats, "walk"), live.get())
    });
    let seen = res.expect("drained in time");
    assert_eq!(seen, made);
    assert_eq!(
        refused, made,
        "the first item refused is the one after the last made"
    );
    assert_eq!(live, 0);
}

#[test]
fn a_blocking_producer_waiting_on_its_stop_signal_ends_at_the_drain() {
    let (res, live) = watchdog("drain of a blocking producer that waits", || {
        let p = Pipeline::new();
        let (live, drain) = (p.live_tasks(), p.drain_handle());
        let res = p
            .from_blocking("listen", |em| {
                for i in 0..5u32 {
                    if em.emit(i).is_err() {
                        return;
                    }
                }
                // Waits for more input as a listener would, and for the drain.
                em.stop_signal().wait_blocking();
            })
            .fold(0u32, move |seen, _| {
                if seen == 4 {
                    drain.drain(LONG);
                }
                seen + 1
            })
            .run();
        (res, live.get())
    });
    assert_eq!(res.expect("drained in time"), 5);
    assert_eq!(live, 0);
}

#[test]
fn a_stuck_stage_makes_the_drain_cancel_the_run_and_count_what_it_dropped() {
    let (res, live) = watchdog("drain with a stuck stage", || {
        let p = Pipeline::new();
        let (live, drain) = (p.live_tasks(), p.drain_handle());
        let res = p
            .from_iter("gen", 0..3u32)
            .then("stuck", move |n| {
                drain.drain(SHORT);
                async move {
                    // Never answers: the drain's time runs out.
                    std::future::pending::<()>().await;
                    n
                }
            })
            .collect::<Vec<_>>()
            .run();
        (res, live.get())
    });
    let err = res.expect_err("the stuck item never reaches the sink");
    // The item in the stuck call, and the two waiting behind it.
    assert!(
        matches!(err, Error::DrainTimeout { within, dropped: 3 } if within == SHORT),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the drain did not end within 50ms: the run was cancelled and 3 item(s) in flight \
         were dropped"
    );
    assert_eq!(live, 0);
}

#[test]
fn items_held_past_the_drains_time_anywhere_in_the_run_are_counted_as_dropped() {
    // Each shape a few times: where the items are at the cancel varies.
    let shapes = [(false, false), (true, false), (false, true)];
    for (ordered, merged) in shapes.into_iter().flat_map(|s| std::iter::repeat_n(s, 8)) {
        let (res, made, seen, live) = watchdog("drain of a full pipeline", move || {
            full_pipeline_behind_a_stuck_stage(ordered, merged)
        });
        let Err(Error::DrainTimeout { dropped, .. }) = res else {
            panic!("the drain's time ran out: {res:?}");
        };
        assert!(dropped > 0);
        assert_eq!(
            dropped,
            made - seen,
            "every item made and not seen was dropped (ordered: {ordered}, merged: {merged})"
        );
        assert_eq!(live, 0);
    }
}

/// A run whose items wait in every link behind a stage that stops
/// answering at item 100 and drains the run (an ordered one, or one
/// behind a fan-out and a merge): its result, the items its source made,
/// the items its sink saw, and its live tasks after.
fn full_pipeline_behind_a_stuck_stage(
    ordered: bool,
    merged: bool,
) -> (Result<(), Error>, u64, u64, usize) {
    let p = Pipeline::new();
    let (live, stats, drain) = (p.live_tasks(), p.stats(), p.drain_handle());
    // The items the sink function was called with.
    let seen = Arc::new(AtomicU64::new(0));
    let stuck = StageConfig::new("stuck").workers(2);
    let stuck = if ordered {
        stuck.ordered().window(4)
    } else {
        stuck
    };
    let gen = p.from_iter(StageConfig::new("gen").buffer(16), 0u64..);
    let flow = if merged {
        let a = gen.clone().map(StageConfig::new("a").buffer(8), |n| n);
        let b = gen.map(StageConfig::new("b").batch(4), |n| n);
        p.merge(StageConfig::new("merge").buffer(8), [a, b])
    } else {
        gen.map(StageConfig::new("a").workers(2).buffer(8), |n| n)
    };
    let res = flow
        .then(stuck, move |n| {
            let drain = drain.clone();
            async move {
                if n >= 100 {
                    drain.drain(SHORT);
                    std::future::pending::<()>().await;
                }
                n
            }
        })
        .for_each({
            let seen = seen.clone();
            move |_| {
                seen.fetch_add(1, Ordering::Relaxed);
            }
        })
        .run();
    (
        res,
        made(&stats, "gen"),
        seen.load(Ordering::Relaxed),
        live.get(),
    )
}

#[test]
fn a_drain_after_the_run_ended_does_nothing() {
    let p = Pipeline::new();
    let live = p.live_tasks();
    let run = p.from_iter("gen", 1..=10u32).fold(0, |a, n| a + n);
    let drain = run.drain_handle();
    assert_eq!(run.run().unwrap(), 55);
    drain.drain(Duration::ZERO);
    drain.drain(LONG);
    assert!(drain.is_draining());
    assert_eq!(live.get(), 0, "no timer was started for a run that ended");
}

#[test]
fn a_run_drained_before_it_starts_makes_nothing() {
    let (res, live) = watchdog("drain before the start", || {
        let p = Pipeline::new();
        let (live, drain) = (p.live_tasks(), p.drain_handle());
        drain.drain(LONG);
        let res = p
            .from_iter("gen", 0u64..)
            .map("id", |n| n)
            .collect::<Vec<_>>()
            .run();
        (res, live.get())
    });
    assert_eq!(res.expect("no error"), Vec::<u64>::new());
    assert_eq!(live, 0);
}

#[test]
fn a_cancel_after_a_drain_cancels_the_run() {
    let (res, live) = watchdog("drain, then cancel", || {
        let p = Pipeline::new();
        let (live, drain, cancel) = (p.live_tasks(), p.drain_handle(), p.cancel_signal());
        let res = p
            .from_iter("gen", 0u32..)
            .then("stuck", move |n| {
                drain.drain(LONG);
                cancel.cancel();
                async move {
                    std::future::pending::<()>().await;
                    n
                }
            })
            .for_each(|_| {})
            .run();
        (res, live.get())
    });
    assert!(matches!(res, Err(Error::Cancelled)), "{res:?}");
    assert_eq!(live, 0);
}

#[test]
fn a_drained_iterator_run_ends_with_every_item_made() {
    let (got, made, live) = watchdog("drain of a run read as an iterator", || {
        let p = Pipeline::new();
        let (live, stats, drain) = (p.live_tasks(), p.stats(), p.drain_handle());
        let mut n = 0u64;
        for item in p.from_iter("gen", 0u64..).map("id", |n| n).iter() {
            assert_eq!(item.expect("no error"), n, "in order");
            n += 1;
            if n == 500 {
                drain.drain(LONG);
            }
        }
        (n, made(&stats, "gen"), live.get())
    });
    assert_eq!(got, made);
    assert_eq!(live, 0);
}

#[test]
fn a_drain_of_the_outer_run_lets_a_nested_run_finish() {
    let (res, live) = watchdog("drain with nested runs", || {
        let p = Pipeline::new();
        let (live, drain) = (p.live_tasks(), p.drain_handle());
        let res = p
            .from_iter("jobs", 0u64..)
            .map(
                StageConfig::new("inner").blocking().workers(2),
                move |job| {
                    if job == 20 {
                        drain.drain(LONG);
                    }
                    // A run of its own inside the stage: not drained.
                    Pipeline::new()
                        .from_iter("gen", 0..100u64)
                        .fold(0, |a, n| a + n)
                        .run()
                },
            )
            .collect::<Vec<_>>()
            .run();
        (res, live.get())
    });
    let sums = res.expect("drained in time");
    assert!(sums.len() > 20);
    assert!(sums.iter().all(|s| matches!(s, Ok(4950))), "{sums:?}");
    assert_eq!(live, 0);
}
