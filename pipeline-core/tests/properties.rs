//! Property tests: order, loss and the in-flight bound over random widths,
//! buffers, windows, batches and item delays.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use pipeline_core::{Pipeline, StageConfig};
use proptest::prelude::*;

/// Spends `n` yields: a delay measured in scheduler turns, not in time.
async fn delay(n: u8) {
    for _ in 0..n {
        smol::future::yield_now().await;
    }
}

/// A stage's settings; a `batch` of 0 means adaptive batching.
fn cfg(name: &str, workers: usize, buffer: usize, batch: usize) -> StageConfig {
    let cfg = StageConfig::new(name).workers(workers).buffer(buffer);
    if batch == 0 {
        cfg.adaptive()
    } else {
        cfg.batch(batch)
    }
}

/// Buffers, in items: small ones, and ones that hold a few packets.
fn buffers() -> impl Strategy<Value = usize> {
    prop_oneof![1usize..6, 6usize..80]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn ordered_stages_keep_input_order(
        delays in prop::collection::vec(0u8..20, 0..300),
        workers in 1usize..9,
        buffer in buffers(),
        window in 1usize..12,
        batch in 0usize..5,
    ) {
        let n = delays.len();
        let delays = Arc::new(delays);
        let d = delays.clone();
        let out: Vec<usize> = Pipeline::new()
            .from_iter(cfg("gen", 1, buffer, batch), 0..n)
            .then(cfg("work", workers, buffer, batch).window(window), move |i| {
                let d = d[i];
                async move { delay(d).await; i }
            })
            .map(cfg("after", 2, buffer, 1).ordered(), |i| i)
            .collect::<Vec<_>>()
            .run()
            .unwrap();
        prop_assert_eq!(out, (0..n).collect::<Vec<_>>());
    }

    #[test]
    fn unordered_stages_lose_and_duplicate_nothing(
        delays in prop::collection::vec(0u8..20, 0..300),
        workers in 1usize..9,
        buffer in buffers(),
        batch in 0usize..5,
        merge_batch in 0usize..5,
    ) {
        let n = delays.len();
        let delays = Arc::new(delays);
        let d = delays.clone();
        let p = Pipeline::new();
        let a = p.from_iter(cfg("gen", 1, buffer, batch), 0..n);
        let b1 = a.clone().then(cfg("w1", workers, buffer, batch), {
            let d = d.clone();
            move |i| { let d = d[i]; async move { delay(d).await; i } }
        });
        let b2 = a.then(cfg("w2", workers, buffer, 1), move |i| {
            let d = d[i];
            async move { delay(d / 2).await; i }
        });
        let mut out: Vec<usize> = p.merge(cfg("merge", 1, buffer, merge_batch), [b1, b2])
            .collect::<Vec<_>>()
            .run()
            .unwrap();
        out.sort();
        prop_assert_eq!(out, (0..n).collect::<Vec<_>>());
    }

    #[test]
    fn items_in_flight_never_exceed_the_bound(
        w1 in 1usize..6, w2 in 1usize..6,
        b1 in buffers(), b2 in buffers(), b3 in buffers(),
        batch in 0usize..4,
        second_batch in 0usize..3,
        window in 1usize..6,
        ordered in any::<bool>(),
        sink_delay in 0u8..4,
    ) {
        let produced = Arc::new(AtomicUsize::new(0));
        let consumed = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let (p2, c2, m2) = (produced.clone(), consumed.clone(), max.clone());
        let second = cfg("second", w2, b3, second_batch);
        let second = if ordered { second.window(window) } else { second };
        let run = Pipeline::new()
            .from_iter(cfg("gen", 1, b1, batch), (0..2000u32).inspect(move |_| {
                let now = p2.fetch_add(1, SeqCst) + 1 - c2.load(SeqCst);
                m2.fetch_max(now, SeqCst);
            }))
            .then(cfg("first", w1, b2, batch), |n| async move { delay((n % 3) as u8).await; n })
            .map(second, |n| n)
            .for_each(move |_| {
                for _ in 0..sink_delay { std::thread::yield_now(); }
                consumed.fetch_add(1, SeqCst);
            });
        let bound = run.in_flight_bound();
        run.run().unwrap();
        prop_assert!(max.load(SeqCst) <= bound, "max {} > bound {}", max.load(SeqCst), bound);
        prop_assert!(max.load(SeqCst) > 1);
    }

    #[test]
    fn items_in_flight_through_a_merge_never_exceed_the_bound(
        w in 1usize..4,
        b1 in buffers(), b2 in buffers(), b3 in buffers(),
        batch in 0usize..4,
        merge_batch in 0usize..4,
        sink_delay in 0u8..4,
    ) {
        // The article's fan-out: two stages read gen's link, a merge joins
        // them; the merge forwards packets whole or item by item,
        // depending on its own settings.
        let produced = Arc::new(AtomicUsize::new(0));
        let consumed = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let (p2, c2, m2) = (produced.clone(), consumed.clone(), max.clone());
        let p = Pipeline::new();
        let gen = p.from_iter(cfg("gen", 1, b1, batch), (0..2000u32).inspect(move |_| {
            let now = p2.fetch_add(1, SeqCst) + 1 - c2.load(SeqCst);
            m2.fetch_max(now, SeqCst);
        }));
        let a = gen.clone().map(cfg("a", w, b2, batch), |n| n);
        let b = gen.then(cfg("b", 1, b2, 1), |n| async move { delay((n % 3) as u8).await; n });
        let run = p.merge(cfg("merge", 1, b3, merge_batch), [a, b])
            .fold(0u64, move |acc, n| {
                for _ in 0..sink_delay { std::thread::yield_now(); }
                consumed.fetch_add(1, SeqCst);
                acc + u64::from(n)
            });
        let bound = run.in_flight_bound();
        let sum = run.run().unwrap();
        prop_assert_eq!(sum, (0..2000u64).sum::<u64>());
        prop_assert!(max.load(SeqCst) <= bound, "max {} > bound {}", max.load(SeqCst), bound);
    }
}
