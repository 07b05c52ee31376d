//! The stage functions the three designs share: the walk of several roots
//! as a pipeline source, the opening of a walked file for a lane (the
//! bounded design, [`crate::relay`]), and the digest of one walked file,
//! blocking (on `std::fs`, run on the blocking pool) or async (an async
//! reader on smol's blocking pool).

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use futures::AsyncReadExt;
use pipeline::{Cancel, Cancelled, Emitter};

use crate::algorithm::Algorithm;
use crate::bounded::Job;
use crate::descriptors::{reopened, reopened_async, LaneFile};
use crate::digest::{DigestError, Digester, Sum};
use crate::error::Error;
use crate::lanes::Opened;
use crate::progress::Progress;
use crate::walk::{Entry, Walk};

use crate::FileDigest;

/// What the walking source does with a walk error.
#[derive(Debug, Clone)]
pub(crate) enum WalkErrors {
    /// Report it in its place: under the fail-fast policy it cancels the run
    /// at once, under the continue policy it travels downstream as an item.
    InPlace,
    /// The article's `errc`: stop walking, keep the first error here, and
    /// let the caller report it once the digests are drained.
    Stash(Arc<Mutex<Option<Error>>>),
}

/// What the walking source does with each regular file it finds.
pub(crate) trait Found<T> {
    /// Handles one file, usually by emitting something for it.
    fn file(&mut self, entry: Entry, em: &mut Emitter<T>) -> Result<(), Cancelled>;

    /// Emits what is held back: called before an error is reported in
    /// place.
    fn flush(&mut self, _em: &mut Emitter<T>) -> Result<(), Cancelled> {
        Ok(())
    }

    /// Reports a walk error in its place: what is held back goes first,
    /// then the error ([`Emitter::error`]: under the fail-fast policy it
    /// cancels the run at once, under the continue policy it travels
    /// downstream as an item).
    fn failed(&mut self, err: Error, em: &mut Emitter<T>) -> Result<(), Cancelled> {
        self.flush(em).and_then(|()| em.error(err))
    }

    /// Emits what is held back at the end of the walk: [`flush`](Self::flush)
    /// unless said otherwise.
    fn end(&mut self, em: &mut Emitter<T>) -> Result<(), Cancelled> {
        self.flush(em)
    }

    /// Called before the walk waits for more roots: what is held back
    /// goes on, to be finished meanwhile. [`flush`](Self::flush) unless
    /// said otherwise.
    fn waits(&mut self, em: &mut Emitter<T>) -> Result<(), Cancelled> {
        self.flush(em)
    }
}

impl<T, F> Found<T> for F
where
    F: FnMut(Entry, &mut Emitter<T>) -> Result<(), Cancelled>,
{
    fn file(&mut self, entry: Entry, em: &mut Emitter<T>) -> Result<(), Cancelled> {
        self(entry, em)
    }
}

/// Walks the job's roots in order and hands each regular file to `found`.
/// Stops when an emit or an error report says the run is cancelled.
pub(crate) fn walk_roots<T>(job: &Job, em: &mut Emitter<T>, mut found: impl Found<T>) {
    let mut given = job.roots.iter().cloned().map(Ok);
    let mut listed = job
        .files_from
        .as_ref()
        .map(|from| crate::roots::Listed::new(from, em.cancel_signal().clone()));
    let mut cache = job.cache.as_ref().map(|shared| shared.walking());
    loop {
        let next = match given.next() {
            Some(root) => Some(root),
            // Before the walk waits for more of the list, what it holds
            // back goes on: the files of the roots listed so far are
            // digested and printed while the list is slow to come.
            None => listed.as_mut().and_then(|listed| {
                listed.next_root(&mut || {
                    let _ = found.waits(em);
                })
            }),
        };
        let Some(root) = next else { break };
        let walk = root.map(|root| {
            Walk::new(root, job.follow_links)
                .filter(job.filter.clone())
                .stat_files(cache.is_some())
        });
        let items: Box<dyn Iterator<Item = Result<crate::walk::Entry, crate::walk::WalkError>>> =
            match walk {
                Ok(walk) => Box::new(walk),
                Err(err) => Box::new(std::iter::once(Err(err))),
            };
        for item in items {
            if em.is_cancelled() {
                return;
            }
            let sent = match item {
                Ok(mut entry) => {
                    if let Some(cache) = cache.as_mut() {
                        if !cache.entry(&mut entry) {
                            continue;
                        }
                    }
                    job.progress.found(entry.size);
                    found.file(entry, em)
                }
                Err(err) if cache.as_mut().is_some_and(|cache| !cache.failed(&err)) => continue,
                Err(err) => match &job.walk_errors {
                    WalkErrors::InPlace => found.failed(Error::Walk(err), em),
                    WalkErrors::Stash(slot) => {
                        let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
                        slot.get_or_insert(Error::Walk(err));
                        drop(slot);
                        let _ = found.end(em);
                        return;
                    }
                },
            };
            if sent.is_err() {
                return;
            }
        }
    }
    let _ = found.end(em);
}

/// Opens a walked file for a lane: without blocking, through no symlink
/// below a root, and checked regular by one `fstat` of what was opened.
/// Standard input is digested here, on its own.
pub(crate) fn open_entry(
    entry: &Entry,
    chunk: usize,
    algorithm: Algorithm,
    cancel: Option<&Cancel>,
    progress: &Progress,
) -> Opened {
    if let Some(sum) = entry.known {
        return Opened::Done(Ok(sum));
    }
    // Only MD5 runs in lanes: a file of another algorithm is digested
    // here, one at a time, and comes to the lanes done.
    if entry.is_stdin() || algorithm != Algorithm::Md5 {
        return Opened::Done(digest_walked(entry, chunk, algorithm, cancel, progress));
    }
    crate::pause::before_open(&entry.display);
    let opened = LaneFile::open(|| entry.open()).and_then(|file| {
        let meta = file.metadata()?;
        Ok((file, meta))
    });
    match opened {
        Err(err) => Opened::Done(Err(DigestError::Open(err))),
        Ok((file, meta)) if meta.is_file() => {
            if entry.key.is_none() {
                // The walk did not stat it: its size is news.
                progress.sized(meta.len());
            }
            Opened::Lane(file, meta.len())
        }
        Ok((_, meta)) => Opened::Done(Err(DigestError::NotRegular {
            file_type: meta.file_type(),
        })),
    }
}

thread_local! {
    /// One read buffer per blocking-pool thread, reused across files.
    static DIGESTER: RefCell<Option<Digester>> = const { RefCell::new(None) };
}

/// Runs `digest` with this thread's digester of `chunk` bytes (made, or
/// remade for another chunk size, as needed), asking `cancel` between
/// chunks and counting the bytes read in `progress`.
fn with_digester(
    chunk: usize,
    algorithm: Algorithm,
    cancel: Option<&Cancel>,
    progress: &Progress,
    digest: impl FnOnce(
        &mut Digester,
        &dyn Fn() -> bool,
        &mut dyn FnMut(u64),
    ) -> Result<Sum, DigestError>,
) -> Result<Sum, DigestError> {
    let cancelled = || cancel.is_some_and(Cancel::is_cancelled);
    let mut on_bytes = |n| progress.read(n);
    DIGESTER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let digester = match slot.take() {
            Some(d) if d.chunk() == chunk.max(1) => slot.insert(d),
            _ => slot.insert(Digester::try_new(chunk).map_err(DigestError::Read)?),
        };
        digester.set_algorithm(algorithm);
        digest(digester, &cancelled, &mut on_bytes)
    })
}

/// The MD5 of a walked file, opened with [`Entry::open`] and read `chunk`
/// bytes at a time on this thread (blocking) with a buffer kept for the
/// thread. Asks `cancel` between chunks, and counts the bytes read in
/// `progress`.
pub(crate) fn digest_walked(
    entry: &Entry,
    chunk: usize,
    algorithm: Algorithm,
    cancel: Option<&Cancel>,
    progress: &Progress,
) -> Result<Sum, DigestError> {
    if let Some(sum) = entry.known {
        return Ok(sum);
    }
    with_digester(
        chunk,
        algorithm,
        cancel,
        progress,
        |d, cancelled, on_bytes| d.digest_entry(entry, cancelled, on_bytes),
    )
}

/// The blocking digest stage: the walked file's digest, `None` for a file
/// that turned out not to be regular when opened (skipped, as the walk
/// skips FIFOs and devices). `cancel` is asked between chunks; stage
/// functions pass the run's [`Cancel::current`].
///
/// # Errors
///
/// [`Error::Read`] naming the file.
pub(crate) fn digest_entry(
    entry: &Entry,
    chunk: usize,
    algorithm: Algorithm,
    cancel: Option<&Cancel>,
    progress: &Progress,
) -> Result<Option<FileDigest>, Error> {
    let digest = || digest_walked(entry, chunk, algorithm, cancel, progress);
    let no_descriptor =
        |r: &Result<Sum, DigestError>| r.as_ref().is_err_and(DigestError::out_of_descriptors);
    let mut result = digest();
    if no_descriptor(&result) {
        // Other files being digested hold the descriptors: wait for one
        // of them to close (this call holds none).
        let cancelled = || cancel.is_some_and(Cancel::is_cancelled);
        let again = reopened(&cancelled, no_descriptor, digest);
        result = match again {
            Some(again) => again,
            // Cancelled while it waited: not the file's failure.
            None if cancelled() => Err(DigestError::Cancelled),
            None => result,
        };
    }
    progress.file_done();
    finish(entry, result)
}

/// A file's outcome as a stage gives it: its digest, `None` for what
/// turned out not to be a regular file (a directory is an error).
pub(crate) fn finish(
    entry: &Entry,
    result: Result<Sum, DigestError>,
) -> Result<Option<FileDigest>, Error> {
    match result {
        Ok(sum) => Ok(Some(FileDigest::new(&entry.display, sum))),
        // A FIFO, socket or device swapped in after the walk is skipped,
        // as the walk skips them; a directory is reported: every file the
        // walk listed ends as a line or an error.
        Err(DigestError::NotRegular { file_type }) if !file_type.is_dir() => Ok(None),
        Err(err) => Err(Error::read(&crate::path_of(&entry.display), err)),
    }
}

/// The async digest stage: the same as [`digest_entry`], with every open
/// and read awaited on smol's blocking pool (`smol::Unblock`, the reader
/// `async-fs` is built on, with one chunk of read-ahead). The signal
/// is asked between chunks; an async stage is also simply dropped at a
/// cancel.
pub(crate) async fn digest_entry_async(
    entry: Entry,
    chunk: usize,
    algorithm: Algorithm,
    progress: Arc<Progress>,
) -> Result<Option<FileDigest>, Error> {
    let cancel = Cancel::current();
    let result = digest_async(&entry, chunk, algorithm, cancel.as_ref(), &progress).await;
    progress.file_done();
    finish(&entry, result)
}

async fn digest_async(
    entry: &Entry,
    chunk: usize,
    algorithm: Algorithm,
    cancel: Option<&Cancel>,
    progress: &Arc<Progress>,
) -> Result<Sum, DigestError> {
    if let Some(sum) = entry.known {
        return Ok(sum);
    }
    if entry.is_stdin() {
        let (entry, cancel, progress) = (entry.clone(), cancel.cloned(), progress.clone());
        return smol::unblock(move || {
            digest_walked(&entry, chunk, algorithm, cancel.as_ref(), &progress)
        })
        .await;
    }
    let opened = entry.clone();
    let open = move || LaneFile::open(|| opened.open()).map_err(DigestError::Open);
    let no_descriptor =
        |r: &Result<LaneFile, DigestError>| r.as_ref().is_err_and(DigestError::out_of_descriptors);
    let display = entry.display.clone();
    let first = smol::unblock({
        let open = open.clone();
        move || {
            crate::pause::before_open(&display);
            open()
        }
    })
    .await;
    let lane_file = if no_descriptor(&first) {
        // Other files being digested hold the descriptors: wait for one of
        // them to close, as the blocking digesters do, on timers.
        let cancelled = || cancel.is_some_and(Cancel::is_cancelled);
        match reopened_async(&cancelled, no_descriptor, open).await {
            Some(again) => again,
            None if cancelled() => Err(DigestError::Cancelled),
            None => first,
        }
    } else {
        first
    }?;
    // Counted as open until the file is closed (`file` is declared after
    // `_count`, so it is dropped first); but for a cancel in the middle of
    // a read, when the read in flight on the pool closes it a moment after.
    let (file, _count) = lane_file.into_parts();
    // Read ahead by one chunk on the blocking pool while the last is
    // hashed. (`async-fs`'s `File` reads ahead up to 8 MiB per open file:
    // 270 MiB with 32 digesters on large files.)
    let mut file = smol::Unblock::with_capacity(chunk.max(1), file);
    let file_type = file
        .with_mut(|file| file.metadata())
        .await
        .map_err(DigestError::Open)?
        .file_type();
    if !file_type.is_file() {
        return Err(DigestError::NotRegular { file_type });
    }
    let mut buf = Vec::new();
    buf.try_reserve_exact(chunk.max(1))
        .map_err(|_| DigestError::Read(std::io::Error::from_raw_os_error(libc::ENOMEM)))?;
    buf.resize(chunk.max(1), 0);
    let mut hasher = algorithm.hasher();
    let mut size = 0u64;
    loop {
        if cancel.is_some_and(Cancel::is_cancelled) {
            return Err(DigestError::Cancelled);
        }
        let n = match file.read(&mut buf).await {
            Ok(0) => {
                let hash = hasher.finalize();
                return Ok(Sum { hash, size });
            }
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(DigestError::Read(err)),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
        progress.read(n as u64);
    }
}
