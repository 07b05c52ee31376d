//! The article's `serial.go`: MD5 every regular file under a directory,
//! one after another, then print `HEX  PATH` lines sorted by path.
//!
//!     cargo run --example md5_serial -- DIR
//!
//! Prints what `go run serial.go DIR` prints for a readable tree. On an
//! error it prints the error (worded as md5sum words it) and exits 0, as
//! the Go program does.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;

fn main() -> std::io::Result<()> {
    let Some(root) = std::env::args_os().nth(1) else {
        eprintln!("usage: md5_serial DIR");
        std::process::exit(2);
    };
    // MD5All reads and digests every file, then main prints them sorted:
    // our walk is already in bytewise path order, Go's `sort.Strings` order.
    let sums = match pipeline_md5::md5_all_serial(&root) {
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
