//! Feeding the engine's lanes from files: a digester hands a group of
//! files to [`Lanes::digest`], which keeps up to [`Engine::lanes`] of them
//! open at once, reads each hungry lane's next chunk straight into the
//! lane, and compresses all lanes together.
//!
//! - A small file takes one `read` of its whole body and the `read` that
//!   finds its end; a large one is read a chunk at a time, its lane taking
//!   its next chunk while the other lanes go on.
//! - When one file is left (the last of a group, or a group of one), the
//!   engine runs it on its one-lane kernel: no masked lanes are computed.
//! - A read error ends that file only: its lane is dropped and takes the
//!   next file; every other lane's stream is untouched.
//! - The cancel signal is asked before every round of reads, so a cancel
//!   is seen within one chunk per lane.
//! - Memory: each lane holds at most one read ([`Lanes::read_size`]) and
//!   a block, allocated once per thread and reused.
//!
//! These functions block; call them from a blocking worker.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read};

use crate::digest::DigestError;
use crate::engine::{Engine, LaneStatus, MultiMd5};

/// What the caller's `open` made of a file of the group.
pub(crate) enum Opened {
    /// A regular file, open for reading: a lane reads it.
    Lane(File),
    /// The file's outcome is known already (it could not be opened, it is
    /// not a regular file, or the caller digested it by other means).
    Done(Result<[u8; 16], DigestError>),
}

/// The least a lane reads at a time when the chunk is split over the
/// lanes: a small file still comes in one read.
const LANE_READ_MIN: usize = 64 * 1024;

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
    /// Lanes of `engine` reading [`read_size`](Self::read_size)`(engine,
    /// chunk)` bytes at a time, their buffers allocated now.
    ///
    /// # Errors
    ///
    /// `ENOMEM` if the buffers cannot be allocated.
    pub(crate) fn try_new(engine: Engine, chunk: usize) -> io::Result<Lanes> {
        let read = Lanes::read_size(engine, chunk);
        let mut md5 = MultiMd5::new(engine);
        md5.try_reserve(read)
            .map_err(|_| io::Error::from_raw_os_error(libc::ENOMEM))?;
        Ok(Lanes { md5, read })
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
    ///
    /// # Errors
    ///
    /// `ENOMEM` if new lanes cannot be allocated; `f` is not run.
    pub(crate) fn with<T>(
        engine: Engine,
        chunk: usize,
        f: impl FnOnce(&mut Lanes) -> T,
    ) -> io::Result<T> {
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
                    slot.insert(Lanes::try_new(engine, chunk)?)
                }
            };
            Ok(f(lanes))
        })
    }

    /// Digests files `0..count`: `open(i)` opens file `i` (in order, as
    /// lanes come free) and `done(i, result)` is told each file's outcome
    /// as soon as it is known, in any order; when it returns `false`, the
    /// rest is dropped and this returns. `cancelled()` is asked before each
    /// round of reads: once it says yes, the first open file (or the next
    /// one) is done with [`DigestError::Cancelled`] and this returns.
    /// `on_bytes(n)` is told the size of each read.
    pub(crate) fn digest(
        &mut self,
        count: usize,
        mut open: impl FnMut(usize) -> Opened,
        cancelled: &dyn Fn() -> bool,
        on_bytes: &mut dyn FnMut(u64),
        mut done: impl FnMut(usize, Result<[u8; 16], DigestError>) -> bool,
    ) {
        let md5 = &mut self.md5;
        let lanes = md5.lanes();
        for lane in 0..lanes {
            md5.stop(lane);
        }
        // Per lane: the file it reads, and its index.
        let mut held: Vec<Option<(usize, File)>> = (0..lanes).map(|_| None).collect();
        let mut next = 0;
        loop {
            if cancelled() {
                let first = held.iter().flatten().map(|(i, _)| *i).min();
                if let Some(i) = first.or((next < count).then_some(next)) {
                    done(i, Err(DigestError::Cancelled));
                }
                return;
            }
            for lane in 0..lanes {
                loop {
                    match md5.status(lane) {
                        LaneStatus::Done => {
                            let (i, _file) = held[lane].take().expect("a done lane holds a file");
                            if !done(i, Ok(md5.digest(lane))) {
                                return;
                            }
                        }
                        LaneStatus::Idle if next < count => {
                            let i = next;
                            next += 1;
                            match open(i) {
                                Opened::Lane(file) => {
                                    md5.start(lane);
                                    held[lane] = Some((i, file));
                                }
                                Opened::Done(result) => {
                                    if !done(i, result) {
                                        return;
                                    }
                                }
                            }
                        }
                        LaneStatus::Hungry => {
                            let (i, file) = held[lane].as_mut().expect("an open lane holds a file");
                            match md5.fill(lane, self.read, |buf| read_retrying(file, buf)) {
                                Ok(0) => md5.finish(lane),
                                Ok(n) => {
                                    on_bytes(n as u64);
                                    // A short read: more may follow; let the
                                    // other lanes be fed first.
                                    break;
                                }
                                Err(err) => {
                                    let i = *i;
                                    md5.stop(lane);
                                    held[lane] = None;
                                    if !done(i, Err(DigestError::Read(err))) {
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
            if md5.compress() == 0 && next == count && held.iter().all(Option::is_none) {
                return;
            }
        }
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
