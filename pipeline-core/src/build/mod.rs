//! The build layer: declaring a pipeline spawns nothing. A [`Pipeline`]
//! makes sources, each a [`Flow`]; a flow grows stages (each with its
//! [`StageConfig`]) and ends in a sink. As nodes are declared, their links
//! are made and the [`Graph`] records how to spawn each node, the
//! configuration errors ([`guard`]: which settings a node can honour), and
//! the in-flight bound ([`bound`]). A `try_` stage that retries is built
//! through [`Retrying`] ([`retrying`]), with the [`Retry`] policy of its
//! config ([`retry`]).

pub(crate) mod bound;
pub(crate) mod config;
pub(crate) mod flow;
pub(crate) mod graph;
pub(crate) mod guard;
pub(crate) mod pipeline;
pub(crate) mod retry;
pub(crate) mod retrying;

pub use config::{
    ErrorPolicy, StageConfig, DEFAULT_BATCH, DEFAULT_BUFFER, MAX_BLOCKING_WORKERS, MAX_WORKERS,
};
pub use flow::Flow;
pub use pipeline::Pipeline;
pub use retry::{AttemptError, Retry};
pub use retrying::Retrying;

pub(crate) use config::{PREALLOCATED_ITEMS, PREALLOCATED_PACKETS};
pub(crate) use graph::Graph;
