//! Runs nest, and a run's future is a good neighbour: a `run()` inside a
//! stage never starves the executor, cancelling the outer run reaches the
//! inner one, and a timer beside a busy run's future fires. Every wait
//! that only a broken runtime would not end runs under a watchdog that
//! turns the hang into a failure; nothing here times anything.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use common::{watchdog, GUARD};
use futures::StreamExt;
use pipeline_core::{threads, Cancel, Error, Pipeline, StageConfig};
use smol::Timer;

fn inner_sum(n: u64) -> u64 {
    Pipeline::new()
        .from_iter("inner", 0..n)
        .map("inner-sq", |x| x * x)
        .fold(0, |a, b| a + b)
        .run()
        .expect("the inner run succeeds")
}

#[test]
fn runs_nested_in_every_worker_of_an_inline_stage_do_not_starve_the_executor() {
    let width = threads() * 2;
    let got = watchdog("nested runs", move || {
        Pipeline::new()
            .from_iter("gen", 0..64u64)
            .map(StageConfig::new("outer").workers(width), inner_sum)
            .fold(0, |a, b| a + b)
            .run()
    });
    let want: u64 = (0..64u64).map(inner_sum).sum();
    assert_eq!(got.unwrap(), want);
}

#[test]
fn iter_nested_in_an_inline_stage_does_not_starve_the_executor() {
    let width = threads();
    let got = watchdog("nested iter", move || {
        Pipeline::new()
            .from_iter("gen", 0..16u64)
            .map(StageConfig::new("outer").workers(width), |n| {
                let it = Pipeline::new().from_iter("inner", 0..n).iter();
                it.map(|r| r.expect("the inner run succeeds")).sum::<u64>()
            })
            .fold(0, |a, b| a + b)
            .run()
    });
    let want: u64 = (0..16u64).map(|n| (0..n).sum::<u64>()).sum();
    assert_eq!(got.unwrap(), want);
}

/// An endless inner run inside the outer run's one stage, of the kind
/// `make` builds; the outer run is cancelled once the inner one has
/// started: both must end, the inner one cancelled.
fn outer_cancel_reaches_inner(kind: &'static str) {
    let p = Pipeline::new();
    let outer = p.cancel_signal();
    let live = p.live_tasks();
    let (started_tx, started_rx) = mpsc::channel();
    let inner_result = Arc::new(std::sync::Mutex::new(None));
    let seen = inner_result.clone();
    let endless = move || Pipeline::new().from_iter("endless", 0u64..);
    let cfg = match kind {
        "blocking" => StageConfig::new("outer").blocking(),
        _ => StageConfig::new("outer"),
    };
    let run = p
        .from_iter("gen", 0..1u32)
        .map(cfg, move |_| {
            let _ = started_tx.send(());
            let res = match kind {
                "iter" => endless().iter().find_map(Result::err).map_or(Ok(()), Err),
                _ => endless().for_each(|_| {}).run(),
            };
            *seen.lock().unwrap() = Some(res);
        })
        .for_each(|()| {});
    cancel_once_started(run, &started_rx, &outer, kind);
    let inner = inner_result.lock().unwrap().take();
    assert!(
        matches!(inner, Some(Err(Error::Cancelled))),
        "{kind}: the inner run was cancelled: {inner:?}"
    );
    assert_eq!(live.get(), 0);
}

/// Runs `run` on a thread, cancels `outer` once a stage reports on
/// `started` that its inner run has begun, and checks that the outer run
/// ends (under the watchdog) as cancelled.
fn cancel_once_started(
    run: pipeline_core::Run<()>,
    started: &mpsc::Receiver<()>,
    outer: &Cancel,
    what: &str,
) {
    let handle = std::thread::spawn(move || run.run());
    started.recv_timeout(GUARD).expect("the inner run starts");
    outer.cancel();
    let res = watchdog(what, move || handle.join().unwrap());
    assert!(matches!(res, Err(Error::Cancelled)), "{what}: {res:?}");
}

#[test]
fn cancelling_the_outer_run_cancels_a_run_inside_an_inline_stage() {
    outer_cancel_reaches_inner("inline");
}

#[test]
fn cancelling_the_outer_run_cancels_a_run_inside_a_blocking_stage() {
    outer_cancel_reaches_inner("blocking");
}

#[test]
fn cancelling_the_outer_run_cancels_an_iter_inside_a_stage() {
    outer_cancel_reaches_inner("iter");
}

#[test]
fn cancelling_the_outer_run_cancels_a_run_async_inside_an_async_stage() {
    let p = Pipeline::new();
    let outer = p.cancel_signal();
    let (started_tx, started_rx) = mpsc::channel();
    let inner_cancelled = Arc::new(AtomicUsize::new(0));
    let seen = inner_cancelled.clone();
    let run = p
        .from_iter("gen", 0..1u32)
        .then("outer", move |_| {
            let started_tx = started_tx.clone();
            let seen = seen.clone();
            async move {
                let _ = started_tx.send(());
                let res = Pipeline::new()
                    .from_iter("endless", 0u64..)
                    .for_each(|_| {})
                    .run_async()
                    .await;
                if matches!(res, Err(Error::Cancelled)) {
                    seen.fetch_add(1, SeqCst);
                }
            }
        })
        .for_each(|()| {});
    cancel_once_started(run, &started_rx, &outer, "run_async");
    // An async stage function is dropped at the cancel; if it was not,
    // its inner run must have been cancelled.
    assert!(inner_cancelled.load(SeqCst) <= 1);
}

#[test]
fn an_inner_run_can_follow_a_signal_given_explicitly() {
    let parent = Cancel::new();
    let p = Pipeline::new();
    let run = p
        .from_iter("endless", 0u64..)
        .for_each(|_| {})
        .within(&parent);
    let handle = std::thread::spawn(move || run.run());
    parent.cancel();
    let res = watchdog("explicit parent", move || handle.join().unwrap());
    assert!(matches!(res, Err(Error::Cancelled)), "{res:?}");
}

/// A source much faster than its sink, with room for every item it sends
/// in the time of the test: the sink never waits for input.
fn busy(p: &Pipeline) -> pipeline_core::Flow<u64> {
    p.from_iter(StageConfig::new("gen").batch(64).buffer(1 << 16), 0u64..)
}

/// Work enough per item that the source stays far ahead.
fn chew(n: u64) {
    let mut x = n;
    for _ in 0..500 {
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
    }
}

/// Races `fut` against a short timer in `smol::block_on`; which won.
fn race(fut: impl std::future::Future<Output = ()>) -> &'static str {
    let fut = async {
        fut.await;
        "run"
    };
    let timer = async {
        Timer::after(Duration::from_millis(50)).await;
        "timer"
    };
    smol::block_on(smol::future::or(fut, timer))
}

#[test]
fn a_timer_beside_a_busy_run_future_fires() {
    for sink in ["for_each", "fold", "collect", "take"] {
        let won = watchdog(sink, move || {
            let flow = busy(&Pipeline::new());
            race(async move {
                let _ = match sink {
                    "for_each" => flow.for_each(chew).run_async().await,
                    "fold" => flow.fold((), |(), n| chew(n)).run_async().await,
                    "collect" => flow
                        .map("chew", |n| (chew(n), n).1)
                        .collect::<Vec<_>>()
                        .run_async()
                        .await
                        .map(drop),
                    _ => flow.take(usize::MAX).run_async().await.map(drop),
                };
            })
        });
        assert_eq!(won, "timer", "{sink}");
    }
}

#[test]
fn a_timer_beside_a_busy_stream_fires() {
    let won = watchdog("stream", || {
        let mut s = busy(&Pipeline::new()).stream();
        race(async move {
            while let Some(r) = s.next().await {
                chew(r.expect("an item"));
            }
        })
    });
    assert_eq!(won, "timer");
}

#[test]
fn dropping_a_run_future_cancels_the_run_and_its_tasks_end() {
    let p = Pipeline::new();
    let live = p.live_tasks();
    let cancel = p.cancel_signal();
    let run = busy(&p).for_each(chew).run_async();
    let won = watchdog("drop", || {
        race(async move {
            let _ = run.await;
        })
    });
    assert_eq!(won, "timer");
    assert!(cancel.is_cancelled(), "dropping the run future cancels it");
    watchdog("tasks end", move || {
        while live.get() > 0 {
            std::thread::yield_now();
        }
    });
}

#[test]
fn each_worker_of_a_blocking_stage_calls_its_function_on_one_thread_of_its_own() {
    // Two blocking stages of one worker each, in a row: each worker runs
    // on a thread of the blocking pool of its own for the whole run, so
    // every call of a stage is on one thread, the two stages' threads
    // differ, and neither is one of the executor's. (Handed to the pool
    // call by call, the calls would go to whichever pool thread was
    // free.)
    use std::collections::HashSet;
    use std::sync::Mutex;
    use std::thread::ThreadId;

    let threads = Arc::new(Mutex::new([HashSet::new(), HashSet::new()]));
    let names = Arc::new(Mutex::new(HashSet::new()));
    let note = |stage: usize| {
        let (threads, names) = (threads.clone(), names.clone());
        move |n: u64| {
            let me = std::thread::current();
            threads.lock().unwrap()[stage].insert(me.id());
            names
                .lock()
                .unwrap()
                .insert(me.name().unwrap_or("").to_string());
            n
        }
    };
    let sum = Pipeline::new()
        .from_iter("gen", 0..2000u64)
        .map(StageConfig::new("a").blocking(), note(0))
        .map(StageConfig::new("b").blocking(), note(1))
        .fold(0u64, |s, n| s + n)
        .run()
        .unwrap();
    assert_eq!(sum, (0..2000).sum::<u64>());
    let threads = threads.lock().unwrap();
    let [a, b]: &[HashSet<ThreadId>; 2] = &threads;
    assert_eq!(a.len(), 1, "stage a ran on {} threads", a.len());
    assert_eq!(b.len(), 1, "stage b ran on {} threads", b.len());
    assert!(a.is_disjoint(b), "both stages ran on one thread");
    let names = names.lock().unwrap();
    assert_eq!(
        *names,
        HashSet::from(["pipeline-blocking".to_string()]),
        "{names:?}"
    );
}
