//! Digesters that keep their lanes busy across groups: a long file still
//! being read when its group's other files are done leaves its lane,
//! suspended, for a pool the digesters share, and goes on in the lanes of
//! a later group beside its files, or beside other long files.
//!
//! Without this a large file shares lanes only with the files of its own
//! group: once they are done it runs alone, at one stream's speed (on a
//! tree of small files with a few large ones, most of the bytes).
//!
//! # The protocol
//!
//! - A digester's call takes a [`Work`] item: a group of files numbered in
//!   walk order, a walk error in its place, or the walk's [`Work::End`].
//!   It returns the outcomes it finished, numbered ([`Numbered`]): those
//!   of its own files and of streams it took from the pool, in any order.
//!   The `order` stage after it puts them back in walk order.
//! - A call's lanes take the pool's oldest streams first (up to half of
//!   its lanes, so its own files keep lanes too), then its own files.
//! - Once its own files are all started, a call whose open streams all
//!   have more than [`CARRY_READS`] reads to go (by their size) hands them
//!   to the pool and returns: the next call takes them on. It does not if
//!   one of them lags more than `lag` files behind its group (so the
//!   results waiting for it in the `order` stage stay bounded), nor on the
//!   one-lane engine (no lanes to share).
//! - Streams enter the pool only before the walk's end is known, under
//!   the lock that records it. [`Work::End`] comes after every group; its
//!   call records the end, then drains: it takes streams from the pool and
//!   finishes them, until the pool is empty. A call of a group that sees
//!   the end drains too, taking its share (the pool and its own streams
//!   split over the calls in work), so the tail runs on every digester;
//!   so does a call of one of the last groups (the walk's last files split
//!   among the digesters), which never hands its files on: the last few
//!   large files of a tree (the 2 and 2 of four) run on every core, each
//!   core stepping its few streams side by side on a scalar kernel (two
//!   streams on one core at about twice one stream's speed).
//!   So once every call has returned, every stream is finished: every
//!   file listed ends as a line or an error.
//! - A call whose group starts more than `lag` files after the first
//!   outcome not yet handed on in order waits before it starts (the
//!   runtime's reorder window, kept here): it finishes the pool's streams
//!   meanwhile, or, with the pool empty, waits for the calls that hold the
//!   late file. So the outcomes waiting in the `order` stage stay below
//!   `lag` plus the groups in work, however long a file takes.
//! - When the walk is about to wait for more roots (a `--files-from`
//!   list that comes slowly), it sends the files it holds back and a
//!   [`Work::Wait`]: that call drains the pool as [`Work::End`]'s does,
//!   and the pool takes no stream until a group from after the wait
//!   comes, so everything walked so far is printed while the walk waits.
//! - A cancel, or an error that fails the run, empties the pool: its
//!   files are closed at once.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use pipeline::Cancel;

use crate::bounded::{Digested, Job};
use crate::error::Error;
use crate::lanes::{Carried, Lanes};
use crate::reorder::Reorder;
use crate::walk::Entry;

mod feed;

use feed::Digesting;

/// What the walk hands the digesters, in walk order.
pub(crate) enum Work {
    /// Files numbered from `first`, in walk order; `last`: one of the
    /// groups the walk's last files were split into, one per digester.
    Files {
        first: u64,
        files: Vec<Entry>,
        last: bool,
    },
    /// A walk error (continue policy), numbered in its place.
    Failed { seq: u64, err: Error },
    /// The walk waits for more roots (a `--files-from` list that comes
    /// slowly); `next` is the number its next file will have. Its call
    /// drains the pool, as [`Work::End`]'s does, and no stream enters the
    /// pool until a group from `next` on comes: what was walked so far is
    /// finished while the walk waits.
    Wait { next: u64 },
    /// The walk has ended: no work follows.
    End,
}

/// An outcome and its number in walk order; `None` for a file that was
/// not a regular file when opened (skipped, as the walk skips them).
pub(crate) type Numbered = (u64, Option<Digested>);

/// A stream's number in walk order and its walked entry.
type Tag = (u64, Entry);

/// A stream with at most this many lane reads left (by its size) is
/// finished in its call rather than handed on.
pub(crate) const CARRY_READS: u64 = 8;

/// The pool of suspended streams the digesters of one run share, and
/// what decides who drains it.
pub(crate) struct Relay {
    shared: Mutex<Shared>,
    /// Told when the pool grows and when outcomes are handed on.
    moved: Condvar,
    /// The `order` stage's outcomes waiting for those before them, and
    /// those in order that a catching-up call handed in directly.
    reorder: Mutex<(Reorder, Vec<Digested>)>,
    /// The number of the first outcome not yet handed on in order.
    handed: AtomicU64,
    /// How many streams the pool holds: a look without the lock.
    pooled: AtomicUsize,
    /// The walk's end is recorded: a look without the lock.
    ended: AtomicBool,
    /// How far (in files) a stream may lag behind its call's group and
    /// still be handed on.
    lag: u64,
}

#[derive(Default)]
struct Shared {
    pool: Vec<Carried<Tag>>,
    /// Calls in work.
    active: usize,
    /// [`Work::End`]'s call has started.
    ended: bool,
    /// A [`Work::Wait`]'s call has started and no group after it yet:
    /// the number of the next file the walk will find.
    waiting: Option<u64>,
}

/// A call in work, counted in [`Shared::active`] until dropped.
struct Active<'a>(&'a Relay);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.lock().active -= 1;
    }
}

impl Relay {
    /// A relay for the run of `job`: streams may lag `job.window` groups.
    pub(crate) fn new(job: &Job) -> Relay {
        let lag = (job.window as u64).saturating_mul(job.group.max(1) as u64);
        Relay {
            shared: Mutex::default(),
            moved: Condvar::new(),
            reorder: Mutex::default(),
            handed: AtomicU64::new(0),
            pooled: AtomicUsize::new(0),
            ended: AtomicBool::new(false),
            lag,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a call in; `end`: the call of [`Work::End`], which records
    /// the walk's end; `waits`: a [`Work::Wait`]'s, which records that the
    /// walk waits; `first`: a group's first file, which ends such a wait
    /// if the group came after it.
    fn enter(&self, end: bool, waits: Option<u64>, first: Option<u64>) -> Active<'_> {
        let mut shared = self.lock();
        shared.active += 1;
        if end {
            shared.ended = true;
            self.ended.store(true, Ordering::Release);
        }
        if waits.is_some() {
            shared.waiting = waits;
        } else if first.is_some_and(|first| shared.waiting.is_some_and(|next| first >= next)) {
            shared.waiting = None;
        }
        Active(self)
    }

    /// The pool's oldest stream, if any.
    fn adopt(&self) -> Option<Carried<Tag>> {
        if self.pooled.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut shared = self.lock();
        self.take_oldest(&mut shared)
    }

    /// The pool's oldest stream, if a call holding `held` streams is owed
    /// one: the pool and its streams shared over the calls in work.
    fn share(&self, held: usize) -> Option<Carried<Tag>> {
        if self.pooled.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut shared = self.lock();
        let owed = (shared.pool.len() + held).div_ceil(shared.active.max(1));
        if held < owed {
            self.take_oldest(&mut shared)
        } else {
            None
        }
    }

    fn take_oldest(&self, shared: &mut Shared) -> Option<Carried<Tag>> {
        let (oldest, _) = shared
            .pool
            .iter()
            .enumerate()
            .min_by_key(|(_, c)| c.held.tag.0)?;
        let stream = shared.pool.swap_remove(oldest);
        self.pooled.store(shared.pool.len(), Ordering::Release);
        Some(stream)
    }

    /// Puts `streams` in the pool, unless the walk's end is recorded or
    /// the walk waits: then they are given back, for the caller to finish.
    fn put(&self, streams: Vec<Carried<Tag>>) -> Result<(), Vec<Carried<Tag>>> {
        let mut shared = self.lock();
        if shared.ended || shared.waiting.is_some() {
            return Err(streams);
        }
        shared.pool.extend(streams);
        self.pooled.store(shared.pool.len(), Ordering::Release);
        self.moved.notify_all();
        Ok(())
    }

    /// The `order` stage: takes a packet of numbered outcomes and returns
    /// those now in walk order, and wakes the calls waiting for them.
    pub(crate) fn order(&self, packet: Vec<Numbered>) -> Vec<Digested> {
        self.put_in(packet, false)
    }

    /// Puts `outcomes` in the reorder and returns those now in walk order,
    /// after the ones kept before; with `keep` (a call handing outcomes in
    /// before it returns) they are kept instead, for the `order` stage to
    /// send on at its next packet (the call's own, at the latest).
    fn put_in(&self, outcomes: Vec<Numbered>, keep: bool) -> Vec<Digested> {
        let mut reorder = self.reorder.lock().unwrap_or_else(|p| p.into_inner());
        let (order, kept) = &mut *reorder;
        let mut ready = order.put(outcomes);
        kept.append(&mut ready);
        let ready = if keep {
            Vec::new()
        } else {
            std::mem::take(kept)
        };
        let base = order.base();
        drop(reorder);
        if self.handed.swap(base, Ordering::AcqRel) != base {
            // Under the lock the waiters check under, so none misses it.
            drop(self.lock());
            self.moved.notify_all();
        }
        ready
    }

    /// Whether a group starting at `first` would lag too far ahead of the
    /// first outcome not yet handed on.
    fn too_far(&self, first: u64) -> bool {
        first.saturating_sub(self.handed.load(Ordering::Acquire)) > self.lag
    }

    /// Waits until the pool grows or outcomes are handed on (or a short
    /// while, so that a cancel is seen).
    fn wait(&self, first: u64) {
        let shared = self.lock();
        if shared.pool.is_empty() && self.too_far(first) {
            let tick = Duration::from_millis(10);
            let _ = self.moved.wait_timeout(shared, tick);
        }
    }

    /// Drops every stream of the pool, closing its file.
    fn clear(&self) {
        let pool = std::mem::take(&mut self.lock().pool);
        self.pooled.store(0, Ordering::Release);
        drop(pool);
    }

    /// The digest stage: the outcomes of `work`'s files and of the pool's
    /// streams this call finished, numbered; see the [module docs](self).
    /// `cancel` is asked before every round of reads.
    ///
    /// # Errors
    ///
    /// With `job.fail_fast`, the first file's [`Error::Read`] to fail;
    /// [`Error::Cancelled`] once the run is cancelled. Either empties the
    /// pool.
    pub(crate) fn digest(
        &self,
        work: Work,
        job: &Job,
        cancel: Option<&Cancel>,
    ) -> Result<Vec<Numbered>, Error> {
        let (first, files, last, end, waits) = match work {
            Work::Failed { seq, err } => return Ok(vec![(seq, Some(Err(err)))]),
            Work::Files { first, files, last } => (first, files, last, false, None),
            Work::Wait { next } => (0, Vec::new(), true, false, Some(next)),
            Work::End => (0, Vec::new(), true, true, None),
        };
        let _active = self.enter(end, waits, (waits.is_none() && !end).then_some(first));
        let lanes = job.engine.lanes();
        let files_len = files.len();
        let newest = first + files_len as u64;
        let mut feed = Digesting {
            relay: self,
            job,
            cancel,
            out: Vec::with_capacity(files.len()),
            files: files.into_iter(),
            next: first,
            newest,
            carry_min: CARRY_READS.saturating_mul(Lanes::read_size(job.engine, job.chunk) as u64),
            adopt_below: lanes / 2,
            carries: lanes > 1,
            // The last groups run on every digester at once.
            drain: last || self.ended.load(Ordering::Acquire),
            catch_up: false,
            back: Vec::new(),
            waiting: None,
            failed: None,
        };
        let cancelled = || cancel.is_some_and(Cancel::is_cancelled);
        let mut on_bytes = |n| job.progress.read(n);
        Lanes::with(job.engine, job.chunk, |lanes| {
            // Too far ahead of the file that holds the outcomes up: finish
            // the pool's streams meanwhile, or wait for the call that has
            // that file.
            while !end && self.too_far(first) {
                if cancelled() {
                    feed.failed = Some(Error::Cancelled);
                    return;
                }
                if self.pooled.load(Ordering::Acquire) > 0 {
                    feed.catch_up = true;
                    lanes.run(&mut feed, &cancelled, &mut on_bytes);
                    feed.catch_up = false;
                    if feed.failed.is_some() {
                        return;
                    }
                    // The late file may be among them: its outcome must
                    // count now, not when this call returns.
                    self.put_in(std::mem::take(&mut feed.out), true);
                } else {
                    self.wait(first);
                }
            }
            loop {
                lanes.run(&mut feed, &cancelled, &mut on_bytes);
                // Streams the pool refused (the walk ended meanwhile) are
                // finished here.
                if feed.back.is_empty() || feed.failed.is_some() {
                    break;
                }
            }
        });
        if let Some(err) = feed.failed {
            self.clear();
            return Err(err);
        }
        Ok(feed.out)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{mpsc, Arc};
    use std::time::Duration;

    use md5::{Digest, Md5};

    use super::*;
    use crate::engine::Engine;
    use crate::progress::Progress;
    use crate::stages::WalkErrors;

    fn job(engine: Engine, group: usize, window: usize) -> Job {
        Job {
            roots: Arc::from([]),
            follow_links: false,
            files_from: None,
            filter: Default::default(),
            chunk: 4096,
            walk_errors: WalkErrors::InPlace,
            progress: Arc::new(Progress::new()),
            group,
            window,
            fail_fast: false,
            algorithm: Default::default(),
            engine,
            digesters: 2,
            cache: None,
        }
    }

    fn entry(dir: &std::path::Path, name: &str, body: &[u8]) -> Entry {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        Entry::at_path(path, name.as_bytes().to_vec(), body.len() as u64)
    }

    fn names(ready: Vec<Digested>) -> Vec<(String, [u8; 16])> {
        ready
            .into_iter()
            .map(|d| {
                let d = d.unwrap();
                (
                    d.path.to_string_lossy().into_owned(),
                    d.sum.to_md5().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn a_call_too_far_ahead_finishes_the_late_file_from_the_pool_and_goes_on() {
        let Some(engine) = Engine::available().into_iter().find(|e| e.lanes() > 1) else {
            return; // nothing is handed on without lanes to share
        };
        let dir = tempfile::tempdir().unwrap();
        let long: Vec<u8> = (0..1_000_000u32).map(|i| (i * 13) as u8).collect();
        let job = job(engine, 1, 1);
        let relay = Arc::new(Relay::new(&job));
        let files = vec![entry(dir.path(), "a", &long)];
        // Alone in its group, the long file is handed on at once.
        let first = relay.digest(
            Work::Files {
                first: 0,
                files,
                last: false,
            },
            &job,
            None,
        );
        assert!(first.unwrap().is_empty());
        assert_eq!(relay.pooled.load(Ordering::Acquire), 1);
        // A group two files on is too far ahead (a window of one group of
        // one): its call must finish the long file and let it count, or
        // it would wait for it for ever.
        let files = vec![entry(dir.path(), "c", b"c")];
        let (tx, rx) = mpsc::channel();
        let (relay2, job2) = (relay.clone(), job.clone());
        std::thread::spawn(move || {
            let work = Work::Files {
                first: 2,
                files,
                last: false,
            };
            tx.send(relay2.digest(work, &job2, None))
        });
        let late = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the call too far ahead stalled")
            .unwrap();
        assert_eq!(relay.pooled.load(Ordering::Acquire), 0);
        // The long file counted as soon as it was done (the late call
        // waited for nothing more) and goes on with the next packet; file
        // 1 (a walk error, say) comes last and lets file 2 go on.
        let ready = relay.order(late);
        assert_eq!(ready.len(), 1);
        let sum = ready[0].as_ref().unwrap().sum;
        assert_eq!(sum.to_md5(), Some(<[u8; 16]>::from(Md5::digest(&long))));
        let err = (1, Some(Err(Error::Config("x".into()))));
        let ready = relay.order(vec![err]);
        assert!(ready[0].is_err());
        let rest = names(ready.into_iter().skip(1).collect());
        assert_eq!(rest, [("c".to_string(), Md5::digest(b"c").into())]);
    }
}
