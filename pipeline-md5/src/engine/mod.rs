//! A multi-lane MD5 engine: several independent streams digested at once,
//! one per lane of a SIMD register, chosen for the CPU at run time.
//!
//! One MD5 stream cannot go faster than its chain of dependent steps, but
//! the same step of eight (AVX2) or sixteen (AVX-512F) streams costs one
//! vector instruction. [`MultiMd5`] keeps a stream per lane; each lane is
//! fed its own bytes, in chunks of any length, and its stream ends when its
//! own data ends: it is padded, its digest taken, and the lane takes the
//! next stream while the other lanes go on.
//!
//! | [`Engine`] | lanes | where |
//! |---|---:|---|
//! | `scalar` | 1 | everywhere: md-5, one stream at a time |
//! | `portable` | 4 | everywhere: four streams side by side in plain registers |
//! | `avx2` | 8 | x86-64 CPUs with AVX2 |
//! | `avx2-dual` | 16 | the same, two 8-lane chains interleaved |
//! | `avx512` | 16 | x86-64 CPUs with AVX-512F (and AVX2, as all of them have) |
//!
//! On one core of an AMD EPYC (portable build, BENCHMARKS.md) `avx2` ran
//! 4.7–5.5x and `avx2-dual` 6.1–8.0x md-5's single stream, with every lane
//! busy. Masked lanes cost as much as busy ones, so each pass runs on the
//! narrowest kernel that holds the lanes it compresses: one to five
//! streams on a scalar kernel that steps them side by side in plain `u32`
//! registers (one stream as fast as md-5, two at about twice its speed,
//! since one stream's chain of dependent steps leaves most of a core's
//! integer units idle), and up to 8 streams of `avx2-dual` (or of
//! `avx512`, on a CPU with AVX2) on the single 8-lane AVX2 chain.
//!
//! [`Engine::detect`] picks the fastest engine the CPU has, unless the
//! environment variable `MD5PIPE_ENGINE` names one ([`Engine::from_name`]).
//! An engine value exists only for a kernel the CPU can run, so a binary
//! built for any x86-64 CPU runs on every one of them (and builds, with the
//! scalar and portable engines alone, elsewhere).
//!
//! # The life of a lane
//!
//! ```text
//!            start(lane)                finish(lane)
//!   Idle ───────────────▶ Hungry ⇄ Busy ───────────▶ Busy ──▶ Done
//!    ▲                 update / fill    compress()      compress()  │
//!    └──────────────────────── digest(lane) ◀───────────────────────┘
//! ```
//!
//! - **Idle**: no stream. [`MultiMd5::start`] gives the lane a new stream.
//! - **Hungry**: the stream is open with less than one 64-byte block
//!   buffered. [`MultiMd5::update`] (a copy) or [`MultiMd5::fill`] (a read
//!   straight into the lane's buffer) adds bytes; [`MultiMd5::finish`] ends
//!   the stream: the lane's bytes are padded to whole blocks.
//! - **Busy**: at least one whole block is buffered.
//!   [`MultiMd5::compress`] compresses blocks of every lane at once, as
//!   long as every lane that holds a stream has a block: it returns as
//!   soon as one of them is hungry or done, for the caller to feed or
//!   collect it. Idle lanes do not hold it back: they are masked.
//! - **Done**: finished and compressed to the end. [`MultiMd5::digest`]
//!   returns the digest and leaves the lane idle. Called earlier, it
//!   finishes the stream and compresses the rest of it at once, with every
//!   other lane that has a block riding along and the rest masked.
//!
//! A digester therefore keeps a stream in each lane, feeds the hungry ones
//! a chunk each (a small file whole, then [`MultiMd5::finish`]), calls
//! [`MultiMd5::compress`], and collects the done ones, as [`digest_chunked`]
//! does for streams in memory.
//!
//! ```
//! use pipeline_md5::engine::{Engine, LaneStatus, MultiMd5};
//!
//! let mut md5 = MultiMd5::new(Engine::detect()?);
//! md5.start(0);
//! md5.update(0, b"hello");
//! md5.update(0, b"\n");
//! assert_eq!(md5.status(0), LaneStatus::Hungry);
//! assert_eq!(md5.digest(0), *b"\xb1\x94\x6a\xc9\x24\x92\xd2\x34\x7c\x62\x35\xb4\xd2\x61\x11\x84");
//! assert_eq!(md5.status(0), LaneStatus::Idle);
//! # Ok::<(), pipeline_md5::engine::EngineError>(())
//! ```
//!
//! # Safety
//!
//! The SIMD kernels are `#[target_feature]` functions. [`Engine`]'s only
//! constructors check the CPU (`is_x86_feature_detected!`) before they
//! return a SIMD engine, and [`MultiMd5`] calls a kernel only through the
//! engine it was given; everything else in the kernels is safe Rust over
//! bounds-checked slices.

mod kernel;
mod multi;
mod single;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(test)]
mod emulated;
#[cfg(test)]
mod tests;

pub use multi::{digest_chunked, LaneStatus, MultiMd5, Suspended};

/// The lanes of the `portable` engine: as many streams as one core steps
/// side by side in general-purpose registers with a gain (BENCHMARKS.md).
const PORTABLE_LANES: usize = 4;

/// The environment variable that forces an engine in [`Engine::detect`].
pub const ENGINE_VAR: &str = "MD5PIPE_ENGINE";

/// The names [`Engine::from_name`] knows, besides `auto`.
pub const ENGINE_NAMES: [&str; 5] = ["scalar", "portable", "avx2", "avx2-dual", "avx512"];

/// Why an engine could not be had.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EngineError {
    /// The name is none of [`ENGINE_NAMES`] or `auto`.
    #[error(
        "unknown MD5 engine '{0}' (expected auto, scalar, portable, avx2, avx2-dual or avx512)"
    )]
    Unknown(String),
    /// This CPU lacks the instructions the named engine needs.
    #[error("this CPU cannot run the {0} MD5 engine")]
    Unsupported(&'static str),
}

/// A compression kernel: `(states, inputs, blocks)`, one state and one
/// input per lane, as `kernel::compress`. `unsafe` because a SIMD kernel
/// may only run on a CPU that has its extension.
type Kernel = unsafe fn(&mut [[u32; 4]], &[Option<&[u8]>], usize);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Scalar,
    /// Four streams stepped side by side in plain registers.
    Portable,
    Avx2,
    /// Two interleaved AVX2 chains of 8 lanes.
    Avx2Dual,
    Avx512,
    /// The generic kernel on emulated 16-lane vectors (tests only).
    #[cfg(test)]
    Emulated,
}

/// One of the MD5 engines, known to run on this CPU.
///
/// The only constructors ([`Engine::scalar`], [`Engine::from_name`],
/// [`Engine::best`], [`Engine::detect`], [`Engine::available`]) check the
/// CPU, so holding an `Engine` is the proof that its kernel may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Engine {
    kind: Kind,
}

impl Engine {
    /// md-5, one stream at a time: runs everywhere.
    pub const fn scalar() -> Engine {
        Engine { kind: Kind::Scalar }
    }

    /// The engine called `name` (one of [`ENGINE_NAMES`]), or the best one
    /// for `auto`.
    ///
    /// # Errors
    ///
    /// [`EngineError::Unknown`] for another name; [`EngineError::Unsupported`]
    /// if this CPU lacks the engine's instructions (AVX2 or AVX-512F; off
    /// x86-64, every engine but scalar and portable).
    pub fn from_name(name: &str) -> Result<Engine, EngineError> {
        let kind = match name {
            "auto" => return Ok(Engine::best()),
            "scalar" => Kind::Scalar,
            "portable" => Kind::Portable,
            "avx2" => Kind::Avx2,
            "avx2-dual" => Kind::Avx2Dual,
            "avx512" => Kind::Avx512,
            other => return Err(EngineError::Unknown(other.to_string())),
        };
        if supported(kind) {
            Ok(Engine { kind })
        } else {
            Err(EngineError::Unsupported(Engine { kind }.id()))
        }
    }

    /// The fastest engine this CPU runs: avx512, else avx2-dual, else
    /// portable (BENCHMARKS.md: avx2-dual outruns avx2 on the same CPU, and
    /// portable outruns md-5's one stream on any CPU).
    pub fn best() -> Engine {
        [Kind::Avx512, Kind::Avx2Dual, Kind::Avx2, Kind::Portable]
            .into_iter()
            .find(|&kind| supported(kind))
            .map_or(Engine::scalar(), |kind| Engine { kind })
    }

    /// The engine named by `MD5PIPE_ENGINE` ([`ENGINE_VAR`]) if it is set
    /// and not empty, else [`Engine::best`].
    ///
    /// # Errors
    ///
    /// As [`Engine::from_name`], for the variable's value.
    pub fn detect() -> Result<Engine, EngineError> {
        match std::env::var(ENGINE_VAR) {
            Ok(name) if !name.is_empty() => Engine::from_name(&name),
            _ => Ok(Engine::best()),
        }
    }

    /// Every engine this CPU runs, scalar first, widest last.
    pub fn available() -> Vec<Engine> {
        ENGINE_NAMES
            .iter()
            .filter_map(|name| Engine::from_name(name).ok())
            .collect()
    }

    /// The name [`Engine::from_name`] takes: one of [`ENGINE_NAMES`].
    pub fn id(self) -> &'static str {
        match self.kind {
            Kind::Scalar => "scalar",
            Kind::Portable => "portable",
            Kind::Avx2 => "avx2",
            Kind::Avx2Dual => "avx2-dual",
            Kind::Avx512 => "avx512",
            #[cfg(test)]
            Kind::Emulated => "emulated",
        }
    }

    /// The name and the lanes, for statistics: `avx2 x8`.
    pub fn name(self) -> String {
        format!("{} x{}", self.id(), self.lanes())
    }

    /// How many streams the engine digests at once.
    pub fn lanes(self) -> usize {
        match self.kind {
            Kind::Scalar => 1,
            Kind::Portable => PORTABLE_LANES,
            Kind::Avx2 => 8,
            Kind::Avx2Dual => 16,
            #[cfg(test)]
            Kind::Emulated => 16,
            Kind::Avx512 => 16,
        }
    }

    /// The kernel, or `None` for md-5's own path.
    fn kernel(self) -> Option<Kernel> {
        match self.kind {
            Kind::Scalar => None,
            Kind::Portable => Some(single::kernel(PORTABLE_LANES)),
            #[cfg(target_arch = "x86_64")]
            Kind::Avx2 => Some(avx2::compress),
            #[cfg(target_arch = "x86_64")]
            Kind::Avx2Dual => Some(avx2::compress_dual),
            #[cfg(target_arch = "x86_64")]
            Kind::Avx512 => Some(avx512::compress),
            // `supported` refuses these kinds off x86-64, so no engine of
            // them exists there.
            #[cfg(not(target_arch = "x86_64"))]
            Kind::Avx2 | Kind::Avx2Dual | Kind::Avx512 => None,
            #[cfg(test)]
            Kind::Emulated => Some(emulated::compress16),
        }
    }

    /// The kernel for a pass over `taken` lanes (at least 1), and how many
    /// lanes it is fed: up to five lanes run on the scalar kernel that
    /// steps that many streams side by side, and up to eight lanes of
    /// `avx2-dual` or `avx512` on the single `avx2` chain (for `avx512`,
    /// where the CPU has AVX2, as every AVX-512 CPU does), since masked
    /// lanes cost as much as busy ones: on an AMD EPYC with both, an
    /// 8-lane AVX2 pass took half the time of a 16-lane AVX-512 one, and
    /// five streams stepped side by side in plain registers outran an
    /// 8-lane AVX2 pass (BENCHMARKS.md). `None` for md-5's own path.
    fn kernel_for(self, taken: usize) -> Option<(Kernel, usize)> {
        let wide = self.kernel()?;
        if taken <= single::MAX_LANES {
            return Some((single::kernel(taken.max(1)), taken.max(1)));
        }
        #[cfg(target_arch = "x86_64")]
        if self.kind == Kind::Avx2Dual && taken <= avx2::LANES {
            // An `avx2-dual` engine exists only where AVX2 was detected,
            // which is all the 8-lane kernel needs.
            return Some((avx2::compress, avx2::LANES));
        }
        #[cfg(target_arch = "x86_64")]
        if self.kind == Kind::Avx512 && taken <= avx2::LANES && supported(Kind::Avx2) {
            // AVX2 detected just now: all the 8-lane kernel needs.
            return Some((avx2::compress, avx2::LANES));
        }
        Some((wide, self.lanes()))
    }

    /// The 16-lane generic kernel on emulated vectors.
    #[cfg(test)]
    fn emulated() -> Engine {
        Engine {
            kind: Kind::Emulated,
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// Whether this CPU runs `kind`'s kernel.
fn supported(kind: Kind) -> bool {
    match kind {
        Kind::Scalar | Kind::Portable => true,
        #[cfg(target_arch = "x86_64")]
        Kind::Avx2 | Kind::Avx2Dual => std::arch::is_x86_feature_detected!("avx2"),
        #[cfg(target_arch = "x86_64")]
        Kind::Avx512 => {
            std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx2")
        }
        #[cfg(not(target_arch = "x86_64"))]
        Kind::Avx2 | Kind::Avx2Dual | Kind::Avx512 => false,
        #[cfg(test)]
        Kind::Emulated => true,
    }
}
