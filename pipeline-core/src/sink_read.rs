//! How a sink reads the last link: it looks at the run's signal before
//! every call of its function (the sink is a stage: once the run is
//! cancelled or has failed, the function is not called again), and its
//! future yields to its caller within a bounded budget of work, so that a
//! timer or a `select!` beside it is polled on time.

use std::ops::ControlFlow;
use std::time::Duration;

use crate::cancel::Reason;
use crate::channel::{Msg, Reader};
use crate::reader::Poll as Got;
use crate::stats::{clock, Local};

/// Items a sink hands on before its future yields, at most.
const BUDGET_ITEMS: u32 = 4096;
/// How long a sink works before its future yields, at most (looked at
/// every [`CLOCK_EVERY`] items, so a slow sink function stretches it).
const BUDGET_TIME: Duration = Duration::from_millis(1);
/// Items between two looks at the clock: one read in 64 items costs well
/// under a nanosecond an item.
const CLOCK_EVERY: u32 = 64;

/// A cooperative budget (as tokio's `coop`): counts the work done since
/// the future last yielded, and says when it should yield.
pub(crate) struct Budget {
    left: u32,
    since: u64,
}

impl Budget {
    pub(crate) fn new() -> Self {
        Budget {
            left: BUDGET_ITEMS,
            since: clock().raw(),
        }
    }

    /// The future has just yielded (or waited): a full budget again.
    pub(crate) fn reset(&mut self) {
        *self = Budget::new();
    }

    /// Counts one item handed on; `true` once the budget is spent.
    #[inline(always)]
    pub(crate) fn spend(&mut self) -> bool {
        self.spend_n(1)
    }

    /// Counts `n` items handed on; `true` once the budget is spent. Reads
    /// the clock only when the count crosses a multiple of
    /// [`CLOCK_EVERY`].
    #[inline(always)]
    pub(crate) fn spend_n(&mut self, n: usize) -> bool {
        let before = self.left;
        self.left = self
            .left
            .saturating_sub(u32::try_from(n).unwrap_or(u32::MAX));
        if self.left == 0 {
            return true;
        }
        if before / CLOCK_EVERY == self.left / CLOCK_EVERY {
            return false;
        }
        clock().delta_as_nanos(self.since, clock().raw()) >= BUDGET_TIME.as_nanos() as u64
    }
}

/// How a sink's reading ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// Its input closed and was drained: every sender was done.
    Exhausted,
    /// It had what it asked for (`first`, `take`): the run has succeeded,
    /// whatever the rest of the run does from here on.
    Satisfied,
    /// The run was cancelled, or failed, before either.
    Stopped,
}

impl End {
    fn of<T>(r: &Reader<T>) -> End {
        if r.exhausted() {
            End::Exhausted
        } else {
            End::Stopped
        }
    }
}

/// Folds every message into `acc` with `f` until the input ends or the
/// run stops; `f` is never called once the run's signal is closed.
pub(crate) async fn fold_all<T, A>(
    r: &mut Reader<T>,
    stats: &mut Local,
    mut acc: A,
    mut f: impl FnMut(A, Msg<T>) -> A,
) -> (A, End) {
    let mut budget = Budget::new();
    let cancel = r.cancel().clone();
    loop {
        // The rest of a batch of items in one tight loop, the signal
        // looked at before each call; the budget counted once a batch.
        if let Some(items) = r.pending_items() {
            let n = items.len();
            let folded = items.try_fold(acc, |a, t| {
                if cancel.is_cancelled() {
                    ControlFlow::Break(a)
                } else {
                    ControlFlow::Continue(f(a, Ok(t)))
                }
            });
            acc = match folded {
                ControlFlow::Continue(a) => a,
                ControlFlow::Break(a) => return (a, End::Stopped),
            };
            if budget.spend_n(n) {
                smol::future::yield_now().await;
                budget.reset();
            }
            continue;
        }
        let m = match r.try_next(stats) {
            Got::Item(m) => m,
            Got::Closed => return (acc, End::of(r)),
            Got::Empty => {
                // Waiting yields to the executor (and to the caller) first.
                let Some(m) = r.wait(stats).await else {
                    return (acc, End::of(r));
                };
                budget.reset();
                m
            }
        };
        if cancel.is_cancelled() {
            return (acc, End::Stopped);
        }
        acc = f(acc, m);
        if budget.spend() {
            smol::future::yield_now().await;
            budget.reset();
        }
    }
}

/// Takes up to `n` items into `out` (errors travelling as items go to
/// `error`). Once the run has failed, the items already sent to the sink
/// still count, without waiting for more: they were made before the
/// failure reached the sink, and if `n` are there the sink has what it
/// asked for, as `Iterator::take` never looks at the item after its last.
pub(crate) async fn take_into<T>(
    r: &mut Reader<T>,
    stats: &mut Local,
    n: usize,
    out: &mut Vec<T>,
    mut error: impl FnMut(crate::Error),
) -> End {
    let mut budget = Budget::new();
    while out.len() < n {
        if r.cancel().is_cancelled() {
            if matches!(r.cancel().reason(), Some(Reason::Failed(_))) {
                while out.len() < n {
                    match r.try_next_left(stats) {
                        Some(Ok(t)) => out.push(t),
                        Some(Err(e)) => error(e),
                        None => break,
                    }
                }
            }
            break;
        }
        match r.next(stats).await {
            Some(Ok(t)) => out.push(t),
            Some(Err(e)) => error(e),
            None if r.exhausted() => return End::Exhausted,
            None => continue,
        }
        if budget.spend() {
            smol::future::yield_now().await;
            budget.reset();
        }
    }
    if out.len() >= n {
        End::Satisfied
    } else {
        End::of(r)
    }
}
