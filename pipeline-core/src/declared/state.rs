//! What a [`Declared`] pipeline keeps between runs: its arguments, its
//! settings, its error policy and timeout, and the handles of the last run
//! built.

use std::fmt;
use std::time::Duration;

use super::Declared;
use crate::build::ErrorPolicy;
use crate::cancel::Cancel;
use crate::executor::LiveTasks;
use crate::run::Errors;
use crate::stats::Stats;

/// The state of a [`Declared`] pipeline: the constructor's arguments
/// (cloned for each run), every stage's settings, the error policy and
/// timeout of the next run, and the stats, live-task counter, cancel signal and errors of
/// the last run built.
///
/// A declared type holds one and hands it to the trait's provided methods
/// through [`Declared::state`] and [`Declared::state_mut`]; its contents
/// are read and changed through those methods.
pub struct DeclaredState<D: Declared> {
    pub(crate) args: D::Args,
    pub(crate) config: D::Config,
    pub(crate) policy: ErrorPolicy,
    pub(crate) timeout: Option<Duration>,
    pub(crate) stats: Stats,
    pub(crate) live: LiveTasks,
    pub(crate) cancel: Cancel,
    pub(crate) errors: Errors,
}

impl<D: Declared> DeclaredState<D> {
    /// The state before the first run: `args` kept for every run, each
    /// stage's settings in `config`, runs under `policy`; the last run's
    /// handles are empty (no stats, no live tasks, a fresh signal).
    pub fn new(args: D::Args, config: D::Config, policy: ErrorPolicy) -> Self {
        DeclaredState {
            args,
            config,
            policy,
            timeout: None,
            stats: Stats::default(),
            live: LiveTasks::default(),
            cancel: Cancel::default(),
            errors: Errors::default(),
        }
    }
}

impl<D: Declared> Clone for DeclaredState<D> {
    /// A copy with the same arguments, settings and policy that shares the
    /// last run's handles with the original (until either builds a run).
    fn clone(&self) -> Self {
        DeclaredState {
            args: self.args.clone(),
            config: self.config.clone(),
            policy: self.policy,
            timeout: self.timeout,
            stats: self.stats.clone(),
            live: self.live.clone(),
            cancel: self.cancel.clone(),
            errors: self.errors.clone(),
        }
    }
}

/// Shows the pipeline's name, its settings, its policy and its timeout:
/// `Squares { config: SquaresConfig { .. }, policy: FailFast, timeout: None, .. }`.
impl<D: Declared> fmt::Debug for DeclaredState<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(D::NAME)
            .field("config", &self.config)
            .field("policy", &self.policy)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
