//! How a run stops: its close-to-cancel signal ([`Cancel`], the article's
//! `done`), the first reason it stopped ([`Record`], see
//! [`crate::outcome`]), the closers of its links ([`Closers`], see
//! [`crate::link::closers`]) and its drain ([`DrainState`], see
//! [`crate::run::drain`]), held together as the run's [`Stop`].
//!
//! The run's own reasons (a stage's error or panic, the sink satisfied,
//! the deadline) are recorded first, then the signal is closed; a close
//! from outside records nothing, and counts as `Cancelled` (see
//! [`Record`]). Closing the signal runs every link closer at once, on
//! the closing thread: the run's shared part listens to the signal.

use std::any::Any;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::cancel::{Cancel, Listener};
use crate::error::{panic_message, Error};
use crate::link::closers::{Closer, Closers};
use crate::outcome::{Reason, Record};
use crate::run::drain::DrainState;

/// A run's signal, the first reason it stopped, and its links' closers.
/// Cloning is cheap; every clone stops the same run.
#[derive(Clone)]
pub(crate) struct Stop {
    cancel: Cancel,
    run: Arc<Shared>,
}

/// What the clones of a run's [`Stop`] share besides the signal.
struct Shared {
    record: Record,
    closers: Closers,
    drain: Arc<DrainState>,
}

/// The signal holds the run's shared part weakly: once the run and its
/// tasks are gone, a clone of the signal kept by the caller keeps neither
/// its record nor its closers.
impl Listener for Shared {
    fn closed(&self) {
        self.closers.close();
    }
}

impl Stop {
    /// The stop of a new run: its signal open, no reason recorded, no
    /// closer registered.
    pub(crate) fn new() -> Self {
        let cancel = Cancel::new();
        let run = Arc::new(Shared {
            record: Record::default(),
            closers: Closers::new(),
            drain: Arc::new(DrainState::new(&cancel)),
        });
        let listener: Weak<Shared> = Arc::downgrade(&run);
        cancel.listen(listener);
        Stop { cancel, run }
    }

    /// The run's close-to-cancel signal.
    #[inline(always)]
    pub(crate) fn cancel(&self) -> &Cancel {
        &self.cancel
    }

    /// Records `reason` unless another was recorded first (or the signal
    /// was closed from outside first), then closes the signal. Returns
    /// whether `reason` was the first.
    fn close_with(&self, reason: Reason) -> bool {
        self.run.record.close_with(reason, &self.cancel)
    }

    /// Records `err` as the run's error if no other reason was recorded
    /// first, then closes the signal. Returns whether `err` won.
    pub(crate) fn fail(&self, err: Error) -> bool {
        if let Error::Stage { .. } = err {
            crate::trace::stage_error(&err);
        }
        self.close_with(Reason::Failed(err))
    }

    /// Fails the run with [`Error::Panic`] naming `stage`, whose function
    /// (or source, iterator or sink) panicked with `payload`: a panic is
    /// an error, and the first error wins. Returns whether it won.
    /// The payload is dropped here, where a panic of its own `Drop` is
    /// caught too ([`drop_payload`](crate::error::drop_payload)).
    pub(crate) fn fail_panicked(&self, stage: Arc<str>, payload: Box<dyn Any + Send>) -> bool {
        let message = panic_message(&*payload);
        crate::error::drop_payload(payload);
        crate::trace::stage_panic(&stage, &message);
        self.fail(Error::Panic { stage, message })
    }

    /// Closes the signal because the run has what it needs; not an error.
    pub(crate) fn finish(&self) {
        self.close_with(Reason::Finished);
    }

    /// Closes the signal because the run's deadline passed, `after` its
    /// start; loses to any reason recorded first.
    pub(crate) fn time_out(&self, after: Duration) {
        self.close_with(Reason::TimedOut(after));
    }

    /// Closes the signal because the run was drained and its items in
    /// flight did not reach the sink `within` the drain's time; loses to
    /// any reason recorded first.
    pub(crate) fn drain_expired(&self, within: Duration) {
        self.close_with(Reason::DrainExpired(within));
    }

    /// The run's drain: the sources' signal, and the count of items let
    /// go of unfinished.
    #[inline(always)]
    pub(crate) fn drain(&self) -> &Arc<DrainState> {
        &self.run.drain
    }

    /// Whether the run's sources should stop producing (a drain, or the
    /// signal closed). One atomic load.
    #[inline(always)]
    pub(crate) fn draining(&self) -> bool {
        self.run.drain.sources().is_cancelled()
    }

    /// Counts `n` items let go of unfinished (see
    /// [`Error::DrainTimeout`]); for the paths a run takes once stopped.
    #[cold]
    pub(crate) fn lose(&self, n: usize) {
        self.run.drain.lose(n);
    }

    /// Why the run stopped, if it has stopped early.
    pub(crate) fn reason(&self) -> Option<Reason> {
        let reason = self.run.record.get(&self.cancel);
        if reason.is_some() {
            crate::seen::mark();
        }
        reason
    }

    /// The run's error for the reason it stopped, if that reason is an
    /// error.
    pub(crate) fn outcome(&self) -> Result<(), Error> {
        let dropped = self.run.drain.lost();
        self.reason().map_or(Ok(()), |r| r.into_result(dropped))
    }

    /// Runs `closer` when the signal closes (at once if it has): how a
    /// link closes its channel at a cancel. Kept until then, or until
    /// [`forget_closers`](Self::forget_closers).
    pub(crate) fn on_close(&self, closer: Closer) {
        self.run.closers.add(closer);
    }

    /// Drops the closers not run yet; for when every task of the run has
    /// ended (see [`Closers::forget`]).
    pub(crate) fn forget_closers(&self) {
        self.run.closers.forget();
    }

    /// How many closers wait for the signal.
    #[cfg(test)]
    pub(crate) fn closers_waiting(&self) -> usize {
        self.run.closers.waiting()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn stage_error(message: &str) -> Error {
        Error::stage("stage", message.to_string())
    }

    #[test]
    fn the_first_failure_is_the_runs_error() {
        let stop = Stop::new();
        assert!(stop.outcome().is_ok());
        assert!(stop.fail(stage_error("first")));
        assert!(stop.cancel().is_cancelled());
        assert!(!stop.fail(stage_error("echo")));
        stop.finish();
        stop.time_out(Duration::ZERO);
        let err = stop.outcome().unwrap_err();
        assert_eq!(err.to_string(), stage_error("first").to_string());
    }

    #[test]
    fn a_cancel_from_outside_then_a_stage_error_reports_cancelled() {
        let stop = Stop::new();
        let handle = stop.cancel().clone();
        handle.cancel();
        assert!(!stop.fail(stage_error("echo of the cancel")));
        assert!(!stop.fail_panicked("stage".into(), Box::new("echo")));
        assert!(matches!(stop.outcome(), Err(Error::Cancelled)));
    }

    #[test]
    fn a_satisfied_sink_beats_later_errors() {
        let stop = Stop::new();
        stop.finish();
        assert!(!stop.fail(stage_error("late")));
        stop.cancel().cancel();
        assert!(matches!(stop.reason(), Some(Reason::Finished)));
        assert!(stop.outcome().is_ok());
    }

    #[test]
    fn a_deadline_reports_timeout_unless_a_reason_came_first() {
        let stop = Stop::new();
        let after = Duration::from_millis(7);
        stop.time_out(after);
        assert!(!stop.fail(stage_error("late")));
        assert!(matches!(stop.outcome(), Err(Error::Timeout { after: a }) if a == after));
        let stop = Stop::new();
        stop.cancel().cancel();
        stop.time_out(after);
        assert!(matches!(stop.outcome(), Err(Error::Cancelled)));
    }

    #[test]
    fn a_run_following_a_failed_run_reports_cancelled() {
        let parent = Stop::new();
        let child = Stop::new();
        child.cancel().follow(parent.cancel());
        assert!(parent.fail(stage_error("the parent's error")));
        assert!(child.cancel().is_cancelled());
        assert!(!child.fail(stage_error("echo in the child")));
        assert!(matches!(child.outcome(), Err(Error::Cancelled)));
        assert!(matches!(parent.outcome(), Err(Error::Stage { .. })));
    }

    #[test]
    fn closers_run_at_the_close_and_are_forgotten_at_the_end() {
        let ran = Arc::new(AtomicUsize::new(0));
        let closer = |ran: &Arc<AtomicUsize>| -> Closer {
            let ran = ran.clone();
            Box::new(move || {
                ran.fetch_add(1, Ordering::Relaxed);
            })
        };
        let stop = Stop::new();
        stop.on_close(closer(&ran));
        assert_eq!(stop.closers_waiting(), 1);
        stop.cancel().clone().cancel();
        assert_eq!(ran.load(Ordering::Relaxed), 1, "run by the cancel itself");
        assert_eq!(stop.closers_waiting(), 0);

        let stop = Stop::new();
        stop.on_close(closer(&ran));
        stop.forget_closers();
        assert_eq!(Arc::strong_count(&ran), 1, "dropped unrun");
        stop.cancel().cancel();
        assert_eq!(ran.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_signal_kept_past_its_run_keeps_no_closer() {
        let ran = Arc::new(AtomicUsize::new(0));
        let stop = Stop::new();
        let kept = stop.cancel().clone();
        stop.on_close({
            let ran = ran.clone();
            Box::new(move || {
                ran.fetch_add(1, Ordering::Relaxed);
            })
        });
        drop(stop);
        assert_eq!(Arc::strong_count(&ran), 1, "the closer went with the run");
        kept.cancel();
        assert_eq!(ran.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_run_leaves_no_closer_behind() {
        let p = crate::Pipeline::new();
        let stop = p.graph.stop.clone();
        let flow = p.from_iter("gen", 0..100u32).map("id", |n| n);
        assert!(stop.closers_waiting() > 0, "each link registered one");
        let sum = flow.fold(0, |a, n| a + n).run().unwrap();
        assert_eq!(sum, 4950);
        assert!(!stop.cancel().is_cancelled(), "the run was not stopped");
        assert_eq!(stop.closers_waiting(), 0, "forgotten when the run ended");
    }

    #[test]
    fn a_run_cancelled_from_outside_reports_cancelled_over_its_stages_echoes() {
        // Every worker waits for the cancel, then fails with an error that
        // echoes it: the run still reports the cancel.
        let (started, first) = std::sync::mpsc::channel();
        let run = crate::Pipeline::new()
            .from_iter("gen", 0..4u32)
            .try_map(
                crate::StageConfig::new("echo").blocking().workers(4),
                move |n| {
                    let _ = started.send(());
                    Cancel::current().expect("set in a stage").wait_blocking();
                    Err::<u32, _>(format!("item {n}: cancelled"))
                },
            )
            .collect::<Vec<_>>();
        let handle = run.cancel_signal();
        let running = std::thread::spawn(move || run.run());
        first.recv().expect("a worker starts");
        handle.cancel();
        let res = running.join().expect("the run returns");
        assert!(matches!(res, Err(Error::Cancelled)), "{res:?}");
    }
}
