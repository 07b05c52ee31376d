use pipeline::pipeline;

fn main() {
    let _run = pipeline! {
        sq:  map |n: u64| n * n;
        out: sink collect();
    };
}
