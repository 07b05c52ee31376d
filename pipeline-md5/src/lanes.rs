//! Feeding the engine's lanes from files: a digester hands a group of
//! files to [`Lanes::digest`], which keeps up to [`Engine::lanes`] of them
//! open at once, reads each hungry lane's next chunk straight into the
//! lane, and compresses all lanes together.
//!
//! - A small file takes one `read`: it asks for one byte more than the
//!   file's size, and a read that comes back short of what it asked for,
//!   having brought the bytes read to the size `fstat` gave, is at the end
//!   of the file, so no read is made to find that end. A large one is read
//!   a chunk at a time, its lane taking its next chunk while the other
//!   lanes go on, and its last chunk ends it the same way. A file that
//!   grew since its `fstat` fills its reads and is read on to a `read` of
//!   0 bytes; one that shrank is read to that `read` too.
//! - When one file is left (the last of a group, or a group of one), the
//!   engine runs it on its one-lane kernel: no masked lanes are computed.
//! - A read error ends that file only: its lane is dropped and takes the
//!   next file; every other lane's stream is untouched.
//! - The cancel signal is asked before every round of reads, so a cancel
//!   is seen within one chunk per lane.
//! - Memory: each lane holds at most one read and a block: a read is
//!   [`Lanes::read_size`], or less for a smaller file (its size by
//!   `fstat`, at least 4 KiB), so a lane's buffer grows only as far as the
//!   files it met; buffers are kept per thread and reused.
//!
//! These functions block; call them from a blocking worker.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read};

use crate::algorithm::Hash;
use crate::descriptors::{out_of_descriptors, reopened, LaneFile};
use crate::digest::{DigestError, Sum};
use crate::engine::{Engine, LaneStatus, MultiMd5, Suspended};

/// What the caller's `open` made of a file of the group.
pub(crate) enum Opened {
    /// A regular file, open for reading, and its size by `fstat`: a lane
    /// reads it, in reads no larger than the file needs.
    Lane(LaneFile, u64),
    /// The file's outcome is known already (it could not be opened, it is
    /// not a regular file, or the caller digested it by other means).
    Done(Result<Sum, DigestError>),
}

/// The least a lane reads at a time when the chunk is split over the
/// lanes: a small file still comes in one read.
const LANE_READ_MIN: usize = 64 * 1024;

/// The least a lane reads at a time, whatever the file's size says (a
/// file may have grown since its `fstat`).
const READ_MIN: usize = 4096;

/// A [`MultiMd5`] and the size of its reads, kept per thread.
pub(crate) struct Lanes {
    md5: MultiMd5,
    read: usize,
}

thread_local! {
    /// One set of lanes per blocking-pool thread, reused across groups.
    static LANES: RefCell<Option<Lanes>> = const { RefCell::new(None) };
}

impl Lanes {
    /// Lanes of `engine` reading at most [`read_size`](Self::read_size)`(engine,
    /// chunk)` bytes at a time; their buffers grow as files need them.
    pub(crate) fn new(engine: Engine, chunk: usize) -> Lanes {
        Lanes {
            md5: MultiMd5::new(engine),
            read: Lanes::read_size(engine, chunk),
        }
    }

    /// Bytes a lane reads at a time: the chunk shared among the lanes, but
    /// at least 64 KiB (or the chunk, if smaller). Memory for the lanes is
    /// then about the larger of `chunk` and `lanes x 64 KiB`.
    pub(crate) fn read_size(engine: Engine, chunk: usize) -> usize {
        let chunk = chunk.max(1);
        (chunk / engine.lanes()).max(chunk.min(LANE_READ_MIN))
    }

    /// Runs `f` with this thread's lanes for `engine` and `chunk`, made
    /// (or remade, for another engine or chunk) as needed.
    pub(crate) fn with<T>(engine: Engine, chunk: usize, f: impl FnOnce(&mut Lanes) -> T) -> T {
        LANES.with(|cell| {
            let mut slot = cell.borrow_mut();
            let lanes = match slot.take() {
                Some(l)
                    if l.md5.engine() == engine && l.read == Lanes::read_size(engine, chunk) =>
                {
                    slot.insert(l)
                }
                other => {
                    // Free the old buffers before allocating new ones.
                    drop(other);
                    slot.insert(Lanes::new(engine, chunk))
                }
            };
            f(lanes)
        })
    }

    /// Digests files `0..count`: `open(i)` opens file `i` (in order, as
    /// lanes come free) and `done(i, result)` is told each file's outcome
    /// as soon as it is known, in any order; when it returns `false`, the
    /// rest is dropped and this returns. `cancelled()` is asked before each
    /// round of reads: once it says yes, the first open file (or the next
    /// one) is done with [`DigestError::Cancelled`] and this returns.
    /// `on_bytes(n)` is told the size of each read. No stream outlives the
    /// call (see [`Lanes::run`] for lanes that hand streams on).
    pub(crate) fn digest(
        &mut self,
        count: usize,
        open: impl FnMut(usize) -> Opened,
        cancelled: &dyn Fn() -> bool,
        on_bytes: &mut dyn FnMut(u64),
        done: impl FnMut(usize, Result<Sum, DigestError>) -> bool,
    ) {
        let mut feed = Counted {
            count,
            next: 0,
            waiting: None,
            open,
            done,
            cancelled,
        };
        self.run(&mut feed, cancelled, on_bytes);
    }

    /// Runs the streams `feed` gives until it has no more and every lane
    /// is idle, or until [`Feed::settle`] lets the streams left leave
    /// (they go to [`Feed::carry`], suspended, to go on in a later run).
    /// `cancelled()` is asked before each round of reads: once it says
    /// yes, [`Feed::cancelled`] is told which streams were open and this
    /// returns (their files are closed). `on_bytes(n)` is told the size
    /// of each read.
    pub(crate) fn run<F: Feed>(
        &mut self,
        feed: &mut F,
        cancelled: &dyn Fn() -> bool,
        on_bytes: &mut dyn FnMut(u64),
    ) {
        let md5 = &mut self.md5;
        let lanes = md5.lanes();
        for lane in 0..lanes {
            md5.stop(lane);
        }
        let mut held: Vec<Option<Held<F::Tag>>> = (0..lanes).map(|_| None).collect();
        let mut count = 0;
        loop {
            if cancelled() {
                feed.cancelled(held.into_iter().flatten().map(|h| h.tag).collect());
                return;
            }
            let mut dry = false;
            // The feed had nothing more with no stream open: nothing will
            // come. (Asked with streams open, it may hold a file back until
            // one of them ends: a file waiting for a descriptor.)
            let mut ended = false;
            for (lane, slot) in held.iter_mut().enumerate() {
                loop {
                    match md5.status(lane) {
                        LaneStatus::Done => {
                            let held = slot.take().expect("a done lane holds a file");
                            count -= 1;
                            if !feed.done(held.tag, Ok(sum_of(md5, lane))) {
                                return;
                            }
                        }
                        LaneStatus::Idle if !dry => match feed.next(count) {
                            Some(Start::File(tag, Opened::Lane(file, size))) => {
                                // The whole file in one read, if it fits,
                                // and a byte more, to see its end there.
                                let whole = usize::try_from(size).unwrap_or(usize::MAX);
                                let read = self.read.min(whole.saturating_add(1).max(READ_MIN));
                                md5.start(lane);
                                *slot = Some(Held {
                                    tag,
                                    file,
                                    read,
                                    left: size,
                                });
                                count += 1;
                            }
                            Some(Start::File(tag, Opened::Done(result))) => {
                                if !feed.done(tag, result) {
                                    return;
                                }
                            }
                            Some(Start::Resume(carried)) => {
                                md5.resume(lane, carried.stream);
                                *slot = Some(carried.held);
                                count += 1;
                            }
                            None => {
                                dry = true;
                                ended = count == 0;
                            }
                        },
                        LaneStatus::Hungry => {
                            let held = slot.as_mut().expect("an open lane holds a file");
                            let read = held.read;
                            let filled = match md5.try_reserve(lane, read) {
                                Ok(()) => {
                                    md5.fill(lane, read, |buf| read_retrying(&mut held.file, buf))
                                }
                                Err(_) => Err(io::Error::from_raw_os_error(libc::ENOMEM)),
                            };
                            match filled {
                                Ok(0) => md5.finish(lane),
                                Ok(n) => {
                                    on_bytes(n as u64);
                                    // Short of what it asked for, and at the
                                    // size `fstat` gave: the end of the file.
                                    let at_end = n < read && n as u64 == held.left;
                                    held.left = held.left.saturating_sub(n as u64);
                                    if at_end {
                                        md5.finish(lane);
                                    }
                                    // Let the other lanes be fed first.
                                    break;
                                }
                                Err(err) => {
                                    md5.stop(lane);
                                    let held = slot.take().expect("an open lane holds a file");
                                    count -= 1;
                                    if !feed.done(held.tag, Err(DigestError::Read(err))) {
                                        return;
                                    }
                                }
                            }
                        }
                        // Busy, or idle with no file left.
                        _ => break,
                    }
                }
            }
            if md5.compress() == 0 && dry && count == 0 && ended {
                return;
            }
            if dry && count > 0 {
                // Streams read to their end are digested here, not carried.
                for (lane, slot) in held.iter_mut().enumerate() {
                    if slot.is_some() && !md5.is_open(lane) {
                        let held = slot.take().expect("checked just now");
                        count -= 1;
                        if !feed.done(held.tag, Ok(sum_of(md5, lane))) {
                            return;
                        }
                    }
                }
            }
            if dry && count > 0 {
                let open: Vec<(&F::Tag, u64)> =
                    held.iter().flatten().map(|h| (&h.tag, h.left)).collect();
                if feed.settle(&open) {
                    let mut carried = Vec::with_capacity(count);
                    for (lane, slot) in held.iter_mut().enumerate() {
                        if let Some(held) = slot.take() {
                            carried.push(Carried {
                                stream: md5.suspend(lane),
                                held,
                            });
                        }
                    }
                    feed.carry(carried);
                    return;
                }
            }
        }
    }
}

/// Where [`Lanes::run`] gets its streams and tells their outcomes; a
/// stream is known by its `Tag`.
pub(crate) trait Feed {
    /// What the feed knows a stream by (its index, its path).
    type Tag;

    /// The next stream for an idle lane, `held` streams being open now;
    /// `None`: nothing more for this round.
    fn next(&mut self, held: usize) -> Option<Start<Self::Tag>>;

    /// A stream's outcome, as soon as it is known; `false`: stop now (the
    /// open streams are dropped, their files closed).
    fn done(&mut self, tag: Self::Tag, result: Result<Sum, DigestError>) -> bool;

    /// Asked after each round in which [`next`](Self::next) had nothing
    /// more, while streams are open, with each one's bytes left to read
    /// (by its file's size): `true` suspends them all and hands them to
    /// [`carry`](Self::carry), and the run ends.
    fn settle(&mut self, _open: &[(&Self::Tag, u64)]) -> bool {
        false
    }

    /// Takes the streams [`settle`](Self::settle) let go.
    fn carry(&mut self, _streams: Vec<Carried<Self::Tag>>) {
        unreachable!("a feed that never settles is never given streams to carry")
    }

    /// The run was cancelled with these streams open; they are dropped.
    fn cancelled(&mut self, open: Vec<Self::Tag>);
}

/// What [`Feed::next`] gives an idle lane.
pub(crate) enum Start<T> {
    /// A file the feed opened (or whose outcome it knows already).
    File(T, Opened),
    /// A stream a run before suspended, to go on here.
    Resume(Carried<T>),
}

/// An open file in a lane: what the feed knows it by, the file, the size
/// of its reads, and the bytes left to read by its size.
pub(crate) struct Held<T> {
    pub(crate) tag: T,
    file: LaneFile,
    read: usize,
    left: u64,
}

/// A stream out of its lane: its file, where the file was, and the MD5
/// state so far. Dropping it closes the file.
pub(crate) struct Carried<T> {
    pub(crate) held: Held<T>,
    stream: Suspended,
}

/// The feed of [`Lanes::digest`]: files `0..count` by index.
struct Counted<'a, O, D> {
    count: usize,
    next: usize,
    /// A file whose open found no descriptor free while the lanes held
    /// files: it is opened again once a lane is done with one.
    waiting: Option<usize>,
    open: O,
    done: D,
    cancelled: &'a dyn Fn() -> bool,
}

impl<O, D> Feed for Counted<'_, O, D>
where
    O: FnMut(usize) -> Opened,
    D: FnMut(usize, Result<Sum, DigestError>) -> bool,
{
    type Tag = usize;

    fn next(&mut self, held: usize) -> Option<Start<usize>> {
        let i = self.waiting.take().or_else(|| {
            (self.next < self.count).then(|| {
                self.next += 1;
                self.next - 1
            })
        })?;
        let mut opened = (self.open)(i);
        if out_of_descriptors(&opened) {
            if held > 0 {
                // These lanes' files hold the descriptors: wait for one.
                self.waiting = Some(i);
                return None;
            }
            let open = &mut self.open;
            let again = reopened(self.cancelled, out_of_descriptors, || open(i));
            opened = match again {
                Some(again) => again,
                // Cancelled while it waited: not the file's failure.
                None if (self.cancelled)() => Opened::Done(Err(DigestError::Cancelled)),
                None => opened,
            };
        }
        Some(Start::File(i, opened))
    }

    fn done(&mut self, i: usize, result: Result<Sum, DigestError>) -> bool {
        (self.done)(i, result)
    }

    fn cancelled(&mut self, open: Vec<usize>) {
        let first = open.into_iter().chain(self.waiting).min();
        if let Some(i) = first.or((self.next < self.count).then_some(self.next)) {
            (self.done)(i, Err(DigestError::Cancelled));
        }
    }
}

/// `lane`'s digest and its stream's length; the lane is idle afterwards.
fn sum_of(md5: &mut MultiMd5, lane: usize) -> Sum {
    let size = md5.len(lane);
    Sum {
        hash: Hash::md5(md5.digest(lane)),
        size,
    }
}

/// `file.read(buf)`, retried while it is interrupted.
fn read_retrying(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match file.read(buf) {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use md5::{Digest, Md5};

    use super::*;

    /// Files of these sizes in a temporary directory, and their contents.
    fn files(sizes: &[usize]) -> (tempfile::TempDir, Vec<Vec<u8>>) {
        let dir = tempfile::tempdir().unwrap();
        let bodies: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| (0..n).map(|j| (j * 7 + i * 13) as u8).collect())
            .collect();
        for (i, body) in bodies.iter().enumerate() {
            std::fs::write(dir.path().join(i.to_string()), body).unwrap();
        }
        (dir, bodies)
    }

    fn open(dir: &std::path::Path, i: usize) -> Opened {
        let file = LaneFile::open(|| File::open(dir.join(i.to_string()))).unwrap();
        let size = file.metadata().unwrap().len();
        Opened::Lane(file, size)
    }

    #[test]
    fn a_file_held_back_for_a_descriptor_is_digested_after_the_last_open_file_ends() {
        // As many files of one length as lanes, ended in the same round,
        // then a small one whose open finds no descriptor free until the
        // last lane's file has ended. Lane 0, free first, is asked for the
        // small file while the other lanes' files are still open, and gets
        // none (held back); then those files end. The run must go on and
        // open the small file, not end with it never digested.
        for engine in Engine::available().into_iter().filter(|e| e.lanes() >= 2) {
            let last = engine.lanes();
            let mut sizes = vec![300_000; last];
            sizes.push(100);
            let (dir, bodies) = files(&sizes);
            let mut lanes = Lanes::new(engine, 64 * 1024);
            let last_done = std::cell::Cell::new(false);
            let mut got: Vec<Option<Result<Sum, DigestError>>> = vec![None; sizes.len()];
            let opener = |i: usize| {
                if i == last && !last_done.get() {
                    let err = io::Error::from_raw_os_error(libc::EMFILE);
                    return Opened::Done(Err(DigestError::Open(err)));
                }
                open(dir.path(), i)
            };
            lanes.digest(sizes.len(), opener, &|| false, &mut |_| {}, |i, r| {
                if i == last - 1 {
                    last_done.set(true);
                }
                got[i] = Some(r);
                true
            });
            for (i, body) in bodies.iter().enumerate() {
                let sum = got[i]
                    .take()
                    .unwrap_or_else(|| panic!("{engine}: file {i} lost"));
                let want: [u8; 16] = Md5::digest(body).into();
                assert_eq!(sum.unwrap().hash, Hash::md5(want), "{engine}: file {i}");
            }
        }
    }

    #[test]
    fn a_read_error_ends_its_file_only_and_every_other_lane_goes_on() {
        let sizes = [300_000, 5, 0, 70_000, 64, 200_000, 1, 4096, 150_000, 63];
        let (dir, bodies) = files(&sizes);
        for engine in Engine::available() {
            let mut lanes = Lanes::new(engine, 64 * 1024);
            let mut got: Vec<Option<Result<Sum, DigestError>>> = vec![None; sizes.len()];
            // File 3 is a directory when read: EISDIR part way through the group.
            let opener = |i: usize| match i {
                3 => Opened::Lane(LaneFile::open(|| File::open(dir.path())).unwrap(), 4096),
                _ => open(dir.path(), i),
            };
            lanes.digest(sizes.len(), opener, &|| false, &mut |_| {}, |i, r| {
                assert!(got[i].is_none(), "{engine}: file {i} done twice");
                got[i] = Some(r);
                true
            });
            for (i, body) in bodies.iter().enumerate() {
                match got[i].take() {
                    Some(Err(DigestError::Read(err))) if i == 3 => {
                        assert_eq!(err.raw_os_error(), Some(libc::EISDIR), "{engine}");
                    }
                    Some(Ok(sum)) if i != 3 => {
                        assert_eq!(
                            sum.hash.to_md5(),
                            Some(<[u8; 16]>::from(Md5::digest(body))),
                            "{engine}: file {i}"
                        );
                        assert_eq!(sum.size, body.len() as u64, "{engine}: file {i}");
                    }
                    other => panic!("{engine}: file {i}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn a_file_whose_size_changed_since_its_fstat_is_read_to_its_real_end() {
        // A read short of what it asked for at the size `fstat` gave ends
        // the file without a read of 0 bytes; a file that grew or shrank
        // since (here: a size that is wrong by a byte, by half, by double,
        // or 0) must still be read to its real end.
        let sizes = [0, 1, 5, 4095, 4096, 4097, 65_535, 65_536, 65_537, 200_000];
        let (dir, bodies) = files(&sizes);
        let claims: [fn(u64) -> u64; 6] = [
            |n| n,
            |n| n.saturating_sub(1),
            |n| n + 1,
            |n| n / 2,
            |n| n * 2,
            |_| 0,
        ];
        for engine in Engine::available() {
            for (c, claim) in claims.iter().enumerate() {
                let mut lanes = Lanes::new(engine, 64 * 1024);
                let mut got: Vec<Option<Sum>> = vec![None; sizes.len()];
                let opener = |i: usize| {
                    let file = LaneFile::open(|| File::open(dir.path().join(i.to_string())));
                    Opened::Lane(file.unwrap(), claim(sizes[i] as u64))
                };
                let mut read = 0u64;
                lanes.digest(
                    sizes.len(),
                    opener,
                    &|| false,
                    &mut |n| read += n,
                    |i, r| {
                        got[i] = Some(r.unwrap());
                        true
                    },
                );
                for (i, body) in bodies.iter().enumerate() {
                    let sum = got[i].take().unwrap();
                    assert_eq!(
                        sum.hash.to_md5(),
                        Some(<[u8; 16]>::from(Md5::digest(body))),
                        "{engine}: claim {c}, file {i}"
                    );
                    assert_eq!(sum.size, body.len() as u64, "{engine}: claim {c}, file {i}");
                }
                assert_eq!(
                    read,
                    sizes.iter().sum::<usize>() as u64,
                    "{engine}: claim {c}"
                );
            }
        }
    }

    #[test]
    fn a_cancel_is_seen_within_one_read_per_lane() {
        let sizes = [1 << 20; 20];
        let (dir, _) = files(&sizes);
        for engine in Engine::available() {
            let mut lanes = Lanes::new(engine, 64 * 1024);
            let asked = Cell::new(0);
            let cancelled = || {
                asked.set(asked.get() + 1);
                asked.get() > 3
            };
            let (mut read, mut outcomes) = (0u64, Vec::new());
            lanes.digest(
                sizes.len(),
                |i| open(dir.path(), i),
                &cancelled,
                &mut |n| read += n,
                |i, r| {
                    outcomes.push((i, r.map_err(|e| e.to_string())));
                    true
                },
            );
            let most = 3 * (engine.lanes() * lanes.read) as u64;
            assert!(
                read <= most,
                "{engine}: read {read} bytes before the cancel"
            );
            assert_eq!(outcomes, [(0, Err("cancelled".to_string()))], "{engine}");
        }
    }

    #[test]
    fn done_saying_stop_ends_the_group_at_once() {
        let (dir, _) = files(&[10, 20, 30, 40]);
        let mut lanes = Lanes::new(Engine::best(), 1024);
        let mut told = Vec::new();
        lanes.digest(
            4,
            |i| open(dir.path(), i),
            &|| false,
            &mut |_| {},
            |i, _| {
                told.push(i);
                false
            },
        );
        assert_eq!(told.len(), 1);
        // The lanes are ready for the next group.
        let mut sums = Vec::new();
        lanes.digest(
            1,
            |i| open(dir.path(), i),
            &|| false,
            &mut |_| {},
            |_, r| {
                sums.push(r.unwrap());
                true
            },
        );
        let body: Vec<u8> = (0..10).map(|j| (j * 7) as u8).collect();
        let md5 = <[u8; 16]>::from(Md5::digest(&body));
        assert_eq!(
            sums,
            [Sum {
                hash: Hash::md5(md5),
                size: 10
            }]
        );
    }

    #[test]
    fn a_lane_reads_the_chunk_shared_by_the_lanes_but_at_least_64_kib() {
        let scalar = Engine::scalar();
        assert_eq!(Lanes::read_size(scalar, 64 * 1024), 64 * 1024);
        assert_eq!(Lanes::read_size(scalar, 1), 1);
        assert_eq!(Lanes::read_size(scalar, 0), 1);
        let wide = Engine::best();
        let lanes = wide.lanes();
        assert_eq!(Lanes::read_size(wide, 1000), 1000);
        assert_eq!(Lanes::read_size(wide, 64 * 1024), 64 * 1024);
        assert_eq!(Lanes::read_size(wide, 64 << 20), (64 << 20) / lanes);
    }
}
