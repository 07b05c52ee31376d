//! A run's graph while it is declared: every node's spawn function, the
//! configuration errors found so far, the in-flight bound summed so far,
//! and who reads which node (so that a flow nobody reads is refused).

use std::sync::{Arc, Mutex, MutexGuard};

use smol::Task;

use crate::build::{ErrorPolicy, StageConfig};
use crate::error::Error;
use crate::executor::LiveTasks;
use crate::run::ctx::RunCtx;
use crate::run::deadline::Deadline;
use crate::run::{Drain, Errors};
use crate::stats::Stats;
use crate::stop::Stop;

pub(crate) type Spawn = Box<dyn FnOnce(&RunCtx) -> Vec<Task<()>> + Send>;

#[derive(Default)]
pub(crate) struct Plan {
    pub(crate) policy: ErrorPolicy,
    /// When the run must end at the latest, if ever.
    pub(crate) deadline: Deadline,
    /// Whether a [`Drain`](crate::Drain) handle was taken: then the run's
    /// watch task keeps the drain's time.
    pub(crate) drainable: bool,
    pub(crate) spawns: Vec<Spawn>,
    pub(crate) config_errors: Vec<Error>,
    pub(crate) bound: usize,
    pub(crate) started: bool,
    /// Every node declared (sources, stages, merges), by id: its name and
    /// how many stages and merges read its output.
    pub(crate) nodes: Vec<(Arc<str>, usize)>,
}

/// One run's graph under construction, shared by its flows.
pub(crate) struct Graph {
    /// The run's signal, the first reason it stopped, its links' closers.
    pub(crate) stop: Stop,
    pub(crate) live: LiveTasks,
    pub(crate) stats: Stats,
    pub(crate) errors: Errors,
    pub(crate) plan: Mutex<Plan>,
}

impl Graph {
    pub(crate) fn plan(&self) -> MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A drain handle of the run; the run's watch task keeps its time.
    /// Taken after the run started, a drain still stops the sources, but
    /// no time limit is kept.
    pub(crate) fn drain_handle(&self) -> Drain {
        self.plan().drainable = true;
        Drain {
            state: self.stop.drain().clone(),
        }
    }

    /// Records one node, which reads the nodes `inputs` of this graph: its
    /// spawn function if its settings are valid, or the configuration
    /// error. Returns the node's id.
    pub(crate) fn add(
        &self,
        cfg: &StageConfig,
        extra: Option<String>,
        bound: usize,
        inputs: &[usize],
        spawn: Spawn,
    ) -> usize {
        let mut plan = self.plan();
        match (cfg.validate(), extra) {
            (Ok(()), None) => {
                plan.bound = plan.bound.saturating_add(bound);
                plan.spawns.push(spawn);
            }
            (Err(m), _) | (Ok(()), Some(m)) => plan.config_errors.push(Error::Config {
                stage: cfg.name.clone(),
                message: m,
            }),
        }
        for &i in inputs {
            plan.nodes[i].1 += 1;
        }
        plan.nodes.push((cfg.name.clone(), 0));
        plan.nodes.len() - 1
    }
}
