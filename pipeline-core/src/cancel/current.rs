//! Which run's signal is the current one on this thread: set while a
//! task of the run is polled and while a stage function of it is called
//! ([`Cancel::current`]), as a pointer borrowed from the run's signal.

use std::cell::Cell;
use std::sync::Arc;

use super::{Cancel, Inner};

impl Cancel {
    /// The signal of the run whose stage function is executing on this
    /// thread, if any.
    ///
    /// Stage functions use it to stop long work early: check
    /// [`is_cancelled`](Self::is_cancelled) between chunks. It is set for
    /// plain, async and blocking stage functions and for blocking sources.
    ///
    /// ```
    /// use pipeline_core::{Cancel, Pipeline};
    ///
    /// let seen = Pipeline::new()
    ///     .from_iter("gen", 0..3u32)
    ///     .map("check", |n| (n, Cancel::current().is_some()))
    ///     .collect::<Vec<_>>()
    ///     .run()
    ///     .unwrap();
    /// assert!(seen.iter().all(|(_, has)| *has));
    /// assert!(Cancel::current().is_none());
    /// ```
    pub fn current() -> Option<Cancel> {
        let inner = CURRENT.with(Cell::get);
        if inner.is_null() {
            return None;
        }
        // SAFETY: a non-null `CURRENT` was set by `enter` to
        // `Arc::as_ptr(&self.inner)` of a `Cancel` that `enter` borrows for
        // as long as the pointer stays set: `enter` puts the previous value
        // back before it returns, also when `f` unwinds (the `Restore`
        // guard). So here the allocation is live with a strong count of at
        // least one, and adding one count for the `Arc` built from the same
        // pointer is sound.
        unsafe {
            Arc::increment_strong_count(inner);
            Some(Cancel {
                inner: Arc::from_raw(inner),
            })
        }
    }

    /// Runs `f` with `self` as [`Cancel::current`] on this thread.
    pub(crate) fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        // A pointer, not a clone: this runs at every poll of every task,
        // and cloning would touch the reference count that every task of
        // the run shares (a contended atomic per poll, across threads).
        let prev = CURRENT.with(|c| c.replace(Arc::as_ptr(&self.inner)));
        struct Restore(*const Inner);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.with(|c| c.set(self.0));
            }
        }
        let _restore = Restore(prev);
        f()
    }
}

thread_local! {
    /// The signal of the run being polled or called on this thread, as a
    /// pointer borrowed from the `Cancel` that [`Cancel::enter`] holds.
    static CURRENT: Cell<*const Inner> = const { Cell::new(std::ptr::null()) };
}

/// A future that makes `cancel` the [`Cancel::current`] signal while it is polled.
pub(crate) struct WithCancel<F> {
    pub(crate) cancel: Cancel,
    pub(crate) fut: std::pin::Pin<Box<F>>,
}

impl<F: std::future::Future> std::future::Future for WithCancel<F> {
    type Output = F::Output;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let this = self.get_mut();
        let fut = this.fut.as_mut();
        this.cancel.enter(|| fut.poll(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_is_the_entered_signal_and_outlives_enter() {
        assert!(Cancel::current().is_none());
        let outer = Cancel::new();
        let inner = Cancel::new();
        let kept = outer.enter(|| {
            let seen = Cancel::current().expect("set inside enter");
            assert!(Arc::ptr_eq(&seen.inner, &outer.inner));
            inner.enter(|| {
                let nested = Cancel::current().expect("set inside nested enter");
                assert!(Arc::ptr_eq(&nested.inner, &inner.inner));
            });
            let back = Cancel::current().expect("restored after nested enter");
            assert!(Arc::ptr_eq(&back.inner, &outer.inner));
            seen
        });
        assert!(Cancel::current().is_none());
        // The clone handed out holds its own count: dropping every other
        // handle leaves it usable.
        drop(outer);
        assert!(!kept.is_cancelled());
        kept.cancel();
        assert!(kept.is_cancelled());
    }

    #[test]
    fn current_is_restored_when_the_entered_function_panics() {
        let outer = Cancel::new();
        outer.enter(|| {
            let inner = Cancel::new();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                inner.enter(|| panic!("stage function panicked"))
            }));
            assert!(r.is_err());
            let back = Cancel::current().expect("restored after the panic");
            assert!(Arc::ptr_eq(&back.inner, &outer.inner));
        });
        assert!(Cancel::current().is_none());
    }
}
