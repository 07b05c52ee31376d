use pipeline::{pipeline, Declared};

pipeline! {
    /// Squares, read through an iterator.
    pub Squares(n: u64) -> u64 {
        gen: source 0..n;
        sq:  map |x: u64| x * x;
        out: sink iter();
    }
}

fn main() {
    let _ = Squares::new(3).run();
}
