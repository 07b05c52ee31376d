//! A worker's per-item fast path: every message that can be had without
//! waiting goes through an inline function into the output, in plain (not
//! async) code, under one `catch_unwind`; it returns at the first thing
//! that needs the worker's async loop ([`Ready`]).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use crate::link::{Msg, Poll, Pushed, Reader, Refill, Writer};
use crate::node::many::Many;
use crate::node::op::{Op, Out};
use crate::node::step::{step, Step};
use crate::run::ctx::RunCtx;
use crate::stats::Local;

/// Where a worker's synchronous per-item path stopped, and what the async
/// loop around it must do next.
#[must_use]
pub(super) enum Ready<T, U> {
    /// Go on with the next message.
    Continue,
    /// No message waits in the input: flush the partial batch, then wait.
    Empty,
    /// The input is closed and drained, or the run cancelled.
    Closed,
    /// The output is full: send its stalled packet, waiting for room.
    Full,
    /// The function must be awaited (async or blocking) for this item.
    Await(T),
    /// A `flat_map` produced an iterator: send its items, waiting as needed.
    Many(Many<U>),
    /// The run stopped (failed, cancelled, or nobody reads any more).
    Stop,
}

/// How a worker's loop goes on after a push that did not wait.
#[inline(always)]
pub(super) fn after<T, U>(pushed: Pushed) -> Ready<T, U> {
    match pushed {
        Pushed::Done => Ready::Continue,
        Pushed::Stopped => Ready::Stop,
        Pushed::Full => Ready::Full,
    }
}

/// Pushes what one call produced, without waiting.
#[inline(always)]
pub(super) fn push_step<T, U>(
    step: Step<U>,
    output: &mut Writer<U>,
    stats: &mut Local,
) -> Ready<T, U> {
    let pushed = match step {
        Step::Items(Out::One(u)) => output.push(Ok(u), stats),
        Step::Items(Out::None) => return Ready::Continue,
        Step::Items(Out::Many(v)) => return Ready::Many(v),
        Step::Error(e) => {
            stats.errors += 1;
            output.push(Err(e), stats)
        }
        Step::Fail(e) => {
            stats.errors += 1;
            output.fail(e, stats);
            return Ready::Stop;
        }
        Step::Stop => {
            stats.errors += 1;
            return Ready::Stop;
        }
        Step::Cancelled => return Ready::Stop,
    };
    after(pushed)
}

/// Works on one message without waiting: an error travelling as an item
/// is passed on, an item goes through an inline function at once. Called
/// only inside [`work_ready`]'s `catch_unwind`.
#[inline(always)]
fn work_one<T, U, O: Op<T, U>>(
    op: &O,
    msg: Msg<T>,
    output: &mut Writer<U>,
    name: &Arc<str>,
    ctx: &RunCtx,
    stats: &mut Local,
) -> Ready<T, U> {
    match msg {
        // Under the continue policy errors travel as items: pass it on.
        Err(e) => after(output.push(Err(e), stats)),
        Ok(item) => match op.call_inline(item) {
            Ok(result) => push_step(step(Ok(result), name, ctx), output, stats),
            Err(item) => Ready::Await(item),
        },
    }
}

/// The per-item fast path of a worker: `first` (a message the worker
/// waited for), then every message that can be had without waiting,
/// through an inline function, into the output batch or channel, in plain
/// (not async) code; returns at the first thing that needs the async loop.
///
/// One `catch_unwind` covers the whole stretch rather than each call: a
/// panic fails the run, so what the stretch leaves half-done (a message in
/// hand, a partial batch) is simply dropped, as it would be at a cancel.
///
/// A little over 80 lines, and kept whole on purpose: the stretch is one
/// closure under that one `catch_unwind`, and its bulk map is the loop the
/// per-item benches measure; splitting it would move the hottest code of
/// the crate for no reader's gain.
#[inline]
pub(super) fn work_ready<T, U, O: Op<T, U>>(
    op: &O,
    first: Option<Msg<T>>,
    input: &mut Reader<T>,
    output: &mut Writer<U>,
    name: &Arc<str>,
    ctx: &RunCtx,
    stats: &mut Local,
) -> Ready<T, U> {
    let stretch = AssertUnwindSafe(|| {
        if let Some(m) = first {
            match work_one(op, m, output, name, ctx, stats) {
                Ready::Continue => {}
                other => return other,
            }
        }
        loop {
            // A map over a batch of items into a batch: one loop.
            if O::MAP_BULK {
                while let Some(mut add) = output.bulk() {
                    let (buf, room, idle) = add.parts();
                    // A whole packet into an empty batch, with no reason to
                    // stop half-way: one map in place, the loop a hand-written
                    // stage would run.
                    let whole = if buf.is_empty() && !idle.adaptive() {
                        input.take_batch(room)
                    } else {
                        None
                    };
                    if let Some(batch) = whole {
                        // Into the empty batch: as many results as items.
                        match op.map_batch(batch) {
                            Ok(mapped) => *buf = mapped,
                            Err(_) => unreachable!("a bulk map maps batches"),
                        }
                    } else {
                        let Some(items) = input.pending_items() else {
                            break;
                        };
                        if idle.adaptive() {
                            // Every result goes at once to an idle consumer.
                            op.map_bulk_until(items, buf, room, &|| idle.now());
                        } else {
                            op.map_bulk(items, buf, room);
                        }
                    }
                    match after(add.commit(stats)) {
                        Ready::Continue => {}
                        other => return other,
                    }
                }
            }
            let msg = if O::MAP_BULK {
                // A batch from the channel stays whole, for the bulk loop.
                match input.try_refill(stats) {
                    Refill::Item(m) => m,
                    Refill::Batch => continue,
                    Refill::Empty => return Ready::Empty,
                    Refill::Closed => return Ready::Closed,
                }
            } else {
                match input.try_next(stats) {
                    Poll::Item(m) => m,
                    Poll::Empty => return Ready::Empty,
                    Poll::Closed => return Ready::Closed,
                }
            };
            match work_one(op, msg, output, name, ctx, stats) {
                Ready::Continue => {}
                other => return other,
            }
        }
    });
    match std::panic::catch_unwind(stretch) {
        Ok(ready) => ready,
        Err(payload) => {
            stats.errors += 1;
            let _ = step::<U>(Err(payload), name, ctx);
            Ready::Stop
        }
    }
}
