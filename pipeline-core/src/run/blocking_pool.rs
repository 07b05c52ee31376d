//! The runtime's own threads for blocking work: blocking stage functions,
//! blocking sources and the chunks of a blocking `flat_map` run here.
//!
//! A pool of threads started on demand, each ending after half a second
//! with nothing to do, as smol's blocking pool does. What it adds is an
//! answer when the system refuses a thread (out of memory under
//! `ulimit -v`, a cgroup's pids limit): the work that needed it fails with
//! that error, which the stage reports. smol's pool (the `blocking` crate)
//! retries such a spawn in a loop while holding its lock, so a run at the
//! limit spins on one core forever (its issue #79); and work queued behind
//! threads that are all busy with long calls (a source that holds its
//! thread for the whole run) would wait for ever. So work waits in the
//! queue only when the pool is at its size limit ([`pool`](crate::run::pool)), never
//! because a thread could not be started.

use std::collections::VecDeque;
use std::io;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How long a thread with nothing to do waits for work before it ends.
const IDLE: Duration = Duration::from_millis(500);

type Job = Box<dyn FnOnce() + Send>;

struct State {
    queue: VecDeque<Job>,
    /// Threads waiting for work.
    idle: usize,
    /// Threads alive.
    threads: usize,
}

static STATE: Mutex<State> = Mutex::new(State {
    queue: VecDeque::new(),
    idle: 0,
    threads: 0,
});
static WORK: Condvar = Condvar::new();
/// The queue's length, as last set under the lock: what a thread that
/// looks for work before it sleeps reads without taking the lock.
static QUEUED: AtomicUsize = AtomicUsize::new(0);

fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs the blocking function `f` on a thread of the runtime's pool and
/// returns its result; a panic in `f` resumes in the caller. The pool is
/// the one blocking stages use (limit: 500 threads, `BLOCKING_MAX_THREADS`,
/// plus what running blocking stages take).
///
/// An error only when no thread was free and the system refused to start
/// one (out of memory, a limit on threads): then `f` is dropped without
/// running, and the caller can report it rather than wait for ever.
///
/// ```
/// let len = pipeline_core::block_on(pipeline_core::unblock(|| {
///     std::fs::read_dir(".").map(|d| d.count())
/// }))?;
/// assert!(len? > 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn unblock<T, F>(f: F) -> io::Result<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = futures::channel::oneshot::channel();
    submit(Box::new(move || {
        // The caller is gone (its run was dropped): nothing to run for.
        if tx.is_canceled() {
            return;
        }
        let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
    }))?;
    match rx.await {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(panic)) => resume_unwind(panic),
        // Every queued job runs; a job is dropped unrun only if its
        // thread is torn down with the process.
        Err(_) => Err(io::Error::other("the blocking call was lost")),
    }
}

/// Hands `job` to an idle thread, to a new thread, or (at the size limit)
/// to the queue; an error if a thread was needed and could not start.
fn submit(job: Job) -> io::Result<()> {
    let mut s = state();
    if s.idle > s.queue.len() || s.threads >= crate::run::pool::limit() {
        s.queue.push_back(job);
        QUEUED.store(s.queue.len(), Ordering::Release);
        WORK.notify_one();
        return Ok(());
    }
    if fail_spawn_for_tests() {
        return Err(io::Error::new(
            io::ErrorKind::OutOfMemory,
            "cannot start a thread: Cannot allocate memory",
        ));
    }
    // Started under the lock, as its first act is to take it: the job is
    // in the queue before the thread looks.
    std::thread::Builder::new()
        .name("pipeline-blocking".into())
        .spawn(work)
        .map_err(|err| io::Error::new(err.kind(), format!("cannot start a thread: {err}")))?;
    s.threads += 1;
    s.queue.push_back(job);
    QUEUED.store(s.queue.len(), Ordering::Release);
    Ok(())
}

/// A thread of the pool: runs queued jobs until it has waited [`IDLE`]
/// for one, or the pool is over its limit. With nothing queued it looks
/// again for a short while before it sleeps, as the executor's threads do
/// ([`spin_until`](crate::executor::spin_until)): a stage's next blocking
/// call usually follows its last within microseconds, and a sleeping
/// thread takes far longer to wake (on a virtual machine, tens of
/// microseconds to a core left idle meanwhile). While it looks it counts
/// as idle, so work for it starts no new thread.
fn work() {
    #[cfg(feature = "tokio")]
    crate::tokio_ctx::enter_for_good();
    let mut s = state();
    loop {
        if let Some(job) = s.queue.pop_front() {
            QUEUED.store(s.queue.len(), Ordering::Release);
            drop(s);
            job();
            s = state();
            continue;
        }
        if s.threads > crate::run::pool::limit() {
            break;
        }
        s.idle += 1;
        drop(s);
        crate::executor::spin_until(|| QUEUED.load(Ordering::Acquire) > 0);
        after_spin_for_tests();
        s = state();
        // Whether or not the look found it: work queued after the look
        // ended and before the lock was taken woke no sleeper, so it is
        // taken now, not left waiting for `IDLE`.
        if !s.queue.is_empty() {
            s.idle -= 1;
            continue;
        }
        slept_with_work_for_tests(&s);
        let (guard, waited) = WORK
            .wait_timeout(s, IDLE)
            .unwrap_or_else(|p| p.into_inner());
        s = guard;
        s.idle -= 1;
        if waited.timed_out() && s.queue.is_empty() {
            break;
        }
    }
    s.threads -= 1;
}

/// Runs the hook a test set, once, where a thread has stopped looking
/// for work and has not yet taken the lock to sleep.
#[cfg(test)]
fn after_spin_for_tests() {
    let hook = AFTER_SPIN.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(hook) = hook {
        hook();
    }
}

#[cfg(not(test))]
#[inline(always)]
fn after_spin_for_tests() {}

/// Counts a thread about to sleep while work waits in the queue.
#[cfg(test)]
fn slept_with_work_for_tests(s: &State) {
    if !s.queue.is_empty() {
        SLEPT_WITH_WORK.fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(not(test))]
#[inline(always)]
fn slept_with_work_for_tests(_: &State) {}

#[cfg(test)]
type Hook = Box<dyn FnOnce() + Send>;
#[cfg(test)]
static AFTER_SPIN: Mutex<Option<Hook>> = Mutex::new(None);
#[cfg(test)]
static SLEPT_WITH_WORK: AtomicUsize = AtomicUsize::new(0);

#[cfg(test)]
static FAIL_SPAWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[cfg(test)]
fn fail_spawn_for_tests() -> bool {
    FAIL_SPAWN.load(std::sync::atomic::Ordering::SeqCst)
}

#[cfg(not(test))]
#[inline(always)]
fn fail_spawn_for_tests() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::SeqCst;
    use std::sync::{mpsc, Arc, Barrier};

    /// The tests below share the pool and the fault switch: one at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn runs_work_and_hands_back_its_result_and_its_panic() {
        let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        assert_eq!(smol::block_on(unblock(|| 6 * 7)).unwrap(), 42);
        let caught = catch_unwind(|| smol::block_on(unblock(|| panic!("boom"))));
        let panic = caught.unwrap_err();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"boom"));
    }

    #[test]
    fn runs_as_many_calls_at_once_as_are_waiting() {
        let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        // Eight calls that each wait for all eight: only eight threads at
        // once let them finish.
        let all = Arc::new(Barrier::new(8));
        let calls: Vec<_> = (0..8)
            .map(|i| {
                let all = all.clone();
                unblock(move || {
                    all.wait();
                    i
                })
            })
            .collect();
        let got = smol::block_on(futures::future::join_all(calls));
        let got: Vec<i32> = got.into_iter().map(Result::unwrap).collect();
        assert_eq!(got, (0..8).collect::<Vec<_>>());
    }

    #[test]
    fn work_queued_as_a_thread_stops_looking_for_it_is_taken_before_it_sleeps() {
        let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        // A thread of the pool, idle after a call, looks for work, finds
        // none and stops looking; a call comes just then, before it takes
        // the lock to sleep (its wake-up finds no sleeper). The thread
        // must take that work, not sleep beside it until its idle time
        // runs out.
        smol::block_on(unblock(|| ())).unwrap();
        let before = SLEPT_WITH_WORK.load(SeqCst);
        let (done, is_done) = mpsc::channel::<()>();
        *AFTER_SPIN.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(move || {
            submit(Box::new(move || done.send(()).unwrap())).unwrap();
        }));
        is_done.recv().unwrap();
        assert_eq!(SLEPT_WITH_WORK.load(SeqCst), before);
    }

    #[test]
    fn a_thread_that_cannot_start_is_an_error_not_a_hang() {
        let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        // One long call holds a thread (as a blocking source does for a
        // whole run); a second call needs a thread of its own and the
        // system refuses it: that call fails at once, and the first still
        // finishes.
        let (hold, release) = mpsc::channel::<()>();
        let (started, is_started) = mpsc::channel::<()>();
        let long = std::thread::spawn(move || {
            smol::block_on(unblock(move || {
                started.send(()).unwrap();
                release.recv().unwrap();
                "done"
            }))
        });
        is_started.recv().unwrap();
        // Threads left idle by other tests end within `IDLE`: until then
        // the call would simply take one of them.
        while state().idle > 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
        FAIL_SPAWN.store(true, SeqCst);
        let refused = smol::block_on(unblock(|| "never"));
        FAIL_SPAWN.store(false, SeqCst);
        let err = refused.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
        assert!(
            err.to_string().starts_with("cannot start a thread"),
            "{err}"
        );
        hold.send(()).unwrap();
        assert_eq!(long.join().unwrap().unwrap(), "done");
    }
}
