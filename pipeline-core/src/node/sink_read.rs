//! How a sink reads the last link: it looks at the run's signal between
//! every two calls of its function (the sink is a stage: once the run is
//! cancelled or has failed, the function is not called again; [`Pace`]
//! says how), and its
//! future yields to its caller within a bounded budget of work, so that a
//! timer or a `select!` beside it is polled on time.

use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::link::reader::Poll as Got;
use crate::link::{Clear, Msg, Reader};
use crate::outcome::Reason;
use crate::stats::{Local, Since};

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
    since: Since,
}

impl Budget {
    pub(crate) fn new() -> Self {
        Budget {
            left: BUDGET_ITEMS,
            since: Since::now(),
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
        self.since.nanos() >= BUDGET_TIME.as_nanos() as u64
    }
}

/// Calls of a quick function folded in one tight loop.
const STRIDE: usize = 64;
/// A function is quick when a batch of its calls took less than this a
/// call.
const QUICK_NS: u64 = 4;

/// How a sink looks at the run's signal between two calls of its
/// function: with [`Cancel::is_cancelled`](crate::Cancel::is_cancelled),
/// or, while its calls are quick and its batches long, in a loop of up to
/// a stride of calls that looks after each at the shared flag (a relaxed
/// load) and at this thread's count of seen cancellations
/// ([`crate::seen`]), both lifted into registers as far as they can be.
/// Either way no call follows a cancel the sink could see: not one made
/// on another thread while a call waited (a stride once went on after
/// it, up to 63 calls), nor one the function made or saw itself.
struct Pace {
    quick: bool,
}

impl Pace {
    fn new() -> Self {
        Pace { quick: false }
    }

    /// Folds the items of one batch into `acc` until they end (`Continue`)
    /// or the run stops (`Break`). Not inlined into the sink's future: as
    /// a function of its own, the iterator's ends stay in registers and
    /// the thread-local look is lifted out of the loop, so the compiler
    /// can fuse a quick fold's calls as it does a plain `fold`'s.
    #[inline(never)]
    fn fold<T, A>(
        &mut self,
        cancel: &crate::Cancel,
        items: &mut std::vec::IntoIter<T>,
        mut acc: A,
        f: &mut impl FnMut(A, Msg<T>) -> A,
    ) -> ControlFlow<A, A> {
        let len = items.len();
        // Short batches, and slow functions, look before every call.
        let timed = len >= STRIDE;
        let start = timed.then(Since::now);
        loop {
            if items.len() == 0 {
                break;
            }
            if cancel.is_cancelled() {
                return ControlFlow::Break(acc);
            }
            if self.quick && timed {
                let calls = items.len().min(STRIDE);
                let mut stretch = std::mem::take(items);
                // The count's cell is taken once a stretch: the look after
                // each call is then a load from it, which the compiler
                // lifts out of the loop whatever it makes of the
                // thread-local's accessor (left a call, it was made after
                // every item and kept the loop from being fused).
                let flag = cancel.flag();
                let folded = crate::seen::with(|count| {
                    let seen = count.get();
                    stretch.by_ref().take(calls).try_fold(acc, |a, t| {
                        let a = f(a, Ok(t));
                        // The shared flag too, after every call: one call
                        // may wait, however quick the others were.
                        if count.get() == seen && !flag.load(Ordering::Relaxed) {
                            ControlFlow::Continue(a)
                        } else {
                            ControlFlow::Break(a)
                        }
                    })
                });
                *items = stretch;
                acc = match folded {
                    ControlFlow::Continue(a) | ControlFlow::Break(a) => a,
                };
            } else if let Some(t) = items.next() {
                acc = f(acc, Ok(t));
            }
        }
        if let Some(start) = start {
            self.quick = start.nanos() < len as u64 * QUICK_NS;
        }
        ControlFlow::Continue(acc)
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
/// run stops; `f` is not called once the run's signal is closed (see
/// [`Pace`] for the one bounded exception).
pub(crate) async fn fold_all<T, A>(
    r: &mut Reader<T>,
    stats: &mut Local,
    mut acc: A,
    mut f: impl FnMut(A, Msg<T>) -> A,
) -> (A, End) {
    let mut budget = Budget::new();
    let mut pace = Pace::new();
    let cancel = r.cancel().clone();
    loop {
        // The rest of a batch of items in one tight loop, the signal
        // looked at before each call; the budget counted once a batch.
        if let Some(items) = r.pending_items() {
            let n = items.len();
            // Moved out, so that its ends live in registers; on a stop the
            // rest is dropped with it, as it would be with the reader.
            let mut items = std::mem::take(items);
            acc = match pace.fold(&cancel, &mut items, acc, &mut f) {
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
                let Some(m) = r.wait(stats, Clear::no_output()).await else {
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
            if matches!(r.stop().reason(), Some(Reason::Failed(_))) {
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
        match r.next(stats, Clear::no_output()).await {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cancel;

    /// Folds `0..n` with a quick pace; `f` gets the call's number.
    fn quick_fold(cancel: &Cancel, n: u64, mut f: impl FnMut(u64)) -> (ControlFlow<u64, u64>, u64) {
        let mut pace = Pace { quick: true };
        let mut items = (0..n).collect::<Vec<_>>().into_iter();
        let mut calls = 0;
        let flow = pace.fold(cancel, &mut items, 0, &mut |a, m: Msg<u64>| {
            calls += 1;
            f(calls);
            a + m.unwrap()
        });
        (flow, calls)
    }

    #[test]
    fn a_quick_function_that_cancels_is_not_called_again() {
        for at in [1, 2, 63, 64, 65, 200] {
            let cancel = Cancel::new();
            let c = cancel.clone();
            let (flow, calls) = quick_fold(&cancel, 256, |n| {
                if n == at {
                    c.cancel();
                }
            });
            assert!(flow.is_break());
            assert_eq!(calls, at);
        }
    }

    #[test]
    fn a_quick_function_that_sees_a_cancel_is_not_called_again() {
        for at in [1, 30, 64, 100] {
            let cancel = Cancel::new();
            let c = cancel.clone();
            let (flow, calls) = quick_fold(&cancel, 256, |n| {
                if n == at {
                    let other = c.clone();
                    std::thread::spawn(move || other.cancel()).join().unwrap();
                    assert!(c.is_cancelled());
                }
            });
            assert!(flow.is_break());
            assert_eq!(calls, at);
        }
    }

    #[test]
    fn a_cancel_from_another_thread_stops_a_quick_function_at_the_next_call() {
        for at in [1, 30, 64, 100] {
            let cancel = Cancel::new();
            let c = cancel.clone();
            let (flow, calls) = quick_fold(&cancel, 256, |n| {
                if n == at {
                    let other = c.clone();
                    std::thread::spawn(move || other.cancel()).join().unwrap();
                }
            });
            assert!(flow.is_break());
            assert_eq!(calls, at, "no call after the cancel");
        }
    }

    #[test]
    fn a_careful_pace_looks_before_every_call() {
        let cancel = Cancel::new();
        let c = cancel.clone();
        let mut pace = Pace { quick: false };
        let mut items = (0..256u64).collect::<Vec<_>>().into_iter();
        let mut calls = 0;
        let flow = pace.fold(&cancel, &mut items, 0, &mut |a, m: Msg<u64>| {
            calls += 1;
            if calls == 10 {
                let other = c.clone();
                std::thread::spawn(move || other.cancel()).join().unwrap();
            }
            a + m.unwrap()
        });
        assert!(flow.is_break());
        assert_eq!(calls, 10);
    }
}
