//! A stage's configured width is the number of workers that really run at
//! once, whether it is written in the declaration or changed by stage name
//! before a run; and what a run uses is what its stats show.
//!
//! Workers are counted, never timed: every call of the stage waits at a
//! gate that opens only when `n` calls are inside it at once (so at least
//! `n` run together), and a gauge records the most calls ever inside (so no
//! more than `n` do). A guard turns a hang of a broken runtime into a
//! failure.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use futures::future::{select, Either};
use pipeline::{pipeline, Declared, Error, Pipeline, StageConfig};

/// Upper bound on any wait that only a broken runtime would exceed.
const GUARD: Duration = Duration::from_secs(30);

/// The most calls ever inside at once.
#[derive(Default)]
struct Gauge {
    inside: AtomicUsize,
    most: AtomicUsize,
}

impl Gauge {
    fn enter(&self) {
        let now = self.inside.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
    }

    fn leave(&self) {
        self.inside.fetch_sub(1, SeqCst);
    }

    fn most(&self) -> usize {
        self.most.load(SeqCst)
    }
}

/// A reusable gate for threads: opens each time `n` callers are waiting.
struct Gate {
    n: usize,
    state: Mutex<(usize, u64)>, // (waiting, generation)
    opened: Condvar,
}

impl Gate {
    fn new(n: usize) -> Self {
        Gate {
            n,
            state: Mutex::new((0, 0)),
            opened: Condvar::new(),
        }
    }

    /// Waits until `n` callers are here; false if the guard ran out.
    fn pass(&self) -> bool {
        let mut s = self.state.lock().unwrap();
        let generation = s.1;
        s.0 += 1;
        if s.0 == self.n {
            *s = (0, generation + 1);
            self.opened.notify_all();
            return true;
        }
        let (s, timeout) = self
            .opened
            .wait_timeout_while(s, GUARD, |s| s.1 == generation)
            .unwrap();
        drop(s);
        !timeout.timed_out()
    }
}

/// An async stage function for `then`: passes an async barrier of `n`.
fn gated_async(
    n: usize,
    gauge: Arc<Gauge>,
    failed: Arc<AtomicUsize>,
) -> impl Fn(u64) -> futures::future::BoxFuture<'static, u64> + Send + Sync + 'static {
    let barrier = Arc::new(smol::lock::Barrier::new(n));
    move |i| {
        let (b, g, f) = (barrier.clone(), gauge.clone(), failed.clone());
        Box::pin(async move {
            g.enter();
            let waited = select(Box::pin(b.wait()), Box::pin(smol::Timer::after(GUARD))).await;
            if let Either::Right(_) = waited {
                f.fetch_add(1, SeqCst);
            }
            g.leave();
            i
        })
    }
}

#[test]
fn configured_width_is_the_number_of_workers_running_at_once() {
    for n in [1usize, 2, 5, 8] {
        let gauge = Arc::new(Gauge::default());
        let failed = Arc::new(AtomicUsize::new(0));
        let wide = gated_async(n, gauge.clone(), failed.clone());
        let run = pipeline! {
            gen:  source 0..(n as u64 * 4);
            wide: then wide [workers = n, buffer = 1];
            out:  sink fold(0usize, |count, _| count + 1);
        };
        let stats = run.stats();
        assert_eq!(run.run().unwrap(), n * 4);
        assert_eq!(failed.load(SeqCst), 0, "{n} workers were in work at once");
        assert_eq!(gauge.most(), n, "no more than {n} workers ran at once");
        assert_eq!(stats.stage("wide").unwrap().width, n);
    }
}

#[test]
fn blocking_stage_width_is_the_number_of_threads_running_at_once() {
    for n in [2usize, 6] {
        let gauge = Arc::new(Gauge::default());
        let gate = Arc::new(Gate::new(n));
        let (g, gt) = (gauge.clone(), gate.clone());
        let run = pipeline! {
            gen:  source 0..(n as u64 * 3);
            work: map move |i: u64| {
                g.enter();
                let opened = gt.pass();
                g.leave();
                (i, opened)
            } [workers = n, blocking];
            out:  sink collect();
        };
        let out = run.run().unwrap();
        assert_eq!(out.len(), n * 3);
        assert!(
            out.iter().all(|&(_, opened)| opened),
            "{n} threads were in work at once"
        );
        assert_eq!(gauge.most(), n, "no more than {n} threads ran at once");
    }
}

pipeline! {
    /// A stage gated at its width, to count its workers.
    Gated(items: u64, gate: usize, gauge: Arc<Gauge>, failed: Arc<AtomicUsize>) -> usize {
        gen:  source 0..items;
        wide: then gated_async(gate, gauge, failed) [workers = 2, buffer = 1];
        out:  sink fold(0usize, |count, _| count + 1);
    }
}

#[test]
fn width_changed_by_name_before_a_run_is_what_the_run_uses_and_shows() {
    let gauge = Arc::new(Gauge::default());
    let failed = Arc::new(AtomicUsize::new(0));
    // The gate needs 5 calls at once: only a run with 5 workers passes it.
    let mut p = Gated::new(20, 5, gauge.clone(), failed.clone());
    assert_eq!(p.config().wide.workers, 2, "as declared");
    p.stage_mut("wide").expect("a stage named wide").workers = 5;
    assert_eq!(p.run().unwrap(), 20);
    assert_eq!(failed.load(SeqCst), 0, "5 workers were in work at once");
    assert_eq!(gauge.most(), 5);
    assert_eq!(p.stats().stage("wide").unwrap().width, 5);
    assert_eq!(p.live_tasks().get(), 0);
}

#[test]
fn settings_changed_by_field_are_what_the_next_run_uses() {
    pipeline! {
        Chain(n: u64) -> Vec<u64> {
            gen: source 0..n;
            sq:  map |x: u64| x * x;
            out: sink collect();
        }
    }
    let mut p = Chain::new(100);
    p.config_mut().gen.buffer = 3;
    p.config_mut().sq = StageConfig::new("sq")
        .workers(4)
        .buffer(2)
        .ordered()
        .window(5);
    let by_macro = p.build();

    // The same settings through the builder: the same in-flight bound, which
    // every buffer, width and window adds to.
    let by_builder = Pipeline::new()
        .from_iter(StageConfig::new("gen").buffer(3), 0..100u64)
        .map(
            StageConfig::new("sq")
                .workers(4)
                .buffer(2)
                .ordered()
                .window(5),
            |x| x * x,
        )
        .collect::<Vec<_>>();
    assert_eq!(by_macro.in_flight_bound(), by_builder.in_flight_bound());
    assert_eq!(
        by_macro.run().unwrap(),
        by_builder.run().unwrap(),
        "ordered"
    );
    assert_eq!(p.stats().stage("sq").unwrap().width, 4);
}

#[test]
fn width_written_as_a_runtime_expression_is_evaluated_at_run_time() {
    let jobs = || pipeline::threads() + 1;
    let run = pipeline! {
        gen: source 0..10u64;
        sq:  map |x: u64| x * x [workers = jobs() * 2];
        out: sink collect();
    };
    let stats = run.stats();
    run.run().unwrap();
    assert_eq!(
        stats.stage("sq").unwrap().width,
        (pipeline::threads() + 1) * 2
    );
}

#[test]
fn zero_width_at_run_time_is_a_config_error_naming_the_stage() {
    let width = 0;
    let err = pipeline! {
        gen: source 0..10u64;
        sq:  map |x: u64| x * x [workers = width];
        out: sink collect();
    }
    .run()
    .unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    assert_eq!(err.stage_name(), Some("sq"));

    pipeline! {
        Buffered(buffer: usize) -> Vec<u64> {
            gen: source 0..10u64 [buffer = buffer];
            out: sink collect();
        }
    }
    let mut p = Buffered::new(4);
    assert_eq!(p.run().unwrap().len(), 10);
    p.stage_mut("gen").unwrap().buffer = 0;
    let err = p.run().unwrap_err();
    assert_eq!(err.stage_name(), Some("gen"));
    assert_eq!(p.live_tasks().get(), 0);
}
