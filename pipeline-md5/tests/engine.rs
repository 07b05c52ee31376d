//! The multi-lane MD5 engine against md-5: random messages, fed in random
//! chunks to random lanes that start, finish and are collected in random
//! order, for every engine this CPU runs (the others are skipped with a
//! note on stderr).

use md5::{Digest, Md5};
use pipeline_md5::engine::{Engine, LaneStatus, MultiMd5, ENGINE_NAMES};
use proptest::prelude::*;

/// Lengths every case includes: the padding edges, and a long message.
const EDGES: [usize; 8] = [0, 55, 56, 63, 64, 119, 120, 128 << 10];

/// A small xorshift generator: the schedule of one case, from its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn pick(&mut self, lanes: &[usize]) -> Option<usize> {
        (!lanes.is_empty()).then(|| lanes[self.below(lanes.len())])
    }
}

fn message(index: usize, len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|i| ((i ^ index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
        .collect()
}

/// One message held by a lane: which, how much was fed, whether finished.
#[derive(Clone, Copy)]
struct Held {
    index: usize,
    fed: usize,
    finished: bool,
}

/// Digests `messages` on `engine` in an order and chunking drawn from `rng`.
fn digest_randomly(engine: Engine, messages: &[Vec<u8>], rng: &mut Rng) -> Vec<[u8; 16]> {
    let mut md = MultiMd5::new(engine);
    let mut held: Vec<Option<Held>> = vec![None; md.lanes()];
    let mut digests: Vec<Option<[u8; 16]>> = vec![None; messages.len()];
    let mut next = 0;
    while digests.iter().any(Option::is_none) {
        let lanes = |f: &dyn Fn(&Held) -> bool| -> Vec<usize> {
            (0..held.len())
                .filter(|&l| held[l].as_ref().is_some_and(f))
                .collect()
        };
        let feedable = lanes(&|h| !h.finished && h.fed < messages[h.index].len());
        let fed_whole = lanes(&|h| !h.finished && h.fed == messages[h.index].len());
        let collectable = lanes(&|h| h.finished || h.fed == messages[h.index].len());
        let idle: Vec<usize> = (0..held.len()).filter(|&l| held[l].is_none()).collect();
        match rng.below(8) {
            0..=2 => {
                if let Some(lane) = rng.pick(&feedable) {
                    let h = held[lane]
                        .as_mut()
                        .expect("a feedable lane holds a message");
                    let data = &messages[h.index];
                    let max = if rng.below(2) == 0 {
                        1 + rng.below(130)
                    } else {
                        1 + rng.below(70_000)
                    };
                    let end = data.len().min(h.fed + max);
                    if rng.below(2) == 0 {
                        md.update(lane, &data[h.fed..end]);
                    } else {
                        let piece = &data[h.fed..end];
                        let n = md.fill(lane, max, |room| {
                            room[..piece.len()].copy_from_slice(piece);
                            Ok::<_, ()>(piece.len())
                        });
                        assert_eq!(n, Ok(piece.len()));
                    }
                    h.fed = end;
                }
            }
            3 => {
                if let Some(lane) = rng.pick(&fed_whole) {
                    md.finish(lane);
                    held[lane]
                        .as_mut()
                        .expect("a lane fed whole holds a message")
                        .finished = true;
                }
            }
            4 => {
                if let (Some(lane), true) = (rng.pick(&idle), next < messages.len()) {
                    md.start(lane);
                    held[lane] = Some(Held {
                        index: next,
                        fed: 0,
                        finished: false,
                    });
                    next += 1;
                }
            }
            5 => {
                let before: Vec<LaneStatus> = (0..held.len()).map(|l| md.status(l)).collect();
                let blocks = md.compress();
                let waiting = before
                    .iter()
                    .any(|s| matches!(s, LaneStatus::Hungry | LaneStatus::Done));
                let busy = before.contains(&LaneStatus::Busy);
                assert_eq!(
                    blocks > 0,
                    busy && !waiting,
                    "compress runs only when every lane has a block"
                );
            }
            _ => {
                if let Some(lane) = rng.pick(&collectable) {
                    let h = held[lane]
                        .take()
                        .expect("a collectable lane holds a message");
                    digests[h.index] = Some(md.digest(lane));
                    assert_eq!(md.status(lane), LaneStatus::Idle);
                }
            }
        }
    }
    digests.into_iter().flatten().collect()
}

/// The engines this CPU runs; the note on the others is printed once.
fn engines() -> Vec<Engine> {
    static NOTE: std::sync::Once = std::sync::Once::new();
    NOTE.call_once(|| {
        for name in ENGINE_NAMES {
            if let Err(err) = Engine::from_name(name) {
                eprintln!("note: engine {name} not tested: {err}");
            }
        }
    });
    Engine::available()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_engine_gives_md5s_digests_whatever_the_feeding(
        lengths in prop::collection::vec(0usize..=200 << 10, 1..=32),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed | 1);
        let mut lengths: Vec<usize> = EDGES.iter().copied().chain(lengths).collect();
        for i in (1..lengths.len()).rev() {
            lengths.swap(i, rng.below(i + 1));
        }
        let messages: Vec<Vec<u8>> =
            lengths.iter().enumerate().map(|(i, &len)| message(i, len)).collect();
        let want: Vec<[u8; 16]> = messages.iter().map(|m| Md5::digest(m).into()).collect();
        for engine in engines() {
            let got = digest_randomly(engine, &messages, &mut rng);
            prop_assert_eq!(&got, &want, "engine {}", engine.name());
        }
    }
}

#[test]
fn the_environment_variable_forces_an_engine() {
    // This test binary's only reader of the variable is this test.
    std::env::set_var("MD5PIPE_ENGINE", "scalar");
    assert_eq!(Engine::detect(), Ok(Engine::scalar()));
    std::env::set_var("MD5PIPE_ENGINE", "no-such-engine");
    assert!(Engine::detect().is_err());
    std::env::set_var("MD5PIPE_ENGINE", "");
    assert_eq!(Engine::detect(), Ok(Engine::best()));
    std::env::remove_var("MD5PIPE_ENGINE");
    assert_eq!(Engine::detect(), Ok(Engine::best()));
}
