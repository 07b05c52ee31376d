//! Which settings can run, and which a node can honour: checked as each
//! node is declared, and refused with [`Error::Config`](crate::Error::Config)
//! naming the node when the run starts, so that no setting is ever
//! silently ignored.

use std::time::Duration;

use crate::build::retry::Retry;
use crate::build::{StageConfig, MAX_BLOCKING_WORKERS, MAX_WORKERS};

impl StageConfig {
    /// Whether every value is one a node can run with; if not, what is
    /// wrong with each.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let mut bad = Vec::new();
        if self.workers == 0 {
            bad.push("workers must be at least 1".to_string());
        }
        if self.workers > MAX_WORKERS {
            bad.push(format!(
                "workers = {} is more than the {MAX_WORKERS} a stage can have",
                self.workers
            ));
        }
        if self.buffer == 0 {
            bad.push("buffer must be at least 1".to_string());
        }
        if self.batch == Some(0) {
            bad.push("batch must be at least 1".to_string());
        }
        if self.ordered && self.reorder_window == Some(0) {
            bad.push("window must be at least 1".to_string());
        }
        if self.item_timeout == Some(Duration::ZERO) {
            bad.push("item_timeout must be more than 0".to_string());
        }
        if let Some(why) = self.retry.as_ref().and_then(Retry::invalid) {
            bad.push(why.to_string());
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(bad.join(", "))
        }
    }
}

/// How a stage calls its function, for [`stage_misfit`].
#[derive(Clone, Copy)]
pub(crate) struct Calls {
    /// A plain function run on the executor (neither async nor blocking).
    pub(crate) inline: bool,
    /// Run on the blocking pool.
    pub(crate) blocking: bool,
    /// Built through [`Flow::retrying`](crate::Flow::retrying): its items
    /// can be cloned for another attempt.
    pub(crate) retrying: bool,
}

/// What in `cfg` a stage calling its function as `calls` says cannot
/// honour, if anything.
pub(crate) fn stage_misfit(cfg: &StageConfig, calls: Calls) -> Option<String> {
    let mut bad = Vec::new();
    if calls.blocking && cfg.workers > MAX_BLOCKING_WORKERS {
        bad.push(format!(
            "workers = {} is more than the {MAX_BLOCKING_WORKERS} threads a blocking stage can have",
            cfg.workers
        ));
    }
    if calls.inline && cfg.item_timeout.is_some() {
        bad.push(
            "item_timeout needs an async stage (then, try_then) or a blocking one: \
             an inline call holds its executor thread and cannot be timed"
                .to_string(),
        );
    }
    if !calls.retrying && cfg.retries() {
        bad.push(
            "retry needs a try_ stage built through Flow::retrying, \
             which clones each item for its next attempt"
                .to_string(),
        );
    }
    (!bad.is_empty()).then(|| bad.join(", "))
}

/// The settings a source or a merge (`what`) has no use for: an item
/// timeout or retries.
pub(crate) fn node_misfit(cfg: &StageConfig, what: &str) -> Option<String> {
    let mut bad = Vec::new();
    if cfg.item_timeout.is_some() {
        bad.push(format!("item_timeout does not apply to {what}"));
    }
    if cfg.retry.is_some() {
        bad.push(format!("retry does not apply to {what}"));
    }
    (!bad.is_empty()).then(|| bad.join(", "))
}
