//! Hostile: panics raised by user code that the runtime runs itself, out
//! of any stage function's call: the `Drop` of an async stage's future
//! that the cancel drops, of items the run discards once it has stopped,
//! of a panic's payload. Guarantee 6 ("panics are errors: never a hang,
//! never an abort") and 4 (nothing leaks): `run()` must return an error,
//! never unwind into its caller, and leave no task behind.

mod common;

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;

use common::{watchdog, GUARD};
use pipeline_core::{Error, Pipeline, StageConfig};

/// Panics when dropped (unless already unwinding, which would abort).
struct PanicOnDrop(&'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("{} dropped", self.0);
        }
    }
}

fn message(p: &(dyn Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "non-string payload".into())
}

/// Runs `f` (a `run()`) on a thread under the watchdog; fails the test if
/// it unwinds instead of returning.
fn returns<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let caught = watchdog(what.to_string(), move || {
        catch_unwind(AssertUnwindSafe(f)).map_err(|p| message(&*p))
    });
    caught.unwrap_or_else(|m| {
        panic!("{what}: run() unwound into its caller ({m:?}) instead of returning an error")
    })
}

#[test]
fn an_async_call_whose_future_panics_as_the_cancel_drops_it_is_an_error_not_an_unwind() {
    // The call holds a guard and never ends; the test cancels the run once
    // it has started. The runtime drops the call at the cancel, the guard
    // panics there: an echo of the cancel (or a panic naming the stage),
    // never a panic out of `run()`.
    let p = Pipeline::new();
    let live = p.live_tasks();
    let cancel = p.cancel_signal();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let run = p
        .from_iter("gen", 0..1u32)
        .then("hold", move |_| {
            let started = started_tx.clone();
            async move {
                let _guard = PanicOnDrop("the call's guard");
                let _ = started.send(());
                std::future::pending::<()>().await;
            }
        })
        .for_each(|()| {});
    let handle = std::thread::spawn(move || catch_unwind(AssertUnwindSafe(|| run.run())));
    started_rx.recv_timeout(GUARD).expect("the call starts");
    cancel.cancel();
    let res = returns("then dropped at the cancel", move || {
        handle
            .join()
            .unwrap()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    });
    assert!(
        matches!(res, Err(Error::Cancelled) | Err(Error::Panic { .. })),
        "{res:?}"
    );
    assert_eq!(live.get(), 0);
}

#[test]
fn an_item_that_panics_when_the_run_discards_it_after_an_early_stop_is_not_an_unwind() {
    // `first()` has what it asked for; the items still in flight are
    // discarded by the runtime, and the one whose Drop panics must not
    // make `run()` unwind: the sink succeeded (guarantee: a satisfied sink
    // has succeeded whatever the rest of the run does), or at worst the
    // run fails with an error.
    struct Item(u64, Option<PanicOnDrop>);
    for round in 0..10 {
        let p = Pipeline::new();
        let live = p.live_tasks();
        let q = p.clone();
        let res = returns("first() with a panicking item in flight", move || {
            q.from_iter(
                "gen",
                (0u64..).map(|i| Item(i, (i == 5).then_some(PanicOnDrop("item 5")))),
            )
            .map(StageConfig::new("id").workers(2), |it| it)
            .first()
            .run()
            .map(|o| {
                o.map(|mut it| {
                    std::mem::forget(it.1.take());
                    it.0
                })
            })
        });
        assert!(
            matches!(res, Ok(Some(0)) | Err(Error::Panic { .. })),
            "round {round}: {res:?}"
        );
        assert_eq!(live.get(), 0, "round {round}");
    }
}

#[test]
fn a_panic_payload_that_panics_when_dropped_is_an_error_not_an_unwind() {
    // `panic_any` with a payload of the user's type: the runtime records
    // the panic (non-string payload) and drops the payload itself.
    let p = Pipeline::new();
    let live = p.live_tasks();
    let q = p.clone();
    let res = returns("panic payload with a panicking Drop", move || {
        q.from_iter("gen", 0..10u64)
            .map("boom", |n| {
                if n == 3 {
                    std::panic::panic_any(PanicOnDrop("the payload"));
                }
                n
            })
            .collect::<Vec<_>>()
            .run()
    });
    match res {
        Err(Error::Panic { ref stage, .. }) => assert_eq!(&**stage, "boom"),
        other => panic!("expected a panic naming `boom`: {other:?}"),
    }
    assert_eq!(live.get(), 0);
}
