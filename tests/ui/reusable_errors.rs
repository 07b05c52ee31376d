use pipeline::pipeline;

pipeline! {
    /// Squares, with two mistakes.
    pub Squares(n: u64, width: usize) -> Vec<u64> {
        gen: source 1..=n;
        sq:  map |x: u64| x * x [workers = width, window = 0];
        sq:  map |x: u64| x + 1;
    }
}

fn main() {}
