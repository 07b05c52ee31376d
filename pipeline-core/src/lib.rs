//! The runtime of `pipeline`: streaming pipelines in the style of Go's
//! "pipelines and cancellation", on smol and async-channel.
//!
//! Stages are joined by bounded channels; a stage can fan out to several
//! workers reading one channel, and several flows can fan in with
//! [`Pipeline::merge`]. One close-to-cancel signal per run ([`Cancel`], the
//! article's `done`) stops every stage at once: on the first error, on a
//! panic, when the sink has what it needs, or from outside. When a run ends,
//! however it ends, every task it spawned has ended.
//!
//! # The life of an item
//!
//! An item meets the layers of this crate in this order; each step names
//! the public items a user touches and the module (a folder or file of
//! `src/`) where its code lives.
//!
//! 1. **Declare** (`build/`): [`Pipeline::new`] and a source such as
//!    [`Pipeline::from_iter`] give a [`Flow`]; each stage ([`Flow::map`]
//!    and the others, set by a [`StageConfig`]) makes the link to the
//!    next node and records in the run's graph how to spawn its workers.
//!    Nothing runs yet. `build/pipeline.rs` (sources, merge),
//!    `build/flow.rs` (stages), `build/retrying.rs` ([`Flow::retrying`]),
//!    `build/graph.rs`, `build/config.rs`, `build/retry.rs` ([`Retry`]),
//!    `build/guard.rs` (which settings a node can honour), and
//!    `build/bound.rs` for [`Run::in_flight_bound`].
//! 2. **Start** (`run/`): a sink such as [`Flow::collect`] gives a [`Run`];
//!    [`Run::run`] checks the graph (every setting valid, every flow read)
//!    and spawns every node's tasks (`run/start.rs`), each with the run's
//!    context (`run/ctx.rs`). The context holds the run's stop
//!    (`stop.rs`): its signal ([`Cancel`], `cancel.rs`), the first reason
//!    it stopped (`outcome.rs`) and its links' closers
//!    (`link/closers.rs`).
//! 3. **Source** (`node/source.rs`): the source's task pulls items from
//!    its iterator, stream or producer (which pushes into an [`Emitter`]
//!    or an [`AsyncEmitter`], `node/emitter.rs`) and writes them into its
//!    link.
//! 4. **Link** (`link/`): a writer (`link/writer.rs`) packs items into
//!    packets (`link/packet.rs`), taking room first on a counted link
//!    (`link/permits.rs`), and sends them into the link's channel
//!    (`link/channel.rs`); the next node's reader (`link/reader.rs`) takes
//!    them out and gives the room back. Each link registers a closer of
//!    its channel with the run's stop (`link/closers.rs`): when the
//!    signal closes, every channel closes at once, which wakes every
//!    blocked send and receive.
//! 5. **Worker** (`node/`): a stage's workers call its function on each
//!    item and apply the error policy (`node/step.rs`; the call styles in
//!    `node/op.rs`), unordered (`node/worker.rs`, its per-item fast path in
//!    `node/worker/fast.rs`) or in input order (`node/ordered.rs`); a
//!    stage with an item timeout calls through `node/timed.rs`, one that
//!    retries through `node/retried.rs`; a
//!    merge forwards several links into one (`node/merge.rs`); a
//!    `flat_map`'s items are made as they are sent (`node/many.rs`). The
//!    results go into the stage's output link: step 4 again.
//! 6. **Sink** (`node/sink.rs`, `node/sink_read.rs`): the sink reads the
//!    last link and folds, collects or takes ([`Flow::fold`],
//!    [`Flow::take`]); [`RunStream`] and [`RunIter`] (`run/stream.rs`,
//!    `run/iter.rs`) make the caller the sink.
//! 7. **Join** (`run/join.rs`): the run waits for every task it spawned,
//!    drops its links' closers, then returns the sink's value or the
//!    error for the first reason it stopped ([`Error`]; `stop.rs`,
//!    `outcome.rs`: a stage's error or panic, a cancel from outside, the
//!    deadline, or the sink satisfied, which is no error); each stage's
//!    counters are in [`Stats`] (`stats.rs`).
//!
//! A pipeline declared once and run many times (the reusable form of
//! `pipeline!`) is a type implementing [`Declared`] (`declared/`): it keeps
//! its arguments and settings, and its [`Declared::build`] declares step 1
//! afresh for every run.
//!
//! With the `tracing` feature, each task spawned at step 2 runs in a span
//! of its stage, errors and panics are events where the run's stop
//! records them, and step 7 reports each stage's counters as an event
//! (`trace.rs`; the section "Traces" below, present in the docs built with
//! the feature, and the README).
//!
//! # A tour
//!
//! ```
//! use pipeline_core::{ErrorPolicy, Error, Pipeline, StageConfig};
//!
//! // gen -> sq -> sum, with four sq workers that keep input order.
//! let sum = Pipeline::new()
//!     .from_iter("gen", 1..=100u64)
//!     .map(StageConfig::new("sq").workers(4).ordered(), |n| n * n)
//!     .fold(0, |acc, n| acc + n)
//!     .run()?;
//! assert_eq!(sum, 338_350);
//!
//! // Early stop: take the first value and return; nothing is left running.
//! let p = Pipeline::new();
//! let live = p.live_tasks();
//! let first = p.from_iter("gen", 1u64..).map("sq", |n| n * n).first().run()?;
//! assert_eq!((first, live.get()), (Some(1), 0));
//!
//! // First error wins, and names its stage.
//! let err = Pipeline::new()
//!     .from_iter("gen", 0..10u32)
//!     .try_map("check", |n| if n == 3 { Err("three") } else { Ok(n) })
//!     .collect::<Vec<_>>()
//!     .run()
//!     .unwrap_err();
//! assert_eq!(err.stage_name(), Some("check"));
//!
//! // Under the continue policy errors travel as items; none is dropped.
//! let items: Vec<_> = Pipeline::new()
//!     .with_policy(ErrorPolicy::Continue)
//!     .from_iter("gen", 0..10u32)
//!     .try_map(StageConfig::new("check").ordered().workers(3), |n| {
//!         if n % 3 == 0 { Err(format!("{n} is a multiple of 3")) } else { Ok(n) }
//!     })
//!     .iter()
//!     .collect();
//! assert_eq!(items.iter().filter(|r| r.is_err()).count(), 4);
//! assert!(matches!(items[0], Err(Error::Stage { .. })));
//! # Ok::<(), pipeline_core::Error>(())
//! ```
//!
//! # Guarantees
//!
//! 1. A stage closes its output once every worker has finished sending.
//! 2. A stage receives until its input closes or, once cancelled, stops
//!    receiving and lets its senders go.
//! 3. Cancelling closes one shared signal, which wakes every blocked send
//!    and receive of the run.
//! 4. When a run ends, every task it spawned has ended ([`LiveTasks`]).
//! 5. Fail-fast: the first error is the one returned. Continue: errors
//!    travel as items, none is dropped.
//! 6. A panicking stage function cancels the run and becomes
//!    [`Error::Panic`] naming the stage.
//! 7. Items in flight stay below [`Run::in_flight_bound`]. At the
//!    defaults that is, per stage, its buffer plus its width (plus the
//!    window for ordered stages), however items are packed; a stage with
//!    a fixed `batch` adds the packets at the ends of its links (the
//!    formula is in [`StageConfig`]'s docs). Ordered stages keep input order with a
//!    bounded reorder window; `workers = n` means n items in work at once,
//!    driven by the executor, not by the consumer.
//! 8. Stage functions can check [`Cancel::current`] between chunks of long
//!    work, so cancellation takes effect within one chunk.
//! 9. No silent loss: a flow that is built and never reaches the sink that
//!    runs (a branch dropped, or ended by a sink that is not run) makes
//!    `run()` return [`Error::Config`] naming its stage; nothing runs.
//!
//! The sink is a stage: once the run is cancelled or has failed, the sink
//! function (`for_each`, `fold`) is not called again, and
//! [`RunIter`]/[`RunStream`] hand out nothing more but the outcome (they
//! are fused). A sink that has what it asked for (`first`, `take`) has
//! succeeded, whatever the rest of the run does after.
//!
//! A run's deadline ([`Run::deadline`], [`Run::timeout`], or
//! [`Pipeline::with_timeout`] before an `iter()`/`stream()` sink) cancels
//! it through the same signal when it passes; the run then ends with
//! [`Error::Timeout`] unless it had already failed or ended. Its timer is
//! a task of the run (`run/deadline.rs`), stopped when the run ends.
//!
//! A [`Drain`] ([`Run::drain_handle`], [`Pipeline::drain_handle`]) stops
//! a run gracefully: its sources stop at their next packet (they look at
//! the run's sources' signal once a packet, and one waiting for its input
//! is interrupted), the items in flight reach the sink, and the run ends
//! with the sink's value; if they have not within the drain's time, the
//! same task cancels the run, which ends with [`Error::DrainTimeout`]
//! counting the items it dropped (`run/drain.rs`; links, writers, readers
//! and abandoned calls count what they drop once the run has stopped).
//!
//! An item can have a time limit and more than one try.
//! [`StageConfig::item_timeout`] limits each call of an async or blocking
//! stage function: an item past it is the stage's [`ItemTimeout`] error,
//! under the run's policy (an async call is dropped at the limit; a
//! blocking one sees its own [`Cancel::current`] close, is waited for, and
//! its late result is discarded). [`StageConfig::retry`] on a `try_` stage
//! built through [`Flow::retrying`] calls a failed item again, as its
//! [`Retry`] says, after a jittered backoff that a cancel ends at once;
//! [`StageSnapshot::retries`] counts the retries. Stages without either
//! option are built exactly as before and pay nothing for them.
//!
//! ```
//! use std::time::Duration;
//! use pipeline_core::{ItemTimeout, Pipeline, Retry, StageConfig};
//!
//! // Each call gets 20 ms; a call that times out is tried again, twice.
//! let p = Pipeline::new();
//! let stats = p.stats();
//! let err = p
//!     .from_iter("ids", [1u32])
//!     .retrying()
//!     .try_then(
//!         StageConfig::new("fetch")
//!             .item_timeout(Duration::from_millis(20))
//!             .retry(Retry::attempts(3).backoff(Duration::from_millis(1))),
//!         |_id| async {
//!             std::future::pending::<()>().await; // never answers
//!             Ok::<u32, std::io::Error>(0)
//!         },
//!     )
//!     .collect::<Vec<_>>()
//!     .run()
//!     .unwrap_err();
//! assert!(err.downcast_ref::<ItemTimeout>().is_some());
//! assert_eq!(stats.stage("fetch").unwrap().retries, 2);
//! ```
//!
//! Runs nest: a run started inside a stage follows the enclosing run's
//! signal ([`Cancel::follow`], [`Run::within`]), and a blocking
//! [`Run::run`] (or [`RunIter`], or [`block_on`]) inside an inline stage
//! has another thread run the executor's tasks while it blocks, so it
//! never starves the executor. A run's future and [`RunStream`] yield to
//! their caller within a bounded budget of work, so a timer or a
//! `select!` beside them fires on time.
//!
//! # Batching
//!
//! Items cross channels in packets. By default a stage batches
//! adaptively: a result is sent at once when the next stage has nothing
//! queued, when the stage would wait (for input, for room, for an async or
//! blocking function), or when its packet holds [`DEFAULT_BATCH`] items;
//! it joins the packet only while the next stage is busy. A fast stage in
//! front of a busy one thus sends packets of many items (a fraction of the
//! per-item cost of one-item packets), while a slow stage, or one whose
//! consumer keeps up, sends every result at once: a result waits in a
//! packet at most while its stage computes its next result inline. Every
//! item of such a link counts in its buffer, in whatever packet it is
//! (item permits), so batching costs no memory beyond the buffer.
//! [`StageConfig::batch`] fixes the packet size instead (`batch(1)`: one
//! item per packet): a packet goes when full or when the stage would wait
//! for input.

#![cfg_attr(feature = "tracing", doc = include_str!("../../docs/tracing.md"))]
#![warn(missing_docs)]

mod build;
mod cancel;
mod declared;
mod error;
mod executor;
mod link;
mod node;
mod outcome;
mod run;
mod seen;
mod stats;
mod stop;
mod sync;
#[cfg(feature = "tokio")]
mod tokio_ctx;
mod trace;

pub use build::{
    AttemptError, ErrorPolicy, Flow, Pipeline, Retry, Retrying, StageConfig, DEFAULT_BATCH,
    DEFAULT_BUFFER, MAX_BLOCKING_WORKERS, MAX_WORKERS,
};
pub use cancel::Cancel;
pub use declared::{Declared, DeclaredState, Layout, LinkCount, LinkRow, StageRow};
pub use error::{BoxError, Error, ItemTimeout};
pub use executor::{block_on, live_tasks_total, spawn, threads, LiveTasks};
pub use link::item::Item;
pub use node::{AsyncEmitter, Cancelled, Emitter};
pub use run::blocking_pool::unblock;
pub use run::{Drain, Errors, Run, RunIter, RunStream};
pub use stats::{Kind, StageSnapshot, StageStats, Stats};
