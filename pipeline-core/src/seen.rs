//! What the current thread knows of cancellations: a per-thread count,
//! moved on whenever a signal is closed on this thread or this thread sees
//! one closed through [`Cancel`](crate::Cancel).
//!
//! A sink whose function is quick looks at the run's shared flag once
//! every few calls (an atomic load before every call keeps the compiler
//! from fusing the calls of a quick fold), and at this count after every
//! call: a plain thread-local load, which the compiler lifts out of a loop
//! whose calls cannot move it. So a function that cancels the run, or sees
//! it cancelled, is never called again, at the cost of nothing.

use std::cell::Cell;

thread_local! {
    static SEEN: Cell<u64> = const { Cell::new(0) };
}

/// This thread closed a signal, or saw one closed.
#[inline]
pub(crate) fn mark() {
    SEEN.with(|s| s.set(s.get().wrapping_add(1)));
}

/// The count now: it differs from an earlier reading once this thread has
/// closed a signal or seen one closed since.
#[cfg(test)]
fn now() -> u64 {
    SEEN.with(Cell::get)
}

/// Runs `f` with this thread's count, to read it again and again (a loop's
/// looks after every call) through one reference rather than the
/// thread-local's accessor each time.
#[inline(always)]
pub(crate) fn with<R>(f: impl FnOnce(&Cell<u64>) -> R) -> R {
    SEEN.with(f)
}

#[cfg(test)]
mod tests {
    #[test]
    fn marks_move_the_count_of_this_thread_only() {
        let before = super::now();
        super::mark();
        assert_ne!(super::now(), before);
        let here = super::now();
        std::thread::spawn(super::mark).join().unwrap();
        assert_eq!(super::now(), here);
    }
}
