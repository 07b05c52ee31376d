//! The MD5 block function over `L` lanes at once, written once for any
//! vector type: each lane of a vector carries one stream's word, so one
//! vector instruction does the same step of MD5 (RFC 1321) for `L`
//! independent streams.
//!
//! A backend ([`super::avx2`], [`super::avx512`], the one-lane
//! [`super::single`], and [`Emulated`] in tests)
//! supplies the handful of lane-wise operations of the [`Vector`] trait;
//! [`compress`] does the rest: it transposes each lane's next 64-byte block
//! into sixteen word vectors and runs the 64 steps. Every function here is
//! `#[inline(always)]`, so that a backend's `#[target_feature]` entry point
//! compiles the whole kernel, intrinsics included, for its instruction set.

/// The MD5 initial state (A, B, C, D).
pub(super) const INIT: [u32; 4] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476];

/// The step constants K[i] = floor(|sin(i + 1)| * 2^32) of RFC 1321.
const K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];

/// The truth tables of MD5's four Boolean functions of (x, y, z), as the
/// immediates of AVX-512's `vpternlogd`: bit `4x + 2y + z` of the byte is
/// the function's value for those three input bits. [`Emulated`] evaluates
/// them the same way, so the tests check these bytes on any CPU. (Off
/// x86-64, outside the tests, nothing reads them.)
#[cfg_attr(not(any(target_arch = "x86_64", test)), allow(dead_code))]
pub(super) mod truth {
    /// F = (x & y) | (!x & z): x selects y or z.
    pub const F: i32 = 0xCA;
    /// G = (x & z) | (y & !z): z selects x or y.
    pub const G: i32 = 0xE4;
    /// H = x ^ y ^ z.
    pub const H: i32 = 0x96;
    /// I = y ^ (x | !z).
    pub const I: i32 = 0x39;
}

/// `L` lanes of `u32`, and the lane-wise operations MD5 needs.
///
/// # Safety
///
/// Every method may use instructions of the backend's CPU extension:
/// callers must only call them on a CPU that has it (the backends call them
/// only from their `#[target_feature]` entry point, which the engine reaches
/// only after run-time detection).
pub(super) trait Vector<const L: usize>: Copy {
    /// The lanes from memory.
    unsafe fn load(src: &[u32; L]) -> Self;
    /// The lanes to memory.
    unsafe fn store(self, dst: &mut [u32; L]);
    /// `x` in every lane.
    unsafe fn splat(x: u32) -> Self;
    /// Lane-wise wrapping addition.
    unsafe fn add(self, other: Self) -> Self;
    /// MD5's F, lane-wise ([`truth::F`]).
    unsafe fn f(x: Self, y: Self, z: Self) -> Self;
    /// MD5's G, lane-wise ([`truth::G`]).
    unsafe fn g(x: Self, y: Self, z: Self) -> Self;
    /// MD5's H, lane-wise ([`truth::H`]).
    unsafe fn h(x: Self, y: Self, z: Self) -> Self;
    /// MD5's I, lane-wise ([`truth::I`]).
    unsafe fn i(x: Self, y: Self, z: Self) -> Self;
    /// Lane-wise rotation left by `R` bits; `RR` is always `32 - R` (a
    /// shift-based backend needs both as constants).
    unsafe fn rotl<const R: i32, const RR: i32>(self) -> Self;

    /// The message words of one block per lane, transposed: lane `i` of
    /// vector `k` is word `k` (little-endian) of `blocks[i]`. This default
    /// goes through memory; a backend may shuffle in registers instead.
    #[inline(always)]
    unsafe fn words(blocks: &[&[u8; 64]; L]) -> [Self; 16] {
        let mut w = [[0u32; L]; 16];
        for (lane, bytes) in blocks.iter().enumerate() {
            for (k, word) in bytes.chunks_exact(4).enumerate() {
                w[k][lane] = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
            }
        }
        let mut m = [Self::splat(0); 16];
        for (vector, words) in m.iter_mut().zip(&w) {
            *vector = Self::load(words);
        }
        m
    }
}

/// Compresses `blocks` consecutive 64-byte blocks of every lane that has
/// input into that lane's state. `states[i]` is lane `i`'s (A, B, C, D);
/// `inputs[i]` its bytes, at least `64 * blocks` of them, or `None` for a
/// lane with nothing to compress: it runs on zeros and its state is left
/// as it was (a masked lane).
///
/// # Panics
///
/// If `states` or `inputs` do not have `L` entries, or an input is shorter
/// than `64 * blocks` bytes (the engine never calls it so).
///
/// # Safety
///
/// As [`Vector`]: the CPU must have `V`'s extension. Memory is only touched
/// through references and bounds-checked slices.
#[inline(always)]
pub(super) unsafe fn compress<V: Vector<L>, const L: usize>(
    states: &mut [[u32; 4]],
    inputs: &[Option<&[u8]>],
    blocks: usize,
) {
    assert!(
        states.len() == L && inputs.len() == L,
        "one state and one input per lane"
    );
    for input in inputs.iter().flatten() {
        assert!(
            input.len() >= 64 * blocks,
            "a lane's input holds its blocks"
        );
    }
    // The state, one vector per word: lane i of `abcd[0]` is lane i's A.
    let mut abcd = [[0u32; L]; 4];
    for (lane, state) in states.iter().enumerate() {
        for (word, value) in state.iter().enumerate() {
            abcd[word][lane] = *value;
        }
    }
    let mut a = V::load(&abcd[0]);
    let mut b = V::load(&abcd[1]);
    let mut c = V::load(&abcd[2]);
    let mut d = V::load(&abcd[3]);
    const ZEROS: [u8; 64] = [0; 64];
    for block in 0..blocks {
        let bytes: [&[u8; 64]; L] = std::array::from_fn(|lane| match inputs[lane] {
            Some(input) => input[64 * block..]
                .first_chunk::<64>()
                .expect("a lane's input holds its blocks"),
            None => &ZEROS,
        });
        let m = V::words(&bytes);
        let [a1, b1, c1, d1] = rounds::<V, L>([a, b, c, d], &m);
        a = a.add(a1);
        b = b.add(b1);
        c = c.add(c1);
        d = d.add(d1);
    }
    a.store(&mut abcd[0]);
    b.store(&mut abcd[1]);
    c.store(&mut abcd[2]);
    d.store(&mut abcd[3]);
    for (lane, state) in states.iter_mut().enumerate() {
        if inputs[lane].is_some() {
            for (word, value) in state.iter_mut().enumerate() {
                *value = abcd[word][lane];
            }
        }
    }
}

/// One step: `a = b + rotl(a + fun(b, c, d) + K[i] + m[k], s)`. The sum of
/// the constant, the message word and `a` does not wait for the previous
/// step; only `fun(b, c, d)`, the rotation and the last addition do.
macro_rules! step {
    ($fun:ident, $a:ident, $b:ident, $c:ident, $d:ident, $m:ident, $i:expr, $k:expr, $s:literal) => {
        let early = $a.add(V::splat(K[$i]).add($m[$k]));
        $a = $b.add(early.add(V::$fun($b, $c, $d)).rotl::<$s, { 32 - $s }>());
    };
}

/// Four steps, the roles of a, b, c, d turning as RFC 1321 turns them.
macro_rules! four {
    ($fun:ident, $a:ident, $b:ident, $c:ident, $d:ident, $m:ident, $i:expr,
     [$k0:expr, $k1:expr, $k2:expr, $k3:expr], [$s0:literal, $s1:literal, $s2:literal, $s3:literal]) => {
        step!($fun, $a, $b, $c, $d, $m, $i, $k0, $s0);
        step!($fun, $d, $a, $b, $c, $m, $i + 1, $k1, $s1);
        step!($fun, $c, $d, $a, $b, $m, $i + 2, $k2, $s2);
        step!($fun, $b, $c, $d, $a, $m, $i + 3, $k3, $s3);
    };
}

/// The 64 steps of one block, without the final addition of the state.
#[inline(always)]
unsafe fn rounds<V: Vector<L>, const L: usize>(state: [V; 4], m: &[V; 16]) -> [V; 4] {
    let [mut a, mut b, mut c, mut d] = state;
    // Round 1: word i.
    four!(f, a, b, c, d, m, 0, [0, 1, 2, 3], [7, 12, 17, 22]);
    four!(f, a, b, c, d, m, 4, [4, 5, 6, 7], [7, 12, 17, 22]);
    four!(f, a, b, c, d, m, 8, [8, 9, 10, 11], [7, 12, 17, 22]);
    four!(f, a, b, c, d, m, 12, [12, 13, 14, 15], [7, 12, 17, 22]);
    // Round 2: word (5i + 1) mod 16.
    four!(g, a, b, c, d, m, 16, [1, 6, 11, 0], [5, 9, 14, 20]);
    four!(g, a, b, c, d, m, 20, [5, 10, 15, 4], [5, 9, 14, 20]);
    four!(g, a, b, c, d, m, 24, [9, 14, 3, 8], [5, 9, 14, 20]);
    four!(g, a, b, c, d, m, 28, [13, 2, 7, 12], [5, 9, 14, 20]);
    // Round 3: word (3i + 5) mod 16.
    four!(h, a, b, c, d, m, 32, [5, 8, 11, 14], [4, 11, 16, 23]);
    four!(h, a, b, c, d, m, 36, [1, 4, 7, 10], [4, 11, 16, 23]);
    four!(h, a, b, c, d, m, 40, [13, 0, 3, 6], [4, 11, 16, 23]);
    four!(h, a, b, c, d, m, 44, [9, 12, 15, 2], [4, 11, 16, 23]);
    // Round 4: word 7i mod 16.
    four!(i, a, b, c, d, m, 48, [0, 7, 14, 5], [6, 10, 15, 21]);
    four!(i, a, b, c, d, m, 52, [12, 3, 10, 1], [6, 10, 15, 21]);
    four!(i, a, b, c, d, m, 56, [8, 15, 6, 13], [6, 10, 15, 21]);
    four!(i, a, b, c, d, m, 60, [4, 11, 2, 9], [6, 10, 15, 21]);
    [a, b, c, d]
}
