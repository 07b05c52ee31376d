//! A portable backend for the tests: plain arrays, with the Boolean
//! functions evaluated from the very truth tables AVX-512 uses
//! ([`kernel::truth`]). Through it the tests run the generic kernel at 16
//! lanes, and check the `vpternlogd` immediates, on any CPU.

use super::kernel::{self, truth, Vector};

/// `L` lanes in an array.
#[derive(Clone, Copy)]
pub(super) struct Emulated<const L: usize>([u32; L]);

/// What `vpternlogd` computes: bit `4x + 2y + z` of `table`, bit by bit.
pub(super) fn ternlog(table: i32, x: u32, y: u32, z: u32) -> u32 {
    (0..32).fold(0, |out, bit| {
        let index = ((x >> bit) & 1) << 2 | ((y >> bit) & 1) << 1 | ((z >> bit) & 1);
        out | (((table as u32 >> index) & 1) << bit)
    })
}

impl<const L: usize> Emulated<L> {
    fn lanes(table: i32, x: Self, y: Self, z: Self) -> Self {
        Emulated(std::array::from_fn(|i| {
            ternlog(table, x.0[i], y.0[i], z.0[i])
        }))
    }
}

impl<const L: usize> Vector<L> for Emulated<L> {
    unsafe fn load(src: &[u32; L]) -> Self {
        Emulated(*src)
    }
    unsafe fn store(self, dst: &mut [u32; L]) {
        *dst = self.0;
    }
    unsafe fn splat(x: u32) -> Self {
        Emulated([x; L])
    }
    unsafe fn add(self, other: Self) -> Self {
        Emulated(std::array::from_fn(|i| self.0[i].wrapping_add(other.0[i])))
    }
    unsafe fn f(x: Self, y: Self, z: Self) -> Self {
        Self::lanes(truth::F, x, y, z)
    }
    unsafe fn g(x: Self, y: Self, z: Self) -> Self {
        Self::lanes(truth::G, x, y, z)
    }
    unsafe fn h(x: Self, y: Self, z: Self) -> Self {
        Self::lanes(truth::H, x, y, z)
    }
    unsafe fn i(x: Self, y: Self, z: Self) -> Self {
        Self::lanes(truth::I, x, y, z)
    }
    unsafe fn rotl<const R: i32, const RR: i32>(self) -> Self {
        Emulated(self.0.map(|x| x.rotate_left(R as u32)))
    }
}

/// [`kernel::compress`] over 16 emulated lanes.
///
/// # Safety
///
/// None needed: the emulated lanes use no CPU extension. `unsafe` only to
/// share the engine's kernel type.
pub(super) unsafe fn compress16(states: &mut [[u32; 4]], inputs: &[Option<&[u8]>], blocks: usize) {
    // SAFETY: `Emulated`'s methods are plain Rust and need no CPU extension.
    unsafe { kernel::compress::<Emulated<16>, 16>(states, inputs, blocks) }
}
