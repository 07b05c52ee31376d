//! md5sum's output lines and its escaping of file names, both ways.
//!
//! GNU md5sum (9.x) writes a name that contains a backslash, a newline or a
//! carriage return in escaped form: the whole line starts with `\`, and in the
//! name `\` becomes `\\`, newline `\n` and carriage return `\r`. Every other
//! byte, also bytes that are not UTF-8, is written as it is. With `-z` lines
//! end in NUL and nothing is escaped. The same rule applies to `--tag` lines
//! (`\MD5 (a\\b) = ...`) and to the names `md5sum -c` prints.
//!
//! File names never contain NUL; the functions here do not check for it.

use crate::algorithm::Algorithm;

/// Whether md5sum would escape `name`: it contains `\`, `\n` or `\r`.
pub fn needs_escape(name: &[u8]) -> bool {
    name.iter().any(|b| matches!(b, b'\\' | b'\n' | b'\r'))
}

/// Appends `name` to `out` with `\`, newline and carriage return written as
/// `\\`, `\n` and `\r` (md5sum's `print_filename` with escaping on). Adds no
/// leading backslash; that belongs to the line, see [`format_line`].
pub fn escape_into(name: &[u8], out: &mut Vec<u8>) {
    for &b in name {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

/// Appends `name` to `out` the way md5sum prints a name on a line it is
/// writing: escaped when `escape` is true, as it is otherwise.
pub fn push_name(name: &[u8], escape: bool, out: &mut Vec<u8>) {
    if escape {
        escape_into(name, out);
    } else {
        out.extend_from_slice(name);
    }
}

/// One output line of `md5sum`, terminator included, byte for byte.
///
/// - default: `HEX  PATH\n`;
/// - `tag`: `MD5 (PATH) = HEX\n` (md5sum's `--tag`);
/// - `zero`: the line ends in NUL instead of newline and the name is never
///   escaped (md5sum's `-z`);
/// - otherwise, a name that [`needs_escape`] makes the line start with `\`
///   and is written escaped.
///
/// `hex` is written as given; pass the 32 lowercase digits of
/// [`crate::digest::to_hex`].
pub fn format_line(hex: &str, path: &[u8], zero: bool, tag: bool) -> Vec<u8> {
    format_line_of(Algorithm::Md5, hex, path, zero, tag)
}

/// [`format_line`] for a digest of `algorithm`: the line `sha256sum` (and
/// the others of its family, and `b3sum`) prints, or with `tag` the line
/// `cksum -a ALGORITHM` prints, `SHA256 (NAME) = HEX` (`BLAKE3 (NAME) =
/// HEX` for BLAKE3). Names are escaped as md5sum escapes them.
pub fn format_line_of(
    algorithm: Algorithm,
    hex: &str,
    path: &[u8],
    zero: bool,
    tag: bool,
) -> Vec<u8> {
    let escape = !zero && needs_escape(path);
    let mut line = Vec::with_capacity(path.len() + hex.len() + 12);
    if escape {
        line.push(b'\\');
    }
    if tag {
        line.extend_from_slice(algorithm.tag().as_bytes());
        line.extend_from_slice(b" (");
        push_name(path, escape, &mut line);
        line.extend_from_slice(b") = ");
        line.extend_from_slice(hex.as_bytes());
    } else {
        line.extend_from_slice(hex.as_bytes());
        line.extend_from_slice(b"  ");
        push_name(path, escape, &mut line);
    }
    line.push(if zero { b'\0' } else { b'\n' });
    line
}

/// Undoes [`escape_into`] as `md5sum -c` does for a line that starts with
/// `\`: `\\`, `\n` and `\r` become `\`, newline and carriage return.
///
/// Returns `None`, as md5sum rejects the line, when a backslash is followed
/// by anything else or ends the name, or when the name contains a NUL.
pub fn unescape(escaped: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(escaped.len());
    let mut bytes = escaped.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'\\' => out.push(match bytes.next()? {
                b'\\' => b'\\',
                b'n' => b'\n',
                b'r' => b'\r',
                _ => return None,
            }),
            b'\0' => return None,
            _ => out.push(b),
        }
    }
    Some(out)
}

/// A name quoted for a diagnostic as GNU tools quote it (gnulib's `quotef`:
/// shell-escape style, `:` quoted too), in a UTF-8 locale. A name of only
/// safe characters comes back as it is (`dir/a.txt`); one with a single
/// quote and otherwise harmless characters in double quotes (`"it's"`);
/// anything else in single quotes, with `'` written `'\''`, control
/// characters as `$'\n'` and bytes that are not printable UTF-8 in octal
/// (`'a'$'\377''b'`).
pub fn quote(name: &[u8]) -> Vec<u8> {
    if !needs_quoting(name) {
        return name.to_vec();
    }
    if name.contains(&b'\'')
        && chunks(name)
            .enumerate()
            .all(|(i, c)| double_quote_safe(name, i, c))
    {
        return [b"\"", name, b"\""].concat();
    }
    let mut out = vec![b'\''];
    // Inside a `$'...'` part (gnulib's `pending_shell_escape_end`).
    let mut in_dollar = false;
    let escape = |out: &mut Vec<u8>, in_dollar: &mut bool, text: &[u8]| {
        if !std::mem::replace(in_dollar, true) {
            out.extend_from_slice(b"'$'");
        }
        out.push(b'\\');
        out.extend_from_slice(text);
    };
    for chunk in chunks(name) {
        if let Chunk::Char(&[b]) = chunk {
            if let Some(letter) = control_letter(b) {
                escape(&mut out, &mut in_dollar, &[letter]);
                continue;
            }
        }
        match chunk {
            Chunk::Char(b"'") => {
                out.extend_from_slice(b"'\\''");
                in_dollar = false;
            }
            Chunk::Char(c) if printable(c) => {
                if std::mem::replace(&mut in_dollar, false) {
                    out.extend_from_slice(b"''");
                }
                out.extend_from_slice(c);
            }
            Chunk::Char(bytes) | Chunk::Invalid(bytes) => {
                for &b in bytes {
                    let octal = [b'0' + (b >> 6), b'0' + ((b >> 3) & 7), b'0' + (b & 7)];
                    escape(&mut out, &mut in_dollar, &octal);
                }
            }
        }
    }
    out.push(b'\'');
    out
}

/// A piece of a name: one UTF-8 character, or bytes that are not UTF-8.
#[derive(Clone, Copy)]
enum Chunk<'a> {
    Char(&'a [u8]),
    Invalid(&'a [u8]),
}

fn chunks(name: &[u8]) -> impl Iterator<Item = Chunk<'_>> {
    name.utf8_chunks().flat_map(|c| {
        let valid = c.valid();
        let chars = valid
            .char_indices()
            .map(move |(i, ch)| Chunk::Char(&valid.as_bytes()[i..i + ch.len_utf8()]));
        let invalid = c
            .invalid()
            .iter()
            .map(std::slice::from_ref)
            .map(Chunk::Invalid);
        chars.chain(invalid)
    })
}

fn printable(c: &[u8]) -> bool {
    std::str::from_utf8(c).is_ok_and(|s| s.chars().all(|ch| !ch.is_control()))
}

fn control_letter(b: u8) -> Option<u8> {
    Some(match b {
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        0x07 => b'a',
        0x08 => b'b',
        0x0c => b'f',
        0x0b => b'v',
        _ => return None,
    })
}

/// Whether gnulib must put the name in quotes (its first, quote-eliding pass).
fn needs_quoting(name: &[u8]) -> bool {
    name.is_empty()
        || chunks(name).enumerate().any(|(i, chunk)| match chunk {
            Chunk::Invalid(_) => true,
            Chunk::Char(&[b]) => match b {
                b'{' | b'}' => name.len() == 1,
                b'#' | b'~' => i == 0,
                b' ' | b'!' | b'"' | b'$' | b'&' | b'(' | b')' | b'*' | b';' | b'<' | b'='
                | b'>' | b'[' | b'^' | b'`' | b'|' | b'\'' | b'?' | b'\\' | b':' => true,
                _ => !printable(&[b]),
            },
            Chunk::Char(c) => !printable(c),
        })
}

/// Whether gnulib would accept the character in its double-quoted form,
/// which it uses for names whose only awkward character is `'`.
fn double_quote_safe(name: &[u8], i: usize, chunk: Chunk<'_>) -> bool {
    match chunk {
        Chunk::Invalid(_) => false,
        Chunk::Char(&[b]) => match b {
            b'{' | b'}' => name.len() == 1,
            b'#' | b'~' => i == 0,
            b' ' | b'\'' | b'%' | b'+' | b',' | b'-' | b'.' | b'/' | b':' | b']' | b'_' | b'@' => {
                true
            }
            _ => b.is_ascii_alphanumeric(),
        },
        Chunk::Char(c) => printable(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::{Digest, Md5};
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::process::Command;

    /// Names that exercise every rule: escaping, non-UTF-8, and characters
    /// that look like md5sum syntax but need no escaping.
    const NAMES: &[&[u8]] = &[
        b"plain",
        b"a\\b",
        b"new\nline",
        b"cr\rhere",
        b"all\\three\n\r",
        b"\xff\xfe not utf-8",
        b"sp ace\ttab",
        b"(par) = en",
        b"*star",
        b" lead",
        b"trail\\",
    ];

    fn hex_of(data: &[u8]) -> String {
        Md5::digest(data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn format_line_matches_md5sum_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        for (i, name) in NAMES.iter().enumerate() {
            let content = format!("content {i}\n");
            std::fs::write(dir.path().join(OsStr::from_bytes(name)), &content).unwrap();
            for (args, zero, tag) in [
                (&[][..], false, false),
                (&["--tag"][..], false, true),
                (&["-z"][..], true, false),
                (&["-z", "--tag"][..], true, true),
            ] {
                let out = Command::new("md5sum")
                    .args(args)
                    .arg("--")
                    .arg(OsStr::from_bytes(name))
                    .current_dir(dir.path())
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{out:?}");
                let ours = format_line(&hex_of(content.as_bytes()), name, zero, tag);
                assert_eq!(
                    ours,
                    out.stdout,
                    "name {:?} args {args:?}",
                    String::from_utf8_lossy(name)
                );
            }
        }
    }

    #[test]
    fn escaping_marks_the_line_and_rewrites_three_bytes() {
        let hex = "0".repeat(32);
        assert_eq!(
            format_line(&hex, b"a\\b\nc\rd", false, false),
            [b"\\", hex.as_bytes(), b"  a\\\\b\\nc\\rd\n"].concat()
        );
        assert_eq!(
            format_line(&hex, b"a\nb", true, false),
            [hex.as_bytes(), b"  a\nb\0"].concat()
        );
        assert_eq!(
            format_line(&hex, b"a\nb", false, true),
            [b"\\MD5 (a\\nb) = ", hex.as_bytes(), b"\n"].concat()
        );
        assert!(!needs_escape(b"\xff (x) = *"));
    }

    #[test]
    fn unescape_inverts_escape() {
        for name in NAMES {
            let mut escaped = Vec::new();
            escape_into(name, &mut escaped);
            assert_eq!(unescape(&escaped).as_deref(), Some(*name));
        }
    }

    #[test]
    fn unescape_rejects_what_md5sum_rejects() {
        assert_eq!(unescape(b"a\\"), None, "trailing lone backslash");
        assert_eq!(
            unescape(b"a\\t"),
            None,
            "only \\\\, \\n and \\r are escapes"
        );
        assert_eq!(unescape(b"a\\\\\\"), None);
        assert_eq!(unescape(b"a\0b"), None, "no NUL in a name");
        assert_eq!(unescape(b"").as_deref(), Some(&b""[..]));
        assert_eq!(unescape(b"x\\\\\\n\\r").as_deref(), Some(&b"x\\\n\r"[..]));
    }

    #[test]
    fn quote_matches_md5sum_diagnostics() {
        let names: &[&[u8]] = &[
            b"plain",
            b"dir/a.txt",
            b"@%+,-./]_",
            b"it's",
            b"it's me",
            b"a:b",
            b"sp ace",
            b"a\tb",
            b"x?",
            b"{",
            b"{a",
            b"#a",
            b"a#",
            b"~",
            b"a~",
            b"a=b",
            b"\xc3\xa9",
            b"\xff",
            b"a\xffb",
            b"it's\nx",
            b"a^b",
            b"e\xcc\x81",
            b"new\nline",
            b"a\\b",
            b"cr\r",
            b"\x01\x7f",
            b"a#'b",
            b"'",
            b"x'y:z",
            b"\xc2\x85",
            b"trail\n",
            b"$HOME",
            b"a\\'b",
            b"",
        ];
        let dir = tempfile::tempdir().unwrap();
        for name in names {
            let out = Command::new("md5sum")
                .env("LC_ALL", "C.UTF-8")
                .arg("--")
                .arg(OsStr::from_bytes(name))
                .current_dir(dir.path())
                .output()
                .unwrap();
            let want = [
                b"md5sum: ",
                &quote(name)[..],
                b": No such file or directory\n",
            ]
            .concat();
            let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            assert_eq!(show(&out.stderr), show(&want), "name {:?}", show(name));
        }
    }
}
