//! Traces of a run, with the `tracing` feature: a span around each task of
//! a stage (its name, its role in the stage, its width, the worker's
//! index), an event for each error a stage raises and each panic, and an
//! event per stage with its counters when the run ends. Without the
//! feature every function here is an empty inline one and every type
//! holds nothing, so a build without it compiles to what it was.
//!
//! Nothing here is per item: a span is made once per task when the run
//! starts and entered while the task is polled; errors and panics are
//! rare, and the counters are published once.
//!
//! The subscriber that is current where a run starts (where [`Run::run`](crate::Run::run)
//! is called, or [`run_async`](crate::Run::run_async) polled, or
//! `stream()`/`iter()` called) is the one every task of the run reports
//! to, whichever thread polls it; so `tracing::subscriber::with_default`
//! around a run sees all of it.

use std::future::Future;

#[cfg(feature = "tracing")]
use tracing::{instrument::WithSubscriber, Instrument};

use crate::error::Error;
use crate::stats::Stats;

/// The target of every span and event of a run.
#[cfg(feature = "tracing")]
pub(crate) const TARGET: &str = "pipeline";

/// Which task of which stage a span stands for.
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
pub(crate) struct Worker<'a> {
    /// The stage's name.
    pub(crate) stage: &'a str,
    /// What the task does in the stage: `source`, `worker`, `dispatcher`,
    /// `collector`, `forwarder`, `sink`.
    pub(crate) role: &'static str,
    /// How many workers (or inputs, for a merge) the stage has.
    pub(crate) width: usize,
    /// The task's index among them.
    pub(crate) index: usize,
}

/// `fut`, inside the span of `worker` and reporting to the subscriber
/// current now, wherever it is polled; as it is if there is no
/// subscriber.
#[cfg(feature = "tracing")]
pub(crate) fn instrument<F: Future>(worker: Worker<'_>, fut: F) -> impl Future<Output = F::Output> {
    use futures::future::Either;
    if no_subscriber() {
        return Either::Left(fut);
    }
    let span = tracing::info_span!(
        target: TARGET,
        "stage",
        stage = worker.stage,
        role = worker.role,
        width = worker.width as u64,
        worker = worker.index as u64,
    );
    Either::Right(fut.instrument(span).with_current_subscriber())
}

/// Whether no subscriber is current: then a run's tasks are not wrapped,
/// and cost nothing more per poll.
#[cfg(feature = "tracing")]
fn no_subscriber() -> bool {
    tracing::dispatcher::get_default(|d| d.is::<tracing::subscriber::NoSubscriber>())
}

/// `fut` as it is (the `tracing` feature is off).
#[cfg(not(feature = "tracing"))]
#[inline(always)]
pub(crate) fn instrument<F: Future>(_: Worker<'_>, fut: F) -> F {
    fut
}

/// `fut`, reporting to the subscriber current now wherever it is polled
/// (as it is if there is none).
#[cfg(feature = "tracing")]
pub(crate) fn with_current<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    use futures::future::Either;
    if no_subscriber() {
        return Either::Left(fut);
    }
    Either::Right(fut.with_current_subscriber())
}

/// `fut` as it is (the `tracing` feature is off).
#[cfg(not(feature = "tracing"))]
#[inline(always)]
pub(crate) fn with_current<F: Future>(fut: F) -> F {
    fut
}

/// The span and subscriber current on this thread, to carry to a thread
/// of the blocking pool (a blocking producer's).
pub(crate) struct Carry {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
    #[cfg(feature = "tracing")]
    dispatch: tracing::Dispatch,
}

impl Carry {
    /// What is current on this thread now.
    #[inline(always)]
    pub(crate) fn current() -> Self {
        Carry {
            #[cfg(feature = "tracing")]
            span: tracing::Span::current(),
            #[cfg(feature = "tracing")]
            dispatch: tracing::dispatcher::get_default(Clone::clone),
        }
    }

    /// Runs `f` with what was current where this was made.
    #[inline(always)]
    pub(crate) fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        #[cfg(feature = "tracing")]
        return tracing::dispatcher::with_default(&self.dispatch, || self.span.in_scope(f));
        #[cfg(not(feature = "tracing"))]
        f()
    }
}

/// An event for an error a stage raised (`err` names the stage).
#[inline(always)]
pub(crate) fn stage_error(err: &Error) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        target: TARGET,
        stage = err.stage_name().unwrap_or_default(),
        error = %err,
        "stage error"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = err;
}

/// An event for a panic of stage `stage`'s function, source or sink.
#[inline(always)]
pub(crate) fn stage_panic(stage: &str, message: &str) {
    #[cfg(feature = "tracing")]
    tracing::error!(target: TARGET, stage, panic = message, "stage panicked");
    #[cfg(not(feature = "tracing"))]
    let _ = (stage, message);
}

/// An event per stage with its counters: the run has ended.
#[inline(always)]
pub(crate) fn publish(stats: &Stats) {
    #[cfg(feature = "tracing")]
    for s in stats.snapshot() {
        tracing::info!(
            target: TARGET,
            stage = s.name.as_str(),
            kind = %s.kind,
            width = s.width as u64,
            items_in = s.items_in,
            items_out = s.items_out,
            errors = s.errors,
            retries = s.retries,
            busy_ns = s.busy.as_nanos() as u64,
            wait_in_ns = s.wait_in.as_nanos() as u64,
            wait_out_ns = s.wait_out.as_nanos() as u64,
            "stage stats"
        );
    }
    #[cfg(not(feature = "tracing"))]
    let _ = stats;
}
