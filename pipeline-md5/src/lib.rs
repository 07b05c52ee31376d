//! MD5 digests of whole trees, the way the Go pipelines article builds
//! `MD5All`, and the building blocks of `md5pipe`, an `md5sum` for trees.
//!
//! - [`walk`]: the walk of one root in bytewise path order, and Go's path cleaning.
//! - [`digest`]: digesting one file in chunks without ever blocking on a FIFO.
//! - [`escape`]: md5sum's output lines, its name escaping both ways, and its quoting.
//! - [`checklist`]: parsing `md5sum -c` lists and wording their results.

pub mod checklist;
pub mod digest;
pub mod escape;
pub mod walk;
