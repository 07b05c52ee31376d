use pipeline::pipeline;

fn main() {
    // Each missing `;` is reported once, and the stages around it are read
    // as written: no error follows from it.
    let _run = pipeline! {
        gen: source 0..10u64
        sq:  map |n: u64| n * n
        out: sink collect();
    };
}
