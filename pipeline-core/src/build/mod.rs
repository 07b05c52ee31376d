//! The build layer: declaring a pipeline spawns nothing. A [`Pipeline`]
//! makes sources, each a [`Flow`]; a flow grows stages (each with its
//! [`StageConfig`]) and ends in a sink. As nodes are declared, their links
//! are made and the [`Graph`] records how to spawn each node, the
//! configuration errors, and the in-flight bound ([`bound`]).

pub(crate) mod bound;
pub(crate) mod config;
pub(crate) mod flow;
pub(crate) mod graph;
pub(crate) mod pipeline;

pub use config::{
    ErrorPolicy, StageConfig, DEFAULT_BATCH, DEFAULT_BUFFER, MAX_BLOCKING_WORKERS, MAX_WORKERS,
};
pub use flow::Flow;
pub use pipeline::Pipeline;

pub(crate) use config::{PREALLOCATED_ITEMS, PREALLOCATED_PACKETS};
pub(crate) use graph::Graph;
