//! How a run ends: the sinks of a [`Flow`], and the [`Run`] they give.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;

use crate::cancel::Cancel;
use crate::channel::Reader;
use crate::error::{panic_message, Error};
use crate::executor::{block_on, spawn, LiveTasks};
use crate::flow::Flow;
use crate::pipeline::{Errors, Graph};
use crate::sink::{join_all, outcome, RunIter, RunStream, SinkFuture};
use crate::sink_read::{fold_all, take_into, End};
use crate::stats::{Kind, Local, StageStats, Stats};

impl<T: Send + 'static> Flow<T> {
    fn sink<O, F, Fut>(self, f: F) -> Run<O>
    where
        O: Send + 'static,
        F: FnOnce(Reader<T>, Local, Errors) -> Fut + Send + 'static,
        Fut: Future<Output = (O, End)> + Send + 'static,
    {
        let held = self.held_in();
        let rx = self.rx;
        let errors = self.graph.errors.clone();
        Run {
            graph: self.graph,
            input: self.node,
            name: "sink".into(),
            held,
            sink: Box::new(move |cancel, stats| {
                Box::pin(f(Reader::new(rx, cancel), stats, errors))
            }),
        }
    }

    /// Ends the pipeline: calls `f` on every item, in the sink's task (an
    /// executor task under [`Run::run`], the caller's under
    /// [`Run::run_async`]). Like a stage function, `f` should not block for
    /// long; a consumer that does (a slow pipe) is better served by
    /// [`iter`](Self::iter), which runs on the caller's thread.
    ///
    /// The sink is a stage: once the run is cancelled or has failed, `f`
    /// is not called again, not even for items already received. The sink
    /// looks at the signal before every call, except while `f` is quick
    /// (a few nanoseconds a call) and fed long batches: then it looks once
    /// every 64 calls, so a cancel made on another thread may be followed
    /// by at most 63 quick calls. An `f` that cancels the run itself, or
    /// sees it cancelled through a [`Cancel`](crate::Cancel), is never
    /// called again.
    pub fn for_each<F>(self, mut f: F) -> Run<()>
    where
        F: FnMut(T) + Send + 'static,
    {
        self.sink(move |mut r, mut stats, errors| async move {
            fold_all(&mut r, &mut stats, (), |(), m| match m {
                Ok(t) => f(t),
                Err(e) => errors.push(e),
            })
            .await
        })
    }

    /// Ends the pipeline: folds every item into an accumulator. As with
    /// [`for_each`](Self::for_each), `f` is not called once the run is
    /// cancelled or has failed (a quick `f` fed long batches: within 64
    /// calls of a cancel made elsewhere, and never after one it made or
    /// saw).
    pub fn fold<A, F>(self, init: A, mut f: F) -> Run<A>
    where
        A: Send + 'static,
        F: FnMut(A, T) -> A + Send + 'static,
    {
        self.sink(move |mut r, mut stats, errors| async move {
            fold_all(&mut r, &mut stats, init, |acc, m| match m {
                Ok(t) => f(acc, t),
                Err(e) => {
                    errors.push(e);
                    acc
                }
            })
            .await
        })
    }

    /// Ends the pipeline: collects every item.
    pub fn collect<C>(self) -> Run<C>
    where
        C: Default + Extend<T> + Send + 'static,
    {
        self.fold(C::default(), |mut c, t| {
            c.extend(std::iter::once(t));
            c
        })
    }

    /// Ends the pipeline after the first item: the rest of the run is
    /// cancelled and every task ends (the article's early stop). Once the
    /// sink has its item the run has succeeded: an error that a stage
    /// raises after that item was sent is not the run's (see
    /// [`take`](Self::take)).
    pub fn first(self) -> Run<Option<T>> {
        self.sink(move |mut r, mut stats, errors| async move {
            let mut v = Vec::with_capacity(1);
            let end = take_into(&mut r, &mut stats, 1, &mut v, |e| errors.push(e)).await;
            (v.pop(), end)
        })
    }

    /// Ends the pipeline after `n` items, cancelling the rest of the run.
    ///
    /// Once the sink has its `n` items the run has succeeded, as
    /// `Iterator::take` never looks at item `n + 1`: a later error (one
    /// raised by an item after those `n`, even before the sink read them
    /// all, if they were sent to it before) is not the run's error.
    ///
    /// ```
    /// use pipeline_core::{Pipeline, StageConfig};
    /// let v = Pipeline::new().from_iter("gen", 0u64..)
    ///     .map(StageConfig::new("sq").ordered().workers(2), |n| n * n)
    ///     .take(3).run().unwrap();
    /// assert_eq!(v, [0, 1, 4]);
    /// ```
    pub fn take(self, n: usize) -> Run<Vec<T>> {
        self.sink(move |mut r, mut stats, errors| async move {
            let mut v = Vec::with_capacity(n.min(1024));
            let end = take_into(&mut r, &mut stats, n, &mut v, |e| errors.push(e)).await;
            (v, end)
        })
    }

    /// Starts the run and hands its output to the caller as a [`RunStream`].
    ///
    /// ```
    /// use futures::StreamExt;
    /// use pipeline_core::Pipeline;
    /// let v: Vec<u32> = smol::block_on(
    ///     Pipeline::new().from_iter("gen", 0..3u32).stream().map(Result::unwrap).collect(),
    /// );
    /// assert_eq!(v, [0, 1, 2]);
    /// ```
    pub fn stream(self) -> RunStream<T> {
        self.named_stream("sink")
    }

    /// [`stream`](Self::stream) with the sink's row in the stats named
    /// `name` (what `pipeline!` uses for a `sink stream()` stage).
    pub fn named_stream(self, name: impl Into<Arc<str>>) -> RunStream<T> {
        // Inside a stage, the run follows the enclosing run's signal.
        if let Some(parent) = Cancel::current() {
            self.graph.cancel.follow(&parent);
        }
        let stats = StageStats::new(name.into(), Kind::Sink, 1);
        self.graph.stats.add(stats.clone());
        let cancel = self.graph.cancel.clone();
        let reader = Reader::new(self.rx, cancel.clone());
        match self.graph.start(self.node) {
            Ok((_, tasks)) => RunStream::new(reader, Local::new(stats), cancel, tasks, None),
            Err(e) => RunStream::new(reader, Local::new(stats), cancel, Vec::new(), Some(e)),
        }
    }

    /// Starts the run and hands its output to the caller as a blocking
    /// [`RunIter`].
    ///
    /// ```
    /// use pipeline_core::Pipeline;
    ///
    /// let p = Pipeline::new();
    /// let live = p.live_tasks();
    /// let mut it = p.from_iter("gen", 1u64..).map("sq", |n| n * n).iter();
    /// assert_eq!(it.next().unwrap().unwrap(), 1);
    /// drop(it); // cancels the run and waits for its tasks
    /// assert_eq!(live.get(), 0);
    /// ```
    pub fn iter(self) -> RunIter<T> {
        RunIter::new(self.stream())
    }

    /// [`iter`](Self::iter) with the sink's row in the stats named `name`
    /// (what `pipeline!` uses for a `sink iter()` stage).
    pub fn named_iter(self, name: impl Into<Arc<str>>) -> RunIter<T> {
        RunIter::new(self.named_stream(name))
    }
}

/// A sink: consumes the last flow; says what it made and how its reading
/// ended.
type SinkFn<O> = Box<dyn FnOnce(Cancel, Local) -> SinkFuture<(O, End)> + Send>;

/// A declared pipeline, ended by a sink, ready to run once.
#[must_use = "a Run does nothing until .run() or .run_async()"]
pub struct Run<O> {
    graph: Arc<Graph>,
    /// The node the sink reads.
    input: usize,
    name: Arc<str>,
    held: usize,
    sink: SinkFn<O>,
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
        self.graph.cancel.follow(parent);
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
    /// [`Error::Cancelled`] if cancelled from outside, [`Error::Config`] if a
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
        block_on(spawn(self.run_async()))
    }

    /// Follows the signal of the run whose stage calls this, if any.
    fn follow_current(&self) {
        if let Some(parent) = Cancel::current() {
            self.graph.cancel.follow(&parent);
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
        let dropped = CancelOnDrop(Some(ctx.cancel.clone()));
        let fut = (self.sink)(ctx.cancel.clone(), Local::new(stats));
        let out = crate::cancel::WithCancel {
            cancel: ctx.cancel.clone(),
            fut: Box::pin(AssertUnwindSafe(fut).catch_unwind()),
        }
        .await;
        let out = match out {
            Ok((out, end)) => {
                if end != End::Exhausted {
                    // The sink left early: release every stage still
                    // running. Errors they raise from now on are echoes.
                    ctx.cancel.finish();
                }
                Some((out, end))
            }
            Err(p) => {
                ctx.cancel.fail(Error::Panic {
                    stage: self.name.clone(),
                    message: panic_message(&*p),
                });
                None
            }
        };
        // Every sender is gone or released: wait for every task. A task that
        // fails while it ends (a panic unwinding past its sender) is still
        // heard, since nothing was marked finished.
        join_all(tasks).await;
        dropped.disarm();
        ctx.cancel.forget_channels();
        match out {
            // The sink had what it asked for: the run has succeeded.
            Some((out, End::Satisfied)) => Ok(out),
            out => {
                outcome(&ctx.cancel)?;
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
        self.graph.cancel.clone()
    }

    /// Errors that reach this run's sink as items under
    /// [`ErrorPolicy::Continue`](crate::ErrorPolicy::Continue) (see [`Pipeline::errors`](crate::Pipeline::errors)).
    pub fn errors(&self) -> Errors {
        self.graph.errors.clone()
    }
}

/// Cancels a run whose future is dropped before it ends (the signal tells
/// blocking stage functions and sources to stop; the tasks themselves end
/// as their handles are dropped).
struct CancelOnDrop(Option<Cancel>);

impl CancelOnDrop {
    /// The run ended: nothing to cancel.
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(cancel) = self.0.take() {
            cancel.finish();
        }
    }
}
