//! A stage's item timeout: an async call past its limit is dropped, a
//! blocking one sees its signal close and its late result is discarded;
//! either way the item is the stage's `ItemTimeout` error under the run's
//! policy. A cancel of the run still interrupts at once, and a limit a
//! stage cannot honour is a configuration error. No test asserts on
//! time: the limits are short, the waits long, and a run that ends
//! passes however long it took, short of the watchdog.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeline_core::{Cancel, Error, ErrorPolicy, ItemTimeout, Pipeline, StageConfig};

use common::watchdog;

/// The item timeout of the stages below.
const SHORT: Duration = Duration::from_millis(30);
/// Longer than any run here could take.
const LONG: Duration = Duration::from_secs(3600);

/// Counts its drops: held across an await, it shows the future was dropped.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn timed_out(r: &Result<impl Sized, Error>) -> Option<ItemTimeout> {
    r.as_ref()
        .err()
        .and_then(|e| e.downcast_ref::<ItemTimeout>())
        .copied()
}

#[test]
fn an_async_item_past_its_limit_fails_the_run_and_its_future_is_dropped() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    let (res, live) = watchdog("an async item that never ends", move || {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let res = p
            .from_iter("gen", 0..5u32)
            .then(StageConfig::new("fetch").item_timeout(SHORT), move |n| {
                let guard = DropCount(d.clone());
                async move {
                    if n == 2 {
                        smol::Timer::after(LONG).await;
                    }
                    std::mem::forget(guard);
                    n
                }
            })
            .collect::<Vec<_>>()
            .run();
        (res, live.get())
    });
    assert_eq!(timed_out(&res), Some(ItemTimeout::new(SHORT)), "{res:?}");
    let err = res.unwrap_err();
    assert_eq!(err.stage_name(), Some("fetch"));
    assert_eq!(
        err.to_string(),
        "stage `fetch`: no result within the item timeout of 30ms"
    );
    // Only the call of item 2 was dropped before it ended.
    assert_eq!(dropped.load(SeqCst), 1);
    assert_eq!(live, 0);
}

#[test]
fn under_continue_a_timed_out_item_travels_as_an_error_in_its_place() {
    let items = watchdog("a slow item among quick ones", || {
        Pipeline::new()
            .with_policy(ErrorPolicy::Continue)
            .from_iter("gen", 0..6u32)
            .try_then(
                StageConfig::new("fetch")
                    .workers(3)
                    .ordered()
                    .item_timeout(SHORT),
                |n| async move {
                    if n == 3 {
                        smol::Timer::after(LONG).await;
                    }
                    Ok::<_, std::io::Error>(n * 10)
                },
            )
            .iter()
            .collect::<Vec<_>>()
    });
    assert_eq!(items.len(), 6);
    for (i, r) in items.iter().enumerate() {
        if i == 3 {
            assert_eq!(timed_out(r), Some(ItemTimeout::new(SHORT)), "{r:?}");
        } else {
            assert_eq!(r.as_ref().ok(), Some(&(i as u32 * 10)));
        }
    }
}

#[test]
fn a_blocking_call_past_its_limit_sees_its_own_signal_close_and_is_waited_for() {
    let returned = Arc::new(AtomicUsize::new(0));
    let r = returned.clone();
    let (items, live) = watchdog("a blocking call waiting for its signal", move || {
        let p = Pipeline::new().with_policy(ErrorPolicy::Continue);
        let live = p.live_tasks();
        let run_signal = p.cancel_signal();
        let items: Vec<_> = p
            .from_iter("gen", 0..4u32)
            .map(
                StageConfig::new("read")
                    .blocking()
                    .workers(2)
                    .ordered()
                    .item_timeout(SHORT),
                move |n| {
                    if n == 1 {
                        // The item's signal, not the run's: it closes at
                        // the limit while the run goes on.
                        Cancel::current().expect("in a stage").wait_blocking();
                        assert!(!run_signal.is_cancelled());
                        r.fetch_add(1, SeqCst);
                    }
                    n
                },
            )
            .iter()
            .collect();
        (items, live.get())
    });
    let oks: Vec<_> = items.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(oks, [&0, &2, &3]);
    assert_eq!(timed_out(&items[1]), Some(ItemTimeout::new(SHORT)));
    // The call returned before the run ended: no thread outlives it.
    assert_eq!(returned.load(SeqCst), 1);
    assert_eq!(live, 0);
}

#[test]
fn a_blocking_result_after_the_limit_is_discarded_as_the_timeout_error() {
    let returned = Arc::new(AtomicUsize::new(0));
    let r = returned.clone();
    let (res, live) = watchdog("a blocking call that ignores its signal", move || {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let res = p
            .from_iter("gen", 0..3u32)
            .try_map(
                StageConfig::new("read").blocking().item_timeout(SHORT),
                move |n| {
                    if n == 1 {
                        // Ignores the signal: returns a value, late.
                        let late = Instant::now() + SHORT * 3;
                        smol::block_on(smol::Timer::at(late));
                        r.fetch_add(1, SeqCst);
                    }
                    Ok::<_, std::io::Error>(n)
                },
            )
            .collect::<Vec<_>>()
            .run();
        (res, live.get())
    });
    assert_eq!(timed_out(&res), Some(ItemTimeout::new(SHORT)), "{res:?}");
    assert_eq!(res.unwrap_err().stage_name(), Some("read"));
    assert_eq!(returned.load(SeqCst), 1);
    assert_eq!(live, 0);
}

#[test]
fn a_cancel_interrupts_timed_stages_at_once() {
    for blocking in [false, true] {
        let (res, live) = watchdog("a cancel during a long timed call", move || {
            let p = Pipeline::new();
            let live = p.live_tasks();
            let cancel = p.cancel_signal();
            let (started, wait) = std::sync::mpsc::channel();
            let cfg = StageConfig::new("slow").workers(2).item_timeout(LONG);
            let flow = p.from_iter("gen", 0..4u32);
            let flow = if blocking {
                flow.map(cfg.blocking(), move |n| {
                    let _ = started.send(());
                    Cancel::current().expect("in a stage").wait_blocking();
                    n
                })
            } else {
                let started = std::sync::Mutex::new(started);
                flow.then(cfg, move |n| {
                    let _ = started.lock().unwrap().send(());
                    async move {
                        smol::Timer::after(LONG).await;
                        n
                    }
                })
            };
            let run = flow.collect::<Vec<_>>();
            let canceller = std::thread::spawn(move || {
                let _ = wait.recv();
                cancel.cancel();
            });
            let res = run.run();
            canceller.join().unwrap();
            (res, live.get())
        });
        assert!(
            matches!(res, Err(Error::Cancelled)),
            "blocking {blocking}: {res:?}"
        );
        assert_eq!(live, 0);
    }
}

#[test]
fn a_limit_a_node_cannot_honour_is_a_configuration_error() {
    let config_error = |res: Result<Vec<u32>, Error>, stage: &str, says: &str| match res {
        Err(Error::Config { stage: s, message }) => {
            assert_eq!(&*s, stage);
            assert!(message.contains(says), "{message}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    };
    // An inline call holds its executor thread: it cannot be timed.
    let res = Pipeline::new()
        .from_iter("gen", 0..3u32)
        .map(StageConfig::new("inline").item_timeout(SHORT), |n| n)
        .collect()
        .run();
    config_error(res, "inline", "item_timeout needs an async stage");
    let res = Pipeline::new()
        .from_iter(StageConfig::new("gen").item_timeout(SHORT), 0..3u32)
        .collect()
        .run();
    config_error(res, "gen", "item_timeout does not apply to a source");
    let res = Pipeline::new()
        .from_iter("gen", 0..3u32)
        .map(
            StageConfig::new("zero")
                .blocking()
                .item_timeout(Duration::ZERO),
            |n| n,
        )
        .collect()
        .run();
    config_error(res, "zero", "item_timeout must be more than 0");
}
