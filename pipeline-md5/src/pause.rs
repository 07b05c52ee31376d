//! A rendezvous before an open, so that tests can change the tree at
//! exactly the moment between the walk and the open.
//!
//! `MD5PIPE_TEST_PAUSE_BEFORE_OPEN=PATH` names a display path (as printed,
//! or as a check list names it) and `MD5PIPE_TEST_PAUSE_FIFO=FIFO` a FIFO.
//! Just before md5pipe opens that path (a file to digest or to check, or a
//! directory to list), it opens the FIFO
//! for writing (which waits until the test opens it for reading: "I am
//! here"), closes it, then opens it for reading and reads one byte (which
//! waits until the test has opened it for writing and written: "go on").
//! The byte `c` goes on after cancelling the run from inside (the run's
//! current signal), as nothing outside asks: the way a bug that stopped a
//! run would, for tests of what the binary then says.
//!
//! This ships in release builds, on purpose: the races it makes
//! deterministic are those of the real binary, which integration tests run
//! as users do. Its cost when unset is one look at a value read once; it
//! can only make md5pipe wait, on a FIFO named by whoever sets its
//! environment, so it gives nobody anything they did not have.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::sync::OnceLock;

struct Pause {
    at: Vec<u8>,
    fifo: PathBuf,
}

fn configured() -> Option<&'static Pause> {
    static PAUSE: OnceLock<Option<Pause>> = OnceLock::new();
    PAUSE
        .get_or_init(|| {
            let at = std::env::var_os("MD5PIPE_TEST_PAUSE_BEFORE_OPEN")?;
            let fifo = std::env::var_os("MD5PIPE_TEST_PAUSE_FIFO")?;
            Some(Pause {
                at: OsString::into_vec(at),
                fifo: PathBuf::from(fifo),
            })
        })
        .as_ref()
}

/// Waits at the rendezvous if `display` is the path it is set for.
pub(crate) fn before_open(display: &[u8]) {
    let Some(pause) = configured() else { return };
    if pause.at != display {
        return;
    }
    let _ = OpenOptions::new().write(true).open(&pause.fifo);
    if let Ok(mut fifo) = OpenOptions::new().read(true).open(&pause.fifo) {
        // The go-ahead is one byte, or the end if the test closed without
        // writing; not the end alone: a process another test forks may
        // hold a copy of a read end for a moment, which lets the test's
        // open for writing pass and close before this open, which would
        // then wait for a writer for ever. The test keeps its end open
        // with the byte in it until md5pipe has ended.
        let mut byte = [0u8; 1];
        loop {
            match fifo.read(&mut byte) {
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                _ => break,
            }
        }
        if byte == *b"c" {
            if let Some(cancel) = pipeline::Cancel::current() {
                cancel.cancel();
            }
        }
    }
}
