//! What a run hands every task it spawns: its signal, its live-task
//! count and its error policy.

use smol::Task;

use crate::build::ErrorPolicy;
use crate::cancel::{Cancel, WithCancel};
use crate::executor::{spawn_counted, LiveTasks};

/// What a run hands every task it spawns.
#[derive(Clone)]
pub(crate) struct RunCtx {
    pub(crate) cancel: Cancel,
    pub(crate) live: LiveTasks,
    pub(crate) policy: ErrorPolicy,
}

impl RunCtx {
    /// Spawns one task of the run, with the run's signal as
    /// [`Cancel::current`] while it is polled.
    pub(crate) fn spawn(
        &self,
        fut: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Task<()> {
        spawn_counted(
            &self.live,
            WithCancel {
                cancel: self.cancel.clone(),
                fut: Box::pin(fut),
            },
        )
    }
}
