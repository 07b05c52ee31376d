//! The article's `bounded.go`: a walker, a fixed number of digesters (20,
//! as in the article), and a collector; then `HEX  PATH` lines sorted by
//! path. The first error cancels everything; a walk error is reported once
//! the digests are drained.
//!
//!     cargo run --example md5_bounded -- [-n N] DIR
//!
//! Prints what `go run bounded.go DIR` prints for a readable tree. As the
//! Go program, it takes the number of digesters from `-n` or the
//! environment variable `NUM_DIGESTERS`. On an error it prints the error
//! (worded as md5sum words it) and exits 0, as the Go program does.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

fn usage() -> ! {
    eprintln!("usage: md5_bounded [-n N] ROOT");
    std::process::exit(2);
}

fn positive(s: &str) -> usize {
    match s.parse() {
        Ok(n) if n > 0 => n,
        _ => usage(),
    }
}

fn main() -> std::io::Result<()> {
    let mut digesters = std::env::var("NUM_DIGESTERS").map_or(20, |s| positive(&s));
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == "-n") && args.len() == 3 {
        digesters = positive(&args[1].to_string_lossy());
        args.drain(..2);
    }
    let [root] = args.as_slice() else { usage() };
    let sums = match pipeline_md5::md5_all_bounded(root, digesters) {
        Ok(sums) => sums,
        Err(err) => {
            println!("{err}");
            return Ok(());
        }
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for sum in sums {
        let path = sum.path.as_os_str().as_bytes();
        out.write_all(&[sum.hex().as_bytes(), b"  ", path, b"\n"].concat())?;
    }
    out.flush()
}
