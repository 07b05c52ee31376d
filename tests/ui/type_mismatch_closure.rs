use pipeline::pipeline;

fn main() {
    let _run = pipeline! {
        gen:   source 0..10u64;
        len:   map |s: String| s.len();
        out:   sink collect();
    };
}
