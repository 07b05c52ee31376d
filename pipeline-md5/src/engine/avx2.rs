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
pub(super) struct V8(pub(super) __m256i);

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
    #[inline(always)]
    unsafe fn words(blocks: &[&[u8; 64]; LANES]) -> [Self; 16] {
        let [w0, w1, w2, w3, w4, w5, w6, w7] = transpose(blocks.map(|b| b.as_ptr()));
        let [w8, w9, w10, w11, w12, w13, w14, w15] = transpose(blocks.map(|b| b[32..].as_ptr()));
        [
            w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15,
        ]
    }
}

/// Words `j..j + 8` of eight blocks, transposed in registers: `rows[i]`
/// points at lane `i`'s word `j`, and vector `k` of the result holds word
/// `j + k` of every lane (MD5's words are little-endian, as x86 loads them).
///
/// # Safety
///
/// AVX2, and each pointer valid for 32 bytes: the caller passes pointers
/// into `&[u8; 64]` blocks, at offset 0 or 32.
#[inline(always)]
pub(super) unsafe fn transpose(rows: [*const u8; LANES]) -> [V8; 8] {
    let r = rows.map(|row| _mm256_loadu_si256(row.cast()));
    // Pairs of lanes: (r0[0], r1[0], r0[1], r1[1] | r0[4], r1[4], r0[5], r1[5]), ...
    let t0 = _mm256_unpacklo_epi32(r[0], r[1]);
    let t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    let t2 = _mm256_unpacklo_epi32(r[2], r[3]);
    let t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    let t4 = _mm256_unpacklo_epi32(r[4], r[5]);
    let t5 = _mm256_unpackhi_epi32(r[4], r[5]);
    let t6 = _mm256_unpacklo_epi32(r[6], r[7]);
    let t7 = _mm256_unpackhi_epi32(r[6], r[7]);
    // Quads: word k of lanes 0-3 in the low half, word k + 4 in the high.
    let u0 = _mm256_unpacklo_epi64(t0, t2);
    let u1 = _mm256_unpackhi_epi64(t0, t2);
    let u2 = _mm256_unpacklo_epi64(t1, t3);
    let u3 = _mm256_unpackhi_epi64(t1, t3);
    // The same for lanes 4-7.
    let u4 = _mm256_unpacklo_epi64(t4, t6);
    let u5 = _mm256_unpackhi_epi64(t4, t6);
    let u6 = _mm256_unpacklo_epi64(t5, t7);
    let u7 = _mm256_unpackhi_epi64(t5, t7);
    // Low halves together give word k, high halves word k + 4.
    [
        V8(_mm256_permute2x128_si256::<0x20>(u0, u4)),
        V8(_mm256_permute2x128_si256::<0x20>(u1, u5)),
        V8(_mm256_permute2x128_si256::<0x20>(u2, u6)),
        V8(_mm256_permute2x128_si256::<0x20>(u3, u7)),
        V8(_mm256_permute2x128_si256::<0x31>(u0, u4)),
        V8(_mm256_permute2x128_si256::<0x31>(u1, u5)),
        V8(_mm256_permute2x128_si256::<0x31>(u2, u6)),
        V8(_mm256_permute2x128_si256::<0x31>(u3, u7)),
    ]
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

/// How many streams the dual kernel compresses side by side.
pub(super) const DUAL_LANES: usize = 2 * LANES;

/// Sixteen lanes as two independent 8-lane registers: every operation is
/// two instructions with no dependency between them, so the two chains of
/// MD5 steps overlap and hide each other's latency (one 8-lane chain
/// leaves the CPU waiting on each step's result).
#[derive(Clone, Copy)]
struct Dual([V8; 2]);

/// The two halves of a 16-lane array.
fn halves<T>(all: &[T; DUAL_LANES]) -> (&[T; LANES], &[T; LANES]) {
    let (lo, hi) = all.split_at(LANES);
    (
        lo.try_into().expect("the first 8 of 16"),
        hi.try_into().expect("the last 8 of 16"),
    )
}

// As for `V8`: every method's contract is that the CPU has AVX2, which is
// all `V8`'s methods need.
impl Vector<DUAL_LANES> for Dual {
    #[inline(always)]
    unsafe fn load(src: &[u32; DUAL_LANES]) -> Self {
        let (lo, hi) = halves(src);
        Dual([V8::load(lo), V8::load(hi)])
    }
    #[inline(always)]
    unsafe fn store(self, dst: &mut [u32; DUAL_LANES]) {
        let (lo, hi) = dst.split_at_mut(LANES);
        self.0[0].store(lo.try_into().expect("the first 8 of 16"));
        self.0[1].store(hi.try_into().expect("the last 8 of 16"));
    }
    #[inline(always)]
    unsafe fn splat(x: u32) -> Self {
        Dual([V8::splat(x); 2])
    }
    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        Dual([self.0[0].add(other.0[0]), self.0[1].add(other.0[1])])
    }
    #[inline(always)]
    unsafe fn f(x: Self, y: Self, z: Self) -> Self {
        Dual([V8::f(x.0[0], y.0[0], z.0[0]), V8::f(x.0[1], y.0[1], z.0[1])])
    }
    #[inline(always)]
    unsafe fn g(x: Self, y: Self, z: Self) -> Self {
        Dual([V8::g(x.0[0], y.0[0], z.0[0]), V8::g(x.0[1], y.0[1], z.0[1])])
    }
    #[inline(always)]
    unsafe fn h(x: Self, y: Self, z: Self) -> Self {
        Dual([V8::h(x.0[0], y.0[0], z.0[0]), V8::h(x.0[1], y.0[1], z.0[1])])
    }
    #[inline(always)]
    unsafe fn i(x: Self, y: Self, z: Self) -> Self {
        Dual([V8::i(x.0[0], y.0[0], z.0[0]), V8::i(x.0[1], y.0[1], z.0[1])])
    }
    #[inline(always)]
    unsafe fn rotl<const R: i32, const RR: i32>(self) -> Self {
        Dual([self.0[0].rotl::<R, RR>(), self.0[1].rotl::<R, RR>()])
    }
    #[inline(always)]
    unsafe fn words(blocks: &[&[u8; 64]; DUAL_LANES]) -> [Self; 16] {
        let (lo, hi) = halves(blocks);
        let (lo, hi) = (V8::words(lo), V8::words(hi));
        std::array::from_fn(|k| Dual([lo[k], hi[k]]))
    }
}

/// [`kernel::compress`] over sixteen lanes in two AVX2 chains.
///
/// # Safety
///
/// As [`compress`]: the CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn compress_dual(
    states: &mut [[u32; 4]],
    inputs: &[Option<&[u8]>],
    blocks: usize,
) {
    // SAFETY: this function runs only where AVX2 is available (its own
    // contract), which is all `Dual`'s methods require.
    unsafe { kernel::compress::<Dual, DUAL_LANES>(states, inputs, blocks) }
}
