use pipeline::pipeline;

pipeline! {
    /// Squares.
    pub Squares(n: u64) -> Vec<u64> {
        gen: source 0..n;
        sq:  map |x: u64| x * x;
        out: sink collect();
    }
}

fn main() {
    let _ = Squares::new(3).run();
}
