//! Hostile: the sink is a stage, so once the run is cancelled its function
//! is not called again (DESIGN, "The sink is a stage"). The sink's pacer
//! let a function it judged quick on an earlier batch run a stride of
//! up to 64 calls without looking at the run's signal, on the ground that
//! such a stride lasts "a quarter of a microsecond". A function that was
//! quick on the last batch and then waits on one call is still in its
//! stride: a cancel made meanwhile, however long before, was followed by
//! the rest of the stride's calls.
//!
//! The pacer judges a function quick below 4 ns a call, which an
//! unoptimised build never reaches: the test fails in a release build
//! (`cargo test --release -p pipeline-core --test hostile_sink_pace`) and
//! passes vacuously in a debug one.

mod common;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{mpsc, Arc};

use common::{watchdog, GUARD};
use pipeline_core::{Error, Pipeline, StageConfig};

#[test]
fn a_fold_quick_on_its_last_batch_is_not_called_after_a_cancel_made_while_it_waited() {
    // Calls `at` waits on the test, which cancels the run meanwhile and
    // then lets it go: no call may follow. `at` falls early in a stride
    // of a long batch after many quick batches.
    for at in [256u64 * 40 + 3, 256 * 50 + 100, 256 * 60 + 130] {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let cancel = p.cancel_signal();
        let after = Arc::new(AtomicU64::new(0));
        let (waiting_tx, waiting_rx) = mpsc::channel::<()>();
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let a = after.clone();
        let run = std::thread::spawn(move || {
            let mut calls = 0u64;
            p.from_iter(StageConfig::new("gen").batch(256).buffer(4), 0u64..)
                .fold(0u64, move |sum, x| {
                    calls += 1;
                    if calls == at {
                        let _ = waiting_tx.send(());
                        let _ = gate_rx.recv();
                    } else if calls > at {
                        a.store(a.load(Relaxed) + 1, Relaxed);
                    }
                    sum.wrapping_add(x)
                })
                .run()
        });
        waiting_rx
            .recv_timeout(GUARD)
            .expect("the sink reaches the call that waits");
        cancel.cancel();
        gate_tx.send(()).unwrap();
        let res = watchdog("the run ends", move || run.join().unwrap());
        assert!(matches!(res, Err(Error::Cancelled)), "{res:?}");
        assert_eq!(
            after.load(SeqCst),
            0,
            "call {at}: the sink function was called again after the cancel"
        );
        assert_eq!(live.get(), 0);
    }
}
