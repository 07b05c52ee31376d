use pipeline::pipeline;

/// An item that cannot be cloned for another attempt.
struct Conn(u64);

fn main() {
    let _run = pipeline! {
        gen:   source (0..10u64).map(Conn);
        fetch: try_map |c: Conn| Ok::<u64, String>(c.0) [retry = 3];
        out:   sink collect();
    };
}
