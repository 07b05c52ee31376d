use pipeline::pipeline;

fn main() {
    let width = 4;
    let _run = pipeline! {
        gen: source 0..10u64 [batch];
        sq:  map |n: u64| n * n [workers = width, ordered = true, unordered];
        out: sink collect();
    };
}
