//! The article's parallel version: a task per file, started as the walk
//! finds it; the results are awaited in walk order.

use std::sync::{Arc, Condvar, Mutex};

use pipeline::{pipeline, Emitter};

use crate::bounded::Job;
use crate::error::Error;
use crate::stages::{digest_entry, walk_roots};
use crate::walk::Entry;
use crate::FileDigest;

/// A file's digest, being computed by its own task.
type Pending = smol::Task<Result<Option<FileDigest>, Error>>;

/// The article's `sync.WaitGroup`: how many per-file tasks are running.
#[derive(Default)]
struct WaitGroup {
    count: Mutex<usize>,
    zero: Condvar,
}

/// One running task's place in the [`WaitGroup`], given back on drop
/// (also when the task is dropped before it ran).
struct Done(Arc<WaitGroup>);

impl WaitGroup {
    fn add(self: &Arc<Self>) -> Done {
        *self.count.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        Done(self.clone())
    }

    fn wait(&self) {
        let mut n = self.count.lock().unwrap_or_else(|p| p.into_inner());
        while *n > 0 {
            n = self.zero.wait(n).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl Drop for Done {
    fn drop(&mut self) {
        let mut n = self.0.count.lock().unwrap_or_else(|p| p.into_inner());
        *n -= 1;
        if *n == 0 {
            self.0.zero.notify_all();
        }
    }
}

/// Walks, starting a task on the blocking pool for each file and sending
/// its handle downstream; then waits for every task it started, so none
/// outlives the run (a cancelled task stops at its next chunk).
fn spawn_per_file(job: &Job, em: &mut Emitter<Pending>) {
    let running = Arc::new(WaitGroup::default());
    let cancel = em.cancel_signal().clone();
    walk_roots(job, em, |entry: Entry, em: &mut Emitter<Pending>| {
        let (done, cancel, chunk, algorithm, progress) = (
            running.add(),
            cancel.clone(),
            job.chunk,
            job.algorithm,
            job.progress.clone(),
        );
        let task = smol::unblock(move || {
            let _done = done;
            digest_entry(&entry, chunk, algorithm, Some(&cancel), &progress)
        });
        em.emit(task)
    });
    running.wait();
}

pipeline! {
    /// The article's parallel `MD5All`: the walk starts a task for
    /// every regular file; one collector awaits them in walk order.
    /// How far the walk may run ahead of the collector (so how many
    /// tasks run at once) is the `walk` stage's buffer.
    pub(crate) Md5Parallel(job: Job) -> FileDigest {
        walk:    source blocking move |em: &mut Emitter<Pending>| spawn_per_file(&job, em);
        collect: try_then |task: Pending| task [ordered];
        keep:    filter_map |d: Option<FileDigest>| d;
        out:     sink iter();
    }
}
