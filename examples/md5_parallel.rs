//! The article's `parallel.go`: a task per regular file, started as the
//! walk finds it; the results collected, then printed as `HEX  PATH` lines
//! sorted by path. The first error cancels everything.
//!
//!     cargo run --example md5_parallel -- DIR
//!
//! Prints what `go run parallel.go DIR` prints for a readable tree. On an
//! error it prints the error (worded as md5sum words it) and exits 0, as
//! the Go program does.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;

fn main() -> std::io::Result<()> {
    let Some(root) = std::env::args_os().nth(1) else {
        eprintln!("usage: md5_parallel DIR");
        std::process::exit(2);
    };
    let sums = match pipeline_md5::md5_all_parallel(&root) {
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
