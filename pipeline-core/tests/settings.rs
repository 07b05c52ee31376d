//! Every setting, at zero, one, huge and `usize::MAX`, either works (with
//! memory in proportion to what is used; see `tests/memory.rs`) or is a
//! configuration error naming the stage: never a panic, never a hang.
//! And `workers = n` means what the docs say for each kind of stage.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};

use common::{watchdog, GUARD};
use pipeline_core::{Error, Pipeline, StageConfig, MAX_BLOCKING_WORKERS, MAX_WORKERS};

/// A setting under test: its name, and how it changes a stage.
type Setting = (&'static str, fn(StageConfig) -> StageConfig);

/// A small graph (source, inline stage, ordered stage, blocking stage,
/// merge, async stage) with `cfg` applied to the stage named `at`.
fn small_run(at: &'static str, cfg: fn(StageConfig) -> StageConfig) -> Result<Vec<u64>, Error> {
    let c = move |name: &'static str| {
        let base = StageConfig::new(name);
        if name == at {
            cfg(base)
        } else {
            base
        }
    };
    let p = Pipeline::new();
    let live = p.live_tasks();
    let gen = p.from_iter(c("gen"), 0..10u64);
    let a = gen.clone().map(c("inline"), |n| n);
    let b = gen
        .map(c("ordered").ordered(), |n| n)
        .map(c("blocking").blocking(), |n| n);
    let res = p
        .merge(c("merge"), [a, b])
        .then(c("async"), |n| async move { n })
        .collect::<Vec<_>>();
    let bound = res.in_flight_bound();
    assert!(bound > 0);
    let res = res.run();
    assert_eq!(live.get(), 0);
    res.map(|mut v| {
        v.sort_unstable();
        v
    })
}

const STAGES: [&str; 6] = ["gen", "inline", "ordered", "blocking", "merge", "async"];

#[test]
fn huge_buffers_windows_and_batches_work_on_every_kind_of_stage() {
    let settings: [Setting; 9] = [
        ("buffer 1", |c| c.buffer(1)),
        ("buffer 1025", |c| c.buffer(1025)),
        ("buffer 10_000_000", |c| c.buffer(10_000_000)),
        ("buffer MAX", |c| c.buffer(usize::MAX)),
        ("batch MAX", |c| c.batch(usize::MAX)),
        ("batch 1 buffer MAX", |c| c.batch(1).buffer(usize::MAX)),
        ("batch MAX buffer MAX", |c| {
            c.batch(usize::MAX).buffer(usize::MAX)
        }),
        ("window MAX", |c| c.window(usize::MAX)),
        ("batch 3 buffer 1_000_000", |c| c.batch(3).buffer(1_000_000)),
    ];
    for (what, cfg) in settings {
        for at in STAGES {
            if what.starts_with("window") && at != "ordered" {
                continue; // a window makes a stage ordered
            }
            let got = watchdog(what, move || small_run(at, cfg))
                .unwrap_or_else(|e| panic!("{what} on {at}: {e}"));
            assert_eq!(got, (0..10).collect::<Vec<_>>(), "{what} on {at}");
        }
    }
}

#[test]
fn too_many_workers_is_a_config_error_naming_the_stage() {
    let settings: [Setting; 2] = [
        ("workers MAX", |c| c.workers(usize::MAX)),
        ("workers MAX_WORKERS + 1", |c| c.workers(MAX_WORKERS + 1)),
    ];
    for (what, cfg) in settings {
        for at in ["inline", "ordered", "blocking", "async"] {
            let err = watchdog(what, move || small_run(at, cfg)).unwrap_err();
            assert!(
                matches!(&err, Error::Config { stage, message } if &**stage == at && message.contains("workers")),
                "{what} on {at}: {err:?}"
            );
        }
    }
    let err = small_run("blocking", |c| c.workers(MAX_BLOCKING_WORKERS + 1)).unwrap_err();
    assert!(
        matches!(&err, Error::Config { stage, message } if &**stage == "blocking" && message.contains("threads")),
        "{err:?}"
    );
}

#[test]
fn zero_is_a_config_error_for_every_setting() {
    let settings: [Setting; 4] = [
        ("workers 0", |c| c.workers(0)),
        ("buffer 0", |c| c.buffer(0)),
        ("batch 0", |c| c.batch(0)),
        ("window 0", |c| c.window(0)),
    ];
    for (what, cfg) in settings {
        let err = small_run("ordered", cfg).unwrap_err();
        assert_eq!(err.stage_name(), Some("ordered"), "{what}: {err:?}");
    }
}

#[test]
fn huge_settings_give_a_saturated_in_flight_bound_not_an_overflow() {
    let run = Pipeline::new()
        .from_iter(StageConfig::new("gen").batch(usize::MAX), 0..3u64)
        .map(StageConfig::new("sq").workers(3).batch(usize::MAX), |n| n)
        .map(StageConfig::new("ord").window(usize::MAX), |n| n)
        .collect::<Vec<_>>();
    assert_eq!(run.in_flight_bound(), usize::MAX);
    assert_eq!(run.run().unwrap(), [0, 1, 2]);
}

/// Blocks until `n` callers are inside at once; `false` if they never are.
struct Meeting {
    inside: Mutex<usize>,
    all_in: Condvar,
    n: usize,
}

impl Meeting {
    fn new(n: usize) -> Arc<Self> {
        Arc::new(Meeting {
            inside: Mutex::new(0),
            all_in: Condvar::new(),
            n,
        })
    }

    fn meet(&self) -> bool {
        let mut inside = self.inside.lock().unwrap();
        *inside += 1;
        self.all_in.notify_all();
        let (inside, timeout) = self
            .all_in
            .wait_timeout_while(inside, GUARD, |i| *i < self.n)
            .unwrap();
        drop(inside);
        !timeout.timed_out()
    }
}

#[test]
fn a_blocking_stage_of_600_workers_runs_600_calls_at_once() {
    // Beyond the blocking pool's 500 threads: the stage's share grows it.
    let n = 600;
    let meeting = Meeting::new(n);
    let m = meeting.clone();
    let met = watchdog("600 blocking calls", move || {
        Pipeline::new()
            .from_iter("gen", 0..n)
            .map(StageConfig::new("wait").workers(n).blocking(), move |_| {
                m.meet()
            })
            .collect::<Vec<bool>>()
            .run()
    })
    .unwrap();
    assert_eq!(met.len(), n);
    assert!(
        met.iter().all(|&m| m),
        "every call met the other 599 at once"
    );
}

#[test]
fn two_blocking_stages_each_get_their_workers_at_once() {
    // Two stages of 300 in one run: 600 threads between them, while the
    // pool's own limit is 500.
    let n = 300;
    let (m1, m2) = (Meeting::new(n), Meeting::new(n));
    let met = watchdog("two stages of 300", move || {
        let p = Pipeline::new();
        let a = p
            .from_iter("gen a", 0..n)
            .map(StageConfig::new("a").workers(n).blocking(), move |_| {
                m1.meet()
            });
        let b = p
            .from_iter("gen b", 0..n)
            .map(StageConfig::new("b").workers(n).blocking(), move |_| {
                m2.meet()
            });
        p.merge("both", [a, b]).collect::<Vec<bool>>().run()
    })
    .unwrap();
    assert_eq!(met.len(), 2 * n);
    assert!(met.iter().all(|&m| m));
}

#[test]
fn an_async_stage_of_n_workers_has_n_calls_in_progress_at_once() {
    let n = 2000;
    let inside = Arc::new(AtomicUsize::new(0));
    let (open_tx, open_rx) = async_channel::bounded::<()>(1);
    let open_tx = Arc::new(Mutex::new(Some(open_tx)));
    let got = watchdog("2000 async calls", move || {
        Pipeline::new()
            .from_iter("gen", 0..n)
            .then(StageConfig::new("wait").workers(n), move |_| {
                let (inside, open_rx, open_tx) = (inside.clone(), open_rx.clone(), open_tx.clone());
                async move {
                    if inside.fetch_add(1, SeqCst) + 1 == n {
                        // The last one in opens the door for all.
                        open_tx.lock().unwrap().take();
                    }
                    let _ = open_rx.recv().await;
                }
            })
            .fold(0usize, |a, ()| a + 1)
            .run()
    })
    .unwrap();
    assert_eq!(got, n);
}

#[test]
fn huge_settings_work_on_blocking_async_and_stream_sources() {
    let settings: [Setting; 4] = [
        ("buffer MAX", |c| c.buffer(usize::MAX)),
        ("batch MAX", |c| c.batch(usize::MAX)),
        ("batch 1 buffer MAX", |c| c.batch(1).buffer(usize::MAX)),
        ("batch MAX buffer MAX", |c| {
            c.batch(usize::MAX).buffer(usize::MAX)
        }),
    ];
    for (what, cfg) in settings {
        let got = watchdog(what, move || {
            let p = Pipeline::new();
            let a = p.from_blocking(cfg(StageConfig::new("blocking")), |em| {
                for i in 0..10u64 {
                    if em.emit(i).is_err() {
                        return;
                    }
                }
            });
            let b = p.from_async(cfg(StageConfig::new("async")), |mut em| async move {
                for i in 10..20u64 {
                    if em.send(i).await.is_err() {
                        return;
                    }
                }
            });
            let c = p.from_stream(
                cfg(StageConfig::new("stream")),
                futures::stream::iter(20..30u64),
            );
            p.merge(cfg(StageConfig::new("all")), [a, b, c])
                .collect::<Vec<_>>()
                .run()
        })
        .unwrap_or_else(|e| panic!("{what}: {e}"));
        let mut got = got;
        got.sort_unstable();
        assert_eq!(got, (0..30).collect::<Vec<_>>(), "{what}");
    }
}

#[test]
fn many_blocking_sources_run_at_once_beyond_the_pools_own_limit() {
    // 600 producers, each of which emits only once all 600 have started:
    // with the pool at its own 500 threads, 100 would never start.
    let n = 600;
    let meeting = Meeting::new(n);
    let got = watchdog("600 blocking sources", move || {
        let p = Pipeline::new();
        let sources: Vec<_> = (0..n)
            .map(|i| {
                let m = meeting.clone();
                p.from_blocking(format!("src{i}"), move |em| {
                    let met = m.meet();
                    let _ = em.emit(met);
                })
            })
            .collect();
        p.merge("all", sources).collect::<Vec<bool>>().run()
    })
    .unwrap();
    assert_eq!(got.len(), n);
    assert!(got.iter().all(|&m| m));
}
