//! One test (at least) per guarantee of the runtime: each fails when the
//! guarantee is broken. No test sleeps to synchronize or asserts on time;
//! the few waits that could hang if the runtime were broken are bounded by
//! a generous guard that turns a hang into a failure.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use pipeline_core::{Cancel, Error, ErrorPolicy, Pipeline, StageConfig};

/// Upper bound on any wait that only a broken runtime would exceed.
const GUARD: Duration = Duration::from_secs(30);

fn io_err(msg: &str) -> std::io::Error {
    std::io::Error::other(msg.to_string())
}

// 1. Close when done -------------------------------------------------------

#[test]
fn stage_closes_output_when_every_worker_is_done() {
    for workers in [1, 2, 7] {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let mut out: Vec<u64> = p
            .from_iter("gen", 0..1000u64)
            .map(StageConfig::new("sq").workers(workers).buffer(1), |n| n * n)
            .map(StageConfig::new("sq2").workers(3), |n| n + 1)
            .collect::<Vec<_>>()
            .run()
            .expect("the run ends because every stage closes its output");
        out.sort();
        let want: Vec<u64> = (0..1000u64).map(|n| n * n + 1).collect();
        assert_eq!(out, want);
        assert_eq!(live.get(), 0);
    }
}

#[test]
fn merge_closes_when_every_input_has_closed() {
    let p = Pipeline::new();
    let a = p.from_iter("a", 0..100u32);
    let b = p.from_iter("b", 100..300u32);
    let c = p.from_iter("c", 300..301u32);
    let mut all = p
        .merge("merge", [a, b, c])
        .collect::<Vec<_>>()
        .run()
        .unwrap();
    all.sort();
    assert_eq!(all, (0..301).collect::<Vec<_>>());
}

// 2 + 3. Drain or release; cancel is a broadcast by closing ------------------

#[test]
fn cancel_from_outside_releases_every_blocked_send_and_receive() {
    // 200 workers over buffers of 1, a sink that never reads again after the
    // first item: nearly every task is blocked in a send or a receive.
    let p = Pipeline::new();
    let live = p.live_tasks();
    let cancel = p.cancel_signal();
    let (tx, rx) = mpsc::channel();
    let run = p
        .from_iter("gen", 0u64..)
        .map(StageConfig::new("a").workers(100).buffer(1), |n| n)
        .map(StageConfig::new("b").workers(100).buffer(1), |n| n)
        .for_each(move |_| {
            let _ = tx.send(());
            Cancel::current()
                .expect("sinks see their run's signal")
                .wait_blocking();
        });
    let handle = std::thread::spawn(move || run.run());
    rx.recv_timeout(GUARD).expect("the first item arrives");
    assert!(live.get() >= 200, "all workers are alive and blocked");
    cancel.cancel();
    let res = handle.join().unwrap();
    assert!(matches!(res, Err(Error::Cancelled)), "{res:?}");
    assert_eq!(live.get(), 0);
}

#[test]
fn a_cancelled_run_stops_receiving_and_lets_its_senders_go() {
    // The source would produce forever; only the release of its blocked send
    // can end it.
    let p = Pipeline::new();
    let live = p.live_tasks();
    let cancel = p.cancel_signal();
    let produced = Arc::new(AtomicUsize::new(0));
    let pc = produced.clone();
    let flow = p
        .from_blocking("forever", move |em| {
            let mut i = 0u64;
            while em.emit(i).is_ok() {
                pc.fetch_add(1, SeqCst);
                i += 1;
            }
        })
        .map(StageConfig::new("slow").buffer(1), |n: u64| n);
    let mut it = flow.iter();
    assert_eq!(it.next().unwrap().unwrap(), 0);
    cancel.cancel();
    let rest: Vec<_> = it.by_ref().collect();
    assert!(
        matches!(rest.last(), Some(Err(Error::Cancelled))),
        "{rest:?}"
    );
    drop(it);
    assert_eq!(live.get(), 0);
}

// 4. Nothing leaks -----------------------------------------------------------

fn chain(p: &Pipeline) -> pipeline_core::Flow<u64> {
    p.from_iter("gen", 0u64..100_000)
        .map(StageConfig::new("sq").workers(4).buffer(2), |n| n * n)
        .map(
            StageConfig::new("ord").workers(3).ordered().window(2),
            |n| n,
        )
}

#[test]
fn finished_run_leaves_no_live_tasks() {
    let p = Pipeline::new();
    let live = p.live_tasks();
    let n = chain(&p).fold(0u64, |a, _| a + 1).run().unwrap();
    assert_eq!(n, 100_000);
    assert_eq!(live.get(), 0);
}

#[test]
fn early_stop_leaves_no_live_tasks() {
    // The article: read only the first value and return.
    let p = Pipeline::new();
    let live = p.live_tasks();
    // `sq` is unordered with 4 workers: whichever of the first squares a
    // worker sends first reaches `ord` first, so it need not be 0.
    let first = chain(&p).first().run().unwrap();
    assert!(
        first.is_some_and(|n| n.isqrt() * n.isqrt() == n),
        "{first:?}"
    );
    assert_eq!(live.get(), 0);

    let p = Pipeline::new();
    let live = p.live_tasks();
    let three = chain(&p).take(3).run().unwrap();
    assert_eq!(three.len(), 3);
    assert!(three.iter().all(|n| n.isqrt().pow(2) == *n), "{three:?}");
    assert_eq!(live.get(), 0);
}

#[test]
fn failed_run_leaves_no_live_tasks() {
    let p = Pipeline::new();
    let live = p.live_tasks();
    let err = chain(&p)
        .try_map("fail", |n| if n == 4 { Err(io_err("four")) } else { Ok(n) })
        .collect::<Vec<_>>()
        .run()
        .unwrap_err();
    assert_eq!(err.stage_name(), Some("fail"));
    assert_eq!(live.get(), 0);
}

#[test]
fn panicked_run_leaves_no_live_tasks() {
    let p = Pipeline::new();
    let live = p.live_tasks();
    let err = chain(&p)
        .map(StageConfig::new("boom").workers(2), |n| {
            assert!(n != 9, "nine");
            n
        })
        .collect::<Vec<_>>()
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::Panic { .. }));
    assert_eq!(live.get(), 0);
}

#[test]
fn output_dropped_after_first_item_leaves_no_live_tasks() {
    let p = Pipeline::new();
    let live = p.live_tasks();
    // `sq` is unordered (see above): the first item is one of the first
    // squares, not necessarily 0.
    let mut it = chain(&p).iter();
    let first = it.next().unwrap().unwrap();
    assert_eq!(first.isqrt().pow(2), first);
    drop(it);
    assert_eq!(live.get(), 0);

    // The async stream: close() cancels and waits.
    let p = Pipeline::new();
    let live = p.live_tasks();
    let mut s = chain(&p).stream();
    smol::block_on(async {
        use futures::StreamExt;
        let first = s.next().await.unwrap().unwrap();
        assert_eq!(first.isqrt().pow(2), first);
        s.close().await;
    });
    assert_eq!(live.get(), 0);
}

#[test]
fn blocking_stage_work_has_ended_when_the_run_returns() {
    // A blocking stage function still running after the run returned would
    // be a leak (a file left open): count the calls in progress.
    let in_progress = Arc::new(AtomicUsize::new(0));
    let ip = in_progress.clone();
    let p = Pipeline::new();
    let live = p.live_tasks();
    let first = p
        .from_iter("gen", 0u64..)
        .map(StageConfig::new("work").workers(4).blocking(), move |n| {
            ip.fetch_add(1, SeqCst);
            let mut x = n;
            for _ in 0..10_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            ip.fetch_sub(1, SeqCst);
            x
        })
        .first()
        .run()
        .unwrap();
    assert!(first.is_some());
    assert_eq!(in_progress.load(SeqCst), 0);
    assert_eq!(live.get(), 0);
}

/// A blocking call of a run whose future is dropped: it starts, waits
/// for the run's signal, then lingers until the test has looked (or for
/// half a second) before it returns.
struct Lingering {
    in_progress: AtomicUsize,
    looked: Mutex<bool>,
    now: std::sync::Condvar,
}

impl Lingering {
    fn call(&self) {
        self.in_progress.fetch_add(1, SeqCst);
        Cancel::current().expect("a run's signal").wait_blocking();
        let looked = self.looked.lock().unwrap();
        let _ = self
            .now
            .wait_timeout_while(looked, Duration::from_millis(500), |l| !*l)
            .unwrap();
        self.in_progress.fetch_sub(1, SeqCst);
    }
}

#[test]
fn blocking_calls_of_a_dropped_run_count_as_live_until_they_return() {
    // The run's future is dropped while its blocking calls are running:
    // its tasks go, but a call's thread cannot be stopped, so the run's
    // live count must count each call until it returns. Once the count
    // reaches 0, no call may still be in progress. (A call that outlived
    // its count would still be lingering when the test looks: it waits
    // for that look.) Every way a call reaches the blocking pool: a wide
    // stage's workers beyond one per executor thread, a stage with an item
    // timeout, a blocking flat_map's iterator, a blocking source.
    let wide = pipeline_core::threads() + 3;
    for kind in ["wide", "item_timeout", "flat_map", "source"] {
        let l = Arc::new(Lingering {
            in_progress: AtomicUsize::new(0),
            looked: Mutex::new(false),
            now: std::sync::Condvar::new(),
        });
        let p = Pipeline::new();
        let live = p.live_tasks();
        let gen = || p.from_iter("gen", 0u64..);
        let c = l.clone();
        let (flow, calls) = match kind {
            "wide" => (
                gen().map(StageConfig::new("b").blocking().workers(wide), move |n| {
                    c.call();
                    n
                }),
                wide,
            ),
            "item_timeout" => (
                gen().map(
                    StageConfig::new("b").blocking().item_timeout(GUARD),
                    move |n| {
                        c.call();
                        n
                    },
                ),
                1,
            ),
            "flat_map" => (
                gen().flat_map(StageConfig::new("b").blocking().workers(wide), move |n| {
                    let c = c.clone();
                    (0..2u64).map(move |k| {
                        if k == 1 {
                            c.call();
                        }
                        n + k
                    })
                }),
                wide,
            ),
            _ => (
                p.from_blocking("src", move |em: &mut pipeline_core::Emitter<u64>| {
                    let _ = em.emit(0);
                    c.call();
                }),
                1,
            ),
        };
        let run = flow.for_each(|_| {}).run_async();
        let started = l.clone();
        smol::block_on(async move {
            let all_started = async move {
                while started.in_progress.load(SeqCst) < calls {
                    smol::Timer::after(Duration::from_millis(1)).await;
                }
            };
            let run = async move {
                let _ = run.await;
                panic!("{kind}: the run ended by itself");
            };
            smol::future::or(run, all_started).await;
        });
        // The run's future is dropped: its signal closes, its calls return.
        let deadline = std::time::Instant::now() + GUARD;
        while live.get() > 0 {
            assert!(std::time::Instant::now() < deadline, "{kind}: tasks hung");
            std::thread::sleep(Duration::from_micros(200));
        }
        let still = l.in_progress.load(SeqCst);
        *l.looked.lock().unwrap() = true;
        l.now.notify_all();
        assert_eq!(still, 0, "{kind}: calls still running with no live task");
    }
}

// 5. First error wins -----------------------------------------------------

#[test]
fn first_error_wins_over_errors_caused_by_the_cancellation() {
    // "late" fails only after it has seen the cancellation that "early"'s
    // error caused: its error is an echo and must not be reported.
    for _ in 0..20 {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let err = p
            .from_iter("gen", 0u64..1000)
            .try_map(StageConfig::new("late").workers(4).blocking(), |n| {
                if n >= 2 {
                    Cancel::current().unwrap().wait_blocking();
                    return Err(io_err("echo of the cancellation"));
                }
                Ok(n)
            })
            .try_map("early", |n| {
                if n == 1 {
                    Err(io_err("the first"))
                } else {
                    Ok(n)
                }
            })
            .collect::<Vec<_>>()
            .run()
            .unwrap_err();
        assert_eq!(err.stage_name(), Some("early"), "{err}");
        assert_eq!(
            err.downcast_ref::<std::io::Error>().unwrap().to_string(),
            "the first"
        );
        assert_eq!(live.get(), 0);
    }
}

#[test]
fn the_first_of_concurrent_failures_is_returned() {
    // Many workers fail; exactly one error, the first recorded, is returned
    // and it is one of theirs (never Cancelled).
    let p = Pipeline::new();
    let err = p
        .from_iter("gen", 0u64..1000)
        .try_map(
            StageConfig::new("all-fail").workers(8),
            |n: u64| -> Result<u64, _> { Err(io_err(&format!("item {n}"))) },
        )
        .collect::<Vec<_>>()
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::Stage { .. }), "{err:?}");
    assert_eq!(err.stage_name(), Some("all-fail"));
}

#[test]
fn source_errors_follow_the_policy() {
    let err = Pipeline::new()
        .from_blocking("walk", |em| {
            em.emit(1u32).unwrap();
            let _ = em.error(io_err("unreadable"));
        })
        .collect::<Vec<_>>()
        .run()
        .unwrap_err();
    assert_eq!(err.stage_name(), Some("walk"));
}

#[test]
fn the_source_of_a_stage_error_is_the_stage_functions_own_error() {
    /// An error with a cause of its own, as `anyhow` chains see it.
    #[derive(Debug)]
    struct Unparsable(std::num::ParseIntError);
    impl std::fmt::Display for Unparsable {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("unparsable record")
        }
    }
    impl std::error::Error for Unparsable {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    let err = Pipeline::new()
        .from_iter("gen", ["1", "x"])
        .try_map("parse", |s| s.parse::<u32>().map_err(Unparsable))
        .collect::<Vec<_>>()
        .run()
        .unwrap_err();
    let source = std::error::Error::source(&err).expect("a stage error has a source");
    assert!(
        source.downcast_ref::<Unparsable>().is_some(),
        "the source is the stage's error itself, not a wrapper: {source:?}"
    );
    // The whole chain, as `{:#}` reports walk it.
    let mut chain = vec![err.to_string()];
    let mut next = std::error::Error::source(&err);
    while let Some(e) = next {
        chain.push(e.to_string());
        next = e.source();
    }
    assert_eq!(
        chain,
        [
            "stage `parse`: unparsable record",
            "unparsable record",
            "invalid digit found in string"
        ]
    );
}

// 6. Panics are errors ------------------------------------------------------

#[test]
fn panic_in_a_stage_cancels_the_run_and_names_the_stage() {
    let p = Pipeline::new();
    let live = p.live_tasks();
    let err = p
        .from_iter("gen", 0u64..)
        .map(StageConfig::new("boom").workers(3), |n| {
            if n == 10 {
                panic!("ten is too many");
            }
            n
        })
        .for_each(|_| {})
        .run()
        .unwrap_err();
    match err {
        Error::Panic { stage, message } => {
            assert_eq!(&*stage, "boom");
            assert_eq!(message, "ten is too many");
        }
        other => panic!("expected a panic error, got {other:?}"),
    }
    assert_eq!(live.get(), 0);
}

#[test]
fn panics_in_blocking_async_sources_and_sinks_are_errors_too() {
    let e = Pipeline::new()
        .from_iter("gen", 0..10u32)
        .map(StageConfig::new("blk").blocking(), |n| {
            if n == 5 {
                panic!("blocking")
            } else {
                n
            }
        })
        .collect::<Vec<_>>()
        .run()
        .unwrap_err();
    assert_eq!(e.stage_name(), Some("blk"));

    let e = Pipeline::new()
        .from_iter("gen", 0..10u32)
        .then("async", |n| async move {
            if n == 5 {
                panic!("async")
            } else {
                n
            }
        })
        .collect::<Vec<_>>()
        .run()
        .unwrap_err();
    assert_eq!(e.stage_name(), Some("async"));

    let e = Pipeline::new()
        .from_blocking("src", |em: &mut pipeline_core::Emitter<u32>| {
            em.emit(1).unwrap();
            panic!("source");
        })
        .collect::<Vec<_>>()
        .run()
        .unwrap_err();
    assert_eq!(e.stage_name(), Some("src"));

    let e = Pipeline::new()
        .from_iter(
            "gen",
            (0..10u32).map(|n| if n == 3 { panic!("iter") } else { n }),
        )
        .collect::<Vec<_>>()
        .run()
        .unwrap_err();
    assert_eq!(e.stage_name(), Some("gen"));

    let p = Pipeline::new();
    let live = p.live_tasks();
    let e = p
        .from_iter("gen", 0u32..)
        .for_each(|n| assert!(n < 3, "sink"))
        .name("out")
        .run()
        .unwrap_err();
    assert_eq!(e.stage_name(), Some("out"));
    assert_eq!(live.get(), 0);
}

// 7. Order, loss, width -----------------------------------------------------

#[test]
fn width_n_means_n_items_in_work_while_the_consumer_is_busy() {
    // Each call of the stage waits at a barrier of `n`: it only opens when n
    // items are in work at the same time. The sink holds its first item
    // until that has happened, so the workers must be driven by the
    // executor, not by the consumer.
    for n in [2usize, 5, 16] {
        let barrier = Arc::new(smol::lock::Barrier::new(n));
        let opened = Arc::new(AtomicUsize::new(0));
        let (b, o) = (barrier.clone(), opened.clone());
        let gate = Arc::new(Mutex::new(()));
        let p = Pipeline::new();
        let res = p
            .from_iter("gen", 0..(n as u64 * 3))
            .then(StageConfig::new("wide").workers(n).buffer(1), move |i| {
                let (b, o) = (b.clone(), o.clone());
                async move {
                    if i < n as u64 {
                        let waited = futures::future::select(
                            Box::pin(b.wait()),
                            Box::pin(smol::Timer::after(GUARD)),
                        )
                        .await;
                        if let futures::future::Either::Left(_) = waited {
                            o.fetch_add(1, SeqCst);
                        }
                    }
                    i
                }
            })
            .fold(0usize, move |count, _| {
                let _busy = gate.lock().unwrap();
                count + 1
            })
            .run()
            .unwrap();
        assert_eq!(res, n * 3);
        assert_eq!(opened.load(SeqCst), n, "{n} workers were in work at once");
    }
}

#[test]
fn ordered_stage_with_a_slow_head_keeps_other_workers_going() {
    // Item 0 is held until the other workers have finished `window` items:
    // that only happens if the window lets results wait behind a slow head.
    let window = 6;
    let done_behind = Arc::new(AtomicUsize::new(0));
    let d = done_behind.clone();
    let out: Vec<u64> = Pipeline::new()
        .from_iter("gen", 0..50u64)
        .then(
            StageConfig::new("ord").workers(3).window(window),
            move |i| {
                let d = d.clone();
                async move {
                    if i == 0 {
                        let deadline = std::time::Instant::now() + GUARD;
                        while d.load(SeqCst) < window && std::time::Instant::now() < deadline {
                            smol::future::yield_now().await;
                        }
                    } else {
                        d.fetch_add(1, SeqCst);
                    }
                    i
                }
            },
        )
        .collect::<Vec<_>>()
        .run()
        .unwrap();
    assert_eq!(out, (0..50).collect::<Vec<_>>());
    assert!(done_behind.load(SeqCst) >= window);
}

// 8. Prompt cancellation -----------------------------------------------------

#[test]
fn chunked_stage_stops_within_one_chunk_of_a_cancel() {
    let chunks = Arc::new(AtomicUsize::new(0));
    let c = chunks.clone();
    let (at_three_tx, at_three_rx) = mpsc::channel::<()>();
    let (ack_tx, ack_rx) = mpsc::channel::<()>();
    let ack_rx = Mutex::new(ack_rx);
    let p = Pipeline::new();
    let live = p.live_tasks();
    let cancel = p.cancel_signal();
    let run = p
        .from_iter("gen", [1_000_000u64])
        .map(StageConfig::new("big-file").blocking(), move |n_chunks| {
            let signal = Cancel::current().expect("blocking stages see the signal");
            for i in 0..n_chunks {
                if signal.is_cancelled() {
                    return i;
                }
                c.fetch_add(1, SeqCst);
                if i == 2 {
                    at_three_tx.send(()).unwrap();
                    ack_rx.lock().unwrap().recv().unwrap();
                }
            }
            n_chunks
        })
        .first();
    let handle = std::thread::spawn(move || run.run());
    at_three_rx.recv_timeout(GUARD).unwrap();
    cancel.cancel();
    ack_tx.send(()).unwrap();
    let res = handle.join().unwrap();
    assert!(matches!(res, Err(Error::Cancelled)));
    assert_eq!(chunks.load(SeqCst), 3, "no chunk was read after the cancel");
    assert_eq!(live.get(), 0);
}

// Policies, settings, stats ------------------------------------------------

#[test]
fn continue_policy_drops_no_error() {
    for ordered in [false, true] {
        let cfg = StageConfig::new("check").workers(4);
        let cfg = if ordered { cfg.ordered() } else { cfg };
        let p = Pipeline::new().with_policy(ErrorPolicy::Continue);
        let items: Vec<_> = p
            .from_iter("gen", 0..1000u32)
            .try_map(cfg, |n| {
                if n % 7 == 0 {
                    Err(format!("{n}"))
                } else {
                    Ok(n)
                }
            })
            .map("after", |n| n + 1)
            .iter()
            .collect();
        let errors: Vec<u32> = items
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(|e| e.to_string().rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        let oks = items.iter().filter(|r| r.is_ok()).count();
        assert_eq!(errors.len(), 143);
        assert_eq!(oks, 1000 - 143);
        if ordered {
            assert_eq!(errors, (0..1000).filter(|n| n % 7 == 0).collect::<Vec<_>>());
        }
        // Plain sinks collect the errors aside instead.
        let p = Pipeline::new().with_policy(ErrorPolicy::Continue);
        let errs = p.errors();
        let n = p
            .from_iter("gen", 0..1000u32)
            .try_map("check", |n| if n % 7 == 0 { Err("bad") } else { Ok(n) })
            .fold(0, |a, _| a + 1)
            .run()
            .unwrap();
        assert_eq!((n, errs.len()), (857, 143));
    }
}

#[test]
fn zero_width_or_buffer_is_a_config_error_not_a_panic() {
    for cfg in [
        StageConfig::new("s").workers(0),
        StageConfig::new("s").buffer(0),
        StageConfig::new("s").batch(0),
        StageConfig::new("s").window(0),
    ] {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let err = p
            .from_iter("gen", 0..10u32)
            .map(cfg, |n| n)
            .collect::<Vec<_>>()
            .run()
            .unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err:?}");
        assert_eq!(err.stage_name(), Some("s"));
        assert_eq!(live.get(), 0);
    }
}

#[test]
fn stats_count_items_per_stage() {
    let p = Pipeline::new();
    let stats = p.stats();
    p.from_iter("gen", 0..1000u32)
        .filter(StageConfig::new("even").workers(2), |n| n % 2 == 0)
        .map(StageConfig::new("sq").workers(3).batch(8), |n| n * n)
        .for_each(|_| {})
        .name("out")
        .run()
        .unwrap();
    let s = stats.snapshot();
    let names: Vec<_> = s.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["gen", "even", "sq", "out"]);
    assert_eq!((s[1].items_in, s[1].items_out, s[1].width), (1000, 500, 2));
    assert_eq!((s[2].items_in, s[2].items_out, s[2].width), (500, 500, 3));
    assert_eq!(s[3].items_in, 500);
    let table = stats.to_string();
    assert!(
        table.contains("even") && table.contains("wait in"),
        "{table}"
    );
}

#[test]
fn workers_sharing_a_counted_output_never_wait_on_room_an_idle_sibling_holds() {
    // Three workers share an adaptive output of 4 items. A worker that sent
    // a packet early to an idle consumer kept the room it had taken for the
    // rest of it; waiting for input with it, it starved a sibling that was
    // waiting for room while holding the whole input packet the source
    // needed back: a hang in about one run in 20-80. Many small runs, with
    // a watchdog, so that a hang fails the test instead of stalling it.
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..300 {
            let mut out = Pipeline::new()
                .from_iter("gen", 0..100u64)
                .map(StageConfig::new("a").workers(3).buffer(4), |n| n * 2)
                .map(StageConfig::new("b").workers(2), |n| n + 1)
                .collect::<Vec<_>>()
                .run()
                .unwrap();
            out.sort_unstable();
            assert_eq!(out, (0..100u64).map(|n| n * 2 + 1).collect::<Vec<_>>());
        }
        let _ = done.send(());
    });
    // Generous: the 300 runs take well under a second.
    assert!(
        finished
            .recv_timeout(std::time::Duration::from_secs(120))
            .is_ok(),
        "a run hung (or panicked)"
    );
}

/// CPU work for a millisecond, which the compiler cannot skip: long
/// enough that a stage waiting for it is scheduled while it runs, even
/// when other tests keep the executor's threads busy for a while.
fn churn(seed: u64) -> u64 {
    let start = std::time::Instant::now();
    let mut a = seed;
    while start.elapsed() < Duration::from_millis(1) {
        a = (0..1_000u64).fold(a, |a, x| {
            a.wrapping_mul(6364136223846793005).wrapping_add(x)
        });
    }
    a
}

#[test]
#[cfg(not(pipeline_stats_off))]
fn stats_put_the_wait_on_the_stage_that_waits() {
    // A source that works hard for every item, a map and a sink that do
    // nothing: the map and the sink wait for input longer than they are
    // busy, and the source, never held back, is busy longer than it
    // waits to send. The source works on a thread of its own, so the map
    // and the sink run beside it even when other tests keep the
    // executor's threads busy (on one executor thread, the map would
    // first run when every item was already there and never wait).
    let p = Pipeline::new();
    let stats = p.stats();
    p.from_blocking("gen", |em| {
        for n in 0..64u64 {
            if em.emit(churn(n)).is_err() {
                return;
            }
        }
    })
    .map("id", |n| n)
    .for_each(|_| {})
    .name("out")
    .run()
    .unwrap();
    let s = stats.snapshot();
    let (gen, id, out) = (&s[0], &s[1], &s[2]);
    assert!(gen.busy > gen.wait_out, "{gen:?}");
    assert!(id.wait_in > id.busy, "{id:?}");
    assert!(out.wait_in > out.busy, "{out:?}");
    assert!(gen.busy > out.busy, "{gen:?} {out:?}");
}

#[test]
fn run_async_runs_inside_existing_async_code() {
    let total = smol::block_on(async {
        let a = Pipeline::new()
            .from_stream("s", futures::stream::iter(0..100u64))
            .then(StageConfig::new("inc").workers(4), |n| async move { n + 1 })
            .fold(0, |a, n| a + n)
            .run_async();
        let b = Pipeline::new()
            .from_async("a", |mut em| async move {
                for i in 0..10u64 {
                    if em.send(i).await.is_err() {
                        return;
                    }
                }
            })
            .fold(0, |a, n| a + n)
            .run_async();
        let (a, b) = futures::join!(a, b);
        a.unwrap() + b.unwrap()
    });
    assert_eq!(total, 5050 + 45);
}

#[test]
fn batched_stages_lose_nothing_and_flush_partial_batches() {
    for batch in [1, 3, 64] {
        let mut got: Vec<u32> = Pipeline::new()
            .from_iter(StageConfig::new("gen").batch(batch), 0..1001u32)
            .map(StageConfig::new("a").workers(2).batch(batch), |n| n)
            .filter_map(StageConfig::new("b").batch(batch).ordered(), Some)
            .flat_map("c", |n| [n])
            .collect::<Vec<_>>()
            .run()
            .unwrap();
        got.sort();
        assert_eq!(got, (0..1001).collect::<Vec<_>>());
    }
    // A partial batch is sent when the stage would wait: a slow trickle of
    // items still gets through one by one.
    let mut it = Pipeline::new()
        .from_async("trickle", |mut em| async move {
            for i in 0..3u32 {
                if em.send(i).await.is_err() {
                    return;
                }
            }
            futures::future::pending::<()>().await;
        })
        .map(StageConfig::new("batched").batch(100), |n| n)
        .iter();
    let first3: Vec<u32> = it.by_ref().take(3).map(Result::unwrap).collect();
    assert_eq!(first3, [0, 1, 2]);
}

#[test]
fn a_pipeline_runs_once() {
    let p = Pipeline::new();
    let flow = p.from_iter("gen", 0..3u32);
    let again = flow.clone();
    assert_eq!(flow.collect::<Vec<_>>().run().unwrap(), [0, 1, 2]);
    assert!(matches!(again.first().run(), Err(Error::Config { .. })));
}
