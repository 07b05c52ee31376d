//! How a run starts: once, for one sink, and only if every setting is
//! valid and every node's output is read; then every task is spawned.

use smol::Task;

use crate::build::Graph;
use crate::error::Error;
use crate::run::ctx::RunCtx;
use crate::run::deadline::Watch;
use crate::run::join::Spawned;

impl Graph {
    /// Spawns every task, once, for the sink that reads node `sink_input`,
    /// and the watch task if the run has a deadline or can be drained.
    ///
    /// # Errors
    /// A setting is invalid, the pipeline ran before, or a node's output
    /// reaches no sink (no stage, merge or this sink reads it).
    pub(crate) fn start(&self, sink_input: usize) -> Result<(RunCtx, Spawned), Error> {
        let (spawns, policy, (deadline, drainable)) = {
            let mut plan = self.plan();
            if plan.started {
                return Err(Error::Config {
                    stage: "pipeline".into(),
                    message: "a pipeline runs once and has one sink".into(),
                });
            }
            plan.started = true;
            if let Some(e) = plan.config_errors.first() {
                return Err(e.clone());
            }
            if let Some(n) = plan.nodes.get_mut(sink_input) {
                n.1 += 1;
            }
            if let Some((name, _)) = plan.nodes.iter().find(|(_, readers)| *readers == 0) {
                return Err(Error::Config {
                    stage: name.clone(),
                    message: UNREAD.into(),
                });
            }
            (
                std::mem::take(&mut plan.spawns),
                plan.policy,
                (plan.deadline, plan.drainable),
            )
        };
        let ctx = RunCtx {
            stop: self.stop.clone(),
            live: self.live.clone(),
            policy,
        };
        let tasks: Vec<Task<()>> = spawns.into_iter().flat_map(|s| s(&ctx)).collect();
        let watch = Watch::start(&ctx, deadline, drainable);
        Ok((ctx, Spawned { tasks, watch }))
    }
}

/// Why a node that nothing reads stops the run from starting.
const UNREAD: &str = "nothing reads this stage's output: it was built on a flow that was \
     dropped, or that ends in a sink other than the one run, so its items would be lost; \
     read it with a stage, merge it into the flow that reaches the sink, or do not build it";
