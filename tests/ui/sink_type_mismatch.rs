use pipeline::pipeline;

fn main() {
    let _run = pipeline! {
        gen:   source 0..10u64;
        print: sink for_each(|s: String| println!("{s}"));
    };
}
