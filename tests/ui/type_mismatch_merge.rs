use pipeline::pipeline;

fn main() {
    let _run = pipeline! {
        nums:  source 0..10u64;
        words: source ["a".to_string(), "b".to_string()];
        both:  merge nums, words;
        out:   sink collect();
    };
}
