//! Declared pipelines: a named type that keeps its arguments and its
//! per-stage settings, and declares the graph afresh for every run. The
//! reusable form of `pipeline!` writes the data of such a type (its
//! config struct, its stage table, the graph's builder calls) and one
//! `impl Declared`; every method a user calls is written once, here.

mod layout;
mod state;

use std::future::Future;
use std::time::Duration;

use crate::build::{ErrorPolicy, Pipeline, StageConfig};
use crate::cancel::Cancel;
use crate::error::Error;
use crate::executor::LiveTasks;
use crate::run::{Errors, Run};
use crate::stats::Stats;

pub use layout::{Layout, LinkCount, LinkRow, StageRow};
pub use state::DeclaredState;

/// A pipeline type that keeps its arguments and each stage's settings,
/// and declares a fresh run of its graph on every [`build`](Self::build).
///
/// The reusable form of `pipeline!` (`pub Name(args) -> Output { ... }`)
/// implements it; bring it into scope (`use pipeline::Declared;`, or
/// `use pipeline::prelude::*;`) to call the methods on the type. The
/// required items are the declaration's data; the provided methods are
/// the API: settings by name ([`stage_mut`](Self::stage_mut)), the
/// policy, [`run`](Self::run), the last run's [`stats`](Self::stats), and
/// the graph ([`to_mermaid`](Self::to_mermaid)). Generic code over
/// `D: Declared` works for every declared pipeline.
///
/// The trait is not object safe (it has associated constants and
/// types); write generic functions over it.
///
/// # Written by hand
///
/// What the macro writes for
/// `Squares(n: u64, jobs: usize) -> Vec<u64> { gen: source 1..=n; sq: map |x: u64| x * x [workers = jobs, ordered]; out: sink collect(); }`,
/// give or take its docs:
///
/// ```
/// use pipeline_core::{
///     Declared, DeclaredState, ErrorPolicy, Layout, LinkCount, LinkRow, Pipeline, Run,
///     StageConfig, StageRow,
/// };
///
/// #[derive(Clone)]
/// struct Squares {
///     state: DeclaredState<Squares>,
/// }
///
/// #[derive(Debug, Clone, PartialEq, Eq)]
/// struct SquaresConfig {
///     gen: StageConfig,
///     sq: StageConfig,
/// }
///
/// impl Squares {
///     fn new(n: u64, jobs: usize) -> Self {
///         let config = SquaresConfig {
///             gen: StageConfig::new("gen"),
///             sq: StageConfig::new("sq").workers(jobs).ordered(),
///         };
///         let state = DeclaredState::new((n, jobs), config, ErrorPolicy::FailFast);
///         Squares { state }
///     }
/// }
///
/// impl Declared for Squares {
///     type Args = (u64, usize);
///     type Config = SquaresConfig;
///     type Built = Run<Vec<u64>>;
///     const NAME: &'static str = "Squares";
///     const STAGES: &'static [&'static str] = &["gen", "sq"];
///     const LAYOUT: Layout = Layout::new(
///         &[
///             StageRow::new("gen", "source"),
///             StageRow::new("sq", "map"),
///             StageRow::new("out", "sink"),
///         ],
///         &[
///             LinkRow::new(0, 1, LinkCount::Received),
///             LinkRow::new(1, 2, LinkCount::Received),
///         ],
///     );
///
///     fn state(&self) -> &DeclaredState<Self> {
///         &self.state
///     }
///     fn state_mut(&mut self) -> &mut DeclaredState<Self> {
///         &mut self.state
///     }
///     fn stage_in<'a>(config: &'a SquaresConfig, name: &str) -> Option<&'a StageConfig> {
///         match name {
///             "gen" => Some(&config.gen),
///             "sq" => Some(&config.sq),
///             _ => None,
///         }
///     }
///     fn stage_in_mut<'a>(config: &'a mut SquaresConfig, name: &str) -> Option<&'a mut StageConfig> {
///         match name {
///             "gen" => Some(&mut config.gen),
///             "sq" => Some(&mut config.sq),
///             _ => None,
///         }
///     }
///     fn declare(p: Pipeline, (n, _jobs): (u64, usize), config: &SquaresConfig) -> Run<Vec<u64>> {
///         p.from_iter(config.gen.clone(), 1..=n)
///             .map(config.sq.clone(), |x: u64| x * x)
///             .collect::<Vec<u64>>()
///             .name("out")
///     }
/// }
///
/// let mut squares = Squares::new(4, 2);
/// assert_eq!(squares.run()?, [1, 4, 9, 16]);
/// squares.stage_mut("sq").map(|c| c.workers = 3);
/// assert!(squares.stage_mut("nope").is_none());
/// squares.run()?;
/// assert_eq!(squares.stats().stage("sq").map(|s| s.width), Some(3));
/// assert!(squares.to_mermaid().contains("n1[\"sq: map, 3 workers\"]"));
///
/// // Every run from now on ends within a minute, or with `Error::Timeout`.
/// let mut squares = squares.with_timeout(std::time::Duration::from_secs(60));
/// assert_eq!(squares.run()?, [1, 4, 9, 16]);
/// assert_eq!(squares.live_tasks().get(), 0);
/// # Ok::<(), pipeline_core::Error>(())
/// ```
pub trait Declared: Sized {
    /// The constructor's arguments, a tuple in declaration order; each run
    /// gets a clone.
    type Args: Clone;
    /// The settings of every stage but the sink: `NameConfig`, one public
    /// [`StageConfig`] field per stage.
    type Config: Clone + std::fmt::Debug;
    /// What [`build`](Self::build) gives: a [`Run`] of the declared output,
    /// or for a `stream()` / `iter()` sink the started
    /// [`RunStream`](crate::RunStream) / [`RunIter`](crate::RunIter).
    type Built;

    /// The type's name, as declared (its `Debug` output starts with it).
    const NAME: &'static str;
    /// The names of the stages that have settings (every stage but the
    /// sink), sources first.
    const STAGES: &'static [&'static str];
    /// Every stage and link, as declared.
    const LAYOUT: Layout;

    /// The arguments, settings and last run of this pipeline.
    fn state(&self) -> &DeclaredState<Self>;
    /// The arguments, settings and last run of this pipeline, to change.
    fn state_mut(&mut self) -> &mut DeclaredState<Self>;
    /// The settings of the stage called `name` in `config` (`None` for the
    /// sink and for names not in this pipeline).
    fn stage_in<'a>(config: &'a Self::Config, name: &str) -> Option<&'a StageConfig>;
    /// The settings of the stage called `name` in `config`, to change.
    fn stage_in_mut<'a>(config: &'a mut Self::Config, name: &str) -> Option<&'a mut StageConfig>;
    /// Declares the graph on `pipeline`, each stage with its settings from
    /// `config`; a `stream()` or `iter()` sink starts the run here. Called
    /// by [`build`](Self::build), which also keeps the run's handles.
    fn declare(pipeline: Pipeline, args: Self::Args, config: &Self::Config) -> Self::Built;

    /// The settings of every stage.
    fn config(&self) -> &Self::Config {
        &self.state().config
    }

    /// The settings of every stage, to change before a run.
    fn config_mut(&mut self) -> &mut Self::Config {
        &mut self.state_mut().config
    }

    /// The settings of the stage called `name` (`None` for the sink and
    /// for names not in this pipeline).
    fn stage(&self, name: &str) -> Option<&StageConfig> {
        Self::stage_in(self.config(), name)
    }

    /// The settings of the stage called `name`, to change before a run:
    /// `p.stage_mut("digest").map(|c| c.workers = 8)`. `None` for the sink
    /// and for names not in this pipeline.
    fn stage_mut(&mut self, name: &str) -> Option<&mut StageConfig> {
        Self::stage_in_mut(self.config_mut(), name)
    }

    /// The error policy of the next run.
    fn policy(&self) -> ErrorPolicy {
        self.state().policy
    }

    /// Sets the error policy of the next runs.
    fn set_policy(&mut self, policy: ErrorPolicy) {
        self.state_mut().policy = policy;
    }

    /// Sets the error policy of the runs (builder style).
    fn with_policy(mut self, policy: ErrorPolicy) -> Self {
        self.set_policy(policy);
        self
    }

    /// How long each run may take at most, if limited (see
    /// [`Run::timeout`]).
    fn timeout(&self) -> Option<Duration> {
        self.state().timeout
    }

    /// Limits each of the next runs to `timeout` from its start (`None`:
    /// no limit). A run still going then is cancelled and ends with
    /// [`Error::Timeout`]; see [`Run::timeout`]. Applies to every sink,
    /// `stream()` and `iter()` too.
    fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.state_mut().timeout = timeout;
    }

    /// Limits each run to `timeout` from its start (builder style); see
    /// [`set_timeout`](Self::set_timeout).
    fn with_timeout(mut self, timeout: Duration) -> Self {
        self.set_timeout(Some(timeout));
        self
    }

    /// Declares one run with the current settings and a fresh clone of
    /// every argument, and returns it without running it: take its
    /// `live_tasks()` or `cancel_signal()` first, then run it. A
    /// `stream()` or `iter()` sink starts the run here. From now on
    /// [`stats`](Self::stats), [`live_tasks`](Self::live_tasks),
    /// [`cancel_signal`](Self::cancel_signal) and [`errors`](Self::errors)
    /// are those of this run.
    fn build(&mut self) -> Self::Built {
        let state = self.state_mut();
        let mut pipeline = Pipeline::new().with_policy(state.policy);
        if let Some(timeout) = state.timeout {
            pipeline = pipeline.with_timeout(timeout);
        }
        state.stats = pipeline.stats();
        state.live = pipeline.live_tasks();
        state.cancel = pipeline.cancel_signal();
        state.errors = pipeline.errors();
        Self::declare(pipeline, state.args.clone(), &state.config)
    }

    /// Runs the pipeline once with the current settings (for a sink that
    /// gives a [`Run`]: not `stream()` or `iter()`, which start on
    /// [`build`](Self::build)).
    ///
    /// # Errors
    /// The run's first error (a stage's error or panic, naming the stage),
    /// [`Error::Cancelled`] if cancelled from outside (through
    /// [`cancel_signal`](Self::cancel_signal) of this run, or an enclosing
    /// run), [`Error::Timeout`] if its [`timeout`](Self::with_timeout)
    /// passed, or [`Error::Config`] for a width, buffer, window or batch of
    /// 0. Every task of the run has ended when this returns.
    fn run<T>(&mut self) -> Result<T, Error>
    where
        Self: Declared<Built = Run<T>>,
        T: Send + 'static,
    {
        self.build().run()
    }

    /// Declares a run now and returns the future that runs it, for async
    /// code; see [`run`](Self::run). The future does not borrow `self`;
    /// dropping it cancels the run.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    fn run_async<T>(&mut self) -> impl Future<Output = Result<T, Error>> + Send + 'static
    where
        Self: Declared<Built = Run<T>>,
        T: Send + 'static,
    {
        self.build().run_async()
    }

    /// The per-stage counters of the last run built (empty before the
    /// first).
    fn stats(&self) -> Stats {
        self.state().stats.clone()
    }

    /// The live-task counter of the last run built: 0 once it has ended.
    fn live_tasks(&self) -> LiveTasks {
        self.state().live.clone()
    }

    /// The close-to-cancel signal of the last run built; cancelling it
    /// stops that run, which then ends with [`Error::Cancelled`].
    fn cancel_signal(&self) -> Cancel {
        self.state().cancel.clone()
    }

    /// Errors that reached the sink of the last run built as items under
    /// [`ErrorPolicy::Continue`].
    fn errors(&self) -> Errors {
        self.state().errors.clone()
    }

    /// The declared graph as a Mermaid flowchart; each link shows how many
    /// items crossed it in the last run (when that is known), each stage
    /// its width.
    fn to_mermaid(&self) -> String {
        layout::mermaid(self)
    }

    /// The declared graph in Graphviz DOT; each link is labelled with how
    /// many items crossed it in the last run (when that is known).
    fn to_dot(&self) -> String {
        layout::dot(self)
    }
}
