//! First error wins: why a run stopped, recorded once on its signal, and
//! what that makes of the run's result.
//!
//! The first reason recorded stays: a run that failed reports that error,
//! not the cancellations it caused in other stages; a run whose sink had
//! what it asked for (`Finished`) reports no error raised after that; a
//! run cancelled from outside reports [`Error::Cancelled`], one whose
//! deadline passed [`Error::Timeout`].
//!
//! What the error policy makes of a stage's error ([`Raised`]) and how a
//! panic becomes the run's error ([`Cancel::fail_panicked`]) are decided
//! here too, once for every kind of node.

use std::any::Any;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::build::ErrorPolicy;
use crate::cancel::Cancel;
use crate::error::{panic_message, BoxError, Error};

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
            ErrorPolicy::Continue => Raised::Travels(err),
            _ => Raised::Fails(err),
        }
    }
}

/// Why a run stopped early; the first reason recorded wins.
#[derive(Debug, Clone)]
pub(crate) enum Reason {
    /// The sink had all it wanted (`first`, `take`, a dropped stream).
    Finished,
    /// [`Cancel::cancel`] was called from outside.
    Cancelled,
    /// The run's deadline passed, this long after its start.
    TimedOut(Duration),
    /// A stage failed or panicked: the run's first error.
    Failed(Error),
}

/// The first reason recorded on a signal, if any.
#[derive(Default)]
pub(crate) struct Record(Mutex<Option<Reason>>);

impl Record {
    /// Records `reason` if no other was recorded first; whether it was.
    pub(crate) fn set(&self, reason: Reason) -> bool {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(reason);
            true
        } else {
            false
        }
    }

    /// The reason recorded, if any.
    fn get(&self) -> Option<Reason> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Cancel {
    /// Records `err` as the run's error if no other reason was recorded first,
    /// then closes the signal. Returns whether `err` won.
    pub(crate) fn fail(&self, err: Error) -> bool {
        self.close_with(Reason::Failed(err))
    }

    /// Fails the run with [`Error::Panic`] naming `stage`, whose function
    /// (or source, iterator or sink) panicked with `payload`: a panic is
    /// an error, and the first error wins. Returns whether it won.
    pub(crate) fn fail_panicked(&self, stage: Arc<str>, payload: &(dyn Any + Send)) -> bool {
        self.fail(Error::Panic {
            stage,
            message: panic_message(payload),
        })
    }

    /// Closes the signal because the run has what it needs; not an error.
    pub(crate) fn finish(&self) {
        self.close_with(Reason::Finished);
    }

    /// Why the run stopped, if it has stopped early.
    pub(crate) fn reason(&self) -> Option<Reason> {
        let reason = self.record().get();
        if reason.is_some() {
            crate::seen::mark();
        }
        reason
    }
}

/// The run's error for the reason it stopped, if that reason is an error.
pub(crate) fn outcome(cancel: &Cancel) -> Result<(), Error> {
    match cancel.reason() {
        Some(Reason::Failed(e)) => Err(e),
        Some(Reason::Cancelled) => Err(Error::Cancelled),
        Some(Reason::TimedOut(after)) => Err(Error::Timeout { after }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_reason_wins() {
        let done = Cancel::new();
        assert!(done.fail(Error::Cancelled));
        assert!(!done.fail(Error::Config {
            stage: "x".into(),
            message: "later".into()
        }));
        done.finish();
        assert!(matches!(
            done.reason(),
            Some(Reason::Failed(Error::Cancelled))
        ));
    }
}
