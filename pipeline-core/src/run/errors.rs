//! The errors that reach a plain sink as items under the continue policy.

use std::sync::{Arc, Mutex};

use crate::error::Error;

/// Errors that reached a sink as items under
/// [`ErrorPolicy::Continue`](crate::ErrorPolicy::Continue):
/// the sinks that take plain items (`for_each`, `collect`, ...) put them
/// here, in the order they arrived, so none is dropped.
#[derive(Debug, Clone, Default)]
pub struct Errors(Arc<Mutex<Vec<Error>>>);

impl Errors {
    pub(crate) fn push(&self, e: Error) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(e);
    }

    /// Takes the errors collected so far.
    pub fn take(&self) -> Vec<Error> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// How many errors were collected.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no error was collected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
