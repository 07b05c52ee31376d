//! Batching: adaptive packets grow only while the consumer is busy, so no
//! result waits in a packet for a slow stage function; the in-flight bound
//! stated in `StageConfig`'s docs holds, and at the defaults (one item per
//! packet) it is each stage's buffer plus its width.
//!
//! No test sleeps or asserts on time: a stage that must not be held back
//! waits for the sink to have seen its earlier results, which can only
//! happen if they were sent at once. A runtime that held them would hang
//! there; a generous guard turns that hang into a failure.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use pipeline_core::{Pipeline, StageConfig, DEFAULT_BATCH, DEFAULT_BUFFER};

/// Upper bound on any wait that only a broken runtime would exceed.
const GUARD: Duration = Duration::from_secs(30);

/// A count that threads can wait on.
#[derive(Default)]
struct Count {
    n: Mutex<usize>,
    changed: Condvar,
    /// Set once a wait ran out of guard: later waits give up at once.
    gave_up: AtomicBool,
}

impl Count {
    fn add(&self) {
        *self.n.lock().unwrap() += 1;
        self.changed.notify_all();
    }

    /// Waits until the count reaches `n`; `false` if the guard ran out.
    fn wait_for(&self, n: usize) -> bool {
        let deadline = Instant::now() + GUARD;
        let mut now = self.n.lock().unwrap();
        while *now < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.gave_up.load(SeqCst) {
                self.gave_up.store(true, SeqCst);
                return false;
            }
            now = self.changed.wait_timeout(now, left).unwrap().0;
        }
        true
    }
}

#[test]
fn a_slow_stage_sends_each_result_before_working_on_the_next_input() {
    // Item i's call waits until the sink has seen the i results before it:
    // it returns only if each of them left the stage at once, although
    // the stage's input is full and it batches adaptively.
    for slow in [
        StageConfig::new("slow").adaptive(),
        StageConfig::new("slow"),
    ] {
        slow_stage(slow);
    }
}

fn slow_stage(slow: StageConfig) {
    let seen = Arc::new(Count::default());
    let timed_out = Arc::new(AtomicUsize::new(0));
    let (s, t) = (seen.clone(), timed_out.clone());
    let sum = Pipeline::new()
        .from_iter(StageConfig::new("gen").adaptive(), 0..200u64)
        .map(slow, move |i| {
            if !s.wait_for(i as usize) {
                t.fetch_add(1, SeqCst);
            }
            i
        })
        // The sink on this thread: the stage's waits block an executor
        // thread, and must not keep the sink from running.
        .iter()
        .map(|i| {
            seen.add();
            i.unwrap()
        })
        .sum::<u64>();
    assert_eq!(
        timed_out.load(SeqCst),
        0,
        "a result waited for a later call"
    );
    assert_eq!(sum, (0..200).sum::<u64>());
}

#[test]
fn a_slow_source_sends_each_item_before_making_the_next() {
    for slow in [
        StageConfig::new("slow").adaptive(),
        StageConfig::new("slow"),
    ] {
        slow_source(slow);
    }
}

fn slow_source(slow: StageConfig) {
    let seen = Arc::new(Count::default());
    let timed_out = Arc::new(AtomicUsize::new(0));
    let (s, t) = (seen.clone(), timed_out.clone());
    let items = (0..200usize).inspect(move |&i| {
        if !s.wait_for(i) {
            t.fetch_add(1, SeqCst);
        }
    });
    let n = Pipeline::new()
        .from_iter(slow, items)
        .map(StageConfig::new("id").adaptive(), |i| i)
        // The sink on this thread (see `slow_stage`).
        .iter()
        .fold(0, |n, i| {
            i.unwrap();
            seen.add();
            n + 1
        });
    assert_eq!(timed_out.load(SeqCst), 0, "an item waited for a later one");
    assert_eq!(n, 200);
}

#[test]
fn a_held_result_is_sent_while_the_next_call_waits() {
    // `a` sends r0 and r1 at once; `b` is stuck on r0 until `a` starts
    // item 3, so r1 sits in the channel and r2 joins `a`'s packet (the
    // consumer is busy). `a`'s call on item 3 waits for the sink to have
    // seen r0..r2: it returns only if r2 leaves while that call waits.
    let seen = Arc::new(Count::default());
    let started3 = Arc::new(Count::default());
    let timed_out = Arc::new(AtomicUsize::new(0));
    let (s, st, t) = (seen.clone(), started3.clone(), timed_out.clone());
    let (st2, t2) = (started3.clone(), timed_out.clone());
    let out = Pipeline::new()
        .from_iter(StageConfig::new("gen").adaptive(), 0..6usize)
        .map(StageConfig::new("a").blocking().adaptive(), move |i| {
            if i == 3 {
                st.add();
                if !s.wait_for(3) {
                    t.fetch_add(1, SeqCst);
                }
            }
            i
        })
        .map(StageConfig::new("b").blocking().adaptive(), move |i| {
            if i == 0 && !st2.wait_for(1) {
                t2.fetch_add(1, SeqCst);
            }
            i
        })
        .fold(Vec::new(), move |mut v, i| {
            seen.add();
            v.push(i);
            v
        })
        .run()
        .unwrap();
    assert_eq!(timed_out.load(SeqCst), 0, "a result waited for a slow call");
    assert_eq!(out, [0, 1, 2, 3, 4, 5]);
}

#[test]
fn batch_one_keeps_the_unbatched_bound() {
    // One item per packet: a channel holds `buffer` items, a worker one
    // item in hand, as before batching existed.
    let run = Pipeline::new()
        .from_iter(StageConfig::new("gen").batch(1).buffer(5), 0..10u32)
        .map(StageConfig::new("one").batch(1).buffer(7).workers(3), |n| n)
        .for_each(|_| {});
    assert_eq!(run.in_flight_bound(), (1 + 5) + (7 + 3) + 1);
    run.run().unwrap();
}

#[test]
fn the_documented_bound_holds_when_every_stage_has_a_fixed_batch() {
    // The formula of `StageConfig`'s docs for `batch(n)`, whose links count
    // packets (here 4 of 16 items): source ceil(b/n)·n + n; a stage
    // ceil(b/n)·n + width × (cap_in + cap − 1); sink cap_in.
    let (buffer, cap) = (64usize, 16);
    let link = buffer.div_ceil(cap) * cap;
    let source = link + cap;
    let stage = |width: usize| link + width * (cap + cap - 1);
    let sink = cap;
    let documented = source + stage(1) + stage(3) + sink;
    let max = max_in_flight(|c| c.batch(cap).buffer(buffer), documented);
    // Packets grew behind the slow sink: more than an unbatched run of
    // these buffers and widths could ever hold.
    let unbatched = (1 + 64) + (64 + 1) + (64 + 3) + 1;
    assert!(max > unbatched, "max {max}");
}

#[test]
fn default_settings_keep_each_stage_within_buffer_plus_width() {
    // Adaptive packets of up to DEFAULT_BATCH items by default, on links
    // counted by item permits: the packets being filled and read are
    // inside the buffer, so each stage holds its buffer plus its width,
    // the source its buffer plus the item it holds, the sink nothing
    // beyond its input's buffer.
    assert_eq!((DEFAULT_BUFFER, DEFAULT_BATCH), (64, 64));
    assert!(StageConfig::new("a").is_adaptive());
    let documented = (DEFAULT_BUFFER + 1) + (DEFAULT_BUFFER + 1) + (DEFAULT_BUFFER + 3);
    max_in_flight(|c| c, documented);
    // `adaptive()` is the default, said out loud.
    max_in_flight(|c| c.adaptive(), documented);
}

#[test]
fn a_counted_link_fills_to_its_buffer_and_no_further() {
    // The sink is stuck on the first item until the source has made
    // `buffer + 1` items: it gets there only if the link takes a whole
    // buffer of items in packets (the sink's own packet included) while
    // the source holds one more waiting for room. No item may get further
    // ahead of the sink than that.
    for buffer in [2usize, 5, 64, 100] {
        let made = Arc::new(Count::default());
        let ahead = Arc::new(AtomicUsize::new(0));
        let consumed = Arc::new(AtomicUsize::new(0));
        let timed_out = Arc::new(AtomicBool::new(false));
        let (m, a, c) = (made.clone(), ahead.clone(), consumed.clone());
        let items = (0..1000u32).inspect(move |_| {
            m.add();
            let n = *m.n.lock().unwrap();
            a.fetch_max(n - c.load(SeqCst), SeqCst);
        });
        let t = timed_out.clone();
        let n = Pipeline::new()
            .from_iter(StageConfig::new("gen").buffer(buffer), items)
            .fold(0usize, move |acc, _| {
                if acc == 0 && !made.wait_for(buffer + 1) {
                    t.store(true, SeqCst);
                }
                consumed.fetch_add(1, SeqCst);
                acc + 1
            })
            .run()
            .unwrap();
        assert_eq!(n, 1000);
        assert!(
            !timed_out.load(SeqCst),
            "buffer {buffer}: the link never filled"
        );
        let ahead = ahead.load(SeqCst);
        assert!(
            ahead <= buffer + 1,
            "buffer {buffer}: the source got {ahead} items ahead of the sink"
        );
    }
}

/// Runs `gen -> sq -> wide (3 workers) -> slow sink` with every stage set
/// by `cfg`, checks that the run reports `documented` as its bound and
/// that the items between the source and the sink never exceeded it, and
/// returns the most seen at once.
fn max_in_flight(cfg: impl Fn(StageConfig) -> StageConfig, documented: usize) -> usize {
    let produced = Arc::new(AtomicUsize::new(0));
    let consumed = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let (p2, c2, m2) = (produced.clone(), consumed.clone(), max.clone());
    let run = Pipeline::new()
        .from_iter(
            cfg(StageConfig::new("gen")),
            (0..20_000u64).inspect(move |_| {
                let now = p2.fetch_add(1, SeqCst) + 1 - c2.load(SeqCst);
                m2.fetch_max(now, SeqCst);
            }),
        )
        .map(cfg(StageConfig::new("sq")), |n| n.wrapping_mul(n))
        .map(cfg(StageConfig::new("wide").workers(3)), |n| n + 1)
        .for_each(move |_| {
            // A slow sink: every channel fills up.
            for _ in 0..20 {
                std::hint::black_box(0);
                std::thread::yield_now();
            }
            consumed.fetch_add(1, SeqCst);
        });
    assert_eq!(run.in_flight_bound(), documented);
    run.run().unwrap();
    let max = max.load(SeqCst);
    assert!(max <= documented, "max {max} > bound {documented}");
    max
}
