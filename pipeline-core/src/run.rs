//! How a run ends: the sinks of a [`Flow`], and the [`Run`] they give.

use std::future::Future;
use std::ops::ControlFlow;
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
use crate::stats::{Kind, Local, StageStats, Stats};

impl<T: Send + 'static> Flow<T> {
    fn sink<O, F, Fut>(self, f: F) -> Run<O>
    where
        O: Send + 'static,
        F: FnOnce(Reader<T>, Local, Errors) -> Fut + Send + 'static,
        Fut: Future<Output = (O, bool)> + Send + 'static,
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
    pub fn for_each<F>(self, mut f: F) -> Run<()>
    where
        F: FnMut(T) + Send + 'static,
    {
        self.sink(move |mut r, mut stats, errors| async move {
            r.fold(&mut stats, (), |(), m| {
                match m {
                    Ok(t) => f(t),
                    Err(e) => errors.push(e),
                }
                ControlFlow::Continue(())
            })
            .await;
            ((), r.exhausted())
        })
    }

    /// Ends the pipeline: folds every item into an accumulator.
    pub fn fold<A, F>(self, init: A, mut f: F) -> Run<A>
    where
        A: Send + 'static,
        F: FnMut(A, T) -> A + Send + 'static,
    {
        self.sink(move |mut r, mut stats, errors| async move {
            let (acc, _) = r
                .fold(&mut stats, init, |acc, m| match m {
                    Ok(t) => ControlFlow::Continue(f(acc, t)),
                    Err(e) => {
                        errors.push(e);
                        ControlFlow::Continue(acc)
                    }
                })
                .await;
            (acc, r.exhausted())
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
    /// cancelled and every task ends (the article's early stop).
    pub fn first(self) -> Run<Option<T>> {
        self.sink(move |mut r, mut stats, errors| async move {
            while let Some(m) = r.next(&mut stats).await {
                match m {
                    Ok(t) => return (Some(t), false),
                    Err(e) => errors.push(e),
                }
            }
            (None, r.exhausted())
        })
    }

    /// Ends the pipeline after `n` items, cancelling the rest of the run.
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
            while v.len() < n {
                match r.next(&mut stats).await {
                    Some(Ok(t)) => v.push(t),
                    Some(Err(e)) => errors.push(e),
                    None => break,
                }
            }
            let exhausted = r.exhausted();
            (v, exhausted)
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

/// A sink: consumes the last flow; says what it made and whether its input
/// was exhausted (rather than left early).
type SinkFn<O> = Box<dyn FnOnce(Cancel, Local) -> SinkFuture<(O, bool)> + Send>;

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
}

impl<O: Send + 'static> Run<O> {
    /// Runs the pipeline to the end: the stages and the sink run as tasks
    /// on the executor's threads while the calling thread sleeps (so a
    /// busy pipeline has as many threads as cores, not one more).
    ///
    /// # Errors
    /// The run's first error ([`Error::Stage`], [`Error::Panic`]),
    /// [`Error::Cancelled`] if cancelled from outside, [`Error::Config`] if a
    /// setting is invalid (then nothing ran). Every task of the run has ended
    /// when this returns, whatever it returns.
    pub fn run(self) -> Result<O, Error> {
        // The sink runs as a task of the executor, like every stage, and
        // the calling thread sleeps until the run is over. Run on the
        // calling thread, it would make one thread more than the executor
        // has cores for: on a busy pipeline three threads then take turns
        // on two cores, and a run can take several times as long.
        block_on(spawn(self.run_async()))
    }

    /// Runs the pipeline inside async code; see [`run`](Self::run).
    pub async fn run_async(self) -> Result<O, Error> {
        let stats = StageStats::new(self.name.clone(), Kind::Sink, 1);
        self.graph.stats.add(stats.clone());
        let (ctx, tasks) = self.graph.start(self.input)?;
        let fut = (self.sink)(ctx.cancel.clone(), Local::new(stats));
        let out = crate::cancel::WithCancel {
            cancel: ctx.cancel.clone(),
            fut: Box::pin(AssertUnwindSafe(fut).catch_unwind()),
        }
        .await;
        let out = match out {
            Ok((out, exhausted)) => {
                if !exhausted {
                    // The sink left early: release every stage still
                    // running. Errors they raise from now on are echoes.
                    ctx.cancel.finish();
                }
                Some(out)
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
        ctx.cancel.forget_channels();
        outcome(&ctx.cancel)?;
        Ok(out.expect("a sink panic is recorded as the run's error"))
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
