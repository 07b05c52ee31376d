//! A run's deadline and its drain's time limit: a watch task, spawned
//! with the run's other tasks, that cancels the run through its signal
//! when the deadline passes (the run then ends with
//! [`Error::Timeout`](crate::Error::Timeout)) or when a drain's time runs
//! out ([`Error::DrainTimeout`](crate::Error::DrainTimeout)), and that is
//! stopped when the run ends first.

use std::time::{Duration, Instant};

use smol::{Task, Timer};

use crate::run::ctx::RunCtx;

/// The limits set on a run before it starts: a point in time, a span from
/// its start, or both; the earliest applies.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Deadline {
    at: Option<Instant>,
    after: Option<Duration>,
}

impl Deadline {
    /// Ends the run at `at` at the latest.
    pub(crate) fn at(&mut self, at: Instant) {
        self.at = Some(self.at.map_or(at, |old| old.min(at)));
    }

    /// Ends the run `after` its start at the latest.
    pub(crate) fn after(&mut self, after: Duration) {
        self.after = Some(self.after.map_or(after, |old| old.min(after)));
    }

    /// When a run starting at `start` must end, and how long after its
    /// start that is; `None` if it has no deadline (or one too far away to
    /// be written as an [`Instant`]).
    fn resolve(&self, start: Instant) -> Option<(Instant, Duration)> {
        let from_span = self.after.and_then(|d| start.checked_add(d));
        let at = match (self.at, from_span) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some((at, at.saturating_duration_since(start)))
    }
}

/// The watch task of a run that has a deadline or can be drained.
/// Dropping it cancels the task (its timers are dropped soon after, on
/// the executor); [`stop`](Self::stop) also waits until it is.
#[must_use = "dropping the watch cancels the deadline"]
#[derive(Default)]
pub(crate) struct Watch(Option<Task<()>>);

/// Which limit passed.
enum Passed {
    Deadline(Duration),
    Drain(Duration),
}

impl Watch {
    /// Spawns the watch task of a run starting now, if it has a deadline
    /// or can be drained (`drainable`): it cancels the run when the
    /// deadline passes, or when a drain's time runs out, and ends at once
    /// when the run is cancelled (or fails, or finishes early) before that.
    pub(crate) fn start(ctx: &RunCtx, deadline: Deadline, drainable: bool) -> Self {
        let deadline = deadline.resolve(Instant::now());
        if deadline.is_none() && !drainable {
            return Watch(None);
        }
        let stop = ctx.stop.clone();
        Watch(Some(ctx.spawn("deadline", async move {
            let timer = async {
                let (at, after) = deadline?;
                Timer::at(at).await;
                Some(Passed::Deadline(after))
            };
            let drained = async {
                if !drainable {
                    return std::future::pending().await;
                }
                stop.drain().sources().cancelled().await;
                // Closed with the run's signal, or by a drain.
                let within = stop
                    .drain()
                    .within()
                    .filter(|_| !stop.cancel().is_cancelled())?;
                Timer::after(within).await;
                Some(Passed::Drain(within))
            };
            let cancelled = async {
                stop.cancel().cancelled().await;
                None
            };
            let timer = async {
                match timer.await {
                    None => std::future::pending().await,
                    passed => passed,
                }
            };
            // Each limit loses to any reason recorded first: the first
            // error wins.
            match smol::future::or(smol::future::or(timer, drained), cancelled).await {
                Some(Passed::Deadline(after)) => stop.time_out(after),
                Some(Passed::Drain(within)) => stop.drain_expired(within),
                None => {}
            }
        })))
    }

    /// The run has ended: cancels the watch task and waits until it (and
    /// its timers) is dropped, so the run leaves no task behind.
    pub(crate) async fn stop(self) {
        if let Some(task) = self.0 {
            task.cancel().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_limit_applies() {
        let start = Instant::now();
        let mut d = Deadline::default();
        assert!(d.resolve(start).is_none());
        d.after(Duration::from_secs(5));
        d.after(Duration::from_secs(9));
        assert_eq!(d.resolve(start).map(|r| r.1), Some(Duration::from_secs(5)));
        d.at(start + Duration::from_secs(2));
        assert_eq!(d.resolve(start).map(|r| r.1), Some(Duration::from_secs(2)));
    }

    #[test]
    fn a_deadline_in_the_past_is_zero_after_the_start() {
        let start = Instant::now();
        let mut d = Deadline::default();
        d.at(start);
        let later = start + Duration::from_millis(1);
        assert_eq!(d.resolve(later).map(|r| r.1), Some(Duration::ZERO));
    }

    #[test]
    fn a_span_too_long_for_an_instant_is_no_deadline() {
        let mut d = Deadline::default();
        d.after(Duration::MAX);
        assert!(d.resolve(Instant::now()).is_none());
    }
}
