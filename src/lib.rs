//! stub
pub use pipeline_core::*;
pub use pipeline_macros::pipeline;
