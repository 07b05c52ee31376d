//! MD5 digests of whole trees, the way the Go pipelines article builds
//! `MD5All`, and the building blocks of `md5pipe`, an `md5sum` for trees.
//!
//! - [`walk`]: the sorted, cancellable-by-dropping walk of one root.
//! - [`digest`]: digesting one file in chunks without ever blocking on a FIFO.
//! - [`escape`]: md5sum's output lines and name escaping, both ways.

pub mod digest;
pub mod escape;
pub mod walk;
