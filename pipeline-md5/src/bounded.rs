//! The article's bounded version: a walker, a fixed number of digesters
//! reading the walked files, and the results in walk order.

use std::path::PathBuf;
use std::sync::Arc;

use pipeline::{pipeline, Cancel, Emitter};

use crate::engine::Engine;
use crate::error::Error;
use crate::progress::Progress;
use crate::stages::{digest_entry_async, digest_group, walk_roots, Group, Grouper, WalkErrors};
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
    /// Whether the first error fails the run.
    pub(crate) fail_fast: bool,
    /// The MD5 engine the bounded design's digesters run.
    pub(crate) engine: Engine,
    /// How many digesters share the files (the last files of the walk are
    /// split among them).
    pub(crate) digesters: usize,
}

/// Sends every regular file the walk finds downstream, one at a time.
fn walk_files(job: &Job, em: &mut Emitter<Entry>) {
    walk_roots(job, em, |entry, em: &mut Emitter<Entry>| em.emit(entry));
}

/// Sends the regular files the walk finds downstream in groups.
fn walk_groups(job: &Job, em: &mut Emitter<Group>) {
    walk_roots(job, em, Grouper::new(job.group, job.digesters));
}

/// A file's digest or its error, as the grouped digest stage gives them.
pub(crate) type Digested = Result<FileDigest, Error>;

pipeline! {
    /// The article's bounded `MD5All` on `std::fs`: one walker,
    /// `digesters` digesters on the blocking pool, each reading one
    /// group of files at a time, each file in chunks; results leave in
    /// walk order (the ordered stage's reorder window is bounded), so
    /// sorted output streams. A group's results leave as one packet
    /// (the consumer flattens it), per-file errors in their place;
    /// under fail-fast the first one fails the run instead.
    pub(crate) Md5Bounded(job: Job, digesters: usize) -> Vec<Digested> {
        walk:   source blocking {
            let job = job.clone();
            move |em: &mut Emitter<Group>| walk_groups(&job, em)
        };
        digest: try_map move |group: Group| {
                    let cancel = Cancel::current();
                    digest_group(group, job.engine, job.chunk, cancel.as_ref(), &job.progress, job.fail_fast)
                }
                [workers = digesters, ordered, blocking];
        out:    sink iter();
    }
}

pipeline! {
    /// [`Md5Bounded`] with the digesters reading through `async-fs`.
    pub(crate) Md5BoundedAsync(job: Job, digesters: usize) -> FileDigest {
        walk:   source blocking {
            let job = job.clone();
            move |em: &mut Emitter<Entry>| walk_files(&job, em)
        };
        digest: try_then move |e: Entry| digest_entry_async(e, job.chunk, job.progress.clone())
                [workers = digesters, ordered];
        keep:   filter_map |d: Option<FileDigest>| d;
        out:    sink iter();
    }
}
