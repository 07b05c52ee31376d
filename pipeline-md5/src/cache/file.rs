//! The cache file's bytes: a magic line and a version, then frames, each
//! checked by its own MD5, so that a reader uses a record only once the
//! frame that holds it has been read whole and found intact.
//!
//! ```text
//! file    = MAGIC  version:u32  frame*  end
//! frame   = length:u32  payload[length]  check[16]
//! check   = MD5(index:u64  length:u32  payload)      index: 0, 1, 2, ...
//! frame 0 = the header: name_len:u8  algorithm-name  digest_len:u8
//! frames  = records, one after another (payload not empty)
//! end     = a frame with an empty payload; nothing may follow it
//! record  = path_len:u32  path  size:u64  mtime_sec:i64  mtime_nsec:u32
//!           ctime_sec:i64  ctime_nsec:u32  ino:u64  dev:u64  digest
//! ```
//!
//! Integers are little-endian. Paths are raw bytes, in strictly increasing
//! bytewise order across the whole file. The frame index in each check
//! makes a frame moved, repeated or left from another file fail its check.

use std::io::{self, BufReader, BufWriter, Read, Write};

use md5::{Digest, Md5};

use super::{Key, Record};

/// The first bytes of every cache file.
pub(crate) const MAGIC: &[u8; 14] = b"md5pipe cache\n";

/// The format this code reads and writes.
pub(crate) const VERSION: u32 = 1;

/// The algorithm whose digests the cache holds.
pub(crate) const ALGORITHM: &str = "md5";

/// A frame's payload is written once it holds this many bytes.
const FRAME: usize = 64 * 1024;

/// The largest payload a reader accepts (a record with a path this long
/// is not kept): a damaged length never makes it allocate more.
pub(crate) const MAX_FRAME: usize = 16 << 20;

/// The bytes of a record after its path.
const FIXED: usize = 8 + 8 + 4 + 8 + 4 + 8 + 8 + 16;

/// Where and why a cache file is not what its writer wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Damage {
    /// The offset of the frame found damaged.
    pub(crate) at: u64,
    /// What is wrong there.
    pub(crate) what: String,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "damaged at byte {}: {}", self.at, self.what)
    }
}

fn check(index: u64, payload: &[u8]) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update(index.to_le_bytes());
    md5.update((payload.len() as u32).to_le_bytes());
    md5.update(payload);
    md5.finalize().into()
}

/// What the start of a file says it is.
#[derive(Debug)]
pub(crate) enum Start<R> {
    /// A cache of this version and algorithm, ready to read its records.
    Cache(Reader<R>),
    /// Not a cache: its first bytes are not the magic line.
    Foreign,
    /// A cache of another format version.
    Version(u32),
    /// A cache of another algorithm's digests.
    Algorithm(String),
    /// A cache whose start is damaged (or cut short).
    Damaged(Damage),
}

/// Reads a cache's records, frame by frame; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct Reader<R> {
    input: BufReader<R>,
    index: u64,
    offset: u64,
    payload: Vec<u8>,
    pos: usize,
    ended: bool,
    last: Option<Vec<u8>>,
}

impl<R: Read> Reader<R> {
    /// Reads the magic line, the version and the header of `input`.
    ///
    /// # Errors
    ///
    /// Reading failed.
    pub(crate) fn start(input: R) -> io::Result<Start<R>> {
        let mut input = BufReader::with_capacity(FRAME + 4096, input);
        let mut magic = [0u8; 18];
        let got = read_full(&mut input, &mut magic)?;
        if got < MAGIC.len() {
            return Ok(if MAGIC.starts_with(&magic[..got]) {
                Start::Damaged(Damage {
                    at: 0,
                    what: "cut short".into(),
                })
            } else {
                Start::Foreign
            });
        }
        if &magic[..MAGIC.len()] != MAGIC {
            return Ok(Start::Foreign);
        }
        if got < magic.len() {
            let what = "cut short".into();
            return Ok(Start::Damaged(Damage { at: 0, what }));
        }
        let version = u32::from_le_bytes(magic[MAGIC.len()..].try_into().expect("4 bytes"));
        if version != VERSION {
            return Ok(Start::Version(version));
        }
        let mut reader = Reader {
            input,
            index: 0,
            offset: magic.len() as u64,
            payload: Vec::new(),
            pos: 0,
            ended: false,
            last: None,
        };
        if let Err(damage) = reader.frame() {
            return Ok(Start::Damaged(damage));
        }
        let header = &reader.payload;
        let name_len = usize::from(*header.first().unwrap_or(&0));
        let name = header.get(1..1 + name_len);
        let digest_len = header.get(1 + name_len).copied();
        match (name, digest_len) {
            _ if reader.ended => Ok(Start::Damaged(reader.damage("no header"))),
            (Some(name), Some(16)) if name == ALGORITHM.as_bytes() => {
                if header.len() != name_len + 2 {
                    return Ok(Start::Damaged(reader.damage("a header of another shape")));
                }
                reader.pos = header.len();
                Ok(Start::Cache(reader))
            }
            (Some(name), Some(_)) => {
                Ok(Start::Algorithm(String::from_utf8_lossy(name).into_owned()))
            }
            _ => Ok(Start::Damaged(reader.damage("a header of another shape"))),
        }
    }

    fn damage(&self, what: &str) -> Damage {
        Damage {
            at: self.offset,
            what: what.into(),
        }
    }

    /// Reads the next frame into `payload`; an empty one is the end.
    fn frame(&mut self) -> Result<(), Damage> {
        let at = self.offset;
        let damaged = |what: &str| Damage {
            at,
            what: what.into(),
        };
        let mut len = [0u8; 4];
        match read_full(&mut self.input, &mut len) {
            Ok(4) => {}
            Ok(_) => return Err(damaged("cut short")),
            Err(err) => return Err(damaged(&crate::walk::io_reason(&err))),
        }
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_FRAME {
            return Err(damaged("a frame longer than any md5pipe writes"));
        }
        self.payload.clear();
        self.payload.resize(len, 0);
        let mut sum = [0u8; 16];
        let read = read_full(&mut self.input, &mut self.payload)
            .and_then(|n| Ok((n, read_full(&mut self.input, &mut sum)?)));
        match read {
            Ok((n, 16)) if n == len => {}
            Ok(_) => return Err(damaged("cut short")),
            Err(err) => return Err(damaged(&crate::walk::io_reason(&err))),
        }
        if check(self.index, &self.payload) != sum {
            return Err(damaged("a frame fails its check"));
        }
        self.index += 1;
        self.offset += (4 + len + 16) as u64;
        self.pos = 0;
        if len == 0 {
            self.ended = true;
            let mut more = [0u8; 1];
            if !matches!(read_full(&mut self.input, &mut more), Ok(0)) {
                return Err(self.damage("bytes after the end"));
            }
        }
        Ok(())
    }

    fn record(&mut self) -> Result<Record, Damage> {
        let bad = |r: &Reader<R>| r.damage("a record of another shape");
        let p = &self.payload[self.pos..];
        let path_len = p
            .get(..4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
            .ok_or_else(|| bad(self))?;
        let Some(body) = p.get(4..4 + path_len + FIXED) else {
            return Err(bad(self));
        };
        let (path, mut f) = body.split_at(path_len);
        let mut take = |n: usize| {
            let (head, tail) = f.split_at(n);
            f = tail;
            head
        };
        let u64_ = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        let i64_ = |b: &[u8]| i64::from_le_bytes(b.try_into().expect("8 bytes"));
        let u32_ = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes"));
        let size = u64_(take(8));
        let mtime = (i64_(take(8)), u32_(take(4)));
        let ctime = (i64_(take(8)), u32_(take(4)));
        let ino = u64_(take(8));
        let dev = u64_(take(8));
        let digest: [u8; 16] = take(16).try_into().expect("16 bytes");
        if mtime.1 >= 1_000_000_000 || ctime.1 >= 1_000_000_000 {
            return Err(bad(self));
        }
        if self.last.as_deref().is_some_and(|last| last >= path) {
            return Err(self.damage("records out of order"));
        }
        self.last = Some(path.to_vec());
        self.pos += 4 + path_len + FIXED;
        Ok(Record {
            path: path.to_vec(),
            key: Key {
                size,
                mtime,
                ctime,
                ino,
                dev,
            },
            digest,
        })
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Record, Damage>;

    /// The next record; after a [`Damage`], nothing more.
    fn next(&mut self) -> Option<Self::Item> {
        while !self.ended && self.pos >= self.payload.len() {
            if let Err(damage) = self.frame() {
                self.ended = true;
                return Some(Err(damage));
            }
        }
        if self.ended {
            return None;
        }
        let record = self.record();
        if record.is_err() {
            self.ended = true;
        }
        Some(record)
    }
}

/// Reads until `buf` is full or the input ends; the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(got)
}

/// Writes a cache: the magic line, the header, records in frames, the end.
#[derive(Debug)]
pub(crate) struct Writer<W: Write> {
    output: BufWriter<W>,
    index: u64,
    payload: Vec<u8>,
    last: Option<Vec<u8>>,
}

impl<W: Write> Writer<W> {
    /// Starts a cache on `output`.
    ///
    /// # Errors
    ///
    /// Writing failed.
    pub(crate) fn new(output: W) -> io::Result<Writer<W>> {
        let mut writer = Writer {
            output: BufWriter::with_capacity(FRAME + 4096, output),
            index: 0,
            payload: Vec::with_capacity(FRAME + 4096),
            last: None,
        };
        writer.output.write_all(MAGIC)?;
        writer.output.write_all(&VERSION.to_le_bytes())?;
        writer.payload.push(ALGORITHM.len() as u8);
        writer.payload.extend(ALGORITHM.as_bytes());
        writer.payload.push(16);
        writer.frame()?;
        Ok(writer)
    }

    fn frame(&mut self) -> io::Result<()> {
        let sum = check(self.index, &self.payload);
        self.output
            .write_all(&(self.payload.len() as u32).to_le_bytes())?;
        self.output.write_all(&self.payload)?;
        self.output.write_all(&sum)?;
        self.index += 1;
        self.payload.clear();
        Ok(())
    }

    /// Adds `record`, which must come after the last one added: one that
    /// does not, or whose path is too long for a frame, is left out
    /// (then that file is read again next time).
    ///
    /// # Errors
    ///
    /// Writing failed.
    pub(crate) fn push(&mut self, record: &Record) -> io::Result<()> {
        let path = &record.path;
        if self
            .last
            .as_deref()
            .is_some_and(|last| last >= path.as_slice())
            || 4 + path.len() + FIXED > MAX_FRAME
        {
            return Ok(());
        }
        if self.payload.len() + 4 + path.len() + FIXED > MAX_FRAME {
            self.frame()?;
        }
        let k = &record.key;
        let p = &mut self.payload;
        p.extend((path.len() as u32).to_le_bytes());
        p.extend(path);
        p.extend(k.size.to_le_bytes());
        p.extend(k.mtime.0.to_le_bytes());
        p.extend(k.mtime.1.to_le_bytes());
        p.extend(k.ctime.0.to_le_bytes());
        p.extend(k.ctime.1.to_le_bytes());
        p.extend(k.ino.to_le_bytes());
        p.extend(k.dev.to_le_bytes());
        p.extend(record.digest);
        self.last = Some(path.clone());
        if self.payload.len() >= FRAME {
            self.frame()?;
        }
        Ok(())
    }

    /// The last path added.
    pub(crate) fn last(&self) -> Option<&[u8]> {
        self.last.as_deref()
    }

    /// Writes the records held and the end, and gives the output back.
    ///
    /// # Errors
    ///
    /// Writing failed.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        if !self.payload.is_empty() {
            self.frame()?;
        }
        self.frame()?;
        self.output
            .into_inner()
            .map_err(io::IntoInnerError::into_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: usize, path_len: usize) -> Record {
        let mut path = format!("d/{i:08}").into_bytes();
        path.resize(path_len.max(path.len()), b'x');
        Record {
            path,
            key: Key {
                size: i as u64,
                mtime: (i as i64 - 5, 999_999_999),
                ctime: (-(i as i64), 0),
                ino: u64::MAX - i as u64,
                dev: 7,
            },
            digest: [i as u8; 16],
        }
    }

    fn written(records: &[Record]) -> Vec<u8> {
        let mut w = Writer::new(Vec::new()).unwrap();
        for r in records {
            w.push(r).unwrap();
        }
        w.finish().unwrap()
    }

    fn read(bytes: &[u8]) -> (Vec<Record>, Option<Damage>) {
        let reader = match Reader::start(bytes).unwrap() {
            Start::Cache(reader) => reader,
            Start::Damaged(damage) => return (Vec::new(), Some(damage)),
            _ => panic!("not read as a cache"),
        };
        let mut got = Vec::new();
        for r in reader {
            match r {
                Ok(r) => got.push(r),
                Err(d) => return (got, Some(d)),
            }
        }
        (got, None)
    }

    #[test]
    fn records_round_trip_across_frames() {
        let records: Vec<Record> = (0..5000).map(|i| record(i, 10 + i % 300)).collect();
        let bytes = written(&records);
        assert!(bytes.len() > 10 * FRAME);
        assert_eq!(read(&bytes), (records, None));
        assert_eq!(read(&written(&[])), (Vec::new(), None));
    }

    #[test]
    fn records_out_of_order_are_left_out_by_the_writer() {
        let (a, b) = (record(1, 0), record(2, 0));
        let bytes = written(&[b.clone(), a, b.clone()]);
        assert_eq!(read(&bytes), (vec![b], None));
    }

    #[test]
    fn every_damage_stops_the_reader_at_a_frame_never_yields_a_wrong_record() {
        let records: Vec<Record> = (0..3000).map(|i| record(i, 40)).collect();
        let good = written(&records);
        // Flip each byte of the file in turn, in steps: the records read
        // are always a prefix of the ones written.
        for at in (MAGIC.len() + 4..good.len()).step_by(997) {
            let mut bad = good.clone();
            bad[at] ^= 0x01;
            let (got, damage) = read(&bad);
            assert!(damage.is_some(), "flip at {at} not found");
            assert_eq!(got[..], records[..got.len()], "flip at {at}");
        }
        for len in (MAGIC.len() + 5..good.len()).step_by(1009) {
            let (got, damage) = read(&good[..len]);
            assert!(damage.is_some(), "cut at {len} not found");
            assert_eq!(got[..], records[..got.len()], "cut at {len}");
        }
    }

    #[test]
    fn the_start_says_what_a_file_is() {
        let good = written(&[record(1, 0)]);
        assert!(matches!(
            Reader::start(&b"d41d8cd98f00b204e9800998ecf8427e  x\n"[..]).unwrap(),
            Start::Foreign
        ));
        assert!(matches!(
            Reader::start(&b"md5"[..]).unwrap(),
            Start::Damaged(_)
        ));
        let mut other = good.clone();
        other[MAGIC.len()] = 2;
        assert!(matches!(
            Reader::start(&other[..]).unwrap(),
            Start::Version(2)
        ));
        // A cache of another algorithm, written frame by frame.
        let frame = |index: u64, payload: &[u8]| {
            let len = (payload.len() as u32).to_le_bytes();
            [&len[..], payload, &check(index, payload)].concat()
        };
        let header = [6, b's', b'h', b'a', b'2', b'5', b'6', 32];
        let bytes = [
            &MAGIC[..],
            &VERSION.to_le_bytes(),
            &frame(0, &header),
            &frame(1, &[]),
        ]
        .concat();
        // The same frame out of its place is damage.
        let moved = [&MAGIC[..], &VERSION.to_le_bytes(), &frame(1, &header)].concat();
        assert!(matches!(
            Reader::start(&moved[..]).unwrap(),
            Start::Damaged(_)
        ));
        assert!(
            matches!(Reader::start(&bytes[..]).unwrap(), Start::Algorithm(name) if name == "sha256")
        );
    }
}
