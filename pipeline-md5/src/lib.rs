//! MD5 digests of whole trees, the way the Go pipelines article builds
//! `MD5All`, and the building blocks of `md5pipe`, an `md5sum` for trees.
//!
//! - [`walk`]: the sorted walk of one root, with Go's path cleaning.

pub mod walk;
