//! Audit: a manifest against a tree, as a streaming merge-join.
//!
//! Both sides come sorted by the bytes of their paths: the tree because
//! md5pipe's walk yields each root's files in that order, the manifest
//! because it was written by md5pipe, or else because [`Manifest`] sorted
//! it, in runs of bounded size spilled to temporary files and merged. So
//! the join holds one entry of each side at a time, and memory does not
//! grow with the tree.
//!
//! Every path gets one [`Mark`], written as `rclone check --combined`
//! writes them: `=` the same digest, `*` a different one, `+` in the tree
//! only, `-` in the manifest only, `!` in both but unreadable now.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use pipeline::Cancel;

use crate::checklist::{Line, Parser};
use crate::listread::CancellableFd;

/// What the audit says of one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// In both, with the same digest: `=`.
    Same,
    /// In both, with different digests: `*`.
    Changed,
    /// In the tree, not in the manifest: `+`.
    New,
    /// In the manifest, not in the tree: `-`.
    Missing,
    /// In the tree but unreadable (its error is reported apart): `!`.
    Unreadable,
}

impl Mark {
    /// The mark's symbol, as `rclone check --combined` prints it.
    pub fn symbol(self) -> u8 {
        match self {
            Mark::Same => b'=',
            Mark::Changed => b'*',
            Mark::New => b'+',
            Mark::Missing => b'-',
            Mark::Unreadable => b'!',
        }
    }
}

/// How many paths got each mark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// `=`.
    pub same: u64,
    /// `*`.
    pub changed: u64,
    /// `+`.
    pub new: u64,
    /// `-`.
    pub missing: u64,
    /// `!`.
    pub unreadable: u64,
}

impl Counts {
    fn add(&mut self, mark: Mark) {
        match mark {
            Mark::Same => self.same += 1,
            Mark::Changed => self.changed += 1,
            Mark::New => self.new += 1,
            Mark::Missing => self.missing += 1,
            Mark::Unreadable => self.unreadable += 1,
        }
    }

    /// Whether tree and manifest agree on every path.
    pub fn agree(&self) -> bool {
        self.changed + self.new + self.missing + self.unreadable == 0
    }
}

/// One entry of a manifest: a path (unescaped) and its digest.
pub type Entry = (Vec<u8>, [u8; 16]);

/// The join of a sorted manifest with the tree's files, fed in order.
pub struct Join<M: Iterator<Item = io::Result<Entry>>> {
    manifest: std::iter::Peekable<M>,
    counts: Counts,
    last: Option<Vec<u8>>,
    /// The last path that could not be read, with a `/`: the manifest's
    /// paths below it are unreadable now, not missing.
    shut: Option<Vec<u8>>,
}

impl<M: Iterator<Item = io::Result<Entry>>> Join<M> {
    /// A join against `manifest`, which yields its entries sorted.
    pub fn new(manifest: M) -> Self {
        Join {
            manifest: manifest.peekable(),
            counts: Counts::default(),
            last: None,
            shut: None,
        }
    }

    /// The tree's next file, with its digest (`None`: unreadable). Calls
    /// `out` for the manifest's paths before it that the tree lacks, then
    /// for the file itself.
    ///
    /// # Errors
    ///
    /// A manifest that cannot be read, or files fed out of order.
    pub fn file(
        &mut self,
        path: &[u8],
        digest: Option<&[u8; 16]>,
        out: &mut impl FnMut(Mark, &[u8]),
    ) -> io::Result<()> {
        if self.last.as_deref().is_some_and(|last| last >= path) {
            return Err(io::Error::other("the tree's files came out of order"));
        }
        self.last = Some(path.to_vec());
        let mut found = None;
        while let Some(next) = self.manifest.peek() {
            let (name, _) = match next {
                Ok(entry) => entry,
                Err(_) => return Err(self.manifest.next().and_then(Result::err).unwrap()),
            };
            match name.as_slice().cmp(path) {
                Ordering::Less => self.missing(out)?,
                Ordering::Equal => {
                    let (_, expected) = self.manifest.next().unwrap()?;
                    // A path listed twice counts once, and matches only if
                    // every line gives its digest (as `md5sum -c` fails a
                    // file if one of its lines does not match).
                    let mut agree = true;
                    while let Some(Ok((_, also))) = self
                        .manifest
                        .next_if(|e| e.as_ref().is_ok_and(|(n, _)| n == path))
                    {
                        agree &= also == expected;
                    }
                    found = Some((expected, agree));
                    break;
                }
                Ordering::Greater => break,
            }
        }
        let mark = match (found, digest) {
            (None, _) => Mark::New,
            (Some(_), None) => Mark::Unreadable,
            (Some((expected, true)), Some(got)) if expected == *got => Mark::Same,
            (Some(_), Some(_)) => Mark::Changed,
        };
        self.mark(mark, path, out);
        Ok(())
    }

    /// A path of the tree that could not be read (a file, or a directory):
    /// `!` if the manifest lists it, nothing otherwise (its error is
    /// reported apart); the manifest's paths below it (the files of a
    /// directory that could not be listed) are `!` too, not `-`: they are
    /// not known to be gone.
    ///
    /// # Errors
    ///
    /// As [`file`](Self::file).
    pub fn unreadable(&mut self, path: &[u8], out: &mut impl FnMut(Mark, &[u8])) -> io::Result<()> {
        let listed = loop {
            match self.manifest.peek() {
                None => break false,
                Some(Err(_)) => return Err(self.manifest.next().and_then(Result::err).unwrap()),
                Some(Ok((name, _))) if name.as_slice() < path => self.missing(out)?,
                Some(Ok((name, _))) => break name.as_slice() == path,
            }
        };
        self.shut = Some([path, b"/"].concat());
        if listed {
            self.file(path, None, out)
        } else {
            Ok(())
        }
    }

    /// The tree has no more files: the manifest's remaining paths are
    /// missing. Returns the counts.
    ///
    /// # Errors
    ///
    /// A manifest that cannot be read.
    pub fn finish(mut self, out: &mut impl FnMut(Mark, &[u8])) -> io::Result<Counts> {
        while self.manifest.peek().is_some() {
            self.missing(out)?;
        }
        Ok(self.counts)
    }

    /// The manifest's next path, which the tree lacks: marked missing
    /// once, however many lines list it; unreadable if it lies below the
    /// last path that could not be read.
    fn missing(&mut self, out: &mut impl FnMut(Mark, &[u8])) -> io::Result<()> {
        let (name, _) = self.manifest.next().expect("a path to mark")?;
        while self
            .manifest
            .next_if(|e| e.as_ref().is_ok_and(|(n, _)| *n == name))
            .is_some()
        {}
        let shut = self
            .shut
            .as_ref()
            .is_some_and(|shut| name.starts_with(shut));
        let mark = if shut {
            Mark::Unreadable
        } else {
            Mark::Missing
        };
        self.mark(mark, &name, out);
        Ok(())
    }

    fn mark(&mut self, mark: Mark, path: &[u8], out: &mut impl FnMut(Mark, &[u8])) {
        self.counts.add(mark);
        out(mark, path);
    }
}

/// Entries held in memory at once while sorting an unsorted manifest.
const RUN_ENTRIES: usize = 32 * 1024;
/// Path bytes held in memory at once while sorting.
const RUN_BYTES: usize = 4 << 20;

/// A manifest's entries in path order, from a list in md5sum's formats
/// (`HEX  NAME`, `MD5 (NAME) = HEX`, escaped names; `zero`: NUL-ended
/// lines, as `md5sum -z` writes). Lines that are not digest lines are
/// counted in [`improper`](Self::improper) and skipped.
pub struct Manifest {
    source: Box<dyn Iterator<Item = io::Result<Entry>>>,
    improper: std::rc::Rc<std::cell::Cell<u64>>,
}

impl Manifest {
    /// Reads the list `reader` makes; `reopen` gives it again from the
    /// start (for a file: open it again), so that a list already sorted is
    /// read twice and never held; `None` (a pipe): it is sorted in runs
    /// whatever its order.
    ///
    /// # Errors
    ///
    /// Reading the list, or writing a run.
    pub fn read(
        reader: Box<dyn Read>,
        reopen: Option<&dyn Fn() -> io::Result<Box<dyn Read>>>,
        zero: bool,
    ) -> io::Result<Manifest> {
        let improper = std::rc::Rc::new(std::cell::Cell::new(0));
        if let Some(reopen) = reopen {
            let mut last: Option<Vec<u8>> = None;
            let mut sorted = true;
            for entry in entries(reader, zero, improper.clone()) {
                let (name, _) = entry?;
                if last.as_ref().is_some_and(|l| *l > name) {
                    sorted = false;
                    break;
                }
                last = Some(name);
            }
            improper.set(0);
            if sorted {
                let source = Box::new(entries(reopen()?, zero, improper.clone()));
                return Ok(Manifest { source, improper });
            }
            let source = Box::new(sorted_runs(entries(reopen()?, zero, improper.clone()))?);
            return Ok(Manifest { source, improper });
        }
        let source = Box::new(sorted_runs(entries(reader, zero, improper.clone()))?);
        Ok(Manifest { source, improper })
    }

    /// Opens the manifest named `name` (`-`: standard input) and reads it
    /// with [`read`](Self::read): a regular file is checked for order first
    /// and then read again as it is (or sorted on disk if it is not);
    /// standard input, a pipe or a FIFO is sorted on disk in runs whatever
    /// its order. Every read waits only while `cancel` is open (a cancel
    /// ends the wait for a list nobody writes), and a FIFO does not block
    /// the open.
    ///
    /// # Errors
    ///
    /// Opening or reading the list, or writing a run; an error of kind
    /// `Other` once `cancel` is closed.
    pub fn open(name: &Path, zero: bool, cancel: &Cancel) -> io::Result<Manifest> {
        if name.as_os_str() == OsStr::new("-") {
            let stdin = CancellableFd::stdin(cancel.clone());
            return Manifest::read(Box::new(stdin), None, zero);
        }
        let bytes = name.as_os_str().as_bytes();
        let open = || -> io::Result<Box<dyn Read>> {
            Ok(Box::new(CancellableFd::open(bytes, cancel.clone())?))
        };
        let regular = std::fs::metadata(name).is_ok_and(|m| m.is_file());
        Manifest::read(open()?, regular.then_some(&open as _), zero)
    }

    /// Lines read so far that were not digest lines.
    pub fn improper(&self) -> u64 {
        self.improper.get()
    }
}

impl Iterator for Manifest {
    type Item = io::Result<Entry>;
    fn next(&mut self) -> Option<Self::Item> {
        self.source.next()
    }
}

/// The digest lines of a list, in its order.
fn entries(
    reader: Box<dyn Read>,
    zero: bool,
    improper: std::rc::Rc<std::cell::Cell<u64>>,
) -> impl Iterator<Item = io::Result<Entry>> {
    let mut parser = if zero { Parser::raw() } else { Parser::new() };
    let delim = if zero { b'\0' } else { b'\n' };
    BufReader::new(reader)
        .split(delim)
        .filter_map(move |line| match line {
            Err(err) => Some(Err(err)),
            Ok(line) => match parser.parse_line(&line, false) {
                // A manifest is of MD5 digests: lines of other
                // algorithms are not its lines.
                Line::Parsed(p) if p.expected.to_md5().is_some() => {
                    let md5 = p.expected.to_md5().unwrap_or_default();
                    Some(Ok((p.path, md5)))
                }
                Line::Skipped => None,
                _ => {
                    improper.set(improper.get() + 1);
                    None
                }
            },
        })
}

/// `entries` sorted by path: sorted runs of bounded size, spilled to
/// temporary files (deleted at once: only their descriptors remain) and
/// merged. A list that fits in one run is never written out.
fn sorted_runs(
    mut entries: impl Iterator<Item = io::Result<Entry>>,
) -> io::Result<impl Iterator<Item = io::Result<Entry>>> {
    let mut runs = Vec::new();
    loop {
        let mut run = Vec::new();
        let mut bytes = 0;
        for entry in entries.by_ref() {
            let entry = entry?;
            bytes += entry.0.len();
            run.push(entry);
            if run.len() >= RUN_ENTRIES || bytes >= RUN_BYTES {
                break;
            }
        }
        let last = run.len() < RUN_ENTRIES && bytes < RUN_BYTES;
        run.sort();
        if last && runs.is_empty() {
            return Ok(Merge::new(vec![Run::Memory(run.into_iter())]));
        }
        if !run.is_empty() {
            runs.push(Run::spill(&run)?);
        }
        if last {
            return Ok(Merge::new(runs));
        }
    }
}

/// A sorted run: in memory, or in a temporary file.
enum Run {
    Memory(std::vec::IntoIter<Entry>),
    File(BufReader<File>),
}

impl Run {
    fn spill(run: &[Entry]) -> io::Result<Run> {
        let mut file = BufWriter::new(tempfile::tempfile()?);
        for (name, digest) in run {
            let len = u32::try_from(name.len()).map_err(io::Error::other)?;
            file.write_all(&len.to_le_bytes())?;
            file.write_all(name)?;
            file.write_all(digest)?;
        }
        let mut file = file.into_inner().map_err(io::IntoInnerError::into_error)?;
        std::io::Seek::rewind(&mut file)?;
        Ok(Run::File(BufReader::new(file)))
    }

    fn next(&mut self) -> Option<io::Result<Entry>> {
        match self {
            Run::Memory(it) => it.next().map(Ok),
            Run::File(r) => {
                let mut len = [0; 4];
                match r.read_exact(&mut len) {
                    Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => return None,
                    Err(err) => return Some(Err(err)),
                    Ok(()) => {}
                }
                let mut name = vec![0; u32::from_le_bytes(len) as usize];
                let mut digest = [0; 16];
                Some(
                    r.read_exact(&mut name)
                        .and_then(|()| r.read_exact(&mut digest))
                        .map(|()| (name, digest)),
                )
            }
        }
    }
}

/// The k-way merge of sorted runs; equal paths come out in run order.
struct Merge {
    runs: Vec<Run>,
    heads: BinaryHeap<std::cmp::Reverse<(Entry, usize)>>,
    failed: Option<io::Error>,
}

impl Merge {
    fn new(mut runs: Vec<Run>) -> Merge {
        let mut heads = BinaryHeap::new();
        let mut failed = None;
        for (i, run) in runs.iter_mut().enumerate() {
            match run.next() {
                Some(Ok(e)) => heads.push(std::cmp::Reverse((e, i))),
                Some(Err(err)) => failed = Some(err),
                None => {}
            }
        }
        Merge {
            runs,
            heads,
            failed,
        }
    }
}

impl Iterator for Merge {
    type Item = io::Result<Entry>;
    fn next(&mut self) -> Option<Self::Item> {
        if let Some(err) = self.failed.take() {
            return Some(Err(err));
        }
        let std::cmp::Reverse((entry, i)) = self.heads.pop()?;
        match self.runs[i].next() {
            Some(Ok(e)) => self.heads.push(std::cmp::Reverse((e, i))),
            Some(Err(err)) => self.failed = Some(err),
            None => {}
        }
        Some(Ok(entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> [u8; 16] {
        [n; 16]
    }

    fn join(manifest: &[(&str, u8)], tree: &[(&str, Option<u8>)]) -> (Vec<String>, Counts) {
        let m = manifest
            .iter()
            .map(|(p, n)| Ok((p.as_bytes().to_vec(), d(*n))))
            .collect::<Vec<_>>();
        let mut j = Join::new(m.into_iter());
        let mut got = Vec::new();
        let mut out = |mark: Mark, p: &[u8]| {
            got.push(format!(
                "{} {}",
                mark.symbol() as char,
                String::from_utf8_lossy(p)
            ));
        };
        for (p, n) in tree {
            j.file(p.as_bytes(), n.map(d).as_ref(), &mut out).unwrap();
        }
        let counts = j.finish(&mut out).unwrap();
        (got, counts)
    }

    #[test]
    fn every_path_gets_one_mark_in_path_order() {
        let (got, counts) = join(
            &[("a", 1), ("b", 2), ("c", 3), ("e", 5), ("g", 7)],
            &[
                ("a", Some(1)),
                ("b", Some(9)),
                ("d", Some(4)),
                ("e", None),
                ("f", Some(6)),
            ],
        );
        assert_eq!(got, ["= a", "* b", "- c", "+ d", "! e", "+ f", "- g"]);
        let want = Counts {
            same: 1,
            changed: 1,
            new: 2,
            missing: 2,
            unreadable: 1,
        };
        assert_eq!(counts, want);
        assert!(!counts.agree());
    }

    #[test]
    fn a_path_listed_twice_counts_once() {
        let (got, counts) = join(&[("a", 1), ("a", 1), ("b", 2), ("b", 2)], &[("a", Some(1))]);
        assert_eq!(got, ["= a", "- b"]);
        assert_eq!(counts.missing, 1);
    }

    #[test]
    fn a_missing_path_listed_twice_is_marked_once_wherever_it_sorts() {
        let manifest = [("a", 1), ("a", 2), ("c", 3), ("c", 3), ("e", 4), ("e", 4)];
        let (marks, counts) = join(&manifest, &[("b", Some(9)), ("d", Some(8))]);
        assert_eq!(marks, ["- a", "+ b", "- c", "+ d", "- e"]);
        assert_eq!(counts.missing, 3);
    }

    #[test]
    fn a_path_listed_twice_with_two_digests_never_matches() {
        for manifest in [[("a", 1), ("a", 2)], [("a", 2), ("a", 1)]] {
            for got in [1, 2] {
                let (marks, counts) = join(&manifest, &[("a", Some(got))]);
                assert_eq!(marks, ["* a"], "{manifest:?} against {got}");
                assert_eq!(counts.changed, 1);
            }
        }
    }

    #[test]
    fn files_out_of_order_are_an_error() {
        let mut j = Join::new(Vec::<io::Result<Entry>>::new().into_iter());
        let mut out = |_: Mark, _: &[u8]| {};
        j.file(b"b", Some(&d(1)), &mut out).unwrap();
        assert!(j.file(b"a", Some(&d(1)), &mut out).is_err());
    }

    #[test]
    fn an_unreadable_path_is_marked_only_if_listed() {
        let m = [("a", 1), ("d/x", 2), ("e", 3)]
            .iter()
            .map(|(p, n)| Ok((p.as_bytes().to_vec(), d(*n))))
            .collect::<Vec<_>>();
        let mut j = Join::new(m.into_iter());
        let mut got = Vec::new();
        let mut out = |mark: Mark, p: &[u8]| got.push((mark, p.to_vec()));
        j.unreadable(b"a", &mut out).unwrap();
        j.unreadable(b"d", &mut out).unwrap(); // a directory: its files are unreadable
        j.file(b"e", Some(&d(3)), &mut out).unwrap();
        j.finish(&mut out).unwrap();
        let want: Vec<(Mark, Vec<u8>)> = vec![
            (Mark::Unreadable, b"a".to_vec()),
            (Mark::Unreadable, b"d/x".to_vec()),
            (Mark::Same, b"e".to_vec()),
        ];
        assert_eq!(got, want);
    }

    fn list(entries: &[(Vec<u8>, u8)]) -> Vec<u8> {
        let mut s = Vec::new();
        for (p, n) in entries {
            let hex: String = d(*n).iter().map(|b| format!("{b:02x}")).collect();
            s.extend(crate::escape::format_line(&hex, p, false, false));
        }
        s
    }

    #[test]
    fn an_unsorted_manifest_is_sorted_in_runs_on_disk() {
        // More entries than a run holds, in a scrambled order, some names
        // needing escapes: they come out sorted, each once.
        let n = RUN_ENTRIES * 2 + 123;
        let mut entries: Vec<(Vec<u8>, u8)> = (0..n)
            .map(|i| {
                (
                    format!("d/{:07}\n", (i * 7919) % n).into_bytes(),
                    (i % 251) as u8,
                )
            })
            .collect();
        let text = list(&entries);
        let m = Manifest::read(Box::new(io::Cursor::new(text)), None, false).unwrap();
        let got: Vec<Entry> = m.map(Result::unwrap).collect();
        entries.sort();
        let want: Vec<Entry> = entries.into_iter().map(|(p, n)| (p, d(n))).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_sorted_file_is_streamed_and_improper_lines_are_counted() {
        let mut text = list(&[(b"a".to_vec(), 1), (b"b".to_vec(), 2)]);
        text.extend(b"not a digest line\n");
        let again = text.clone();
        let reopen =
            move || -> io::Result<Box<dyn Read>> { Ok(Box::new(io::Cursor::new(again.clone()))) };
        let mut m = Manifest::read(Box::new(io::Cursor::new(text)), Some(&reopen), false).unwrap();
        let got: Vec<Vec<u8>> = m.by_ref().map(|e| e.unwrap().0).collect();
        assert_eq!(got, [b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(m.improper(), 1);
    }
}
