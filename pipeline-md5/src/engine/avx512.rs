//! The 16-lane backend: one `__m512i` carries sixteen streams' words.
//!
//! AVX-512F has what MD5 wants: `vpternlogd` computes each Boolean
//! function in one instruction from its truth table
//! ([`kernel::truth`]), and `vprold` rotates in one.

use std::arch::x86_64::*;

use super::avx2;
use super::kernel::{self, truth, Vector};

/// How many streams one call compresses side by side.
pub(super) const LANES: usize = 16;

/// Sixteen lanes of `u32` in a 512-bit register.
#[derive(Clone, Copy)]
struct V16(__m512i);

// Every method is an `unsafe fn` whose contract (the trait's) is that the
// CPU has AVX-512F and AVX2 (the transposition of `words` is AVX2's); the
// intrinsics need nothing else: loads and stores go through references to
// `[u32; 16]`, which are valid for 64 bytes, or 32 bytes into a 64-byte
// block, and the unaligned forms (`loadu`, `storeu`) need no alignment.
impl Vector<LANES> for V16 {
    #[inline(always)]
    unsafe fn load(src: &[u32; LANES]) -> Self {
        V16(_mm512_loadu_si512(src.as_ptr().cast()))
    }
    #[inline(always)]
    unsafe fn store(self, dst: &mut [u32; LANES]) {
        _mm512_storeu_si512(dst.as_mut_ptr().cast(), self.0)
    }
    #[inline(always)]
    unsafe fn splat(x: u32) -> Self {
        V16(_mm512_set1_epi32(x as i32))
    }
    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        V16(_mm512_add_epi32(self.0, other.0))
    }
    #[inline(always)]
    unsafe fn f(x: Self, y: Self, z: Self) -> Self {
        V16(_mm512_ternarylogic_epi32::<{ truth::F }>(x.0, y.0, z.0))
    }
    #[inline(always)]
    unsafe fn g(x: Self, y: Self, z: Self) -> Self {
        V16(_mm512_ternarylogic_epi32::<{ truth::G }>(x.0, y.0, z.0))
    }
    #[inline(always)]
    unsafe fn h(x: Self, y: Self, z: Self) -> Self {
        V16(_mm512_ternarylogic_epi32::<{ truth::H }>(x.0, y.0, z.0))
    }
    #[inline(always)]
    unsafe fn i(x: Self, y: Self, z: Self) -> Self {
        V16(_mm512_ternarylogic_epi32::<{ truth::I }>(x.0, y.0, z.0))
    }
    #[inline(always)]
    unsafe fn rotl<const R: i32, const RR: i32>(self) -> Self {
        V16(_mm512_rol_epi32::<R>(self.0))
    }
    /// Two 8-lane transposes in AVX2 registers (lanes 0-7 and 8-15), each
    /// word's halves joined in one register: no trip through memory.
    #[inline(always)]
    unsafe fn words(blocks: &[&[u8; 64]; LANES]) -> [Self; 16] {
        let half = |first: usize, at: usize| {
            let rows: [*const u8; 8] = std::array::from_fn(|i| blocks[first + i][at..].as_ptr());
            // SAFETY: each row points into a 64-byte block at offset 0 or
            // 32, valid for the 32 bytes `transpose` reads; AVX2 is enabled
            // with AVX-512F in `compress`, the only caller.
            unsafe { avx2::transpose(rows) }
        };
        let (low, high) = (half(0, 0), half(8, 0));
        let (low2, high2) = (half(0, 32), half(8, 32));
        std::array::from_fn(|k| {
            let (lo, hi) = if k < 8 {
                (low[k].0, high[k].0)
            } else {
                (low2[k - 8].0, high2[k - 8].0)
            };
            V16(_mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi))
        })
    }
}

/// [`kernel::compress`] over sixteen lanes, compiled for AVX-512F.
///
/// # Safety
///
/// The CPU must have AVX-512F and AVX2 (`is_x86_feature_detected!`); the
/// engine holds this function only after that check.
#[target_feature(enable = "avx512f,avx2")]
pub(super) unsafe fn compress(states: &mut [[u32; 4]], inputs: &[Option<&[u8]>], blocks: usize) {
    // SAFETY: this function runs only where AVX-512F and AVX2 are available
    // (its own contract), which is all `V16`'s methods require.
    unsafe { kernel::compress::<V16, LANES>(states, inputs, blocks) }
}
