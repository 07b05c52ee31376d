//! The error type of a run.

use std::sync::Arc;
use std::time::Duration;

/// A boxed error, what fallible stage functions may return (anything that
/// converts into it, such as `std::io::Error` or a `String`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a run failed.
///
/// Under the fail-fast policy a run returns the *first* error raised by any
/// stage; errors that stages raise afterwards because the run was cancelled
/// are never reported in its place.
///
/// [`source()`](std::error::Error::source) of an [`Error::Stage`] is the
/// error the stage function returned, itself (not a wrapper around it), so
/// `anyhow`/`eyre` chains and `downcast_ref` on the source reach it. Its
/// `Display` also ends with that error's text, so that printing the error
/// alone says what went wrong.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// A `try_` stage function, or a source, returned an error.
    Stage {
        /// Name of the stage that raised the error.
        stage: Arc<str>,
        /// The error the stage function returned.
        source: Arc<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// A stage function panicked; the run was cancelled at once.
    Panic {
        /// Name of the stage whose function panicked.
        stage: Arc<str>,
        /// The panic's message, when it was a string.
        message: String,
    },
    /// The run was cancelled from outside through its [`Cancel`](crate::Cancel).
    Cancelled,
    /// The run's deadline ([`Run::deadline`](crate::Run::deadline),
    /// [`Run::timeout`](crate::Run::timeout)) passed before it ended: the
    /// run was cancelled, as by its [`Cancel`](crate::Cancel).
    Timeout {
        /// How long after the run's start the deadline was.
        after: Duration,
    },
    /// The run was drained ([`Drain::drain`](crate::Drain::drain)) and
    /// the items in flight had not all reached the sink within the time
    /// the drain gave them: the run was cancelled, as by its
    /// [`Cancel`](crate::Cancel), and those items were dropped. A drain
    /// that ends in time is no error: the run returns the sink's value.
    DrainTimeout {
        /// The time the drain gave the items in flight.
        within: Duration,
        /// How many items the run dropped unfinished: items waiting in a
        /// link, in a batch not yet sent or in an ordered stage's reorder
        /// window, and calls of a stage function abandoned at the cancel
        /// (a result made and then not sent counts as one, so a
        /// `flat_map` may count several for one input).
        dropped: u64,
    },
    /// The pipeline was declared with an invalid setting (a width, buffer,
    /// window or batch of 0, more workers than can run at once, stages of
    /// two different pipelines joined), or a flow built and never read by
    /// the sink that runs (its items would be lost). Nothing ran.
    Config {
        /// Name of the stage whose setting is invalid.
        stage: Arc<str>,
        /// What is wrong with it.
        message: String,
    },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Stage { stage, source } => write!(f, "stage `{stage}`: {source}"),
            Error::Panic { stage, message } => write!(f, "stage `{stage}` panicked: {message}"),
            Error::Cancelled => f.write_str("pipeline cancelled"),
            Error::Timeout { after } => write!(f, "the run's deadline passed after {after:?}"),
            Error::DrainTimeout { within, dropped } => write!(
                f,
                "the drain did not end within {within:?}: the run was cancelled and \
                 {dropped} item(s) in flight were dropped"
            ),
            Error::Config { stage, message } => write!(f, "stage `{stage}`: {message}"),
        }
    }
}

// Written out rather than derived: a derived `source()` of an `Arc<dyn
// Error>` field returns the `Arc` itself, a wrapper whose type is not the
// stage's error, so a `downcast_ref` on the source fails.
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Stage { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

impl Error {
    /// Wraps an error raised by stage `stage`.
    pub fn stage(stage: impl Into<Arc<str>>, source: impl Into<BoxError>) -> Self {
        Error::Stage {
            stage: stage.into(),
            source: Arc::from(source.into()),
        }
    }

    /// The name of the stage this error belongs to, if any.
    pub fn stage_name(&self) -> Option<&str> {
        match self {
            Error::Stage { stage, .. }
            | Error::Panic { stage, .. }
            | Error::Config { stage, .. } => Some(stage),
            Error::Cancelled | Error::Timeout { .. } | Error::DrainTimeout { .. } => None,
        }
    }

    /// The error a stage function returned, downcast to `E`.
    ///
    /// ```
    /// use pipeline_core::Error;
    /// let e = Error::stage("read", std::io::Error::other("disk on fire"));
    /// assert_eq!(e.downcast_ref::<std::io::Error>().unwrap().to_string(), "disk on fire");
    /// assert_eq!(e.stage_name(), Some("read"));
    /// ```
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            Error::Stage { source, .. } => source.downcast_ref::<E>(),
            _ => None,
        }
    }
}

/// The error of an item whose call took longer than its stage's
/// [`item_timeout`](crate::StageConfig::item_timeout): the source of the
/// [`Error::Stage`] that names the stage, so that
/// `err.downcast_ref::<ItemTimeout>()` finds it, and what a
/// [`Retry::retry_if`](crate::Retry::retry_if) predicate sees for a
/// timed-out attempt.
///
/// ```
/// use std::time::Duration;
/// use pipeline_core::{Error, ItemTimeout};
///
/// let e = Error::stage("fetch", ItemTimeout::new(Duration::from_millis(250)));
/// assert_eq!(e.to_string(), "stage `fetch`: no result within the item timeout of 250ms");
/// assert_eq!(e.downcast_ref::<ItemTimeout>().map(|t| t.limit), Some(Duration::from_millis(250)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ItemTimeout {
    /// The stage's limit for one call.
    pub limit: Duration,
}

impl ItemTimeout {
    /// The error of a call that passed `limit`.
    pub fn new(limit: Duration) -> Self {
        ItemTimeout { limit }
    }
}

impl std::fmt::Display for ItemTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no result within the item timeout of {:?}", self.limit)
    }
}

impl std::error::Error for ItemTimeout {}

/// The text of a panic payload.
/// Drops a panic's payload, catching a panic of its own `Drop` (a payload
/// of the user's type may panic as it is dropped): that second payload is
/// leaked rather than dropped, so that nothing unwinds out of the run.
pub(crate) fn drop_payload(payload: Box<dyn std::any::Any + Send>) {
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(payload)));
    if let Err(again) = dropped {
        std::mem::forget(again);
    }
}

pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}
