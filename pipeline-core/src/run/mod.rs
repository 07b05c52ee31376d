//! The run layer: a [`Run`] starts the tasks of a declared graph
//! ([`start`]), drives its sink, joins every task ([`join`]) and reports
//! the outcome; [`RunStream`] and [`RunIter`] hand the items to the
//! caller instead. Every task gets a [`RunCtx`](ctx::RunCtx).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;

use crate::build::Graph;
use crate::cancel::{Cancel, WithCancel};
use crate::error::Error;
use crate::executor::{block_on, spawn, LiveTasks};
use crate::node::sink::SinkFn;
use crate::node::sink_read::End;
use crate::stats::{Kind, Local, StageStats, Stats};
use crate::trace::Worker;

pub(crate) mod blocking_pool;
pub(crate) mod ctx;
pub(crate) mod deadline;
pub(crate) mod drain;
pub(crate) mod errors;
pub(crate) mod iter;
pub(crate) mod join;
pub(crate) mod pool;
pub(crate) mod start;
pub(crate) mod stream;

pub use drain::Drain;
pub use errors::Errors;
pub use iter::RunIter;
pub use stream::RunStream;

use join::CancelOnDrop;

/// A declared pipeline, ended by a sink, ready to run once.
#[must_use = "a Run does nothing until .run() or .run_async()"]
pub struct Run<O> {
    pub(crate) graph: Arc<Graph>,
    /// The node the sink reads.
    pub(crate) input: usize,
    pub(crate) name: Arc<str>,
    pub(crate) held: usize,
    pub(crate) sink: SinkFn<O>,
}

// Without bounds, so that a sink whose output is not `Send` is reported
// once, at the sink, and not again at its name.
impl<O> Run<O> {
    /// Names the sink (its row in the stats, its panics).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Makes the run follow `parent`: cancelling `parent` (or its run
    /// failing or finishing) cancels this run, which then returns
    /// [`Error::Cancelled`]. A run started inside a stage of another run
    /// follows that run's signal ([`Cancel::current`]) without this.
    pub fn within(self, parent: &Cancel) -> Self {
        self.graph.stop.cancel().follow(parent);
        self
    }

    /// Ends the run at `deadline` at the latest: when it passes, the run
    /// is cancelled through its signal, as by [`Cancel::cancel`] (every
    /// stage stops, the sink is not called again, and every task ends),
    /// and [`run`](Run::run) returns [`Error::Timeout`]. A run that fails
    /// first returns its error; one that ends first is not affected, and
    /// its timer ends with it. Set more than once (or with
    /// [`timeout`](Self::timeout)), the earliest deadline applies.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use pipeline_core::{Error, Pipeline};
    ///
    /// let p = Pipeline::new();
    /// let live = p.live_tasks();
    /// let err = p
    ///     .from_iter("gen", 0u64..) // never ends by itself
    ///     .for_each(|_| {})
    ///     .deadline(Instant::now() + Duration::from_millis(50))
    ///     .run()
    ///     .unwrap_err();
    /// assert!(matches!(err, Error::Timeout { .. }));
    /// assert_eq!(live.get(), 0);
    /// ```
    pub fn deadline(self, deadline: Instant) -> Self {
        self.graph.plan().deadline.at(deadline);
        self
    }

    /// Ends the run `timeout` after it starts (when [`run`](Run::run) or
    /// [`run_async`](Run::run_async) is called) at the latest; see
    /// [`deadline`](Self::deadline).
    ///
    /// ```
    /// use std::time::Duration;
    /// use pipeline_core::Pipeline;
    ///
    /// let err = Pipeline::new()
    ///     .from_iter("gen", 0u64..)
    ///     .for_each(|_| {})
    ///     .timeout(Duration::from_millis(100))
    ///     .run()
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), "the run's deadline passed after 100ms");
    ///
    /// // A run that ends in time is not affected.
    /// let sum = Pipeline::new()
    ///     .from_iter("gen", 1..=10u32)
    ///     .fold(0, |a, n| a + n)
    ///     .timeout(Duration::from_secs(60))
    ///     .run()?;
    /// assert_eq!(sum, 55);
    /// # Ok::<(), pipeline_core::Error>(())
    /// ```
    pub fn timeout(self, timeout: Duration) -> Self {
        self.graph.plan().deadline.after(timeout);
        self
    }
}

impl<O: Send + 'static> Run<O> {
    /// Runs the pipeline to the end: the stages and the sink run as tasks
    /// on the executor's threads while the calling thread sleeps (so a
    /// busy pipeline has as many threads as cores, not one more).
    ///
    /// Runs nest: called inside a stage function, the run follows the
    /// enclosing run's signal (cancelling that run cancels this one), and
    /// called on one of the executor's threads (an inline stage), it has
    /// another thread run the executor's tasks while it blocks, so that
    /// runs nested in every worker of a stage do not starve the executor.
    ///
    /// # Errors
    /// The run's first error ([`Error::Stage`], [`Error::Panic`]),
    /// [`Error::Cancelled`] if cancelled from outside, [`Error::Timeout`] if
    /// its [`deadline`](Self::deadline) passed, [`Error::DrainTimeout`] if
    /// it was drained ([`drain_handle`](Self::drain_handle)) and the items
    /// in flight did not reach the sink in time, [`Error::Config`] if a
    /// setting is invalid (then nothing ran). Every task of the run has ended
    /// when this returns, whatever it returns.
    pub fn run(self) -> Result<O, Error> {
        // Here, not in `run_async`, which is polled first on an executor
        // thread, outside the stage this may be called from.
        self.follow_current();
        // The sink runs as a task of the executor, like every stage, and
        // the calling thread sleeps until the run is over. Run on the
        // calling thread, it would make one thread more than the executor
        // has cores for: on a busy pipeline three threads then take turns
        // on two cores, and a run can take several times as long.
        // Every task of the run reports to this thread's subscriber.
        block_on(spawn(crate::trace::with_current(self.run_async())))
    }

    /// Follows the signal of the run whose stage calls this, if any.
    fn follow_current(&self) {
        if let Some(parent) = Cancel::current() {
            self.graph.stop.cancel().follow(&parent);
        }
    }

    /// Runs the pipeline inside async code; see [`run`](Self::run).
    ///
    /// The future yields to its caller within a bounded budget of work
    /// (a few thousand items, or a millisecond), so a timer or a
    /// `select!` beside it is polled on time even while items never stop
    /// coming. Dropping the future cancels the run; its tasks then end on
    /// their own.
    pub async fn run_async(self) -> Result<O, Error> {
        self.follow_current();
        let stats = StageStats::new(self.name.clone(), Kind::Sink, 1);
        self.graph.stats.add(stats.clone());
        let (ctx, tasks) = self.graph.start(self.input)?;
        let dropped = CancelOnDrop(Some(ctx.stop.clone()));
        let sink = Worker {
            stage: &self.name,
            role: "sink",
            width: 1,
            index: 0,
        };
        let fut = crate::trace::instrument(sink, (self.sink)(ctx.stop.clone(), Local::new(stats)));
        let out = WithCancel {
            cancel: ctx.cancel().clone(),
            fut: Box::pin(AssertUnwindSafe(fut).catch_unwind()),
        }
        .await;
        let out = match out {
            Ok((out, end)) => {
                if end != End::Exhausted {
                    // The sink left early: release every stage still
                    // running. Errors they raise from now on are echoes.
                    ctx.stop.finish();
                }
                Some((out, end))
            }
            Err(p) => {
                ctx.stop.fail_panicked(self.name.clone(), p);
                None
            }
        };
        // Every sender is gone or released: wait for every task. A task that
        // fails while it ends (a panic unwinding past its sender) is still
        // heard, since nothing was marked finished.
        tasks.join().await;
        dropped.disarm();
        ctx.stop.forget_closers();
        crate::trace::publish(&self.graph.stats);
        match out {
            // The sink had what it asked for: the run has succeeded.
            Some((out, End::Satisfied)) => Ok(out),
            out => {
                ctx.stop.outcome()?;
                Ok(out.expect("a sink panic is recorded as the run's error").0)
            }
        }
    }

    /// The most items that can be in flight at once in this run: between
    /// leaving a source and being consumed by the sink. Holds for stages that
    /// emit at most one item per input (not `flat_map`).
    pub fn in_flight_bound(&self) -> usize {
        self.graph.plan().bound.saturating_add(self.held)
    }

    /// The run's per-stage counters.
    pub fn stats(&self) -> Stats {
        self.graph.stats.clone()
    }

    /// The run's live-task counter.
    pub fn live_tasks(&self) -> LiveTasks {
        self.graph.live.clone()
    }

    /// The run's close-to-cancel signal.
    pub fn cancel_signal(&self) -> Cancel {
        self.graph.stop.cancel().clone()
    }

    /// A handle that drains this run gracefully: its sources stop, the
    /// items in flight reach the sink within the time given, or the run
    /// is cancelled and ends with [`Error::DrainTimeout`]; see [`Drain`].
    pub fn drain_handle(&self) -> Drain {
        self.graph.drain_handle()
    }

    /// Errors that reach this run's sink as items under
    /// [`ErrorPolicy::Continue`](crate::ErrorPolicy::Continue) (see [`Pipeline::errors`](crate::Pipeline::errors)).
    pub fn errors(&self) -> Errors {
        self.graph.errors.clone()
    }
}
