//! Out of memory as an error, not an abort: a global allocator for the
//! `md5pipe` binary that hands every request to the system allocator and,
//! when a small request fails, reports `md5pipe: out of memory` and exits
//! with status 1 instead of Rust's default of printing "memory allocation
//! of N bytes failed" and aborting (status 134).
//!
//! Only requests under a mebibyte end the process: a failed request of
//! [`SMALL`] bytes or more returns null as usual, so a fallible
//! reservation of a big read buffer (`try_reserve`, `--chunk-size` of a
//! mebibyte or more) still comes back as an error on that one file. Under
//! a tight `ulimit -v` the first failure is almost always a small one (a
//! few bytes for a name, a node of a channel, a 64 KiB read buffer), deep
//! in code that cannot recover from it.
//!
//! Lines on stdout are written whole (at most `PIPE_BUF` bytes a write),
//! so exiting here never leaves half a line.

use std::alloc::{GlobalAlloc, Layout, System};

/// Requests below this size that fail end the process.
pub const SMALL: usize = 1024 * 1024;

/// The allocator: [`System`], with small failures turned into a clean
/// exit. Install it in a binary with `#[global_allocator]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExitOnOom;

/// Reports and exits without allocating, unwinding or taking a lock.
#[cold]
fn out_of_memory() -> ! {
    const MSG: &[u8] = b"md5pipe: out of memory\n";
    if !pipeline_md5::stdio::is_closed(2) {
        // SAFETY: MSG is a valid buffer of MSG.len() bytes for the whole
        // call; write(2) only reads it. A short or failed write is ignored:
        // there is nowhere left to report it.
        unsafe {
            libc::write(2, MSG.as_ptr().cast(), MSG.len());
        }
    }
    // SAFETY: _exit ends the process at once without running destructors
    // or atexit handlers (which could allocate); it is always safe to call.
    unsafe { libc::_exit(1) }
}

// SAFETY: every method forwards its arguments unchanged to `System`, which
// upholds GlobalAlloc's contract, and returns `System`'s result unchanged;
// the only addition is a call of a function that never returns when a
// small request fails, which neither allocates nor touches the pointer.
unsafe impl GlobalAlloc for ExitOnOom {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract for `layout`.
        let p = unsafe { System.alloc(layout) };
        if p.is_null() && layout.size() < SMALL {
            out_of_memory();
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if p.is_null() && layout.size() < SMALL {
            out_of_memory();
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from `System`,
        // with `layout`, as the caller guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `realloc`'s contract; `ptr` came
        // from `System` with `layout`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() && new_size < SMALL {
            out_of_memory();
        }
        p
    }
}
