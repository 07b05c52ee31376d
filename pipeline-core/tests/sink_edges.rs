//! The sink is a stage: after a cancel or the run's first error the sink
//! function is not called again, and `iter()`/`stream()` hand out nothing
//! more but the outcome; a sink that has what it asked for has succeeded;
//! `iter()`/`stream()` are fused. No test sleeps or times anything: the
//! waits that only a broken runtime would not end are bounded by a guard.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use futures::stream::FusedStream;
use futures::StreamExt;
use pipeline_core::{Cancel, Error, Pipeline, StageConfig};

/// Upper bound on any wait that only a broken runtime would exceed.
const GUARD: Duration = Duration::from_secs(30);

fn io_err(msg: &str) -> std::io::Error {
    std::io::Error::other(msg.to_string())
}

/// A source that sends its items in packets of 64, so that a sink gets
/// many items in hand at once.
fn batched(p: &Pipeline) -> pipeline_core::Flow<u64> {
    p.from_iter(StageConfig::new("gen").batch(64), 0u64..)
}

/// A stage that sends packets of 8 and fails at item 20 once `gate` says
/// the sink holds its first item; its output link has room for everything
/// before the failure. Blocking, so that its wait holds up no executor
/// thread.
fn failing_after(p: &Pipeline, gate: mpsc::Receiver<()>) -> pipeline_core::Flow<u64> {
    let gate = Mutex::new(gate);
    p.from_iter("gen", 0u64..).try_map(
        StageConfig::new("fail").batch(8).buffer(64).blocking(),
        move |n| {
            if n < 20 {
                return Ok(n);
            }
            let gate = gate.lock().expect("one worker");
            gate.recv_timeout(GUARD)
                .expect("the sink takes its first item");
            Err(io_err("failed"))
        },
    )
}

#[test]
fn for_each_is_not_called_again_once_it_cancelled_the_run() {
    for _ in 0..20 {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let res = batched(&p)
            .for_each(move |_| {
                if c.fetch_add(1, SeqCst) + 1 == 10 {
                    Cancel::current().expect("a sink sees its signal").cancel();
                }
            })
            .run();
        assert!(matches!(res, Err(Error::Cancelled)), "{res:?}");
        assert_eq!(calls.load(SeqCst), 10, "no call after the cancel");
        assert_eq!(live.get(), 0);
    }
}

#[test]
fn fold_is_not_called_again_once_it_cancelled_the_run() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let p = Pipeline::new();
    let cancel = p.cancel_signal();
    let res = batched(&p)
        .fold((), move |(), _| {
            if c.fetch_add(1, SeqCst) + 1 == 10 {
                cancel.cancel();
            }
        })
        .run();
    assert!(matches!(res, Err(Error::Cancelled)), "{res:?}");
    assert_eq!(calls.load(SeqCst), 10, "no call after the cancel");
}

#[test]
fn for_each_is_not_called_again_after_the_first_error() {
    // The sink holds its first item until the stage has failed: the rest
    // of that packet must not reach it.
    for _ in 0..10 {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let (gate, wait) = mpsc::channel();
        let res = failing_after(&p, wait)
            .for_each(move |_| {
                if c.fetch_add(1, SeqCst) == 0 {
                    let _ = gate.send(());
                    // This crate's `block_on` keeps the executor going
                    // while the sink's thread waits.
                    let cancel = Cancel::current().expect("a sink sees its signal");
                    pipeline_core::block_on(cancel.cancelled());
                }
            })
            .run();
        assert_eq!(res.unwrap_err().stage_name(), Some("fail"));
        assert_eq!(calls.load(SeqCst), 1, "no call after the error");
        assert_eq!(live.get(), 0);
    }
}

#[test]
fn iter_hands_out_only_the_outcome_after_a_cancel() {
    let p = Pipeline::new();
    let live = p.live_tasks();
    let mut it = batched(&p).iter();
    assert_eq!(it.next().unwrap().unwrap(), 0);
    it.cancel_signal().expect("a live iterator").cancel();
    let rest: Vec<_> = it.by_ref().collect();
    assert!(matches!(&rest[..], [Err(Error::Cancelled)]), "{rest:?}");
    drop(it);
    assert_eq!(live.get(), 0);
}

#[test]
fn iter_hands_out_only_the_error_after_the_first_error() {
    let p = Pipeline::new();
    let (gate, wait) = mpsc::channel();
    let mut it = failing_after(&p, wait).iter();
    assert_eq!(it.next().unwrap().unwrap(), 0);
    gate.send(()).unwrap();
    it.cancel_signal().expect("a live iterator").wait_blocking();
    let rest: Vec<_> = it.by_ref().collect();
    assert!(
        matches!(&rest[..], [Err(e)] if e.stage_name() == Some("fail")),
        "{rest:?}"
    );
}

#[test]
fn stream_hands_out_only_the_outcome_after_a_cancel() {
    let p = Pipeline::new();
    let live = p.live_tasks();
    let mut s = batched(&p).stream();
    smol::block_on(async {
        assert_eq!(s.next().await.unwrap().unwrap(), 0);
        s.cancel_signal().cancel();
        let rest: Vec<_> = s.by_ref().collect().await;
        assert!(matches!(&rest[..], [Err(Error::Cancelled)]), "{rest:?}");
    });
    drop(s);
    assert_eq!(live.get(), 0);
}

#[test]
fn take_succeeds_when_a_later_item_fails() {
    // Like `Iterator::take`, which never looks at item n + 1.
    for _ in 0..300 {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let got = p
            .from_iter("gen", 0u64..)
            .try_map("s", |n| if n == 5 { Err(io_err("six")) } else { Ok(n) })
            .take(5)
            .run();
        assert_eq!(got.unwrap(), [0, 1, 2, 3, 4]);
        assert_eq!(live.get(), 0);
    }
}

#[test]
fn take_succeeds_when_a_batching_source_fails_after_the_items_it_needs() {
    for _ in 0..100 {
        let got = Pipeline::new()
            .from_blocking(StageConfig::new("gen").batch(4), |em| {
                for i in 0..5u64 {
                    if em.emit(i).is_err() {
                        return;
                    }
                }
                let _ = em.error(io_err("six"));
            })
            .take(5)
            .run();
        assert_eq!(got.unwrap(), [0, 1, 2, 3, 4]);
    }
}

#[test]
fn first_succeeds_when_the_second_item_fails() {
    for _ in 0..300 {
        let got = Pipeline::new()
            .from_iter("gen", 0u64..)
            .try_map("s", |n| if n == 1 { Err(io_err("two")) } else { Ok(n) })
            .first()
            .run();
        assert_eq!(got.unwrap(), Some(0));
    }
}

#[test]
fn take_still_fails_when_an_item_it_needs_fails() {
    let err = Pipeline::new()
        .from_iter("gen", 0u64..)
        .try_map("s", |n| if n == 3 { Err(io_err("four")) } else { Ok(n) })
        .take(5)
        .run()
        .unwrap_err();
    assert_eq!(err.stage_name(), Some("s"));
}

#[test]
fn iter_is_fused() {
    let mut it = Pipeline::new().from_iter("gen", 0..3u32).iter();
    let all: Vec<u32> = it.by_ref().map(Result::unwrap).collect();
    assert_eq!(all, [0, 1, 2]);
    assert!(it.next().is_none());
    assert!(it.next().is_none());

    // And after the error that ended a failed run.
    let mut it = Pipeline::new()
        .from_iter("gen", 0..3u32)
        .try_map("s", |_| Err::<u32, _>(io_err("no")))
        .iter();
    assert!(matches!(it.next(), Some(Err(_))));
    assert!(it.next().is_none());
    assert!(it.next().is_none());
}

#[test]
fn stream_is_fused() {
    smol::block_on(async {
        let mut s = Pipeline::new().from_iter("gen", 0..3u32).stream();
        let all: Vec<u32> = s.by_ref().map(Result::unwrap).collect().await;
        assert_eq!(all, [0, 1, 2]);
        assert!(s.is_terminated());
        assert!(s.next().await.is_none());
        assert!(s.next().await.is_none());

        let mut s = Pipeline::new()
            .from_iter("gen", 0..3u32)
            .try_map("s", |_| Err::<u32, _>(io_err("no")))
            .stream();
        assert!(!s.is_terminated());
        assert!(matches!(s.next().await, Some(Err(_))));
        assert!(s.next().await.is_none());
        assert!(s.next().await.is_none());
        assert!(s.is_terminated());
    });
}

/// A source of long batches, so that a quick sink function gets whole
/// strides of calls between two looks at the run's shared flag.
fn long_batches(p: &Pipeline) -> pipeline_core::Flow<u64> {
    p.from_iter(StageConfig::new("gen").batch(256).buffer(4), 0u64..)
}

#[test]
fn a_quick_fold_that_cancels_the_run_is_not_called_again() {
    // A call that costs a nanosecond or two: the sink looks at the shared
    // flag only once a stride for such a function, and must still stop
    // at once when the function itself cancels.
    for at in [1u64, 63, 64, 65, 100_000, 250_001] {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let cancel = p.cancel_signal();
        let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let c = calls.clone();
        let res = long_batches(&p)
            .fold(0u64, move |sum, x| {
                let n = c.load(std::sync::atomic::Ordering::Relaxed) + 1;
                c.store(n, std::sync::atomic::Ordering::Relaxed);
                if n == at {
                    cancel.cancel();
                }
                sum.wrapping_add(x)
            })
            .run();
        assert!(matches!(res, Err(Error::Cancelled)), "{res:?}");
        assert_eq!(calls.load(SeqCst), at, "no call after the cancel");
        assert_eq!(live.get(), 0);
    }
}

#[test]
fn a_quick_fold_that_sees_the_run_cancelled_is_not_called_again() {
    // Another thread cancels; the function notices through its `Cancel`
    // and is then never called again, quick as it is.
    for _ in 0..10 {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let cancel = p.cancel_signal();
        let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let saw = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (c, s, seen_by_f) = (calls.clone(), saw.clone(), cancel.clone());
        let watcher = {
            let calls = calls.clone();
            std::thread::spawn(move || {
                let start = std::time::Instant::now();
                while calls.load(SeqCst) < 200_000 && start.elapsed() < GUARD {
                    std::thread::yield_now();
                }
                cancel.cancel();
            })
        };
        let res = long_batches(&p)
            .fold(0u64, move |sum, x| {
                let n = c.load(std::sync::atomic::Ordering::Relaxed) + 1;
                c.store(n, std::sync::atomic::Ordering::Relaxed);
                if seen_by_f.is_cancelled() && s.load(std::sync::atomic::Ordering::Relaxed) == 0 {
                    s.store(n, std::sync::atomic::Ordering::Relaxed);
                }
                sum.wrapping_add(x)
            })
            .run();
        watcher.join().unwrap();
        assert!(matches!(res, Err(Error::Cancelled)), "{res:?}");
        let (calls, saw) = (calls.load(SeqCst), saw.load(SeqCst));
        assert!(calls >= 200_000);
        assert!(
            saw == 0 || saw == calls,
            "called {calls} times, saw the cancel at call {saw}"
        );
        assert_eq!(live.get(), 0);
    }
}
