//! Every kind of blocking worker — one that keeps a thread of its own
//! (the first `threads()` workers of a stage) and one that hands each
//! call to the blocking pool (the workers beyond those) — under cancel,
//! panic, error, early stop, a dropped run, nesting and a deadline: each
//! test runs at widths 1, `threads()` and `threads() + 3`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use common::{watchdog, GUARD};
use pipeline_core::{threads, Cancel, Error, ErrorPolicy, Pipeline, StageConfig};

/// Blocks until the current run's signal closes.
fn wait_cancel() {
    let c = Cancel::current().expect("a current signal");
    c.wait_blocking();
}

/// Widths on both sides of the own-thread boundary.
fn widths() -> Vec<usize> {
    vec![1, threads(), threads() + 3]
}

/// Asserts that `r` is the panic of stage `name` (a stage of width `w`).
fn panicked_in<T: std::fmt::Debug>(r: Result<T, Error>, name: &str, w: usize) {
    match r {
        Err(Error::Panic { stage, .. }) => assert_eq!(&*stage, name),
        other => panic!("width {w}: {other:?}"),
    }
}

#[test]
fn cancel_while_waiting_for_input() {
    for w in widths() {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let cancel = p.cancel_signal();
        let (tx, rx) = mpsc::channel::<()>();
        let run = p
            .from_blocking("src", move |_em: &mut pipeline_core::Emitter<u64>| {
                let _ = tx.send(());
                Cancel::current().unwrap().wait_blocking();
            })
            .map(StageConfig::new("b").blocking().workers(w), |n: u64| n)
            .for_each(|_| {});
        let h = std::thread::spawn(move || run.run());
        rx.recv_timeout(GUARD).unwrap();
        cancel.cancel();
        let r = watchdog("cancel input", move || h.join().unwrap());
        assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
        assert_eq!(live.get(), 0);
    }
}

#[test]
fn cancel_inside_long_call_and_waiting_for_room() {
    for w in widths() {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let cancel = p.cancel_signal();
        let inp = Arc::new(AtomicUsize::new(0));
        let (ip, ip2) = (inp.clone(), inp.clone());
        let (tx, rx) = mpsc::channel::<()>();
        let tx = Mutex::new(tx);
        let run = p
            .from_iter("gen", 0u64..)
            .map(StageConfig::new("b").blocking().workers(w), move |n| {
                ip.fetch_add(1, SeqCst);
                if n % 3 == 2 {
                    wait_cancel();
                }
                ip.fetch_sub(1, SeqCst);
                n
            })
            .for_each(move |_| {
                let _ = tx.lock().unwrap().send(());
                wait_cancel();
            });
        let h = std::thread::spawn(move || run.run());
        rx.recv_timeout(GUARD).unwrap();
        cancel.cancel();
        let r = watchdog("cancel", move || h.join().unwrap());
        assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
        assert_eq!(live.get(), 0);
        assert_eq!(ip2.load(SeqCst), 0, "width {w}");
    }
}

#[test]
fn panic_in_blocking_function() {
    for w in widths() {
        for n in [0u64, 5, 500] {
            let p = Pipeline::new();
            let live = p.live_tasks();
            let r = p
                .from_iter("gen", 0u64..1000)
                .map(StageConfig::new("boom").blocking().workers(w), move |i| {
                    assert!(i != n, "boom at {i}");
                    i
                })
                .collect::<Vec<_>>()
                .run();
            panicked_in(r, "boom", w);
            assert_eq!(live.get(), 0);
        }
    }
}

#[test]
fn flat_map_panic_in_iterator_on_own_thread() {
    for w in widths() {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let r = p
            .from_iter("gen", 0u64..100)
            .flat_map(StageConfig::new("fm").blocking().workers(w), |i| {
                (0..10u64).inspect(move |&k| assert!(!(i == 50 && k == 5), "iter boom"))
            })
            .collect::<Vec<_>>()
            .run();
        panicked_in(r, "fm", w);
        assert_eq!(live.get(), 0);
    }
}

#[test]
fn flat_map_many_items() {
    for w in widths() {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let n = p
            .from_iter("gen", 0u64..64)
            .flat_map(StageConfig::new("fm").blocking().workers(w), |i| {
                (0..10_000u64).map(move |k| i * 10_000 + k)
            })
            .fold(0u64, |a, _| a + 1)
            .run()
            .unwrap();
        assert_eq!(n, 640_000);
        assert_eq!(live.get(), 0);
        // endless flat_map + take
        let p = Pipeline::new();
        let live = p.live_tasks();
        let got = p
            .from_iter("gen", 0u64..)
            .flat_map(StageConfig::new("fm").blocking().workers(w), |i| {
                (0u64..).map(move |k| i + k)
            })
            .take(100_000)
            .run()
            .unwrap();
        assert_eq!(got.len(), 100_000);
        assert_eq!(live.get(), 0);
    }
}

#[test]
fn error_policies() {
    for w in widths() {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let r = p
            .from_iter("gen", 0u64..1000)
            .try_map(StageConfig::new("f").blocking().workers(w), |i| {
                if i % 7 == 3 {
                    Err(std::io::Error::other("bad"))
                } else {
                    Ok(i)
                }
            })
            .collect::<Vec<_>>()
            .run();
        assert!(matches!(&r, Err(e) if e.stage_name() == Some("f")), "{r:?}");
        assert_eq!(live.get(), 0);

        let p = Pipeline::new().with_policy(ErrorPolicy::Continue);
        let live = p.live_tasks();
        let errs = p.errors();
        let r = p
            .from_iter("gen", 0u64..1000)
            .try_map(StageConfig::new("f").blocking().workers(w), |i| {
                if i % 7 == 3 {
                    Err(std::io::Error::other("bad"))
                } else {
                    Ok(i)
                }
            })
            .collect::<Vec<_>>()
            .run();
        let bad = (0..1000u64).filter(|i| i % 7 == 3).count();
        let mut v = r.unwrap_or_else(|e| panic!("width {w}: {e:?}"));
        v.sort_unstable();
        let good: Vec<u64> = (0..1000).filter(|i| i % 7 != 3).collect();
        assert_eq!(v, good, "width {w}");
        assert_eq!(errs.len(), bad, "width {w}");
        assert_eq!(live.get(), 0);
    }
}

#[test]
fn early_stop_first_take() {
    for w in widths() {
        for _ in 0..20 {
            let inp = Arc::new(AtomicUsize::new(0));
            let ip = inp.clone();
            let p = Pipeline::new();
            let live = p.live_tasks();
            let f = p
                .from_iter("gen", 0u64..)
                .map(StageConfig::new("b").blocking().workers(w), move |n| {
                    ip.fetch_add(1, SeqCst);
                    std::thread::yield_now();
                    ip.fetch_sub(1, SeqCst);
                    n
                })
                .take(7)
                .run()
                .unwrap();
            assert_eq!(f.len(), 7);
            assert_eq!(live.get(), 0);
            assert_eq!(inp.load(SeqCst), 0);
        }
    }
}

#[test]
fn wide_stage_few_items() {
    let w = threads() + 3;
    for items in [0u64, 1, 2, 3, 5] {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let mut v = watchdog("wide", move || {
            p.from_iter("gen", 0..items)
                .map(StageConfig::new("b").blocking().workers(w), |n| n * 2)
                .collect::<Vec<_>>()
                .run()
                .unwrap()
        });
        v.sort_unstable();
        assert_eq!(v, (0..items).map(|n| n * 2).collect::<Vec<_>>());
        assert_eq!(live.get(), 0);
    }
}

#[test]
fn run_future_dropped_mid_run() {
    for w in widths() {
        for mode in 0..3 {
            let p = Pipeline::new();
            let live = p.live_tasks();
            let inp = Arc::new(AtomicUsize::new(0));
            let ip = inp.clone();
            let started = Arc::new(AtomicUsize::new(0));
            let st = started.clone();
            let run = p
                .from_iter("gen", 0u64..)
                .map(StageConfig::new("b").blocking().workers(w), move |n| {
                    ip.fetch_add(1, SeqCst);
                    st.fetch_add(1, SeqCst);
                    if mode == 1 {
                        Cancel::current().unwrap().wait_blocking();
                    } else if mode == 2 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    ip.fetch_sub(1, SeqCst);
                    n
                })
                .for_each(|_| {})
                .run_async();
            let st2 = started.clone();
            smol::block_on(async move {
                let run = async move {
                    let _ = run.await;
                    "run"
                };
                let timer = async move {
                    while st2.load(SeqCst) == 0 {
                        smol::Timer::after(Duration::from_millis(1)).await;
                    }
                    smol::Timer::after(Duration::from_millis(20)).await;
                    "timer"
                };
                let won = smol::future::or(run, timer).await;
                assert_eq!(won, "timer");
            });
            let l2 = live.clone();
            watchdog("live", move || {
                while l2.get() > 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
            assert_eq!(inp.load(SeqCst), 0, "width {w} mode {mode}");
        }
    }
}

fn inner_blocking_sum(n: u64) -> u64 {
    Pipeline::new()
        .from_iter("inner", 0..n)
        .map(StageConfig::new("inner-b").blocking().workers(2), |x| x * x)
        .map(StageConfig::new("inner-c").blocking(), |x| x + 1)
        .fold(0, |a, b| a + b)
        .run()
        .expect("inner")
}

#[test]
fn nested_blocking_runs() {
    for w in widths() {
        let got = watchdog("nested", move || {
            Pipeline::new()
                .from_iter("gen", 0..64u64)
                .map(
                    StageConfig::new("outer").blocking().workers(w),
                    inner_blocking_sum,
                )
                .fold(0, |a, b| a + b)
                .run()
        });
        let want: u64 = (0..64).map(inner_blocking_sum).sum();
        assert_eq!(got.unwrap(), want);
    }
}

#[test]
fn nested_iter_in_blocking() {
    for w in widths() {
        let got = watchdog("nested iter", move || {
            Pipeline::new()
                .from_iter("gen", 0..32u64)
                .map(StageConfig::new("outer").blocking().workers(w), |n| {
                    Pipeline::new()
                        .from_iter("inner", 0..n)
                        .map(StageConfig::new("ib").blocking(), |x| x)
                        .iter()
                        .map(Result::unwrap)
                        .sum::<u64>()
                })
                .fold(0, |a, b| a + b)
                .run()
        });
        let want: u64 = (0..32u64).map(|n| (0..n).sum::<u64>()).sum();
        assert_eq!(got.unwrap(), want);
    }
}

#[test]
fn iter_dropped_half_read() {
    for w in widths() {
        let inp = Arc::new(AtomicUsize::new(0));
        let ip = inp.clone();
        let p = Pipeline::new();
        let live = p.live_tasks();
        let mut it = p
            .from_iter("gen", 0u64..)
            .map(StageConfig::new("b").blocking().workers(w), move |n| {
                ip.fetch_add(1, SeqCst);
                std::thread::yield_now();
                ip.fetch_sub(1, SeqCst);
                n
            })
            .iter();
        for _ in 0..100 {
            it.next().unwrap().unwrap();
        }
        drop(it);
        assert_eq!(live.get(), 0);
        assert_eq!(inp.load(SeqCst), 0);
    }
}

#[test]
fn stream_dropped_half_read() {
    use futures::StreamExt;
    for w in widths() {
        let inp = Arc::new(AtomicUsize::new(0));
        let ip = inp.clone();
        let p = Pipeline::new();
        let live = p.live_tasks();
        let mut s = p
            .from_iter("gen", 0u64..)
            .map(StageConfig::new("b").blocking().workers(w), move |n| {
                ip.fetch_add(1, SeqCst);
                std::thread::yield_now();
                ip.fetch_sub(1, SeqCst);
                n
            })
            .stream();
        smol::block_on(async {
            for _ in 0..100 {
                s.next().await.unwrap().unwrap();
            }
        });
        drop(s);
        let l2 = live.clone();
        watchdog("stream live", move || {
            while l2.get() > 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        assert_eq!(inp.load(SeqCst), 0);
    }
}

#[test]
fn deadline_on_run() {
    for w in widths() {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let r = p
            .from_iter("gen", 0u64..)
            .map(StageConfig::new("b").blocking().workers(w), |n| {
                if n == 3 {
                    Cancel::current().unwrap().wait_blocking();
                }
                n
            })
            .for_each(|_| {})
            .timeout(Duration::from_millis(50));
        let r = watchdog("deadline", move || r.run());
        assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
        assert_eq!(live.get(), 0);
    }
}

#[test]
fn nested_runs_in_two_blocking_stages_of_different_widths() {
    let got = watchdog("nested1", move || {
        Pipeline::new()
            .from_iter("gen", 0..16u64)
            .map(
                StageConfig::new("outer").blocking().workers(1),
                inner_blocking_sum,
            )
            .map(
                StageConfig::new("outer2").blocking().workers(3),
                inner_blocking_sum,
            )
            .fold(0u64, |a, b| a.wrapping_add(b))
            .run()
    });
    let want: u64 = (0..16)
        .map(inner_blocking_sum)
        .map(inner_blocking_sum)
        .fold(0u64, |a, b| a.wrapping_add(b));
    assert_eq!(got.unwrap(), want);
}
