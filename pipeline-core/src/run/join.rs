//! How a run is joined: every task it spawned is awaited before the run
//! returns (or, for a stream dropped half-read, detached once cancelled),
//! and a run whose future is dropped first is cancelled.

use std::sync::{Arc, Mutex};

use smol::Task;

use crate::cancel::Cancel;

/// The tasks of a run that a stream or an iterator hands out from, taken
/// once by whoever joins them.
pub(crate) type Tasks = Arc<Mutex<Option<Vec<Task<()>>>>>;

/// Waits for every task of a run to end.
pub(crate) async fn join_all(tasks: Vec<Task<()>>) {
    for t in tasks {
        t.await;
    }
}

/// Takes the tasks to join (none if they were taken before).
pub(crate) fn take(tasks: &Tasks) -> Vec<Task<()>> {
    tasks
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .unwrap_or_default()
}

/// Cancels a run whose future is dropped before it ends (the signal tells
/// blocking stage functions and sources to stop; the tasks themselves end
/// as their handles are dropped).
pub(crate) struct CancelOnDrop(pub(crate) Option<Cancel>);

impl CancelOnDrop {
    /// The run ended: nothing to cancel.
    pub(crate) fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(cancel) = self.0.take() {
            cancel.finish();
        }
    }
}
