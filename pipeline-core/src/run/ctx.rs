//! What a run hands every task it spawns: its stop (signal, first
//! reason, link closers), its live-task count and its error policy.

use smol::Task;

use crate::build::ErrorPolicy;
use crate::cancel::{Cancel, WithCancel};
use crate::executor::{spawn_counted, LiveTasks};
use crate::stop::Stop;
use crate::trace::Worker;

/// What a run hands every task it spawns.
#[derive(Clone)]
pub(crate) struct RunCtx {
    pub(crate) stop: Stop,
    pub(crate) live: LiveTasks,
    pub(crate) policy: ErrorPolicy,
}

impl RunCtx {
    /// The run's close-to-cancel signal.
    #[inline(always)]
    pub(crate) fn cancel(&self) -> &Cancel {
        self.stop.cancel()
    }

    /// Spawns one task of the run, with the run's signal as
    /// [`Cancel::current`] while it is polled.
    pub(crate) fn spawn(
        &self,
        fut: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Task<()> {
        spawn_counted(
            &self.live,
            WithCancel {
                cancel: self.cancel().clone(),
                fut: Box::pin(fut),
            },
        )
    }

    /// Spawns one task of a stage, as [`spawn`](Self::spawn) does, in the
    /// span of `worker` with the `tracing` feature (see [`crate::trace`]).
    pub(crate) fn spawn_worker(
        &self,
        worker: Worker<'_>,
        fut: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Task<()> {
        self.spawn(crate::trace::instrument(worker, fut))
    }
}
