//! A private declared pipeline that uses only `new` and `run` builds
//! without a warning: the rest of its API is the trait's.

#![deny(warnings)]

mod inner {
    use pipeline::{pipeline, Declared};

    pipeline! {
        /// Squares.
        Squares(n: u64) -> Vec<u64> {
            gen: source 0..n;
            sq:  map |x: u64| x * x [ordered];
            out: sink collect();
        }
    }

    pub fn squares(n: u64) -> Vec<u64> {
        Squares::new(n).run().unwrap_or_default()
    }
}

fn main() {
    assert_eq!(inner::squares(3), [0, 1, 4]);
}
