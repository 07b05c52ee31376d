//! One digester call's [`Feed`]: what its lanes take next (streams
//! refused by the pool, the pool's oldest, its own files, a share of the
//! pool once the walk has ended) and when its open streams may leave.

use std::sync::atomic::Ordering;

use pipeline::Cancel;

use super::{Relay, Tag};
use crate::bounded::Job;
use crate::descriptors::{out_of_descriptors, when_freed};
use crate::digest::{DigestError, Sum};
use crate::error::Error;
use crate::lanes::{Carried, Feed, Start};
use crate::relay::Numbered;
use crate::stages::{finish, open_entry};
use crate::walk::Entry;

/// One call's [`Feed`]: the pool's streams and the call's own files.
pub(super) struct Digesting<'a> {
    pub(super) relay: &'a Relay,
    pub(super) job: &'a Job,
    pub(super) cancel: Option<&'a Cancel>,
    pub(super) files: std::vec::IntoIter<Entry>,
    /// The number of the next own file.
    pub(super) next: u64,
    /// One past the number of the group's last file: the walk got at
    /// least this far.
    pub(super) newest: u64,
    /// Bytes left under which a stream is finished here.
    pub(super) carry_min: u64,
    /// The pool's streams are taken while fewer streams than this are
    /// open (before the walk's end).
    pub(super) adopt_below: usize,
    /// Whether streams are handed on at all (not on one lane).
    pub(super) carries: bool,
    /// The walk's end is known: finish every stream taken, and take a
    /// share of the pool.
    pub(super) drain: bool,
    /// Finishing the pool's streams before the call's own files (which
    /// wait): every stream taken is finished.
    pub(super) catch_up: bool,
    /// Streams the pool refused.
    pub(super) back: Vec<Carried<Tag>>,
    /// An own file whose open found no descriptor free while the call's
    /// lanes held files: it is opened again once a lane is done with one
    /// (see [`crate::descriptors`]).
    pub(super) waiting: Option<Tag>,
    pub(super) out: Vec<Numbered>,
    pub(super) failed: Option<Error>,
}

impl Feed for Digesting<'_> {
    type Tag = Tag;

    fn next(&mut self, held: usize) -> Option<Start<Tag>> {
        if let Some(stream) = self.back.pop() {
            return Some(Start::Resume(stream));
        }
        if self.catch_up {
            return self.relay.adopt().map(Start::Resume);
        }
        if !self.drain && held < self.adopt_below {
            if let Some(stream) = self.relay.adopt() {
                return Some(Start::Resume(stream));
            }
        }
        let own = self.waiting.take().or_else(|| {
            let entry = self.files.next()?;
            self.next += 1;
            Some((self.next - 1, entry))
        });
        if let Some((seq, entry)) = own {
            let job = self.job;
            let open = || open_entry(&entry, job.chunk, job.algorithm, self.cancel, &job.progress);
            let mut opened = open();
            if out_of_descriptors(&opened) {
                if held > 0 {
                    // The lanes' files hold the descriptors: wait for one.
                    self.waiting = Some((seq, entry));
                    return None;
                }
                // Other calls' lanes hold them: take a stream of theirs
                // from the pool, or wait for one of their files to close.
                let relay = self.relay;
                let cancel = self.cancel;
                let cancelled = || cancel.is_some_and(Cancel::is_cancelled);
                let again = when_freed(&cancelled, || match relay.adopt() {
                    Some(stream) => Some(Err(stream)),
                    None => {
                        let opened = open();
                        (!out_of_descriptors(&opened)).then_some(Ok(opened))
                    }
                });
                match again {
                    Some(Err(stream)) => {
                        self.waiting = Some((seq, entry));
                        return Some(Start::Resume(stream));
                    }
                    Some(Ok(again)) => opened = again,
                    None => {}
                }
            }
            return Some(Start::File((seq, entry), opened));
        }
        if self.drain {
            return self.relay.share(held).map(Start::Resume);
        }
        None
    }

    fn done(&mut self, (seq, entry): Tag, result: Result<Sum, DigestError>) -> bool {
        self.job.progress.file_done();
        match finish(&entry, result) {
            Err(err) if self.job.fail_fast || err.is_cancelled() => {
                self.failed = Some(err);
                false
            }
            outcome => {
                self.out.push((seq, outcome.transpose()));
                true
            }
        }
    }

    fn settle(&mut self, open: &[(&Tag, u64)]) -> bool {
        // A file waiting for a descriptor waits for these streams to end
        // (handed on, they would keep theirs).
        if self.drain || self.catch_up || !self.carries || self.waiting.is_some() {
            return false;
        }
        if self.relay.ended.load(Ordering::Acquire) {
            self.drain = true;
            return false;
        }
        let keep = |&(tag, left): &(&Tag, u64)| {
            left <= self.carry_min || tag.0.saturating_add(self.relay.lag) < self.newest
        };
        !open.iter().any(keep)
    }

    fn carry(&mut self, streams: Vec<Carried<Tag>>) {
        if let Err(back) = self.relay.put(streams) {
            self.back = back;
            self.drain = true;
        }
    }

    fn cancelled(&mut self, _open: Vec<Tag>) {
        self.failed = Some(Error::Cancelled);
    }
}
