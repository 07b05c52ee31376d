//! How a run is joined: every task it spawned is awaited before the run
//! returns, then its deadline's timer is stopped (or, for a stream dropped
//! half-read, its tasks are detached once cancelled), and a run whose
//! future is dropped first is cancelled.

use std::sync::{Arc, Mutex};

use smol::Task;

use crate::run::deadline::Watch;
use crate::stop::Stop;

/// The tasks a run spawned: its nodes', and its deadline's timer.
#[derive(Default)]
pub(crate) struct Spawned {
    pub(crate) tasks: Vec<Task<()>>,
    pub(crate) watch: Watch,
}

impl Spawned {
    /// Waits for every node's task to end, then stops the deadline's
    /// timer: when this returns, no task of the run is alive.
    pub(crate) async fn join(self) {
        for t in self.tasks {
            t.await;
        }
        self.watch.stop().await;
    }

    /// Lets every node's task end on its own (the run is cancelled) and
    /// cancels the deadline's timer.
    pub(crate) fn detach(self) {
        for t in self.tasks {
            t.detach();
        }
    }
}

/// The tasks of a run that a stream or an iterator hands out from, taken
/// once by whoever joins them.
pub(crate) type Tasks = Arc<Mutex<Option<Spawned>>>;

/// Takes the tasks to join (none if they were taken before).
pub(crate) fn take(tasks: &Tasks) -> Spawned {
    tasks
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .unwrap_or_default()
}

/// Stops a run whose future is dropped before it ends (the signal tells
/// blocking stage functions and sources to stop; the tasks themselves end
/// as their handles are dropped).
pub(crate) struct CancelOnDrop(pub(crate) Option<Stop>);

impl CancelOnDrop {
    /// The run ended: nothing to cancel.
    pub(crate) fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(stop) = self.0.take() {
            stop.finish();
        }
    }
}
