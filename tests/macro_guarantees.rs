//! The runtime's guarantees hold for pipelines declared with `pipeline!`:
//! stage names in stats and errors, no live tasks after an early stop, a
//! failure or a panic, first error wins, panics name their stage, ordered
//! stages keep order, and the continue policy drops no error.

use std::sync::mpsc;
use std::time::Duration;

use pipeline::{pipeline, Cancel, Declared, Emitter, Error, Kind};

/// Upper bound on any wait that only a broken runtime would exceed.
const GUARD: Duration = Duration::from_secs(30);

fn io_err(msg: &str) -> std::io::Error {
    std::io::Error::other(msg.to_string())
}

#[test]
fn stage_names_appear_in_stats_in_declaration_order() {
    let run = pipeline! {
        gen:   source 0..100u64;
        sq:    map |n: u64| n * n [workers = 3];
        even:  filter |n: &u64| n % 2 == 0;
        total: sink fold(0u64, |a, n| a + n);
    };
    let stats = run.stats();
    run.run().unwrap();
    let rows: Vec<(String, Kind, u64)> = stats
        .snapshot()
        .into_iter()
        .map(|s| (s.name, s.kind, s.items_in))
        .collect();
    let want = [
        ("gen", Kind::Source, 100),
        ("sq", Kind::Stage, 100),
        ("even", Kind::Stage, 100),
        ("total", Kind::Sink, 50),
    ];
    let want: Vec<(String, Kind, u64)> = want.iter().map(|&(n, k, i)| (n.into(), k, i)).collect();
    assert_eq!(rows, want);
    assert!(stats.to_string().contains("total"));
}

#[test]
fn stage_names_appear_in_errors() {
    let err = pipeline! {
        gen:   source 0..10u32;
        check: try_map |n: u32| if n == 3 { Err(io_err("three")) } else { Ok(n) };
        out:   sink collect();
    }
    .run()
    .unwrap_err();
    assert_eq!(err.stage_name(), Some("check"));
    assert_eq!(err.to_string(), "stage `check`: three");

    let err = pipeline! {
        walk: source blocking |em: &mut Emitter<u32>| {
            let _ = em.emit(1);
            let _ = em.error(io_err("unreadable"));
        };
        out:  sink collect();
    }
    .run()
    .unwrap_err();
    assert_eq!(err.stage_name(), Some("walk"));

    let err = pipeline! {
        gen: source 0u32..;
        out: sink for_each(|n| assert!(n < 3, "too far"));
    }
    .run()
    .unwrap_err();
    assert_eq!(err.stage_name(), Some("out"));
}

#[test]
fn early_stop_leaves_no_live_tasks() {
    let run = pipeline! {
        gen:   source 0u64..;
        sq:    map |n: u64| n * n [workers = 4, buffer = 2];
        ord:   map |n: u64| n [workers = 3, window = 2];
        first: sink first();
    };
    let live = run.live_tasks();
    assert!(run.run().unwrap().is_some());
    assert_eq!(live.get(), 0);

    let run = pipeline! {
        gen:   source 0u64..;
        sq:    map |n: u64| n * n [workers = 4, ordered];
        three: sink take(3);
    };
    let live = run.live_tasks();
    assert_eq!(run.run().unwrap(), [0, 1, 4]);
    assert_eq!(live.get(), 0);
}

pipeline! {
    /// Endless squares, read through an iterator.
    Endless() -> u64 {
        gen: source 0u64..;
        sq:  map |n: u64| n * n [workers = 2, ordered];
        out: sink iter();
    }
}

#[test]
fn an_iter_sink_dropped_half_read_leaves_no_live_tasks() {
    let mut p = Endless::new();
    let mut it = p.build();
    let live = p.live_tasks();
    assert_eq!(it.next().unwrap().unwrap(), 0);
    assert!(live.get() > 0, "the run is going");
    drop(it); // cancels the run and waits for its tasks
    assert_eq!(live.get(), 0);
    assert!(p.cancel_signal().is_cancelled());
}

#[test]
fn failed_run_leaves_no_live_tasks() {
    let run = pipeline! {
        gen:  source 0u64..100_000;
        sq:   map |n: u64| n * n [workers = 4];
        fail: try_map |n: u64| if n == 16 { Err(io_err("sixteen")) } else { Ok(n) };
        out:  sink collect();
    };
    let live = run.live_tasks();
    let err = run.run().unwrap_err();
    assert_eq!(err.stage_name(), Some("fail"));
    assert_eq!(live.get(), 0);
}

#[test]
fn panic_cancels_the_run_names_the_stage_and_leaves_no_live_tasks() {
    let run = pipeline! {
        gen:  source 0u64..;
        boom: map |n: u64| if n == 10 { panic!("ten is too many") } else { n } [workers = 3];
        out:  sink for_each(|_| {});
    };
    let live = run.live_tasks();
    match run.run().unwrap_err() {
        Error::Panic { stage, message } => {
            assert_eq!(&*stage, "boom");
            assert_eq!(message, "ten is too many");
        }
        other => panic!("expected a panic error, got {other:?}"),
    }
    assert_eq!(live.get(), 0);

    let err = pipeline! {
        gen: source 0..10u32;
        blk: map |n: u32| if n == 5 { panic!("blocking") } else { n } [blocking];
        out: sink collect();
    }
    .run()
    .unwrap_err();
    assert_eq!(err.stage_name(), Some("blk"));
}

#[test]
fn first_error_wins_over_errors_caused_by_the_cancellation() {
    // `late` fails only after it has seen the cancellation that `early`'s
    // error caused: its error is an echo and must not be reported.
    for _ in 0..20 {
        let run = pipeline! {
            gen:   source 0u64..1000;
            late:  try_map |n: u64| {
                if n >= 2 {
                    Cancel::current().expect("stages see their run's signal").wait_blocking();
                    return Err(io_err("echo of the cancellation"));
                }
                Ok(n)
            } [workers = 4, blocking];
            early: try_map |n: u64| if n == 1 { Err(io_err("the first")) } else { Ok(n) };
            out:   sink collect();
        };
        let live = run.live_tasks();
        let err = run.run().unwrap_err();
        assert_eq!(err.stage_name(), Some("early"), "{err}");
        let source = err.downcast_ref::<std::io::Error>().unwrap();
        assert_eq!(source.to_string(), "the first");
        assert_eq!(live.get(), 0);
    }
}

#[test]
fn ordered_stage_keeps_input_order() {
    let out = pipeline! {
        gen: source 0..2000u64;
        // Uneven work, so workers finish out of order.
        sq:  map |n: u64| {
            let mut x = n;
            for _ in 0..(n % 7) * 100 {
                x = std::hint::black_box(x.wrapping_mul(31));
            }
            let _ = x;
            n * n
        } [workers = 4, ordered, window = 8];
        out: sink collect();
    }
    .run()
    .unwrap();
    assert_eq!(out, (0..2000u64).map(|n| n * n).collect::<Vec<_>>());
}

#[test]
fn continue_policy_drops_no_error() {
    let run = pipeline! {
        policy = continue;
        gen:   source 0..100u32;
        check: try_map |n: u32| if n % 10 == 0 { Err(format!("{n}")) } else { Ok(n) } [workers = 3];
        out:   sink collect();
    };
    let (stats, errors) = (run.stats(), run.errors());
    let items = run.run().unwrap();
    assert_eq!(items.len(), 90);
    assert_eq!(stats.stage("check").unwrap().errors, 10);
    let mut lost: Vec<String> = errors.take().iter().map(|e| e.to_string()).collect();
    lost.sort();
    assert_eq!(lost.len(), 10, "every error reached the sink: {lost:?}");
    assert_eq!(lost[0], "stage `check`: 0");

    let results: Vec<Result<u32, Error>> = pipeline! {
        policy = continue;
        gen:   source 0..100u32;
        check: try_map |n: u32| if n % 10 == 0 { Err(format!("{n}")) } else { Ok(n) } [ordered];
        out:   sink iter();
    }
    .collect();
    let failed: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
        .collect();
    assert_eq!(failed.len(), 10);
    assert_eq!(failed[0], "stage `check`: 0");
}

#[test]
fn cancel_from_outside_releases_every_blocked_stage() {
    let (tx, seen) = mpsc::channel();
    let run = pipeline! {
        gen: source 0u64..;
        a:   map |n: u64| n [workers = 50, buffer = 1];
        b:   map |n: u64| n [workers = 50, buffer = 1];
        out: sink for_each(move |_| {
            let _ = tx.send(());
            Cancel::current().expect("sinks see their run's signal").wait_blocking();
        });
    };
    let (live, cancel) = (run.live_tasks(), run.cancel_signal());
    let handle = std::thread::spawn(move || run.run());
    seen.recv_timeout(GUARD).expect("the first item arrives");
    assert!(live.get() >= 100, "every worker is alive");
    cancel.cancel();
    let res = handle.join().unwrap();
    assert!(matches!(res, Err(Error::Cancelled)), "{res:?}");
    assert_eq!(live.get(), 0);
}
