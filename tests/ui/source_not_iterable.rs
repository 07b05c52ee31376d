use pipeline::pipeline;

fn main() {
    let _run = pipeline! {
        gen: source 10u64;
        out: sink collect();
    };
}
