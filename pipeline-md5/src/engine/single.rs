//! The one-lane backend: plain `u32` words, no CPU extension. The SIMD
//! engines run it for a lone stream (a file left alone in its lanes), where
//! a vector kernel would compute every masked lane for nothing.

use super::kernel::{self, Vector};

/// One lane: a plain word.
#[derive(Clone, Copy)]
struct Word(u32);

// The methods are `unsafe` only because the trait's are: plain integer
// operations need no CPU extension and have no precondition.
impl Vector<1> for Word {
    #[inline(always)]
    unsafe fn load(src: &[u32; 1]) -> Self {
        Word(src[0])
    }
    #[inline(always)]
    unsafe fn store(self, dst: &mut [u32; 1]) {
        dst[0] = self.0;
    }
    #[inline(always)]
    unsafe fn splat(x: u32) -> Self {
        Word(x)
    }
    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        Word(self.0.wrapping_add(other.0))
    }
    #[inline(always)]
    unsafe fn f(x: Self, y: Self, z: Self) -> Self {
        Word(z.0 ^ (x.0 & (y.0 ^ z.0)))
    }
    #[inline(always)]
    unsafe fn g(x: Self, y: Self, z: Self) -> Self {
        Word(y.0 ^ (z.0 & (x.0 ^ y.0)))
    }
    #[inline(always)]
    unsafe fn h(x: Self, y: Self, z: Self) -> Self {
        Word(x.0 ^ y.0 ^ z.0)
    }
    #[inline(always)]
    unsafe fn i(x: Self, y: Self, z: Self) -> Self {
        Word(y.0 ^ (x.0 | !z.0))
    }
    #[inline(always)]
    unsafe fn rotl<const R: i32, const RR: i32>(self) -> Self {
        Word(self.0.rotate_left(R as u32))
    }
    #[inline(always)]
    unsafe fn words(blocks: &[&[u8; 64]; 1]) -> [Self; 16] {
        std::array::from_fn(|k| {
            let at = 4 * k;
            let b = blocks[0];
            Word(u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]))
        })
    }
}

/// [`kernel::compress`] over one lane, on any CPU.
///
/// # Safety
///
/// None needed: `Word` uses no CPU extension. `unsafe` only to share the
/// engine's kernel type.
pub(super) unsafe fn compress(states: &mut [[u32; 4]], inputs: &[Option<&[u8]>], blocks: usize) {
    // SAFETY: `Word`'s methods are plain integer operations with no
    // precondition.
    unsafe { kernel::compress::<Word, 1>(states, inputs, blocks) }
}
