use pipeline::pipeline;

pipeline! {
    /// The first square.
    pub FirstSquare(n: u64) -> Vec<u64> {
        gen: source 1..=n;
        sq:  map |x: u64| x * x;
        out: sink first();
    }
}

fn main() {}
