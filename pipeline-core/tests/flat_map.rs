//! `flat_map` consumes its inner iterator lazily: within the stage's
//! buffer and packet, stopped by a cancel or by a sink that has what it
//! wants, on inline, blocking and ordered stages alike.

mod common;

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

use common::watchdog;
use pipeline_core::{Error, Pipeline, StageConfig};

/// An endless inner iterator that counts the items it made.
fn endless(made: &Arc<AtomicU64>) -> impl Iterator<Item = u64> + Send + 'static {
    let made = made.clone();
    (0u64..).inspect(move |_| {
        made.fetch_add(1, SeqCst);
    })
}

/// The settings of the flat_map stage in each test.
fn kinds() -> [(&'static str, StageConfig); 4] {
    [
        ("inline", StageConfig::new("fm").buffer(4)),
        ("blocking", StageConfig::new("fm").buffer(4).blocking()),
        ("ordered", StageConfig::new("fm").buffer(4).ordered()),
        (
            "ordered blocking",
            StageConfig::new("fm")
                .buffer(4)
                .ordered()
                .workers(2)
                .blocking(),
        ),
    ]
}

#[test]
fn first_of_an_endless_inner_iterator_returns_having_made_few_items() {
    for (kind, cfg) in kinds() {
        let made = Arc::new(AtomicU64::new(0));
        let m = made.clone();
        let p = Pipeline::new();
        let live = p.live_tasks();
        let first = watchdog(kind, move || {
            p.from_iter("gen", [1u64])
                .flat_map(cfg, move |_| endless(&m))
                .first()
                .run()
        })
        .unwrap();
        assert_eq!(first, Some(0), "{kind}");
        assert_eq!(live.get(), 0, "{kind}");
        // The buffer (4), a packet, a chunk: not the whole iterator.
        let made = made.load(SeqCst);
        assert!(made <= 4 + 64 + 64, "{kind}: made {made} items");
    }
}

#[test]
fn take_of_a_long_inner_iterator_makes_only_what_fits_the_buffer() {
    for (kind, cfg) in kinds() {
        let made = Arc::new(AtomicU64::new(0));
        let m = made.clone();
        let got = watchdog(kind, move || {
            Pipeline::new()
                .from_iter("gen", [1u64, 2])
                .flat_map(cfg, move |_| {
                    let m = m.clone();
                    (0u64..30_000_000).inspect(move |_| {
                        m.fetch_add(1, SeqCst);
                    })
                })
                .take(10)
                .run()
        })
        .unwrap();
        assert_eq!(got.len(), 10, "{kind}");
        let made = made.load(SeqCst);
        assert!(made < 10 + 2 * (4 + 64 + 64), "{kind}: made {made} items");
    }
}

#[test]
fn a_cancel_stops_an_endless_inner_iterator() {
    for (kind, cfg) in kinds() {
        let made = Arc::new(AtomicU64::new(0));
        let m = made.clone();
        let p = Pipeline::new();
        let live = p.live_tasks();
        let cancel = p.cancel_signal();
        let seen = Arc::new(AtomicU64::new(0));
        let s = seen.clone();
        let res = watchdog(kind, move || {
            p.from_iter("gen", [1u64, 2, 3])
                .flat_map(cfg, move |_| endless(&m))
                .for_each(move |_| {
                    if s.fetch_add(1, SeqCst) == 1000 {
                        cancel.cancel();
                    }
                })
                .run()
        });
        assert!(matches!(res, Err(Error::Cancelled)), "{kind}: {res:?}");
        assert_eq!(live.get(), 0, "{kind}");
        // Nothing is made once the run has returned.
        let after = made.load(SeqCst);
        std::thread::yield_now();
        assert_eq!(made.load(SeqCst), after, "{kind}");
        assert!(seen.load(SeqCst) > 1000);
    }
}

#[test]
fn a_panicking_inner_iterator_fails_the_run_naming_the_stage() {
    for (kind, cfg) in kinds() {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let err = watchdog(kind, move || {
            p.from_iter("gen", [1u64])
                .flat_map(cfg, |_| (0u64..).inspect(|&n| assert!(n < 100, "item 100")))
                .for_each(|_| {})
                .run()
        })
        .unwrap_err();
        assert!(
            matches!(&err, Error::Panic { stage, message } if &**stage == "fm" && message.contains("item 100")),
            "{kind}: {err:?}"
        );
        assert_eq!(live.get(), 0, "{kind}");
    }
}

#[test]
fn finite_inner_iterators_lose_nothing_and_keep_order_when_ordered() {
    for (kind, cfg) in kinds() {
        let cfg = cfg.workers(3);
        let ordered = cfg.ordered;
        let mut got = Pipeline::new()
            .from_iter("gen", 0..200u64)
            .try_flat_map(cfg, |n| {
                Ok::<_, std::io::Error>((0..n % 7).map(move |k| (n, k)))
            })
            .collect::<Vec<_>>()
            .run()
            .unwrap();
        let want: Vec<(u64, u64)> = (0..200u64)
            .flat_map(|n| (0..n % 7).map(move |k| (n, k)))
            .collect();
        if !ordered {
            got.sort_unstable();
        }
        assert_eq!(got, want, "{kind}");
    }
}
