//! The sinks of a [`Flow`]: how the last link is consumed, in the sink's
//! task, and the [`Run`] each sink gives (or the [`RunStream`] and
//! [`RunIter`] that make the caller the sink).

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::build::Flow;
use crate::cancel::Cancel;
use crate::link::Reader;
use crate::node::sink_read::{fold_all, take_into, End};
use crate::run::join::Spawned;
use crate::run::{Errors, Run, RunIter, RunStream};
use crate::stats::{Kind, Local, StageStats};
use crate::stop::Stop;

/// A sink's future, boxed.
pub(crate) type SinkFuture<O> = BoxFuture<'static, O>;

/// A sink: consumes the last flow; says what it made and how its reading
/// ended.
pub(crate) type SinkFn<O> = Box<dyn FnOnce(Stop, Local) -> SinkFuture<(O, End)> + Send>;

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
            sink: Box::new(move |stop, stats| Box::pin(f(Reader::new(rx, stop), stats, errors))),
        }
    }

    /// Ends the pipeline: calls `f` on every item, in the sink's task (an
    /// executor task under [`Run::run`], the caller's under
    /// [`Run::run_async`]). Like a stage function, `f` should not block for
    /// long; a consumer that does (a slow pipe) is better served by
    /// [`iter`](Self::iter), which runs on the caller's thread.
    ///
    /// The sink is a stage: once the run is cancelled or has failed, `f`
    /// is not called again, not even for items already received: the sink
    /// looks at the signal between every two calls (while `f` is quick, a
    /// few nanoseconds a call, with one relaxed load in a loop the
    /// compiler keeps tight). An `f` that cancels the run itself, or sees
    /// it cancelled through a [`Cancel`], is never called again either.
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
    /// cancelled or has failed.
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
            self.graph.stop.cancel().follow(&parent);
        }
        let stats = StageStats::new(name.into(), Kind::Sink, 1);
        self.graph.stats.add(stats.clone());
        let stop = self.graph.stop.clone();
        let reader = Reader::new(self.rx, stop.clone());
        let (stats, table) = (Local::new(stats), self.graph.stats.clone());
        match self.graph.start(self.node) {
            Ok((_, tasks)) => RunStream::new(reader, stats, table, stop, tasks, None),
            Err(e) => RunStream::new(reader, stats, table, stop, Spawned::default(), Some(e)),
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
