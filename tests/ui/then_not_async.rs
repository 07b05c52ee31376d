use pipeline::pipeline;

fn main() {
    let _run = pipeline! {
        gen: source 0..10u64;
        dbl: then |n: u64| n * 2;
        out: sink collect();
    };
}
