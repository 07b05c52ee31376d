//! The 8-lane backend: one `__m256i` carries eight streams' words.
//!
//! AVX2 has no ternary logic or rotate, so the Boolean functions take
//! two or three instructions each and a rotation is two shifts and an or.

use std::arch::x86_64::*;

use super::kernel::{self, Vector};

/// How many streams one call compresses side by side.
pub(super) const LANES: usize = 8;

/// Eight lanes of `u32` in a 256-bit register.
#[derive(Clone, Copy)]
struct V8(__m256i);

// Every method is an `unsafe fn` whose contract (the trait's) is that the
// CPU has AVX2; the intrinsics need nothing else: loads and stores go
// through references to `[u32; 8]`, which are valid for 32 bytes, and the
// unaligned forms (`loadu`, `storeu`) need no alignment.
impl Vector<LANES> for V8 {
    #[inline(always)]
    unsafe fn load(src: &[u32; LANES]) -> Self {
        V8(_mm256_loadu_si256(src.as_ptr().cast()))
    }
    #[inline(always)]
    unsafe fn store(self, dst: &mut [u32; LANES]) {
        _mm256_storeu_si256(dst.as_mut_ptr().cast(), self.0)
    }
    #[inline(always)]
    unsafe fn splat(x: u32) -> Self {
        V8(_mm256_set1_epi32(x as i32))
    }
    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        V8(_mm256_add_epi32(self.0, other.0))
    }
    #[inline(always)]
    unsafe fn f(x: Self, y: Self, z: Self) -> Self {
        // z ^ (x & (y ^ z)): where x is set, y; elsewhere z.
        V8(_mm256_xor_si256(
            z.0,
            _mm256_and_si256(x.0, _mm256_xor_si256(y.0, z.0)),
        ))
    }
    #[inline(always)]
    unsafe fn g(x: Self, y: Self, z: Self) -> Self {
        // y ^ (z & (x ^ y)): where z is set, x; elsewhere y.
        V8(_mm256_xor_si256(
            y.0,
            _mm256_and_si256(z.0, _mm256_xor_si256(x.0, y.0)),
        ))
    }
    #[inline(always)]
    unsafe fn h(x: Self, y: Self, z: Self) -> Self {
        V8(_mm256_xor_si256(_mm256_xor_si256(x.0, y.0), z.0))
    }
    #[inline(always)]
    unsafe fn i(x: Self, y: Self, z: Self) -> Self {
        let not_z = _mm256_xor_si256(z.0, _mm256_set1_epi32(-1));
        V8(_mm256_xor_si256(y.0, _mm256_or_si256(x.0, not_z)))
    }
    #[inline(always)]
    unsafe fn rotl<const R: i32, const RR: i32>(self) -> Self {
        V8(_mm256_or_si256(
            _mm256_slli_epi32::<R>(self.0),
            _mm256_srli_epi32::<RR>(self.0),
        ))
    }
}

/// [`kernel::compress`] over eight lanes, compiled for AVX2.
///
/// # Safety
///
/// The CPU must have AVX2 (`is_x86_feature_detected!("avx2")`); the engine
/// holds this function only after that check.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn compress(states: &mut [[u32; 4]], inputs: &[Option<&[u8]>], blocks: usize) {
    // SAFETY: this function runs only where AVX2 is available (its own
    // contract), which is all `V8`'s methods require.
    unsafe { kernel::compress::<V8, LANES>(states, inputs, blocks) }
}
