//! `pipeline`: streaming pipelines for Rust in the style of Go's
//! "pipelines and cancellation" — stages joined by bounded channels, fan-out
//! to N workers, fan-in by merge, and one close-to-cancel signal that stops
//! every stage at once, on smol and async-channel.
//!
//! This crate is the facade: it re-exports the runtime
//! ([`pipeline_core`]) and the [`pipeline!`] macro.
//!
//! ```
//! use pipeline::{Pipeline, StageConfig};
//!
//! // The article's gen -> sq -> print, stopping after the first value.
//! let p = Pipeline::new();
//! let live = p.live_tasks();
//! let first = p
//!     .from_iter("gen", [2u64, 3])
//!     .map(StageConfig::new("sq").workers(2), |n| n * n)
//!     .first()
//!     .run()
//!     .unwrap();
//! assert!(first == Some(4) || first == Some(9));
//! assert_eq!(live.get(), 0); // nothing leaked
//! ```

#![warn(missing_docs)]

pub use pipeline_core::*;
pub use pipeline_macros::pipeline;

/// What a user of `pipeline!` needs in scope: the macro, and the
/// [`Declared`] trait whose methods (`run`, `stage_mut`, `stats`,
/// `to_mermaid`, ...) every pipeline declared in the reusable form has.
///
/// ```
/// use pipeline::prelude::*;
///
/// pipeline! {
///     /// Doubles `0..n`.
///     pub Doubles(n: u32) -> Vec<u32> {
///         gen: source 0..n;
///         dbl: map |x: u32| 2 * x [ordered];
///         out: sink collect();
///     }
/// }
///
/// assert_eq!(Doubles::new(3).run()?, [0, 2, 4]);
/// # Ok::<(), pipeline::Error>(())
/// ```
pub mod prelude {
    pub use crate::{pipeline, Declared};
}

/// The stage-configuration benchmark harness ([`pipeline_sweep`]), with the
/// `sweep` feature.
#[cfg(feature = "sweep")]
pub use pipeline_sweep as sweep;
