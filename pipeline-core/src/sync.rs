//! The synchronization primitives of the concurrency core, the link's
//! [`permits`](crate::link::permits), the [`Cancel`](crate::Cancel)
//! signal and the run's [`Stop`](crate::stop::Stop) (its first reason,
//! its link closers): std's (and event-listener's `Event`) in a normal
//! build, the very same items, so nothing changes; loom's in the
//! model-checking build (`RUSTFLAGS="--cfg pipeline_loom"`), where loom
//! runs the `loom_tests` modules in every order of their threads' steps
//! that matters (see `sync/model.rs`, and the README: "The concurrency
//! core, model-checked with loom").
//!
//! Only what those modules share between threads comes from here. `Arc`
//! stays std's in both builds: loom's has no `Weak`, which a link's closer
//! and a signal's listeners hold, and the protocols modelled live in
//! the atomics, locks and wake-ups, not in a reference count.

#[cfg(not(pipeline_loom))]
pub(crate) use event_listener::Event;
#[cfg(not(pipeline_loom))]
pub(crate) use std::sync::{
    atomic::{AtomicBool, AtomicUsize},
    Mutex, MutexGuard,
};

#[cfg(pipeline_loom)]
pub(crate) mod model;
#[cfg(pipeline_loom)]
pub(crate) use model::{AtomicBool, AtomicUsize, Event, Mutex, MutexGuard};
