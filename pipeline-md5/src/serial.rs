//! The article's serial version: one walk that digests each file as it
//! finds it, no concurrency.

use pipeline::{pipeline, Emitter};

use crate::bounded::Job;
use crate::stages::{digest_entry, walk_roots};
use crate::walk::Entry;
use crate::FileDigest;

/// Walks and digests each file in turn, on one thread.
fn walk_and_digest(job: &Job, em: &mut Emitter<FileDigest>) {
    let cancel = em.cancel_signal().clone();
    walk_roots(
        job,
        em,
        |entry: Entry, em: &mut Emitter<FileDigest>| match digest_entry(
            &entry,
            job.chunk,
            job.algorithm,
            Some(&cancel),
            &job.progress,
        ) {
            Ok(Some(digest)) => em.emit(digest),
            Ok(None) => Ok(()),
            Err(err) => em.error(err),
        },
    );
}

pipeline! {
    /// The article's serial `MD5All`: a single stage walks and digests.
    pub(crate) Md5Serial(job: Job) -> FileDigest {
        md5all: source blocking move |em: &mut Emitter<FileDigest>| walk_and_digest(&job, em);
        out:    sink iter();
    }
}
