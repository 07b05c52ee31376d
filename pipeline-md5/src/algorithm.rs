//! The digest algorithms besides MD5: SHA-1, SHA-256, SHA-512 (RustCrypto)
//! and BLAKE3 (the `blake3` crate), and the value a digest of any of them
//! is.
//!
//! MD5 is the default and the only one the multi-lane [`crate::engine`]
//! runs; the others digest one file at a time per digester, on the same
//! pipeline (every design, the same order, the same errors).
//!
//! ```
//! use pipeline_md5::algorithm::Algorithm;
//!
//! let mut hasher = Algorithm::Sha256.hasher();
//! hasher.update(b"hello\n");
//! let hash = hasher.finalize();
//! assert_eq!(
//!     hash.hex(),
//!     "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
//! );
//! assert_eq!("blake3".parse::<Algorithm>(), Ok(Algorithm::Blake3));
//! ```

use std::fmt;
use std::str::FromStr;

use md5::Digest as _;

/// A digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// MD5, 16 bytes: the default, on the multi-lane engine.
    #[default]
    Md5,
    /// SHA-1, 20 bytes.
    Sha1,
    /// SHA-256, 32 bytes.
    Sha256,
    /// SHA-512, 64 bytes.
    Sha512,
    /// BLAKE3, 32 bytes (its default output length, as `b3sum` prints it).
    Blake3,
}

impl Algorithm {
    /// Every algorithm, MD5 first.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Md5,
        Algorithm::Sha1,
        Algorithm::Sha256,
        Algorithm::Sha512,
        Algorithm::Blake3,
    ];

    /// The name `-a/--algorithm` takes: `md5`, `sha1`, `sha256`, `sha512`,
    /// `blake3`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "md5",
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
            Algorithm::Blake3 => "blake3",
        }
    }

    /// The tag of BSD-style lines, as `cksum -a` writes it (`SHA256 (NAME)
    /// = HEX`); `BLAKE3` for BLAKE3.
    pub fn tag(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
            Algorithm::Blake3 => "BLAKE3",
        }
    }

    /// The algorithm a BSD-style line's tag names, exactly as
    /// [`tag`](Self::tag) writes it.
    pub fn from_tag(tag: &[u8]) -> Option<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.tag().as_bytes() == tag)
    }

    /// The digest's length in bytes (twice that in hex digits).
    pub fn digest_len(self) -> usize {
        match self {
            Algorithm::Md5 => 16,
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 | Algorithm::Blake3 => 32,
            Algorithm::Sha512 => 64,
        }
    }

    /// A new hasher.
    pub fn hasher(self) -> Hasher {
        Hasher(match self {
            Algorithm::Md5 => State::Md5(md5::Md5::new()),
            Algorithm::Sha1 => State::Sha1(sha1::Sha1::new()),
            Algorithm::Sha256 => State::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => State::Sha512(Box::new(sha2::Sha512::new())),
            Algorithm::Blake3 => State::Blake3(Box::new(blake3::Hasher::new())),
        })
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = String;

    /// Parses a [`name`](Algorithm::name); the error lists the names.
    fn from_str(s: &str) -> Result<Algorithm, String> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
                format!("unknown algorithm '{s}' (one of: {})", names.join(", "))
            })
    }
}

/// A hash being computed: [`update`](Self::update) with the bytes in
/// order, then [`finalize`](Self::finalize).
pub struct Hasher(State);

enum State {
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha512(Box<sha2::Sha512>),
    Blake3(Box<blake3::Hasher>),
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Hasher").field(&self.algorithm()).finish()
    }
}

impl Hasher {
    /// The algorithm it computes.
    pub fn algorithm(&self) -> Algorithm {
        match self.0 {
            State::Md5(_) => Algorithm::Md5,
            State::Sha1(_) => Algorithm::Sha1,
            State::Sha256(_) => Algorithm::Sha256,
            State::Sha512(_) => Algorithm::Sha512,
            State::Blake3(_) => Algorithm::Blake3,
        }
    }

    /// Adds `data` to the message.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            State::Md5(h) => h.update(data),
            State::Sha1(h) => h.update(data),
            State::Sha256(h) => h.update(data),
            State::Sha512(h) => h.update(data),
            State::Blake3(h) => {
                h.update(data);
            }
        }
    }

    /// The digest of everything added.
    pub fn finalize(self) -> Hash {
        let algorithm = self.algorithm();
        let mut bytes = [0u8; MAX_LEN];
        match self.0 {
            State::Md5(h) => bytes[..16].copy_from_slice(&h.finalize()),
            State::Sha1(h) => bytes[..20].copy_from_slice(&h.finalize()),
            State::Sha256(h) => bytes[..32].copy_from_slice(&h.finalize()),
            State::Sha512(h) => bytes.copy_from_slice(&h.finalize()),
            State::Blake3(h) => bytes[..32].copy_from_slice(h.finalize().as_bytes()),
        }
        Hash { algorithm, bytes }
    }
}

/// The longest digest: SHA-512's 64 bytes.
const MAX_LEN: usize = 64;

/// A digest and the algorithm that made it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hash {
    algorithm: Algorithm,
    /// The digest, then zeros.
    bytes: [u8; MAX_LEN],
}

impl Hash {
    /// An MD5 digest.
    pub fn md5(sum: [u8; 16]) -> Hash {
        let mut bytes = [0u8; MAX_LEN];
        bytes[..16].copy_from_slice(&sum);
        Hash {
            algorithm: Algorithm::Md5,
            bytes,
        }
    }

    /// The digest written in `hex` (either case), of exactly
    /// `algorithm`'s length; `None` for anything else.
    pub fn from_hex(algorithm: Algorithm, hex: &[u8]) -> Option<Hash> {
        fn nibble(c: u8) -> Option<u8> {
            char::from(c).to_digit(16).map(|d| d as u8)
        }
        if hex.len() != 2 * algorithm.digest_len() {
            return None;
        }
        let mut bytes = [0u8; MAX_LEN];
        for (byte, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
            *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
        }
        Some(Hash { algorithm, bytes })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The digest's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.algorithm.digest_len()]
    }

    /// The MD5 digest, if this is one.
    pub fn to_md5(&self) -> Option<[u8; 16]> {
        (self.algorithm == Algorithm::Md5).then(|| {
            let mut sum = [0u8; 16];
            sum.copy_from_slice(&self.bytes[..16]);
            sum
        })
    }

    /// The digest in lowercase hex, as the `*sum` tools print it.
    pub fn hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = String::with_capacity(2 * self.algorithm.digest_len());
        for &b in self.as_bytes() {
            hex.push(DIGITS[usize::from(b >> 4)] as char);
            hex.push(DIGITS[usize::from(b & 0xf)] as char);
        }
        hex
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_algorithm_gives_its_known_digest_of_abc() {
        let known = [
            (Algorithm::Md5, "900150983cd24fb0d6963f7d28e17f72"),
            (Algorithm::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (
                Algorithm::Sha256,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                Algorithm::Sha512,
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                 2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            ),
            (
                Algorithm::Blake3,
                "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85",
            ),
        ];
        for (algorithm, hex) in known {
            let mut h = algorithm.hasher();
            h.update(b"a");
            h.update(b"bc");
            let hash = h.finalize();
            assert_eq!(hash.hex(), hex, "{algorithm}");
            assert_eq!(hash.as_bytes().len(), algorithm.digest_len());
            assert_eq!(Hash::from_hex(algorithm, hex.as_bytes()), Some(hash));
            assert_eq!(algorithm.name().parse(), Ok(algorithm));
            assert_eq!(
                Algorithm::from_tag(algorithm.tag().as_bytes()),
                Some(algorithm)
            );
        }
        assert!("sha3".parse::<Algorithm>().is_err());
        assert_eq!(Hash::from_hex(Algorithm::Sha1, b"00"), None);
    }
}
