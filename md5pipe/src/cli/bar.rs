//! The progress bar on stderr, and stderr messages that do not tear it.

use std::io::{self, IsTerminal};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

use pipeline_md5::{Progress, ProgressSnapshot};

/// A run shorter than this never shows a bar.
const SHOW_AFTER: Duration = Duration::from_millis(1000);
/// How often the bar is redrawn.
const TICK: Duration = Duration::from_millis(100);

/// A progress bar that appears on stderr once a run has lasted
/// [`SHOW_AFTER`], only if stderr is a terminal, and goes away when the
/// run ends; and the way to write messages to stderr meanwhile.
pub(crate) struct Bar {
    bar: Arc<Mutex<Option<ProgressBar>>>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Bar {
    /// Starts watching `progress`; shows nothing unless `wanted` and stderr
    /// is a terminal.
    pub(crate) fn start(progress: Arc<Progress>, wanted: bool) -> Bar {
        let bar = Arc::new(Mutex::new(None));
        if !wanted || pipeline_md5::stdio::is_closed(2) || !io::stderr().is_terminal() {
            return Bar {
                bar,
                stop: None,
                thread: None,
            };
        }
        let (stop, stopped) = mpsc::channel();
        let shared = bar.clone();
        let thread = std::thread::Builder::new()
            .name("md5pipe-progress".into())
            .stack_size(super::SMALL_STACK)
            .spawn(move || show(&progress, &shared, &stopped))
            .ok();
        Bar {
            bar,
            stop: Some(stop),
            thread,
        }
    }

    /// Writes `md5pipe: MESSAGE` and a newline to stderr, with the bar
    /// (if shown) lifted meanwhile.
    pub(crate) fn warn(&self, message: &[u8]) {
        let line = [b"md5pipe: ", message, b"\n"].concat();
        self.suspend(|| pipeline_md5::stdio::to_stderr(&line));
    }

    /// Runs `f` with the bar (if shown) cleared from the terminal, and
    /// draws it again after: what `f` writes never lands on the bar's line.
    pub(crate) fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &*self.bar.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// Removes the bar and stops its thread.
    pub(crate) fn finish(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.finish();
    }
}

fn show(progress: &Progress, shared: &Mutex<Option<ProgressBar>>, stopped: &mpsc::Receiver<()>) {
    let started = Instant::now();
    if stopped.recv_timeout(SHOW_AFTER) != Err(RecvTimeoutError::Timeout) {
        return;
    }
    let style = ProgressStyle::with_template("{spinner} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(style);
    *shared.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar.clone());
    loop {
        bar.set_message(describe(&progress.snapshot(), started.elapsed()));
        bar.tick();
        if stopped.recv_timeout(TICK) != Err(RecvTimeoutError::Timeout) {
            return;
        }
    }
}

/// `3/10 files, 1.20 GiB/2.00 GiB, 600.00 MiB/s, 2s` (what is known so far:
/// the walk goes on while files are read).
fn describe(now: &ProgressSnapshot, elapsed: Duration) -> String {
    let rate = now.bytes_done as f64 / elapsed.as_secs_f64().max(1e-3);
    format!(
        "{}/{} files, {}/{}, {}/s, {}s",
        now.files_done,
        now.files_found,
        HumanBytes(now.bytes_done),
        HumanBytes(now.bytes_found.max(now.bytes_done)),
        HumanBytes(rate as u64),
        elapsed.as_secs()
    )
}
