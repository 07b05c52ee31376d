//! `md5sum -c` lists: parsing their lines, and wording the results and
//! warnings exactly as GNU md5sum 9.1 does.
//!
//! A [`Parser`] reads one line at a time and follows md5sum's `split_3` rule
//! for rule: leading blanks are skipped; a leading `\` marks an escaped name;
//! `MD5 (NAME) = HEX` (also `MD5(NAME)=HEX`) is the BSD tag form; otherwise
//! the line is 32 hex digits (either case), a blank, then ` ` or `*` (binary)
//! and the name, every byte of it significant. md5sum also accepts BSD
//! `md5 -r` lines (`HEX NAME`, one blank) until it has seen a line in its own
//! format, and from then on refuses them; that memory lasts for the whole run,
//! across lists, so keep one [`Parser`] per run.
//!
//! NUL bytes inside a line are treated as md5sum treats them (the fuzzer in
//! `tests/check_fuzz.rs` compares the two): the digest must be followed by a
//! blank, so `HEX\0NAME` is improper; a name ends at its first NUL; an
//! escaped name must not contain one; and a BSD line's digest ends at a NUL
//! (`MD5 (NAME) = HEX\0junk` is valid).
//!
//! Besides md5sum's lines, the lines of `sha1sum`, `sha256sum`,
//! `sha512sum` and `b3sum` and the BSD-style ones of `cksum -a` (`SHA256
//! (NAME) = HEX`, `BLAKE3 (NAME) = HEX`) are read by the same rules: a
//! tagged line's algorithm is its tag, an untagged line's is its digest's
//! length (40 hex digits SHA-1, 64 SHA-256, 128 SHA-512), unless
//! [`Parser::untagged`] names the algorithm of that length (BLAKE3, whose
//! 64 digits would otherwise read as SHA-256). md5sum finds those lines
//! improperly formatted; on every other line the two agree.
//!
//! A parser made by [`Parser::raw`] reads `-z` lists, where lines end at NUL
//! and no byte of a name is special: no carriage return is dropped and no
//! `\` is an escape.

use crate::algorithm::{Algorithm, Hash};
use crate::escape::{push_name, quote, unescape};

/// A line that names a file and its expected digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedLine {
    /// The expected digest, and so the algorithm to check it with.
    pub expected: Hash,
    /// The file name, unescaped; never contains NUL.
    pub path: Vec<u8>,
    /// Whether the line marked the file binary (`HEX *NAME`). GNU systems
    /// read both modes alike; kept for completeness.
    pub binary: bool,
}

/// What one line of a check list is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Line {
    /// A file to verify.
    Parsed(ParsedLine),
    /// A comment (`#` first) or an empty line: ignored, not counted.
    Skipped,
    /// An improperly formatted line: counted, reported with `-w`.
    Improper,
}

/// md5sum's check-list parser; see the [module docs](self).
#[derive(Debug, Default, Clone)]
pub struct Parser {
    /// md5sum's `bsd_reversed`: `None` until a line decides it.
    bsd_reversed: Option<bool>,
    /// A `-z` list: no carriage return stripping, no escapes.
    raw: bool,
    /// The algorithm of untagged lines of its digest's length.
    untagged: Option<Algorithm>,
    /// The algorithm of the last properly formatted line.
    last: Option<Algorithm>,
}

const MIN_DIGEST_LINE_LENGTH: usize = 32 + 2;

fn is_white(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The name up to its first NUL, as a C string reads it.
fn c_str(name: &[u8]) -> Vec<u8> {
    name.split(|&b| b == 0).next().unwrap_or_default().to_vec()
}

impl Parser {
    /// A parser that has seen no line yet.
    pub fn new() -> Parser {
        Parser::default()
    }

    /// A parser for `-z` lists (lines end at NUL): every byte after the
    /// digest and its blank is the name, a carriage return and a leading
    /// `\` included.
    pub fn raw() -> Parser {
        Parser {
            raw: true,
            ..Parser::default()
        }
    }

    /// This parser, reading untagged lines whose digest has `algorithm`'s
    /// length as digests of `algorithm` (`-a blake3` for `b3sum` lists).
    pub fn untagged(mut self, algorithm: Algorithm) -> Parser {
        self.untagged = Some(algorithm);
        self
    }

    /// The algorithm `-w`'s warning names for an improperly formatted line
    /// read now (`improperly formatted SHA256 checksum line`): the one
    /// [`untagged`](Self::untagged) names, as `sha256sum` and `cksum -a
    /// sha256` name theirs; else that of the last properly formatted line
    /// of the run, tagged or not, as `cksum`'s auto-detection names the
    /// last tag it read; MD5, md5sum's word, before any.
    pub fn warning_algorithm(&self) -> Algorithm {
        self.untagged.or(self.last).unwrap_or(Algorithm::Md5)
    }

    /// The algorithm of an untagged digest of `digits` hex digits.
    fn untagged_of(&self, digits: usize) -> Option<Algorithm> {
        if let Some(a) = self.untagged.filter(|a| 2 * a.digest_len() == digits) {
            return Some(a);
        }
        [
            Algorithm::Md5,
            Algorithm::Sha1,
            Algorithm::Sha256,
            Algorithm::Sha512,
        ]
        .into_iter()
        .find(|a| 2 * a.digest_len() == digits)
    }

    /// Parses one line of a list, given without its `\n` (as
    /// `BufRead::split(b'\n')` yields lines; without its NUL for a
    /// [`raw`](Self::raw) parser); one trailing `\r` is ignored, as md5sum
    /// ignores it, except by a raw parser. `list_is_stdin` must be true when the list is
    /// read from standard input: md5sum then refuses the name `-`.
    pub fn parse_line(&mut self, line: &[u8], list_is_stdin: bool) -> Line {
        if line.first() == Some(&b'#') {
            return Line::Skipped;
        }
        let line = match line.strip_suffix(b"\r") {
            Some(stripped) if !self.raw => stripped,
            _ => line,
        };
        if line.is_empty() {
            return Line::Skipped;
        }
        match self.split_3(line) {
            Some(parsed) if !(list_is_stdin && parsed.path == b"-") => {
                self.last = Some(parsed.expected.algorithm());
                Line::Parsed(parsed)
            }
            _ => Line::Improper,
        }
    }

    /// md5sum's `split_3` over `s`, reading past the end as NUL like C does.
    fn split_3(&mut self, s: &[u8]) -> Option<ParsedLine> {
        let at = |i: usize| s.get(i).copied().unwrap_or(0);
        let mut i = 0;
        while is_white(at(i)) {
            i += 1;
        }
        let escaped = at(i) == b'\\' && !self.raw;
        if escaped {
            i += 1;
        }
        let tagged = Algorithm::ALL
            .into_iter()
            .find(|a| s[i..].starts_with(a.tag().as_bytes()));
        if let Some(algorithm) = tagged {
            i += algorithm.tag().len();
            if at(i) == b' ' {
                i += 1;
            }
            if at(i) != b'(' {
                return None;
            }
            return bsd_split_3(&s[i + 1..], escaped, algorithm);
        }
        if s.len() - i < MIN_DIGEST_LINE_LENGTH + usize::from(at(i) == b'\\') {
            return None;
        }
        // 32 hex digits (40, 64 or 128 for the other algorithms), then a
        // blank: not a NUL, not the line's end.
        let start = i;
        let digits = s[start..]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        let algorithm = self.untagged_of(digits)?;
        i += digits;
        if !is_white(at(i)) {
            return None;
        }
        let expected = Hash::from_hex(algorithm, &s[start..i])?;
        i += 1;
        let mut binary = false;
        if s.len() - i == 1 || (at(i) != b' ' && at(i) != b'*') {
            if self.bsd_reversed == Some(false) {
                return None;
            }
            self.bsd_reversed = Some(true);
        } else if self.bsd_reversed != Some(true) {
            self.bsd_reversed = Some(false);
            binary = at(i) == b'*';
            i += 1;
        }
        let name = &s[i..];
        let path = if escaped {
            unescape(name)?
        } else {
            c_str(name)
        };
        Some(ParsedLine {
            expected,
            path,
            binary,
        })
    }
}

/// md5sum's `bsd_split_3`: `s` is what follows `MD5 (` (or the tag of
/// `algorithm`). The digest ends at the line's end or at a NUL, as a C
/// string does.
fn bsd_split_3(s: &[u8], escaped: bool, algorithm: Algorithm) -> Option<ParsedLine> {
    let close = s.iter().rposition(|&b| b == b')')?;
    let path = if escaped {
        unescape(&s[..close])?
    } else {
        c_str(&s[..close])
    };
    let rest = skip_blanks(&s[close + 1..]).strip_prefix(b"=")?;
    let hex = skip_blanks(rest);
    let hex = hex.split(|&b| b == 0).next().unwrap_or_default();
    let expected = Hash::from_hex(algorithm, hex)?;
    Some(ParsedLine {
        expected,
        path,
        binary: false,
    })
}

/// `s` without its leading spaces and tabs (md5sum's `ISWHITE`).
fn skip_blanks(s: &[u8]) -> &[u8] {
    &s[s.iter().take_while(|&&b| is_white(b)).count()..]
}

/// The verdict on one listed file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckStatus {
    /// The digest matched.
    Ok,
    /// The digest did not match.
    Failed,
    /// The file could not be opened or read (the reason goes to stderr).
    FailedOpenOrRead,
}

impl CheckStatus {
    /// The word md5sum prints after the name.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Ok => "OK",
            CheckStatus::Failed => "FAILED",
            CheckStatus::FailedOpenOrRead => "FAILED open or read",
        }
    }
}

/// The stdout line `md5sum -c` prints for one file, newline included:
/// `NAME: OK`, `NAME: FAILED` or `NAME: FAILED open or read`.
///
/// md5sum 9.1 escapes a name here only when it contains a newline (unlike
/// its digest lines, which also escape for `\` and carriage return); then
/// the line starts with `\` and `\`, newline and carriage return in the
/// name are written `\\`, `\n` and `\r`.
pub fn format_check_result(path: &[u8], status: CheckStatus) -> Vec<u8> {
    let escape = path.contains(&b'\n');
    let mut line = Vec::with_capacity(path.len() + 24);
    if escape {
        line.push(b'\\');
    }
    push_name(path, escape, &mut line);
    line.extend_from_slice(b": ");
    line.extend_from_slice(status.as_str().as_bytes());
    line.push(b'\n');
    line
}

/// A message `md5sum -c` writes on stderr, without the `md5sum: ` prefix
/// and the newline. `list` is the list's name, raw: it is quoted as md5sum
/// quotes it ([`quote`]); md5sum names a list read from `-` `standard input`
/// (which then prints as `'standard input'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning<'a> {
    /// `-w`: `LIST: N: improperly formatted MD5 checksum line`, with the
    /// algorithm's [tag](Algorithm::tag) for `MD5` (`SHA256`, as
    /// `sha256sum` words it).
    ImproperLine {
        /// The list's name.
        list: &'a [u8],
        /// The 1-based line number, counting comments and empty lines.
        line: u64,
        /// The algorithm named ([`Parser::warning_algorithm`]).
        algorithm: Algorithm,
    },
    /// `LIST: no properly formatted checksum lines found`.
    NoProperLines {
        /// The list's name.
        list: &'a [u8],
    },
    /// `WARNING: N line(s) is/are improperly formatted`.
    ImproperLines(u64),
    /// `WARNING: N listed file(s) could not be read`.
    Unreadable(u64),
    /// `WARNING: N computed checksum(s) did NOT match`.
    Mismatched(u64),
    /// `--ignore-missing` and nothing matched: `LIST: no file was verified`.
    NoFileVerified {
        /// The list's name.
        list: &'a [u8],
    },
}

impl Warning<'_> {
    /// The message bytes (list names may not be UTF-8).
    pub fn to_bytes(&self) -> Vec<u8> {
        let plural = |n: u64, one: &str, many: &str| {
            format!("WARNING: {n} {}", if n == 1 { one } else { many }).into_bytes()
        };
        match *self {
            Warning::ImproperLine {
                list,
                line,
                algorithm,
            } => {
                let tag = algorithm.tag();
                let tail = format!(": {line}: improperly formatted {tag} checksum line");
                [&quote(list)[..], tail.as_bytes()].concat()
            }
            Warning::NoProperLines { list } => [
                &quote(list)[..],
                b": no properly formatted checksum lines found",
            ]
            .concat(),
            Warning::ImproperLines(n) => plural(
                n,
                "line is improperly formatted",
                "lines are improperly formatted",
            ),
            Warning::Unreadable(n) => plural(
                n,
                "listed file could not be read",
                "listed files could not be read",
            ),
            Warning::Mismatched(n) => plural(
                n,
                "computed checksum did NOT match",
                "computed checksums did NOT match",
            ),
            Warning::NoFileVerified { list } => {
                [&quote(list)[..], b": no file was verified"].concat()
            }
        }
    }
}

impl std::fmt::Display for Warning<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

/// What checking one list came to; md5sum keeps these per list.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Lines that parsed (whatever became of their files).
    pub parsed: u64,
    /// Improperly formatted lines.
    pub improper: u64,
    /// Files that could not be opened or read.
    pub unreadable: u64,
    /// Files whose digest did not match.
    pub mismatched: u64,
    /// Files whose digest matched.
    pub matched: u64,
}

impl Counts {
    /// The warnings md5sum prints after a list, in its order. With
    /// `status_only` (`--status`) only the no-valid-line warning remains.
    pub fn warnings<'a>(
        &self,
        list: &'a [u8],
        ignore_missing: bool,
        status_only: bool,
    ) -> Vec<Warning<'a>> {
        if self.parsed == 0 {
            return vec![Warning::NoProperLines { list }];
        }
        let mut out = Vec::new();
        if status_only {
            return out;
        }
        if self.improper != 0 {
            out.push(Warning::ImproperLines(self.improper));
        }
        if self.unreadable != 0 {
            out.push(Warning::Unreadable(self.unreadable));
        }
        if self.mismatched != 0 {
            out.push(Warning::Mismatched(self.mismatched));
        }
        if ignore_missing && self.matched == 0 {
            out.push(Warning::NoFileVerified { list });
        }
        out
    }

    /// Whether md5sum would call this list good: some line parsed, some file
    /// matched, none failed or was unreadable, and (with `strict`) no line
    /// was improperly formatted.
    pub fn success(&self, strict: bool) -> bool {
        self.parsed > 0
            && self.matched > 0
            && self.mismatched == 0
            && self.unreadable == 0
            && (!strict || self.improper == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::{digest_file, to_hex};
    use md5::{Digest, Md5};
    use std::ffi::OsStr;
    use std::io::Write;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::process::{Command, Stdio};

    /// Files present in the oracle's directory, name and content.
    const FILES: &[(&[u8], &[u8])] = &[
        (b"plain", b"p"),
        (b"a\\b", b"backslash"),
        (b"new\nline", b"newline"),
        (b"sp ace", b"space"),
        (b" lead", b"lead"),
        (b"*star", b"star"),
        (b"x)y", b"paren"),
        (b"\xff", b"not utf-8"),
        (b"cr\rhere", b"carriage return"),
        (b"b\\s\nn", b"both"),
    ];

    fn hex(name: &[u8]) -> String {
        let content = FILES.iter().find(|f| f.0 == name).unwrap().1;
        to_hex(&Md5::digest(content).into())
    }

    /// Lines covering every branch of md5sum's parser; `{h}` is the digest of
    /// `plain`, `{H}` the same in capitals, `{a}`, `{n}`, `{x}`, `{f}` those
    /// of `a\b`, `new\nline`, `x)y` and the non-UTF-8 name.
    const LINES: &[&[u8]] = &[
        b"{h}  plain",
        b"{h} *plain",
        b"{H}  plain",
        b"{z}  plain",
        b"{h}  missing",
        b"{h}\tplain",
        b"  {h}  plain",
        b"\t{h}  plain",
        b"\\{a}  a\\\\b",
        b"\\{n}  new\\nline",
        b"{a}  a\\b",
        b"{h}0  plain",
        b"{h}  plain\r",
        b"{h}  sp ace",
        b"{h}   lead",
        b"{h} **star",
        b"\\{h}  a\\q",
        b"\\{h}  trail\\",
        b"{h}  ",
        b"{h} *",
        b"{h}",
        b"{h}x  plain",
        b"g{h}  plain",
        b"\\\\{h}  plain",
        b"{h}  pl\0ain",
        b"{h}\0plain",
        b"{h}\0 plain",
        b"MD5 (plain) = {h}\0x",
        b"MD5 (plain) = {h}\0",
        b"MD5 (plain) = {h} \0",
        b"\\{h}  pl\0ain",
        b"\\{h}  plain",
        b"{f}  \xff",
        b"MD5 (plain) = {h}",
        b"MD5(plain)={h}",
        b"MD5 (plain) = {h} ",
        b"MD5 (plain)  =\t {H}",
        b"\\MD5 (a\\\\b) = {a}",
        b"MD5 (x)y) = {x}",
        b"md5 (plain) = {h}",
        b"MD5  (plain) = {h}",
        b"MD5 ( plain) = {h}",
        b"MD5 (pl\0ain) = {h}",
        b"MD5 (plain) = {h}\r",
        b"\\MD5 (new\\nline) = {n}",
        b"\\MD5 (a\\b) = {a}",
        b"MD5 (plain = {h}",
        b"MD5 (plain) {h}",
        b"#{h}  plain",
        b"",
        b"\r",
        b"  ",
        b"{h} plain",
        b"{h}  plain",
    ];

    fn expand(line: &[u8]) -> Vec<u8> {
        let mut s = line.to_vec();
        for (key, value) in [
            ("{h}", hex(b"plain")),
            ("{H}", hex(b"plain").to_uppercase()),
            ("{z}", "0".repeat(32)),
            ("{a}", hex(b"a\\b")),
            ("{n}", hex(b"new\nline")),
            ("{x}", hex(b"x)y")),
            ("{f}", hex(b"\xff")),
            ("{r}", hex(b"cr\rhere")),
            ("{b}", hex(b"b\\s\nn")),
        ] {
            while let Some(at) = s.windows(key.len()).position(|w| w == key.as_bytes()) {
                s.splice(at..at + key.len(), value.bytes());
            }
        }
        s
    }

    /// Checks `lines` as one list with our parser and wording, and with
    /// `md5sum -c -w ARGS`, and compares stdout, the warnings on stderr and
    /// the exit status. Names are all printable, so open failures (which
    /// md5sum words with quoting) are left out of the stderr comparison.
    fn oracle(lines: &[Vec<u8>], on_stdin: bool, ignore_missing: bool, status_only: bool) {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in FILES {
            std::fs::write(dir.path().join(OsStr::from_bytes(name)), content).unwrap();
        }
        let list: Vec<u8> = lines
            .iter()
            .flat_map(|l| l.iter().copied().chain([b'\n']))
            .collect();
        std::fs::write(dir.path().join("list"), &list).unwrap();
        let mut cmd = Command::new("md5sum");
        cmd.args(["-c", "-w"])
            .current_dir(dir.path())
            .env("LC_ALL", "C.UTF-8")
            .stdin(Stdio::piped());
        cmd.args(ignore_missing.then_some("--ignore-missing"));
        cmd.args(status_only.then_some("--status"));
        cmd.arg(if on_stdin { "-" } else { "list" });
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(if on_stdin { &list } else { b"" })
            .unwrap();
        let out = child.wait_with_output().unwrap();

        let name: &[u8] = if on_stdin { b"standard input" } else { b"list" };
        let (mut parser, mut counts) = (Parser::new(), Counts::default());
        let (mut stdout, mut warnings) = (Vec::new(), Vec::new());
        for (n, line) in lines.iter().enumerate() {
            let parsed = match parser.parse_line(line, on_stdin) {
                Line::Parsed(parsed) => parsed,
                Line::Skipped => continue,
                Line::Improper => {
                    counts.improper += 1;
                    if !status_only {
                        warnings.push(Warning::ImproperLine {
                            list: name,
                            line: n as u64 + 1,
                            algorithm: Algorithm::Md5,
                        });
                    }
                    continue;
                }
            };
            counts.parsed += 1;
            let path = dir.path().join(OsStr::from_bytes(&parsed.path));
            let status = match digest_file(&path, 4096, &|| false, &mut |_| {}) {
                Ok(d) if d.hash == parsed.expected => CheckStatus::Ok,
                Ok(_) => CheckStatus::Failed,
                Err(_) if ignore_missing && !Path::new(&path).exists() => continue,
                Err(_) => CheckStatus::FailedOpenOrRead,
            };
            *match status {
                CheckStatus::Ok => &mut counts.matched,
                CheckStatus::Failed => &mut counts.mismatched,
                _ => &mut counts.unreadable,
            } += 1;
            if !status_only {
                stdout.extend(format_check_result(&parsed.path, status));
            }
        }
        warnings.extend(counts.warnings(name, ignore_missing, status_only));
        let ours: Vec<Vec<u8>> = warnings
            .iter()
            .map(|w| [b"md5sum: ", &w.to_bytes()[..]].concat())
            .collect();
        let theirs: Vec<Vec<u8>> = out
            .stderr
            .split(|&b| b == b'\n')
            .filter(|l| {
                [
                    &b"improperly"[..],
                    b"WARNING",
                    b"no properly",
                    b"no file was",
                ]
                .iter()
                .any(|k| l.windows(k.len()).any(|w| w == *k))
            })
            .map(<[u8]>::to_vec)
            .collect();
        let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let context = format!(
            "list {:?}",
            lines.iter().map(|l| show(l)).collect::<Vec<_>>()
        );
        assert_eq!(show(&stdout), show(&out.stdout), "stdout, {context}");
        assert_eq!(
            ours.iter().map(|l| show(l)).collect::<Vec<_>>(),
            theirs.iter().map(|l| show(l)).collect::<Vec<_>>(),
            "stderr, {context}"
        );
        assert_eq!(
            counts.success(false),
            out.status.success(),
            "status, {context}"
        );
    }

    #[test]
    fn each_line_alone_parses_as_md5sum_parses_it() {
        for line in LINES {
            oracle(&[expand(line)], false, false, false);
        }
    }

    #[test]
    fn lines_together_share_md5sums_bsd_reversed_state() {
        let all: Vec<Vec<u8>> = LINES.iter().map(|l| expand(l)).collect();
        oracle(&all, false, false, false);
        let mut reversed_first = all.clone();
        reversed_first.reverse();
        oracle(&reversed_first, false, false, false);
        oracle(
            &[
                expand(b"{h} plain"),
                expand(b"{h}  plain"),
                expand(b"{h} *plain"),
            ],
            false,
            false,
            false,
        );
    }

    /// md5sum keeps `bsd_reversed` for the whole run: after `md5sum -c l1 l2`
    /// with a one-blank line in l1, l2's `HEX  plain` names ` plain`.
    #[test]
    fn reversed_format_memory_outlives_a_list() {
        let mut parser = Parser::new();
        let Line::Parsed(first) = parser.parse_line(&expand(b"{h} plain"), false) else {
            panic!("one-blank line refused");
        };
        assert_eq!(first.path, b"plain");
        let Line::Parsed(second) = parser.parse_line(&expand(b"{h}  plain"), false) else {
            panic!("two-blank line refused");
        };
        assert_eq!(second.path, b" plain");
        assert_eq!(
            Parser::new().parse_line(&expand(b"{h}  plain"), true),
            Line::Parsed(ParsedLine {
                expected: Hash::from_hex(Algorithm::Md5, hex(b"plain").as_bytes()).unwrap(),
                path: b"plain".to_vec(),
                binary: false,
            })
        );
    }

    /// `HEX\0NAME` once shifted the parser into md5sum's reversed BSD
    /// format, so that a later two-blank line named ` plain`.
    #[test]
    fn a_nul_after_the_digest_does_not_shift_later_lines() {
        oracle(
            &[expand(b"{h}\0plain"), expand(b"{h}  plain")],
            false,
            false,
            false,
        );
    }

    #[test]
    fn raw_lines_keep_carriage_returns_and_backslashes() {
        let mut parser = Parser::raw();
        let line = expand(b"{h}  x\r");
        let Line::Parsed(parsed) = parser.parse_line(&line, false) else {
            panic!("raw line refused");
        };
        assert_eq!(parsed.path, b"x\r");
        let Line::Parsed(parsed) = parser.parse_line(&expand(b"{h}  a\\nb"), false) else {
            panic!("raw line refused");
        };
        assert_eq!(parsed.path, b"a\\nb");
        assert_eq!(
            parser.parse_line(&expand(b"\\{h}  a\\nb"), false),
            Line::Improper,
            "no escape marker in a raw list"
        );
        let Line::Parsed(parsed) = parser.parse_line(&expand(b"MD5 (x\r) = {h}"), false) else {
            panic!("raw BSD line refused");
        };
        assert_eq!(parsed.path, b"x\r");
    }

    #[test]
    fn stdin_list_refuses_dash_and_is_called_standard_input() {
        let lines = [
            expand(b"{h}  -"),
            expand(b"{h}  plain"),
            expand(b"MD5 (-) = {h}"),
        ];
        oracle(&lines, true, false, false);
        oracle(&[expand(b"{h}  -")], true, false, false);
    }

    #[test]
    fn summary_warnings_and_plurals_match_md5sum() {
        let (one, two) = (expand(b"{h}  plain"), expand(b"{z}  sp ace"));
        let bad = [
            expand(b"{z}  plain"),
            expand(b"{h}  missing"),
            b"junk".to_vec(),
        ];
        oracle(
            &[one.clone(), bad[0].clone(), bad[1].clone(), bad[2].clone()],
            false,
            false,
            false,
        );
        let doubled: Vec<Vec<u8>> = bad.iter().chain(&bad).cloned().chain([two]).collect();
        oracle(&doubled, false, false, false);
        oracle(&doubled, false, false, true);
        oracle(&[b"junk".to_vec(), b"# only".to_vec()], false, false, false);
        oracle(&[expand(b"{h}  missing")], false, true, false);
        oracle(&[expand(b"{h}  missing"), one], false, true, false);
    }

    #[test]
    fn result_lines_escape_like_md5sum_c() {
        assert_eq!(format_check_result(b"a b", CheckStatus::Ok), b"a b: OK\n");
        assert_eq!(
            format_check_result(b"a\\b\r", CheckStatus::Ok),
            b"a\\b\r: OK\n"
        );
        let line = format_check_result(b"a\nb\\\r", CheckStatus::Failed);
        assert_eq!(line, b"\\a\\nb\\\\\\r: FAILED\n");
        let line = format_check_result(b"x\n", CheckStatus::FailedOpenOrRead);
        assert_eq!(line, b"\\x\\n: FAILED open or read\n");
    }

    #[test]
    fn warning_wording() {
        let list = b"sums.md5";
        let text = |w: Warning| w.to_string();
        assert_eq!(
            text(Warning::Mismatched(1)),
            "WARNING: 1 computed checksum did NOT match"
        );
        assert_eq!(
            text(Warning::Mismatched(2)),
            "WARNING: 2 computed checksums did NOT match"
        );
        assert_eq!(
            text(Warning::Unreadable(1)),
            "WARNING: 1 listed file could not be read"
        );
        assert_eq!(
            text(Warning::Unreadable(3)),
            "WARNING: 3 listed files could not be read"
        );
        assert_eq!(
            text(Warning::ImproperLines(1)),
            "WARNING: 1 line is improperly formatted"
        );
        assert_eq!(
            text(Warning::ImproperLines(2)),
            "WARNING: 2 lines are improperly formatted"
        );
        assert_eq!(
            text(Warning::ImproperLine {
                list,
                line: 7,
                algorithm: Algorithm::Md5
            }),
            "sums.md5: 7: improperly formatted MD5 checksum line"
        );
        assert_eq!(
            text(Warning::ImproperLine {
                list,
                line: 2,
                algorithm: Algorithm::Sha512
            }),
            "sums.md5: 2: improperly formatted SHA512 checksum line"
        );
        assert_eq!(
            text(Warning::NoProperLines { list }),
            "sums.md5: no properly formatted checksum lines found"
        );
        assert_eq!(
            text(Warning::NoFileVerified { list }),
            "sums.md5: no file was verified"
        );
    }
}
