//! The stage functions the three designs share: the walk of several roots
//! as a pipeline source, and the digest of one walked file, blocking (on
//! `std::fs`, run on the blocking pool) or async (on `async-fs`).

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use futures::AsyncReadExt;
use pipeline::{Cancel, Cancelled, Emitter};

use crate::bounded::Job;
use crate::digest::{DigestError, Digester};
use crate::error::Error;
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
    /// place, and at the end of the walk.
    fn flush(&mut self, _em: &mut Emitter<T>) -> Result<(), Cancelled> {
        Ok(())
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
    let given = job.roots.iter().cloned().map(Ok);
    let listed = job
        .files_from
        .as_ref()
        .map(|from| crate::roots::Listed::new(from, em.cancel_signal().clone()));
    for root in given.chain(listed.into_iter().flatten()) {
        let walk = root.map(|root| Walk::new(root, job.follow_links).filter(job.filter.clone()));
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
                Ok(entry) => {
                    job.progress.found(entry.size);
                    found.file(entry, em)
                }
                Err(err) => match &job.walk_errors {
                    WalkErrors::InPlace => {
                        found.flush(em).and_then(|()| em.error(Error::Walk(err)))
                    }
                    WalkErrors::Stash(slot) => {
                        let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
                        slot.get_or_insert(Error::Walk(err));
                        drop(slot);
                        let _ = found.flush(em);
                        return;
                    }
                },
            };
            if sent.is_err() {
                return;
            }
        }
    }
    let _ = found.flush(em);
}

/// Files handed to one digester at once: small files travel in groups so
/// that the hop to the blocking pool and the channel sends are paid once
/// per group, not once per file.
pub(crate) type Group = Vec<Entry>;

/// A group is sent before it would hold this many bytes: a large file
/// travels alone, so large files still spread over the digesters and a
/// small file's line never waits for a large file's digest.
const GROUP_BYTES: u64 = 256 * 1024;

/// Gathers walked files into [`Group`]s of at most `max` files.
pub(crate) struct Grouper {
    max: usize,
    group: Group,
    bytes: u64,
}

impl Grouper {
    pub(crate) fn new(max: usize) -> Grouper {
        Grouper {
            max: max.max(1),
            group: Vec::new(),
            bytes: 0,
        }
    }
}

impl Found<Group> for Grouper {
    fn file(&mut self, entry: Entry, em: &mut Emitter<Group>) -> Result<(), Cancelled> {
        if self.bytes + entry.size >= GROUP_BYTES {
            // A large file travels alone, not after the small ones.
            self.flush(em)?;
        }
        self.bytes += entry.size;
        self.group.push(entry);
        if self.group.len() >= self.max || self.bytes >= GROUP_BYTES {
            return self.flush(em);
        }
        Ok(())
    }

    fn flush(&mut self, em: &mut Emitter<Group>) -> Result<(), Cancelled> {
        self.bytes = 0;
        if self.group.is_empty() {
            return Ok(());
        }
        em.emit(std::mem::take(&mut self.group))
    }
}

/// The blocking digest stage over a group: each file's digest or error, in
/// order (files that turn out not to be regular are left out). With
/// `fail_fast` the first error is returned instead, which fails the run.
///
/// # Errors
///
/// With `fail_fast`, the first file's [`Error::Read`].
pub(crate) fn digest_group(
    group: Group,
    chunk: usize,
    cancel: Option<&Cancel>,
    progress: &Progress,
    fail_fast: bool,
) -> Result<Vec<Result<FileDigest, Error>>, Error> {
    let mut out = Vec::with_capacity(group.len());
    for entry in &group {
        match digest_entry(entry, chunk, cancel, progress) {
            Ok(Some(digest)) => out.push(Ok(digest)),
            Ok(None) => {}
            Err(err) if fail_fast || err.is_cancelled() => return Err(err),
            Err(err) => out.push(Err(err)),
        }
    }
    Ok(out)
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
    cancel: Option<&Cancel>,
    progress: &Progress,
    digest: impl FnOnce(
        &mut Digester,
        &dyn Fn() -> bool,
        &mut dyn FnMut(u64),
    ) -> Result<[u8; 16], DigestError>,
) -> Result<[u8; 16], DigestError> {
    let cancelled = || cancel.is_some_and(Cancel::is_cancelled);
    let mut on_bytes = |n| progress.read(n);
    DIGESTER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let digester = match slot.take() {
            Some(d) if d.chunk() == chunk.max(1) => slot.insert(d),
            _ => slot.insert(Digester::try_new(chunk).map_err(DigestError::Read)?),
        };
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
    cancel: Option<&Cancel>,
    progress: &Progress,
) -> Result<[u8; 16], DigestError> {
    with_digester(chunk, cancel, progress, |d, cancelled, on_bytes| {
        d.digest_entry(entry, cancelled, on_bytes)
    })
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
    cancel: Option<&Cancel>,
    progress: &Progress,
) -> Result<Option<FileDigest>, Error> {
    let result = digest_walked(entry, chunk, cancel, progress);
    progress.file_done();
    finish(entry, result)
}

fn finish(
    entry: &Entry,
    result: Result<[u8; 16], DigestError>,
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

/// The async digest stage on `async-fs`: the same as [`digest_entry`],
/// with every open and read awaited on `async-fs`'s thread pool. The signal
/// is asked between chunks; an async stage is also simply dropped at a
/// cancel.
pub(crate) async fn digest_entry_async(
    entry: Entry,
    chunk: usize,
    progress: Arc<Progress>,
) -> Result<Option<FileDigest>, Error> {
    let cancel = Cancel::current();
    let result = digest_async(&entry, chunk, cancel.as_ref(), &progress).await;
    progress.file_done();
    finish(&entry, result)
}

async fn digest_async(
    entry: &Entry,
    chunk: usize,
    cancel: Option<&Cancel>,
    progress: &Arc<Progress>,
) -> Result<[u8; 16], DigestError> {
    use md5::{Digest, Md5};

    if entry.is_stdin() {
        let (entry, cancel, progress) = (entry.clone(), cancel.cloned(), progress.clone());
        return smol::unblock(move || digest_walked(&entry, chunk, cancel.as_ref(), &progress))
            .await;
    }
    let opened = entry.clone();
    let mut file = async_fs::File::from(
        smol::unblock(move || {
            crate::pause::before_open(&opened.display);
            opened.open()
        })
        .await
        .map_err(DigestError::Open)?,
    );
    let file_type = file
        .metadata()
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
    let mut md5 = Md5::new();
    loop {
        if cancel.is_some_and(Cancel::is_cancelled) {
            return Err(DigestError::Cancelled);
        }
        let n = match file.read(&mut buf).await {
            Ok(0) => return Ok(md5.finalize().into()),
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(DigestError::Read(err)),
        };
        md5.update(&buf[..n]);
        progress.read(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::Pipeline;

    fn entry(name: &str, size: u64) -> Entry {
        Entry::at_path(name.into(), name.as_bytes().to_vec(), size)
    }

    /// The groups a [`Grouper`] of at most `max` files makes of `sizes`.
    fn groups(max: usize, sizes: &[u64]) -> Vec<Vec<u64>> {
        let sizes = sizes.to_vec();
        Pipeline::new()
            .from_blocking("walk", move |em: &mut Emitter<Group>| {
                let mut grouper = Grouper::new(max);
                for (i, size) in sizes.into_iter().enumerate() {
                    grouper.file(entry(&i.to_string(), size), em).unwrap();
                }
                grouper.flush(em).unwrap();
            })
            .map("sizes", |g: Group| g.iter().map(|e| e.size).collect())
            .collect::<Vec<Vec<u64>>>()
            .run()
            .unwrap()
    }

    #[test]
    fn small_files_travel_together_and_a_large_one_alone() {
        assert_eq!(groups(3, &[1, 2, 3, 4, 5]), [vec![1, 2, 3], vec![4, 5]]);
        let big = GROUP_BYTES;
        assert_eq!(
            groups(16, &[1, 2, big, 3, big - 2, 5]),
            [vec![1, 2], vec![big], vec![3], vec![big - 2], vec![5]],
            "nothing waits behind a large file"
        );
        assert_eq!(groups(1, &[1, 2]), [vec![1], vec![2]]);
        assert!(groups(4, &[]).is_empty());
    }
}
