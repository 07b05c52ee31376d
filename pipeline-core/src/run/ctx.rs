//! What a run hands every task it spawns: its stop (signal, first
//! reason, link closers), its live-task count and its error policy.

use std::panic::AssertUnwindSafe;

use futures::FutureExt;
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
    /// [`Cancel::current`] while it is polled. A panic that reaches the
    /// task's top is the run's error, naming `stage`: the stages catch
    /// their functions' panics themselves, but not one raised as they drop
    /// the user's code (a call's future dropped at a cancel), which would
    /// otherwise unwind through the join into the caller of `run()`.
    pub(crate) fn spawn(
        &self,
        stage: &str,
        fut: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Task<()> {
        let stop = self.stop.clone();
        let stage: std::sync::Arc<str> = stage.into();
        let guarded = async move {
            if let Err(payload) = AssertUnwindSafe(fut).catch_unwind().await {
                stop.fail_panicked(stage, payload);
            }
        };
        spawn_counted(
            &self.live,
            WithCancel {
                cancel: self.cancel().clone(),
                fut: Box::pin(guarded),
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
        self.spawn(worker.stage, crate::trace::instrument(worker, fut))
    }
}
