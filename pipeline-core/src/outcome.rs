//! First error wins: why a run stopped, recorded once beside its signal
//! (the [`Record`] a run's [`Stop`](crate::stop::Stop) keeps), and what
//! that makes of the run's result.
//!
//! The first reason recorded stays: a run that failed reports that error,
//! not the cancellations it caused in other stages; a run whose sink had
//! what it asked for (`Finished`) reports no error raised after that; a
//! run cancelled from outside reports [`Error::Cancelled`], one whose
//! deadline passed [`Error::Timeout`], one whose drain did not end in time
//! [`Error::DrainTimeout`].
//!
//! A signal closed with no reason recorded was closed from outside (a
//! [`Cancel::cancel`] on a clone of it, or the signal it follows): the run
//! records its own reasons before it closes its signal. So that close
//! counts as the first reason, `Cancelled`, and a reason offered after it
//! loses, however soon: a stage's error that echoes the cancel is not
//! the run's error.
//!
//! What the error policy makes of a stage's error ([`Raised`]) is decided
//! here too, once for every kind of node.

use std::sync::Arc;
use std::time::Duration;

use crate::build::ErrorPolicy;
use crate::cancel::Cancel;
use crate::error::{BoxError, Error};
use crate::sync::Mutex;

/// What the error policy makes of an error a stage or a source raised.
#[must_use]
pub(crate) enum Raised {
    /// Under the continue policy: send it downstream as an item.
    Travels(Error),
    /// Under the fail-fast policy: fail the run with it, once what the
    /// node made before it is sent.
    Fails(Error),
}

impl ErrorPolicy {
    /// The error `err` raised by stage `stage`, and what this policy does
    /// with it.
    #[inline]
    pub(crate) fn raise(self, stage: Arc<str>, err: impl Into<BoxError>) -> Raised {
        let err = Error::stage(stage, err);
        match self {
            ErrorPolicy::Continue => {
                // Under fail-fast the run's stop reports it as it fails.
                crate::trace::stage_error(&err);
                Raised::Travels(err)
            }
            _ => Raised::Fails(err),
        }
    }
}

/// Why a run stopped early; the first reason recorded wins.
#[derive(Debug, Clone)]
pub(crate) enum Reason {
    /// The sink had all it wanted (`first`, `take`, a dropped stream).
    Finished,
    /// The signal was closed from outside: [`Cancel::cancel`], or the
    /// signal it follows.
    Cancelled,
    /// The run's deadline passed, this long after its start.
    TimedOut(Duration),
    /// The run was drained and its items in flight did not reach the sink
    /// within this time.
    DrainExpired(Duration),
    /// A stage failed or panicked: the run's first error.
    Failed(Error),
}

impl Reason {
    /// The run's error for this reason, if it is an error; `dropped` is
    /// how many items the run let go of unfinished (reported for a drain
    /// that ran out of time).
    pub(crate) fn into_result(self, dropped: u64) -> Result<(), Error> {
        match self {
            Reason::Failed(e) => Err(e),
            Reason::Cancelled => Err(Error::Cancelled),
            Reason::TimedOut(after) => Err(Error::Timeout { after }),
            Reason::DrainExpired(within) => Err(Error::DrainTimeout { within, dropped }),
            Reason::Finished => Ok(()),
        }
    }
}

/// The first reason a run stopped, if any, kept beside its signal.
pub(crate) struct Record(Mutex<Option<Reason>>);

impl Default for Record {
    fn default() -> Self {
        Record(Mutex::new(None))
    }
}

impl Record {
    /// Records `reason` if no reason was recorded first and `cancel` is
    /// still open (if it is not, a close from outside came first, and
    /// `Cancelled` is recorded), then closes `cancel`: recorded before the
    /// close, so that whoever sees the signal closed finds the reason.
    /// Returns whether `reason` won.
    pub(crate) fn close_with(&self, reason: Reason, cancel: &Cancel) -> bool {
        let won = self.offer(reason, cancel);
        cancel.cancel();
        won
    }

    /// Records `reason` if it is the first (see
    /// [`close_with`](Self::close_with)); whether it is.
    fn offer(&self, reason: Reason, cancel: &Cancel) -> bool {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_some() {
            return false;
        }
        // Under the lock, so that two reasons offered at once see one
        // order; the flag, because a close from outside records nothing.
        if cancel.is_cancelled() {
            *slot = Some(Reason::Cancelled);
            return false;
        }
        *slot = Some(reason);
        true
    }

    /// The reason recorded, if any; `Cancelled` if `cancel` was closed
    /// with none recorded (from outside).
    pub(crate) fn get(&self, cancel: &Cancel) -> Option<Reason> {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() && cancel.is_cancelled() {
            *slot = Some(Reason::Cancelled);
        }
        slot.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(message: &str) -> Error {
        Error::Config {
            stage: "x".into(),
            message: message.into(),
        }
    }

    #[test]
    fn first_reason_wins() {
        let (record, cancel) = (Record::default(), Cancel::new());
        assert!(record.get(&cancel).is_none());
        assert!(record.close_with(Reason::Failed(config("first")), &cancel));
        assert!(cancel.is_cancelled());
        assert!(!record.close_with(Reason::Failed(config("later")), &cancel));
        assert!(!record.close_with(Reason::Finished, &cancel));
        let Some(Reason::Failed(Error::Config { message, .. })) = record.get(&cancel) else {
            panic!("the first failure stays");
        };
        assert_eq!(message, "first");
    }

    #[test]
    fn a_close_from_outside_is_the_first_reason() {
        let (record, cancel) = (Record::default(), Cancel::new());
        cancel.cancel();
        // An error that echoes the cancel, raised after it, loses.
        assert!(!record.close_with(Reason::Failed(config("echo")), &cancel));
        assert!(matches!(record.get(&cancel), Some(Reason::Cancelled)));
        // Also when the close is only seen when the record is read.
        let (record, cancel) = (Record::default(), Cancel::new());
        cancel.cancel();
        assert!(matches!(record.get(&cancel), Some(Reason::Cancelled)));
        assert!(!record.close_with(Reason::TimedOut(Duration::ZERO), &cancel));
        assert!(matches!(record.get(&cancel), Some(Reason::Cancelled)));
    }

    #[test]
    fn each_reason_makes_its_result() {
        assert!(Reason::Finished.into_result(0).is_ok());
        assert!(matches!(
            Reason::Cancelled.into_result(0),
            Err(Error::Cancelled)
        ));
        let after = Duration::from_millis(5);
        assert!(matches!(
            Reason::TimedOut(after).into_result(0),
            Err(Error::Timeout { after: a }) if a == after
        ));
        assert!(matches!(
            Reason::DrainExpired(after).into_result(3),
            Err(Error::DrainTimeout { within, dropped: 3 }) if within == after
        ));
        assert!(matches!(
            Reason::Failed(config("x")).into_result(0),
            Err(Error::Config { .. })
        ));
    }
}
