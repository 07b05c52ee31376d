//! The node layer: what runs at each end of a link. A [`source`] puts
//! items into the pipeline (a producer through an [`emitter`]); the workers of a stage call its function
//! ([`op`], one call and its policy in [`step`]) on each item, unordered
//! ([`worker`]) or in input order ([`ordered`]); a [`merge`] forwards
//! several links into one; a `flat_map`'s items are made as they are sent
//! ([`many`]); the [`sink`] consumes the last link ([`sink_read`]). A
//! stage with an item timeout calls its function through [`timed`], one
//! that retries through [`retried`]; the workers of a blocking stage run
//! on threads of their own ([`own_thread`]).

pub(crate) mod emitter;
pub(crate) mod many;
pub(crate) mod merge;
pub(crate) mod op;
pub(crate) mod ordered;
pub(crate) mod own_thread;
pub(crate) mod retried;
pub(crate) mod sink;
pub(crate) mod sink_read;
pub(crate) mod source;
pub(crate) mod step;
pub(crate) mod timed;
pub(crate) mod worker;

pub use emitter::{AsyncEmitter, Cancelled, Emitter};
