//! Retries on `try_` stages: an item that fails is called again, up to
//! the policy's attempts, after a backoff; a predicate can decline an
//! error; a cancel ends a backoff pause at once; the stage's stats count
//! the retries. No test asserts on time: the pauses are a millisecond, or
//! an hour where a cancel must cut them short.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pipeline_core::{Error, ErrorPolicy, ItemTimeout, Pipeline, Retry, StageConfig};

use common::watchdog;

/// A pause too short to matter.
const QUICK: Duration = Duration::from_millis(1);
/// Longer than any run here could take.
const LONG: Duration = Duration::from_secs(3600);

/// How many calls each item got.
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<HashMap<u32, u32>>>);

impl Calls {
    /// Counts a call of item `n`; returns which attempt it is (1, 2, ...).
    fn call(&self, n: u32) -> u32 {
        let mut calls = self.0.lock().unwrap();
        let c = calls.entry(n).or_default();
        *c += 1;
        *c
    }

    fn of(&self, n: u32) -> u32 {
        self.0.lock().unwrap().get(&n).copied().unwrap_or(0)
    }
}

fn quick(attempts: u32) -> Retry {
    Retry::attempts(attempts).backoff(QUICK).max_backoff(QUICK)
}

#[test]
fn items_that_succeed_on_their_kth_attempt_arrive_and_their_retries_are_counted() {
    for (workers, blocking) in [(1, false), (3, false), (3, true)] {
        let calls = Calls::default();
        let c = calls.clone();
        let p = Pipeline::new();
        let stats = p.stats();
        let mut cfg = StageConfig::new("flaky")
            .workers(workers)
            .ordered()
            .retry(quick(4));
        if blocking {
            cfg = cfg.blocking();
        }
        // Item n succeeds on attempt n % 4 + 1.
        let got = p
            .from_iter("gen", 0..20u32)
            .retrying()
            .try_map(cfg, move |n| {
                if c.call(n) <= n % 4 {
                    Err(format!("{n} not yet"))
                } else {
                    Ok(n * 10)
                }
            })
            .collect::<Vec<_>>()
            .run()
            .expect("every item succeeds within its attempts");
        assert_eq!(got, (0..20).map(|n| n * 10).collect::<Vec<_>>());
        for n in 0..20 {
            assert_eq!(calls.of(n), n % 4 + 1, "item {n}");
        }
        let snap = stats.stage("flaky").unwrap();
        let retries: u64 = (0..20u32).map(|n| u64::from(n % 4)).sum();
        assert_eq!(snap.retries, retries);
        assert_eq!(snap.errors, 0);
        assert!(stats.to_string().contains("retries"));
    }
}

#[test]
fn an_item_that_fails_every_attempt_is_the_error_of_its_last_attempt() {
    let calls = Calls::default();
    let c = calls.clone();
    let p = Pipeline::new();
    let stats = p.stats();
    let live = p.live_tasks();
    let err = p
        .from_iter("gen", [7u32])
        .retrying()
        .try_then(StageConfig::new("fetch").retry(quick(3)), move |n| {
            let attempt = c.call(n);
            async move { Err::<u32, _>(format!("attempt {attempt} failed")) }
        })
        .collect::<Vec<_>>()
        .run()
        .unwrap_err();
    assert_eq!(err.to_string(), "stage `fetch`: attempt 3 failed");
    assert_eq!(calls.of(7), 3);
    assert_eq!(stats.stage("fetch").unwrap().retries, 2);
    assert_eq!(live.get(), 0);
}

#[test]
fn under_continue_an_exhausted_item_travels_as_an_error_and_the_others_arrive() {
    let items: Vec<_> = Pipeline::new()
        .with_policy(ErrorPolicy::Continue)
        .from_iter("gen", 0..5u32)
        .retrying()
        .try_map(StageConfig::new("odd").retry(quick(2)), |n| {
            if n % 2 == 1 {
                Err("odd")
            } else {
                Ok(n)
            }
        })
        .iter()
        .collect();
    let errors = items.iter().filter(|r| r.is_err()).count();
    let oks: Vec<u32> = items.into_iter().filter_map(Result::ok).collect();
    assert_eq!((oks, errors), (vec![0, 2, 4], 2));
}

#[test]
fn an_error_the_predicate_declines_is_not_retried() {
    let calls = Calls::default();
    let c = calls.clone();
    let p = Pipeline::new();
    let stats = p.stats();
    let retry = quick(5).retry_if(|e| e.to_string() == "transient");
    let err = p
        .from_iter("gen", [1u32, 2])
        .retrying()
        .try_map(StageConfig::new("check").retry(retry), move |n| {
            let attempt = c.call(n);
            match (n, attempt) {
                (1, 1) => Err("transient"),
                (1, _) => Ok(n),
                _ => Err("permanent"),
            }
        })
        .collect::<Vec<_>>()
        .run()
        .unwrap_err();
    assert_eq!(err.to_string(), "stage `check`: permanent");
    assert_eq!((calls.of(1), calls.of(2)), (2, 1));
    assert_eq!(stats.stage("check").unwrap().retries, 1);
}

#[test]
fn a_timed_out_attempt_is_retried_unless_the_predicate_declines_it() {
    let limit = Duration::from_millis(20);
    for decline_timeouts in [false, true] {
        let calls = Calls::default();
        let c = calls.clone();
        let mut retry = quick(3);
        if decline_timeouts {
            retry = retry.retry_if(|e| !e.is::<ItemTimeout>());
        }
        let p = Pipeline::new();
        let stats = p.stats();
        let res = watchdog("a first attempt that never ends", move || {
            p.from_iter("gen", [5u32])
                .retrying()
                .try_then(
                    StageConfig::new("fetch").item_timeout(limit).retry(retry),
                    move |n| {
                        let attempt = c.call(n);
                        async move {
                            if attempt == 1 {
                                smol::Timer::after(LONG).await;
                            }
                            Ok::<_, std::io::Error>(n)
                        }
                    },
                )
                .collect::<Vec<_>>()
                .run()
        });
        let retries = stats.stage("fetch").unwrap().retries;
        if decline_timeouts {
            let err = res.unwrap_err();
            assert_eq!(
                err.downcast_ref::<ItemTimeout>(),
                Some(&ItemTimeout::new(limit))
            );
            assert_eq!((calls.of(5), retries), (1, 0));
        } else {
            assert_eq!(res.unwrap(), [5]);
            assert_eq!((calls.of(5), retries), (2, 1));
        }
    }
}

#[test]
fn a_cancel_during_a_backoff_pause_ends_the_run_at_once() {
    // Inline, blocking and async attempts: the pause races the run's signal.
    for kind in ["inline", "blocking", "async"] {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let (res, live, retries) = watchdog(format!("an hour's backoff ({kind})"), move || {
            let p = Pipeline::new();
            let live = p.live_tasks();
            let stats = p.stats();
            let cancel = p.cancel_signal();
            let (failed, wait) = std::sync::mpsc::channel::<()>();
            let failed = Mutex::new(failed);
            let retry = Retry::attempts(3).backoff(LONG).max_backoff(LONG);
            let cfg = StageConfig::new("flaky").retry(retry);
            let fail = move |n: u32| {
                calls.fetch_add(1, SeqCst);
                let _ = failed.lock().unwrap().send(());
                Err::<u32, _>(format!("{n} failed"))
            };
            let flow = p.from_iter("gen", 0..3u32).retrying();
            let run = match kind {
                "inline" => flow.try_map(cfg, fail).collect::<Vec<_>>(),
                "blocking" => flow.try_map(cfg.blocking(), fail).collect(),
                _ => flow
                    .try_then(cfg, move |n| std::future::ready(fail(n)))
                    .collect(),
            };
            let canceller = std::thread::spawn(move || {
                let _ = wait.recv();
                cancel.cancel();
            });
            let res = run.run();
            canceller.join().unwrap();
            (res, live.get(), stats.stage("flaky").unwrap().retries)
        });
        assert!(matches!(res, Err(Error::Cancelled)), "{kind}: {res:?}");
        assert_eq!(live, 0, "{kind}");
        // The pause never ended: no second attempt, no retry counted.
        assert_eq!((seen.load(SeqCst), retries), (1, 0), "{kind}");
    }
}

#[test]
fn retries_a_stage_cannot_make_are_a_configuration_error() {
    let config_error = |res: Result<Vec<u32>, Error>, says: &str| match res {
        Err(Error::Config { stage, message }) => {
            assert_eq!(&*stage, "s");
            assert!(message.contains(says), "{message}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    };
    // Not built through `retrying()`: the stage cannot clone its items.
    let res = Pipeline::new()
        .from_iter("gen", 0..3u32)
        .try_map(StageConfig::new("s").retry(3), Ok::<u32, String>)
        .collect()
        .run();
    config_error(res, "retry needs a try_ stage built through Flow::retrying");
    let res = Pipeline::new()
        .from_iter("gen", 0..3u32)
        .then(StageConfig::new("s").retry(2), |n| async move { n })
        .collect()
        .run();
    config_error(res, "retry needs a try_ stage");
    let res = Pipeline::new()
        .from_iter("gen", 0..3u32)
        .retrying()
        .try_map(StageConfig::new("s").retry(0), Ok::<u32, String>)
        .collect()
        .run();
    config_error(res, "retry needs at least 1 attempt");
    // One attempt is no retry: any try_ stage takes it.
    let got = Pipeline::new()
        .from_iter("gen", 0..3u32)
        .try_map(StageConfig::new("s").retry(1), Ok::<u32, String>)
        .collect::<Vec<_>>()
        .run();
    assert_eq!(got.unwrap(), [0, 1, 2]);
}
