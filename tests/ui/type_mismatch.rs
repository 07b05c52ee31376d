use pipeline::pipeline;

fn shout(s: String) -> String {
    s.to_uppercase()
}

fn main() {
    let _run = pipeline! {
        gen:   source 0..10u64;
        sq:    map |n: u64| n * n;
        loud:  map shout;
        out:   sink collect();
    };
}
