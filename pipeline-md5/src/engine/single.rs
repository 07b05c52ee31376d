//! The scalar backends: plain `u32` words, no CPU extension. One MD5
//! stream is a chain of dependent steps, so one stream leaves most of a
//! core's integer units idle; two or three independent streams stepped side
//! by side in general-purpose registers fill them, at no cost of a vector
//! transposition or of masked lanes. The SIMD engines run a pass over one
//! to three busy lanes (a file left alone in its lanes, the few large files
//! of a tree) on these kernels instead of a vector kernel that would
//! compute every masked lane for nothing.

use super::kernel::{self, Vector};

/// `N` independent lanes, each a plain word.
#[derive(Clone, Copy)]
struct Words<const N: usize>([u32; N]);

impl<const N: usize> Words<N> {
    /// `op` lane by lane.
    #[inline(always)]
    fn each(self, op: impl Fn(usize, u32) -> u32) -> Self {
        let mut out = self.0;
        for (lane, word) in out.iter_mut().enumerate() {
            *word = op(lane, *word);
        }
        Words(out)
    }
}

// The methods are `unsafe` only because the trait's are: plain integer
// operations need no CPU extension and have no precondition.
impl<const N: usize> Vector<N> for Words<N> {
    #[inline(always)]
    unsafe fn load(src: &[u32; N]) -> Self {
        Words(*src)
    }
    #[inline(always)]
    unsafe fn store(self, dst: &mut [u32; N]) {
        *dst = self.0;
    }
    #[inline(always)]
    unsafe fn splat(x: u32) -> Self {
        Words([x; N])
    }
    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        self.each(|lane, x| x.wrapping_add(other.0[lane]))
    }
    #[inline(always)]
    unsafe fn f(x: Self, y: Self, z: Self) -> Self {
        // `y ^ z` does not wait for the previous step's `x`.
        x.each(|lane, x| z.0[lane] ^ (x & (y.0[lane] ^ z.0[lane])))
    }
    #[inline(always)]
    unsafe fn g(x: Self, y: Self, z: Self) -> Self {
        // (x & z) | (y & !z) with the two disjoint halves added: `y & !z`
        // is ready before `x`, and the addition folds into the step's sum,
        // so only `x & z` and one addition wait for the previous step.
        x.each(|lane, x| (x & z.0[lane]).wrapping_add(y.0[lane] & !z.0[lane]))
    }
    #[inline(always)]
    unsafe fn h(x: Self, y: Self, z: Self) -> Self {
        x.each(|lane, x| x ^ (y.0[lane] ^ z.0[lane]))
    }
    #[inline(always)]
    unsafe fn i(x: Self, y: Self, z: Self) -> Self {
        x.each(|lane, x| y.0[lane] ^ (x | !z.0[lane]))
    }
    #[inline(always)]
    unsafe fn rotl<const R: i32, const RR: i32>(self) -> Self {
        self.each(|_, x| x.rotate_left(R as u32))
    }
    #[inline(always)]
    unsafe fn words(blocks: &[&[u8; 64]; N]) -> [Self; 16] {
        std::array::from_fn(|k| {
            let at = 4 * k;
            Words(std::array::from_fn(|lane| {
                let b = blocks[lane];
                u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
            }))
        })
    }
}

/// The widest scalar kernel: up to five streams stepped side by side still
/// gain (BENCHMARKS.md, "The engine on one core": one core ran 1.8-2.1x
/// md-5's single stream with two, 2.4-2.9x with three, 3.2-3.8x with
/// five), and they outrun an 8-lane AVX2 pass of as many busy lanes.
pub(super) const MAX_LANES: usize = 5;

/// The scalar kernel for `lanes` streams (1 to [`MAX_LANES`]): `N` lanes of
/// [`kernel::compress`] on plain words, on any CPU.
///
/// # Panics
///
/// If `lanes` is 0 or above [`MAX_LANES`].
pub(super) fn kernel(lanes: usize) -> super::Kernel {
    match lanes {
        1 => compress::<1>,
        2 => compress::<2>,
        3 => compress::<3>,
        4 => compress::<4>,
        5 => compress::<5>,
        _ => panic!("no scalar kernel of {lanes} lanes"),
    }
}

/// [`kernel::compress`] over `N` lanes, on any CPU.
///
/// # Safety
///
/// None needed: `Words` uses no CPU extension. `unsafe` only to share the
/// engine's kernel type.
unsafe fn compress<const N: usize>(
    states: &mut [[u32; 4]],
    inputs: &[Option<&[u8]>],
    blocks: usize,
) {
    // SAFETY: `Words`' methods are plain integer operations with no
    // precondition.
    unsafe { kernel::compress::<Words<N>, N>(states, inputs, blocks) }
}
