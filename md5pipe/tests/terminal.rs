//! md5pipe on a terminal: the progress bar never shares a line with a
//! digest. The run is held (md5pipe's pause before an open) until the bar
//! is on the screen, then a line is printed.

mod common;

use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

const GUARD: Duration = Duration::from_secs(60);

/// A pseudo-terminal: (master, slave).
fn pty() -> (File, OwnedFd) {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: the out-pointers are valid; null name, termios and winsize
    // are allowed.
    let got = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(got, 0, "openpty");
    // SAFETY: openpty returned two new descriptors that nothing else owns.
    unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

#[test]
fn the_bar_is_cleared_before_a_line_goes_to_the_terminal() {
    let dir = open_tempdir();
    file(dir.path(), b"a", b"a\n");
    file(dir.path(), b"b", b"b\n");
    let b_hex = show(&md5sum_of(dir.path(), &[], &[b"b".to_vec()]))[..32].to_string();
    let fifo_dir = tempfile::tempdir().unwrap();
    let handshake = fifo_dir.path().join("pause");
    fifo(&handshake);
    let (mut master, slave) = pty();
    let mut child = md5pipe()
        .args(["-j", "1", "--group", "1", "."])
        .current_dir(dir.path())
        .env("MD5PIPE_TEST_PAUSE_BEFORE_OPEN", "b")
        .env("MD5PIPE_TEST_PAUSE_FIFO", &handshake)
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    wait_for_pause(&handshake);
    // Read the terminal until the bar shows.
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut screen = Vec::new();
    while !show(&screen).contains(" files") {
        let left = GUARD.saturating_sub(started.elapsed());
        screen.extend(rx.recv_timeout(left).expect("the bar never showed"));
    }
    let go = go_on(&handshake);
    let status = child.wait().unwrap();
    drop(go);
    assert_eq!(status.code(), Some(0));
    while let Ok(more) = rx.recv_timeout(Duration::from_secs(5)) {
        screen.extend(more);
        if show(&screen).contains(&b_hex) && show(&screen).ends_with('\n') {
            break;
        }
    }
    let text = show(&screen);
    let line = text
        .split('\n')
        .find(|l| l.contains(&b_hex))
        .expect("b's line on the terminal");
    // What stays visible on that line: after the last carriage return,
    // without erase sequences.
    let line = line.trim_end_matches('\r');
    let visible = line
        .rsplit('\r')
        .next()
        .unwrap_or("")
        .replace("\x1b[2K", "");
    assert!(
        visible.starts_with(&b_hex),
        "the bar's text shares the line: {line:?}"
    );
}
