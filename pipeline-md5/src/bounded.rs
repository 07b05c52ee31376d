//! The article's bounded version: a walker, a fixed number of digesters
//! reading the walked files, and the results in walk order.

use std::path::PathBuf;
use std::sync::Arc;

use pipeline::{pipeline, Cancel, Emitter};

use crate::engine::Engine;
use crate::error::Error;
use crate::group::Grouper;
use crate::progress::Progress;
use crate::relay::{Numbered, Relay, Work};
use crate::stages::{digest_entry_async, walk_roots, WalkErrors};
use crate::walk::Entry;
use crate::FileDigest;

/// What each design's pipeline is given: the roots and how to walk and
/// read them.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    /// The roots, walked in this order.
    pub(crate) roots: Arc<[PathBuf]>,
    /// Follow symbolic links below the roots (`-L`).
    pub(crate) follow_links: bool,
    /// More roots, read from a list as the walk goes (`--files-from`).
    pub(crate) files_from: Option<crate::roots::FilesFrom>,
    /// Which files below the roots are walked to.
    pub(crate) filter: Arc<crate::filter::Filter>,
    /// Bytes per read.
    pub(crate) chunk: usize,
    /// In place, or the article's `errc`.
    pub(crate) walk_errors: WalkErrors,
    /// Counters for a progress display.
    pub(crate) progress: Arc<Progress>,
    /// Files handed to a digester at once (at most).
    pub(crate) group: usize,
    /// Groups of files that may wait in the `order` stage for one file
    /// still being read ahead of them (the reorder window).
    pub(crate) window: usize,
    /// Whether the first error fails the run.
    pub(crate) fail_fast: bool,
    /// The digest algorithm (MD5 runs on the engine).
    pub(crate) algorithm: crate::algorithm::Algorithm,
    /// The MD5 engine the bounded design's digesters run.
    pub(crate) engine: Engine,
    /// How many digesters share the files (the last files of the walk are
    /// split among them).
    pub(crate) digesters: usize,
    /// The old cache the walk looks each file up in, and where it queues
    /// their keys (`Options::cache`).
    pub(crate) cache: Option<Arc<crate::cache::Shared>>,
}

/// Sends every regular file the walk finds downstream, one at a time.
fn walk_files(job: &Job, em: &mut Emitter<Entry>) {
    walk_roots(job, em, |entry, em: &mut Emitter<Entry>| em.emit(entry));
}

/// Sends the regular files the walk finds downstream in groups, numbered,
/// and then [`Work::End`].
fn walk_groups(job: &Job, em: &mut Emitter<Work>) {
    let in_place = !job.fail_fast && matches!(job.walk_errors, WalkErrors::InPlace);
    walk_roots(job, em, Grouper::new(job.group, job.digesters, in_place));
}

/// A file's digest or its error, as the grouped digest stage gives them.
pub(crate) type Digested = Result<FileDigest, Error>;

pipeline! {
    /// The article's bounded `MD5All` on `std::fs`: one walker,
    /// `digesters` digesters on the blocking pool, each reading one
    /// group of files at a time on its engine's lanes, each file in
    /// chunks. A file still being read when the rest of its group is
    /// done goes on in the lanes of later groups (a [`Relay`]), so a
    /// digester hands on each file's outcome when it has it, numbered;
    /// the `order` stage puts them back in walk order (how far a file
    /// may lag is bounded), so sorted output streams. Outcomes leave
    /// in packets (the consumer flattens them), per-file errors in
    /// their place; under fail-fast the first one fails the run
    /// instead.
    pub(crate) Md5Bounded(job: Job, digesters: usize, relay: Arc<Relay>) -> Vec<Digested> {
        walk:   source blocking {
            let job = job.clone();
            move |em: &mut Emitter<Work>| walk_groups(&job, em)
        };
        digest: try_map {
                    let relay = relay.clone();
                    move |work: Work| relay.digest(work, &job, Cancel::current().as_ref())
                }
                [workers = digesters, blocking];
        order:  map move |packet: Vec<Numbered>| relay.order(packet);
        out:    sink iter();
    }
}

pipeline! {
    /// [`Md5Bounded`] with async digesters: each file read through an async
    /// reader on smol's blocking pool.
    pub(crate) Md5BoundedAsync(job: Job, digesters: usize) -> FileDigest {
        walk:   source blocking {
            let job = job.clone();
            move |em: &mut Emitter<Entry>| walk_files(&job, em)
        };
        digest: try_then move |e: Entry| digest_entry_async(e, job.chunk, job.algorithm, job.progress.clone())
                [workers = digesters, ordered];
        keep:   filter_map |d: Option<FileDigest>| d;
        out:    sink iter();
    }
}
