use pipeline::pipeline;

fn main() {
    let _run = pipeline! {
        gen:   source 0..10u64;
        sq:    map |n: u64| n * n;
        cube:  map |n: u64| n * n * n from gen;
        out:   sink collect();
    };
}
