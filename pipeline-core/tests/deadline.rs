//! A run's deadline: when it passes the run is cancelled and ends with
//! `Error::Timeout`; a run that ends first is not affected and leaves no
//! timer behind; the first error still wins. No test asserts on time: a
//! run that ends passes however long it took, short of the watchdog.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use pipeline_core::{Cancel, Error, Pipeline, StageConfig};

use common::watchdog;

/// Short enough for a quick test, long enough that the runs below start
/// before it passes (which they need not: the outcome is the same).
const SHORT: Duration = Duration::from_millis(50);
/// Longer than any run here could take.
const LONG: Duration = Duration::from_secs(3600);

fn is_timeout(r: &Result<impl Sized, Error>) -> bool {
    matches!(r, Err(Error::Timeout { .. }))
}

#[test]
fn an_endless_run_ends_with_timeout_and_leaves_no_live_tasks() {
    let (res, live) = watchdog("endless run with a timeout", || {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let res = p
            .from_iter("gen", 0u64..)
            .map(StageConfig::new("sq").workers(3), |n| n.wrapping_mul(n))
            .fold(0u64, |a, n| a.wrapping_add(n))
            .timeout(SHORT)
            .run();
        (res, live.get())
    });
    let err = res.expect_err("an endless run ends only at its deadline");
    assert!(matches!(err, Error::Timeout { after } if after == SHORT));
    assert_eq!(err.to_string(), "the run's deadline passed after 50ms");
    assert_eq!(err.stage_name(), None);
    assert_eq!(live, 0);
}

#[test]
fn a_deadline_given_as_an_instant_ends_the_run_too() {
    let (res, live) = watchdog("endless async run with a deadline", || {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let run = p
            .from_iter("gen", 0u64..)
            .for_each(|_| {})
            .deadline(Instant::now() + SHORT);
        (smol::block_on(run.run_async()), live.get())
    });
    assert!(is_timeout(&res), "{res:?}");
    assert_eq!(live, 0);
}

#[test]
fn a_run_that_ends_before_its_deadline_is_unaffected_and_leaves_no_timer() {
    let p = Pipeline::new();
    let live = p.live_tasks();
    let run = p
        .from_iter("gen", 0..1000u64)
        .map(StageConfig::new("sq").workers(2).ordered(), |n| n * n)
        .collect::<Vec<_>>()
        .timeout(LONG);
    let out = run.run().expect("the run ends long before its deadline");
    assert_eq!(out, (0..1000u64).map(|n| n * n).collect::<Vec<_>>());
    // The timer task would still be waiting for its hour.
    assert_eq!(live.get(), 0);

    let p = Pipeline::new().with_timeout(LONG);
    let live = p.live_tasks();
    let items: Vec<u64> = p
        .from_iter("gen", 0..100u64)
        .iter()
        .collect::<Result<_, _>>()
        .expect("the run ends long before its deadline");
    assert_eq!(items, (0..100u64).collect::<Vec<_>>());
    assert_eq!(live.get(), 0);
}

#[test]
fn a_stage_error_before_the_deadline_wins() {
    let res = watchdog("a failing run with a deadline", || {
        let deadline = Instant::now() + SHORT;
        Pipeline::new()
            .from_iter("gen", 0..10u32)
            .try_map("check", |n| if n == 0 { Err("zero") } else { Ok(n) })
            .map(StageConfig::new("hold").blocking(), move |n| {
                // Keeps the run from ending until its deadline has passed:
                // waits for the clock, not for another thread.
                Cancel::current().expect("in a stage").wait_blocking();
                smol::block_on(smol::Timer::at(deadline));
                n
            })
            .for_each(|_| {})
            .deadline(deadline)
            .run()
    });
    let err = res.expect_err("the stage's error fails the run");
    assert_eq!(err.stage_name(), Some("check"), "{err}");
}

#[test]
fn the_deadline_interrupts_a_blocking_stage_that_watches_its_cancel() {
    let (res, live) = watchdog("a blocking stage waiting for its cancel", || {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let res = p
            .from_iter("gen", 0..4u32)
            .map(StageConfig::new("wait").workers(2).blocking(), |n| {
                Cancel::current().expect("in a stage").wait_blocking();
                n
            })
            .collect::<Vec<_>>()
            .timeout(SHORT)
            .run();
        (res, live.get())
    });
    assert!(is_timeout(&res), "{res:?}");
    assert_eq!(live, 0);
}

#[test]
fn the_deadline_interrupts_an_async_stage_awaiting_a_long_timer() {
    let (res, live) = watchdog("an async stage awaiting an hour", || {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let res = p
            .from_iter("gen", 0..4u32)
            .then(StageConfig::new("nap").workers(2), |n| async move {
                smol::Timer::after(LONG).await;
                n
            })
            .collect::<Vec<_>>()
            .timeout(SHORT)
            .run();
        (res, live.get())
    });
    assert!(is_timeout(&res), "{res:?}");
    assert_eq!(live, 0);
}

#[test]
fn a_sink_for_each_is_not_called_after_the_timeout() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen_cancelled = Arc::new(AtomicUsize::new(0));
    let (c, s) = (calls.clone(), seen_cancelled.clone());
    let res = watchdog("an endless for_each with a timeout", move || {
        let p = Pipeline::new();
        let cancel = p.cancel_signal();
        p.from_iter("gen", 0u64..)
            .for_each(move |_| {
                c.fetch_add(1, SeqCst);
                if cancel.is_cancelled() {
                    s.fetch_add(1, SeqCst);
                }
            })
            .timeout(SHORT)
            .run()
    });
    assert!(is_timeout(&res), "{res:?}");
    let after = calls.load(SeqCst);
    assert!(after > 0);
    // Seen cancelled at most once: a sink that sees the run cancelled is
    // never called again.
    assert!(seen_cancelled.load(SeqCst) <= 1);
    assert_eq!(calls.load(SeqCst), after, "called after the run returned");
}

#[test]
fn iter_ends_with_the_timeout_then_none() {
    let (last, after, live) = watchdog("an endless iter with a timeout", || {
        let p = Pipeline::new().with_timeout(SHORT);
        let live = p.live_tasks();
        let mut it = p.from_iter("gen", 0u64..).iter();
        let last = it.by_ref().find(|r| r.is_err());
        let after = (it.next().is_none(), it.next().is_none());
        drop(it);
        (last, after, live.get())
    });
    assert!(matches!(last, Some(Err(Error::Timeout { .. }))), "{last:?}");
    assert_eq!(after, (true, true));
    assert_eq!(live, 0);
}

#[test]
fn stream_ends_with_the_timeout_then_none() {
    let (last, after, live) = watchdog("an endless stream with a timeout", || {
        smol::block_on(async {
            let p = Pipeline::new().with_deadline(Instant::now() + SHORT);
            let live = p.live_tasks();
            let mut s = p.from_iter("gen", 0u64..).stream();
            let mut last = None;
            while let Some(r) = s.next().await {
                if r.is_err() {
                    last = Some(r);
                    break;
                }
            }
            let after = s.next().await.is_none();
            // The stream's end has joined every task, its timer too.
            let live_now = live.get();
            s.close().await;
            (last, after, live_now)
        })
    });
    assert!(matches!(last, Some(Err(Error::Timeout { .. }))), "{last:?}");
    assert!(after);
    assert_eq!(live, 0);
}
