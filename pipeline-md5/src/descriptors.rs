//! The files lanes hold open (and files a call digests whole), counted
//! over the whole process, and waiting for one of them to close when an
//! open finds no descriptor free.
//!
//! Under a low descriptor limit (`ulimit -n`), the digesters' lanes
//! together may want more files open than the limit allows. An open that
//! fails with `EMFILE` or `ENFILE` while some lane holds a file is not the
//! file's fault: the lane's file will be read to its end and closed, and
//! the open then succeeds. A call whose own lanes hold files simply waits
//! for one of them (see `relay::feed`); a call whose lanes hold none waits
//! here for a lane file of another call to close, as does a call that
//! digests one file at a time (the serial and parallel modes, whose files
//! are counted the same way). Only when no such file is open anywhere is
//! the failure the file's outcome, as md5sum would report it.

use std::cell::Cell;
use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::digest::DigestError;
use crate::lanes::Opened;

/// Lane files open now or being opened, in the whole process: the low
/// 32 bits count every one, the high 32 bits those a waiter is trying to
/// open (see [`when_freed`]), which are not counted as held until their
/// open succeeds. One word, so one load tells how many files others hold.
static OPEN: AtomicU64 = AtomicU64::new(0);

/// One file in [`OPEN`]'s low half.
const ONE: u64 = 1;
/// One attempt of a waiter in [`OPEN`]'s high half.
const TRYING: u64 = 1 << 32;

thread_local! {
    /// Whether this thread is in [`when_freed`]'s attempt.
    static ATTEMPTING: Cell<bool> = const { Cell::new(false) };
}

/// Callers waiting in [`when_freed`]: a close notifies only when there
/// are some, so the common path takes no lock.
static WAITERS: AtomicUsize = AtomicUsize::new(0);

/// How many lane files have closed while someone waited, and the signal
/// that one has.
static CLOSED: Mutex<u64> = Mutex::new(0);
static CLOSED_NOW: Condvar = Condvar::new();

/// The longest wait for a close before the open is tried again: the
/// descriptors the walk and other openers hold are freed without a word,
/// and a cancel is seen at least this often.
const WAIT_MAX: Duration = Duration::from_millis(10);

/// A file open for a lane, counted in the process's lane files until it
/// is dropped (closed).
#[derive(Debug)]
pub(crate) struct LaneFile {
    // Fields drop in this order: the file is closed before it is
    // uncounted (see `Counted`'s drop).
    file: File,
    count: Counted,
}

impl LaneFile {
    /// Opens a file for a lane with `open`, counted as a lane file from
    /// before the open (so no open in progress is missed) until the
    /// [`LaneFile`] is dropped, or the open fails.
    pub(crate) fn open(open: impl FnOnce() -> io::Result<File>) -> io::Result<LaneFile> {
        let count = if ATTEMPTING.get() { ONE + TRYING } else { ONE };
        OPEN.fetch_add(count, SeqCst);
        match open() {
            Ok(file) => {
                OPEN.fetch_sub(count - ONE, SeqCst);
                Ok(LaneFile {
                    file,
                    count: Counted,
                })
            }
            Err(err) => {
                OPEN.fetch_sub(count, SeqCst);
                Err(err)
            }
        }
    }

    /// The file, and its place in the count, for a reader that must own
    /// the [`File`] (an async reader). The caller drops the file (closes it)
    /// before the [`Counted`].
    pub(crate) fn into_parts(self) -> (File, Counted) {
        (self.file, self.count)
    }
}

impl std::ops::Deref for LaneFile {
    type Target = File;

    fn deref(&self) -> &File {
        &self.file
    }
}

impl std::ops::DerefMut for LaneFile {
    fn deref_mut(&mut self) -> &mut File {
        &mut self.file
    }
}

/// One file's place in the count of lane files, given up on drop: after
/// the file is closed, so that a waiter told of the close finds its
/// descriptor free.
#[derive(Debug)]
pub(crate) struct Counted;

impl Drop for Counted {
    fn drop(&mut self) {
        // A waiter counts itself before it tries its open (both SeqCst):
        // either it is seen here, or its open comes after this close.
        if WAITERS.load(SeqCst) > 0 {
            *closed() += 1;
            CLOSED_NOW.notify_all();
        }
        // Uncounted last: a waiter that finds no file counted finds this
        // close recorded (see `when_freed`).
        OPEN.fetch_sub(ONE, SeqCst);
    }
}

/// Lane files open now or being opened, in the whole process, once no
/// waiter's attempt is in progress: a waiter's open that succeeds holds a
/// descriptor a moment before it counts as held, so the count is read
/// only when none is under way (each is one `open` call, and a waiter
/// makes one each time it is woken).
pub(crate) fn lane_files_open() -> u64 {
    let mut open = OPEN.load(SeqCst);
    // An open does not last long; one that does (a hung network file
    // system) counts as holding a file: the caller waits and asks again.
    for _ in 0..SETTLE_TRIES {
        if open >> 32 == 0 {
            return open;
        }
        std::thread::yield_now();
        open = OPEN.load(SeqCst);
    }
    open & (TRYING - 1)
}

/// How often [`lane_files_open`] looks again for waiters' opens to end.
const SETTLE_TRIES: u32 = 100;

fn closed() -> MutexGuard<'static, u64> {
    // The counter stays valid whatever a panicking holder did.
    CLOSED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether `opened` failed for want of a descriptor (the process's
/// limit, or the system's).
pub(crate) fn out_of_descriptors(opened: &Opened) -> bool {
    matches!(opened, Opened::Done(Err(err)) if err.out_of_descriptors())
}

impl DigestError {
    /// Whether the file could not be opened for want of a descriptor (the
    /// process's limit, or the system's).
    pub(crate) fn out_of_descriptors(&self) -> bool {
        matches!(self, DigestError::Open(err) if no_descriptor(err))
    }
}

/// Whether `err` says no descriptor was free (the process's limit, or the
/// system's).
pub(crate) fn no_descriptor(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// For a caller whose own lanes hold no file: calls `attempt` until it
/// gives something, again each time a lane file of another caller has
/// closed (or [`WAIT_MAX`] has passed), for as long as some lane file is
/// open and `cancelled()` says no. `None` when an attempt fails with no
/// lane file open (no close to wait for) or once the run is cancelled:
/// the caller reports the failed open then.
pub(crate) fn when_freed<R>(
    cancelled: &dyn Fn() -> bool,
    mut attempt: impl FnMut() -> Option<R>,
) -> Option<R> {
    let _waiting = Waiting::start();
    loop {
        let seen = *closed();
        if cancelled() {
            return None;
        }
        ATTEMPTING.set(true);
        let got = attempt();
        ATTEMPTING.set(false);
        if got.is_some() {
            return got;
        }
        if lane_files_open() == 0 {
            // A file closed since `seen` is recorded before it is
            // uncounted: if one was, its descriptor may be free now.
            if *closed() != seen {
                continue;
            }
            return None;
        }
        let guard = closed();
        if *guard != seen {
            // A file closed during the attempt: try again at once.
            continue;
        }
        // Woken by a close, by WAIT_MAX, or spuriously: try again.
        let _ = CLOSED_NOW.wait_timeout(guard, WAIT_MAX);
    }
}

/// [`when_freed`] for a caller that tries the same open again: `open()`
/// until its outcome no longer says `no_descriptor`.
pub(crate) fn reopened<T>(
    cancelled: &dyn Fn() -> bool,
    no_descriptor: impl Fn(&T) -> bool,
    mut open: impl FnMut() -> T,
) -> Option<T> {
    when_freed(cancelled, || {
        let again = open();
        (!no_descriptor(&again)).then_some(again)
    })
}

/// [`reopened`] for an async caller: each `open` runs on smol's blocking
/// pool, and the waits between them are timers of [`WAIT_MAX`], not
/// threads: the files that hold the descriptors are read and closed by
/// tasks of that same pool, so a waiter that held one of its threads
/// could, with enough of them, leave those tasks no thread to run on
/// (`--io async -j 1024` under `ulimit -n 128` hung so with 500 waiting
/// threads).
pub(crate) async fn reopened_async<T, F>(
    cancelled: &(dyn Fn() -> bool + Sync),
    no_descriptor: impl Fn(&T) -> bool,
    open: F,
) -> Option<T>
where
    T: Send + 'static,
    F: Fn() -> T + Send + Sync + 'static,
{
    let open = std::sync::Arc::new(open);
    let _waiting = Waiting::start();
    loop {
        let seen = *closed();
        if cancelled() {
            return None;
        }
        let attempt = open.clone();
        let got = smol::unblock(move || {
            ATTEMPTING.set(true);
            let got = attempt();
            ATTEMPTING.set(false);
            got
        })
        .await;
        if !no_descriptor(&got) {
            return Some(got);
        }
        // As in `when_freed`: a close since `seen` may have freed one.
        if *closed() != seen {
            continue;
        }
        if lane_files_open() == 0 {
            return None;
        }
        smol::Timer::after(WAIT_MAX).await;
    }
}

/// Counts a caller in [`WAITERS`] while it lives.
struct Waiting;

impl Waiting {
    fn start() -> Waiting {
        WAITERS.fetch_add(1, SeqCst);
        Waiting
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        WAITERS.fetch_sub(1, SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_waiter_tries_again_when_a_lane_file_closes_and_gives_up_once_cancelled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").unwrap();
        let held = LaneFile::open(|| File::open(&path)).unwrap();
        assert!(lane_files_open() >= 1);
        let (tx, rx) = mpsc::channel();
        // The first attempt fails; once the held file is closed, the next
        // succeeds.
        let waiter = std::thread::spawn(move || {
            let mut tries = 0;
            when_freed(&|| false, || {
                tries += 1;
                if tries == 1 {
                    tx.send(()).unwrap();
                    None
                } else {
                    Some(tries)
                }
            })
        });
        rx.recv().unwrap();
        drop(held);
        assert!(waiter.join().unwrap().is_some_and(|tries| tries >= 2));
        // A cancelled caller gives up at once, file or no file.
        let _held = LaneFile::open(|| File::open(&path)).unwrap();
        assert_eq!(when_freed(&|| true, || Some(())), None);
    }
}
