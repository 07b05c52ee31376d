//! `md5pipe --json`: one JSON object per line (JSON Lines) for each file,
//! and for each error, in the order of the normal output.
//!
//! A digested file:
//!
//! ```text
//! {"path":"docs/a.txt","size":6,"algorithm":"md5","digest":"b1946ac92492d2347c6235b4d2611184","error":null}
//! ```
//!
//! A file or directory that could not be read (also listed on stdout, not
//! on stderr, and the exit status is 1):
//!
//! ```text
//! {"path":"locked","size":null,"algorithm":"md5","digest":null,"error":"Permission denied"}
//! ```
//!
//! - `path` is the path exactly as the normal output names it (unescaped),
//!   when its bytes are UTF-8. A path that is not UTF-8 has no `path`;
//!   `path_bytes` holds its raw bytes in standard base64 (RFC 4648, with
//!   `=` padding) instead, so every name round-trips losslessly. An error
//!   about no file (the runtime's own) has neither.
//! - `size`: the bytes digested (the file's size unless it changed while
//!   it was read); `algorithm`: the digest's algorithm, as `-a` names it
//!   (`md5`, `sha1`, `sha256`, `sha512`, `blake3`), on every line, errors
//!   included (the run's); `digest`: the lowercase hex digest; `error`: the
//!   reason, worded as md5sum words it. `size` and `digest` are `null`
//!   exactly when `error` is not.

use std::os::unix::ffi::OsStrExt;

use pipeline_md5::algorithm::Algorithm;
use pipeline_md5::{Error, FileDigest};
use serde::Serialize;

/// One line of `--json` output.
#[derive(Debug, Serialize)]
struct Record<'a> {
    /// The path, if it is UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    /// The path's bytes in base64, if it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    path_bytes: Option<String>,
    size: Option<u64>,
    algorithm: &'static str,
    digest: Option<String>,
    error: Option<String>,
}

impl<'a> Record<'a> {
    /// A record naming `path` (raw bytes), as `path` or `path_bytes`,
    /// about a digest of `algorithm`.
    fn named(path: Option<&'a [u8]>, algorithm: Algorithm) -> Record<'a> {
        let text = path.map(std::str::from_utf8);
        Record {
            path: text.and_then(Result::ok),
            path_bytes: match (path, text) {
                (Some(bytes), Some(Err(_))) => Some(base64(bytes)),
                _ => None,
            },
            size: None,
            algorithm: algorithm.name(),
            digest: None,
            error: None,
        }
    }

    /// The record and its newline.
    fn line(&self) -> Vec<u8> {
        let mut line =
            serde_json::to_vec(self).expect("a record of strings and numbers serializes");
        line.push(b'\n');
        line
    }
}

/// The JSON line for a digested file.
pub(crate) fn digest_line(digest: &FileDigest) -> Vec<u8> {
    let algorithm = digest.sum.algorithm();
    let mut record = Record::named(Some(digest.path.as_os_str().as_bytes()), algorithm);
    record.size = Some(digest.size);
    record.digest = Some(digest.hex());
    record.line()
}

/// The JSON line for an error in a run of `algorithm`: its path (if it
/// is about one) and reason.
pub(crate) fn error_line(err: &Error, algorithm: Algorithm) -> Vec<u8> {
    let mut record = Record::named(err.path(), algorithm);
    record.error = Some(err.reason());
    record.line()
}

/// `bytes` in standard base64 (RFC 4648 section 4), padded with `=`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_gives_the_rfc_4648_test_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain:?}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn a_name_is_text_when_utf8_and_base64_bytes_otherwise() {
        let utf8 = FileDigest {
            path: "dir/\u{e9}t\u{e9} \"q\"\n".into(),
            sum: pipeline_md5::algorithm::Hash::md5([0xab; 16]),
            size: 7,
        };
        assert_eq!(
            String::from_utf8(digest_line(&utf8)).unwrap(),
            "{\"path\":\"dir/\u{e9}t\u{e9} \\\"q\\\"\\n\",\"size\":7,\
             \"algorithm\":\"md5\",\"digest\":\"abababababababababababababababab\",\"error\":null}\n"
        );
        let raw = FileDigest {
            path: std::ffi::OsStr::from_bytes(b"a\xff").into(),
            sum: pipeline_md5::algorithm::Hash::md5([0; 16]),
            size: 0,
        };
        assert_eq!(
            String::from_utf8(digest_line(&raw)).unwrap(),
            "{\"path_bytes\":\"Yf8=\",\"size\":0,\
             \"algorithm\":\"md5\",\"digest\":\"00000000000000000000000000000000\",\"error\":null}\n"
        );
    }
}
