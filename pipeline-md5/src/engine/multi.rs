//! [`MultiMd5`]: the lanes, their buffers, and when blocks get compressed.

use md5::{Digest, Md5};

use super::kernel::INIT;
use super::Engine;

/// The most lanes an engine has (AVX-512: 16).
const MAX_LANES: usize = 16;

/// Where a lane is in its life (see the [module docs](super)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LaneStatus {
    /// No stream: [`MultiMd5::start`] one.
    Idle,
    /// Open, with less than one whole block buffered: feed it or finish it.
    Hungry,
    /// At least one whole block waits for [`MultiMd5::compress`].
    Busy,
    /// Finished and compressed: [`MultiMd5::digest`] returns at once.
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Open,
    Finished,
}

/// One lane: its stream's state and the bytes not yet compressed.
struct Lane {
    phase: Phase,
    /// (A, B, C, D) after the blocks compressed so far.
    state: [u32; 4],
    /// Initialised storage; the waiting bytes are `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The stream's length so far, for the padding.
    len: u64,
    /// The scalar engine's stream (md-5 buffers by itself).
    scalar: Md5,
}

impl Lane {
    fn new() -> Lane {
        Lane {
            phase: Phase::Idle,
            state: INIT,
            buf: Vec::new(),
            start: 0,
            end: 0,
            len: 0,
            scalar: Md5::new(),
        }
    }

    /// Whole blocks waiting.
    fn blocks(&self) -> usize {
        (self.end - self.start) / 64
    }

    /// Room for `extra` more bytes after `end`: the waiting bytes move to
    /// the front first, and the storage grows only if that is not enough.
    fn reserve(&mut self, extra: usize) {
        if self.buf.len() - self.end >= extra {
            return;
        }
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.buf.len() - self.end < extra {
            self.buf.resize(self.end + extra, 0);
        }
    }

    fn push(&mut self, data: &[u8]) {
        self.reserve(data.len());
        self.buf[self.end..self.end + data.len()].copy_from_slice(data);
        self.end += data.len();
    }
}

/// A stream taken out of its lane by [`MultiMd5::suspend`]: its state,
/// its length so far and the bytes of its last, partial block (for the
/// scalar engine, md-5's own stream). [`MultiMd5::resume`] puts it in a
/// lane of the same engine, where it goes on.
pub struct Suspended {
    engine: Engine,
    state: [u32; 4],
    len: u64,
    tail: [u8; 64],
    waiting: u8,
    scalar: Md5,
}

impl std::fmt::Debug for Suspended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Suspended")
            .field("engine", &self.engine)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// Up to [`Engine::lanes`] MD5 streams digested side by side, each fed
/// its own bytes: see the [module docs](super) for the life of a lane.
///
/// Lanes are numbered `0..lanes()`. Methods panic on a lane number out of
/// that range, and where they say so on a lane in the wrong state: both
/// are bugs of the caller, never conditions of the data.
pub struct MultiMd5 {
    engine: Engine,
    lanes: Vec<Lane>,
}

impl MultiMd5 {
    /// `engine.lanes()` idle lanes.
    pub fn new(engine: Engine) -> MultiMd5 {
        assert!(
            engine.lanes() <= MAX_LANES,
            "no engine has more than 16 lanes"
        );
        MultiMd5 {
            engine,
            lanes: (0..engine.lanes()).map(|_| Lane::new()).collect(),
        }
    }

    /// The engine the lanes run on.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// How many lanes there are.
    pub fn lanes(&self) -> usize {
        self.lanes.len()
    }

    /// Where `lane` is in its life.
    pub fn status(&self, lane: usize) -> LaneStatus {
        let lane = &self.lanes[lane];
        match lane.phase {
            Phase::Idle => LaneStatus::Idle,
            _ if lane.blocks() > 0 => LaneStatus::Busy,
            Phase::Open => LaneStatus::Hungry,
            Phase::Finished => LaneStatus::Done,
        }
    }

    /// Whether `lane` holds a stream that is still open: one that
    /// [`MultiMd5::update`], [`MultiMd5::fill`], [`MultiMd5::finish`] and
    /// [`MultiMd5::suspend`] take.
    pub fn is_open(&self, lane: usize) -> bool {
        self.lanes[lane].phase == Phase::Open
    }

    /// Bytes buffered in `lane` and not yet compressed (after
    /// [`MultiMd5::finish`], the padding included).
    pub fn buffered(&self, lane: usize) -> usize {
        let lane = &self.lanes[lane];
        lane.end - lane.start
    }

    /// The length in bytes of `lane`'s stream so far: what it was fed
    /// since it started (or since its suspended stream first started).
    pub fn len(&self, lane: usize) -> u64 {
        self.lanes[lane].len
    }

    /// Gives `lane` a new, empty stream; whatever it held is dropped.
    pub fn start(&mut self, lane: usize) {
        let lane = &mut self.lanes[lane];
        lane.phase = Phase::Open;
        lane.state = INIT;
        lane.start = 0;
        lane.end = 0;
        lane.len = 0;
        lane.scalar.reset();
    }

    /// Appends `data` to `lane`'s stream. It is buffered (a copy) until
    /// [`MultiMd5::compress`] or [`MultiMd5::digest`]; the buffer keeps its
    /// size for the next streams.
    ///
    /// # Panics
    ///
    /// If the lane's stream is not open (idle, or finished).
    pub fn update(&mut self, lane: usize, data: &[u8]) {
        let scalar = self.engine.kernel().is_none();
        let lane = self.open(lane);
        lane.len = lane.len.wrapping_add(data.len() as u64);
        if scalar {
            lane.scalar.update(data);
        } else {
            lane.push(data);
        }
    }

    /// Appends up to `max` bytes to `lane`'s stream, read straight into the
    /// lane's buffer by `read`, which returns how many it wrote (as
    /// `std::io::Read::read`; more than `max` counts as `max`). Returns
    /// that count; 0 is end of input for a reader, but the lane stays open.
    ///
    /// # Errors
    ///
    /// `read`'s error; the stream is then as before the call.
    ///
    /// # Panics
    ///
    /// If the lane's stream is not open (idle, or finished).
    pub fn fill<E>(
        &mut self,
        lane: usize,
        max: usize,
        read: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<usize, E> {
        let scalar = self.engine.kernel().is_none();
        let lane = self.open(lane);
        lane.reserve(max);
        let room = &mut lane.buf[lane.end..lane.end + max];
        let n = read(room)?.min(max);
        lane.len = lane.len.wrapping_add(n as u64);
        if scalar {
            lane.scalar.update(&lane.buf[lane.end..lane.end + n]);
        } else {
            lane.end += n;
        }
        Ok(n)
    }

    /// Drops `lane`'s stream, whatever its state (a file that failed part
    /// way): the lane is idle, and the other lanes go on as they were.
    pub fn stop(&mut self, lane: usize) {
        let lane = &mut self.lanes[lane];
        lane.phase = Phase::Idle;
        (lane.start, lane.end) = (0, 0);
    }

    /// Makes room in `lane` for a [`MultiMd5::fill`] of up to `max` bytes
    /// (and the padding after it) without growing its buffer there, so
    /// that a failed allocation is an error here instead of an abort
    /// there. A lane's buffer grows only as far as its fills ask.
    ///
    /// # Errors
    ///
    /// The allocation failed; the lane is as before.
    pub fn try_reserve(
        &mut self,
        lane: usize,
        max: usize,
    ) -> Result<(), std::collections::TryReserveError> {
        let lane = &mut self.lanes[lane];
        // What a fill keeps (less than a block once compressed, or the
        // bytes it already holds), the fill, and a finish's padding.
        let need = (lane.end - lane.start)
            .max(64)
            .saturating_add(max)
            .saturating_add(72);
        if lane.buf.len() < need {
            lane.buf.try_reserve_exact(need - lane.buf.len())?;
            lane.buf.resize(need, 0);
        }
        Ok(())
    }

    /// Ends `lane`'s stream: its bytes are padded (0x80, zeros, the length
    /// in bits) to whole blocks, which [`MultiMd5::compress`] or
    /// [`MultiMd5::digest`] will compress.
    ///
    /// # Panics
    ///
    /// If the lane's stream is not open (idle, or finished).
    pub fn finish(&mut self, lane: usize) {
        let scalar = self.engine.kernel().is_none();
        let lane = self.open(lane);
        lane.phase = Phase::Finished;
        if !scalar {
            let bits = lane.len.wrapping_mul(8).to_le_bytes();
            let tail = (lane.end - lane.start) % 64;
            let zeros = if tail < 56 { 55 - tail } else { 119 - tail };
            let mut pad = [0u8; 72];
            pad[0] = 0x80;
            pad[1 + zeros..9 + zeros].copy_from_slice(&bits);
            lane.push(&pad[..9 + zeros]);
        }
    }

    /// Compresses blocks of every lane that holds a stream, all at once,
    /// for as long as each of them has a whole block; idle lanes are
    /// masked. Returns how many blocks each of those lanes went through:
    /// 0 if one of them is hungry or done (feed it, or take its digest),
    /// or if all lanes are idle. The scalar engine digests as it is fed and
    /// always returns 0.
    pub fn compress(&mut self) -> usize {
        let busy = |lane: &Lane| lane.phase != Phase::Idle;
        let blocks = self
            .lanes
            .iter()
            .filter(|lane| busy(lane))
            .map(Lane::blocks)
            .min()
            .unwrap_or(0);
        if blocks > 0 && self.engine.kernel().is_some() {
            self.run(blocks, busy);
            blocks
        } else {
            0
        }
    }

    /// `lane`'s digest, once its stream is compressed to the end: finishes
    /// an open stream, and compresses what is left of it now, every other
    /// lane with a whole block going along. The lane is idle afterwards.
    ///
    /// # Panics
    ///
    /// If the lane is idle.
    pub fn digest(&mut self, lane: usize) -> [u8; 16] {
        assert!(
            self.lanes[lane].phase != Phase::Idle,
            "digest of an idle lane"
        );
        if self.lanes[lane].phase == Phase::Open {
            self.finish(lane);
        }
        while self.lanes[lane].blocks() > 0 {
            self.compress_with(lane);
        }
        let lane = &mut self.lanes[lane];
        lane.phase = Phase::Idle;
        if self.engine.kernel().is_none() {
            return lane.scalar.finalize_reset().into();
        }
        let mut out = [0u8; 16];
        for (bytes, word) in out.chunks_exact_mut(4).zip(lane.state) {
            bytes.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    /// Takes `lane`'s open stream out, to be [resumed](MultiMd5::resume)
    /// later in a lane of this or another `MultiMd5` of the same engine:
    /// its whole blocks are compressed first (every other lane with a block
    /// riding along), so what leaves is the state and less than one block.
    /// The lane is idle afterwards.
    ///
    /// # Panics
    ///
    /// If the lane's stream is not open (idle, or finished).
    pub fn suspend(&mut self, lane: usize) -> Suspended {
        self.open(lane);
        while self.lanes[lane].blocks() > 0 {
            self.compress_with(lane);
        }
        let lane = &mut self.lanes[lane];
        lane.phase = Phase::Idle;
        let mut tail = [0u8; 64];
        let waiting = lane.end - lane.start;
        tail[..waiting].copy_from_slice(&lane.buf[lane.start..lane.end]);
        (lane.start, lane.end) = (0, 0);
        Suspended {
            engine: self.engine,
            state: lane.state,
            len: lane.len,
            tail,
            waiting: waiting as u8,
            scalar: std::mem::replace(&mut lane.scalar, Md5::new()),
        }
    }

    /// Gives `lane` a stream [suspended](MultiMd5::suspend) before: it goes
    /// on as if it had never left. Whatever the lane held is dropped.
    ///
    /// # Panics
    ///
    /// If the stream was suspended from lanes of another engine.
    pub fn resume(&mut self, lane: usize, stream: Suspended) {
        assert!(
            stream.engine == self.engine,
            "a stream resumes on the engine it was suspended from"
        );
        let lane = &mut self.lanes[lane];
        lane.phase = Phase::Open;
        lane.state = stream.state;
        lane.len = stream.len;
        (lane.start, lane.end) = (0, 0);
        lane.push(&stream.tail[..usize::from(stream.waiting)]);
        lane.scalar = stream.scalar;
    }

    /// Compresses the whole blocks of every lane that has one, as many as
    /// the one with fewest has; `lane` must have one.
    fn compress_with(&mut self, lane: usize) {
        debug_assert!(self.lanes[lane].blocks() > 0);
        let has_block = |other: &Lane| other.blocks() > 0;
        let blocks = self
            .lanes
            .iter()
            .map(Lane::blocks)
            .filter(|&blocks| blocks > 0)
            .min()
            .unwrap_or(0);
        self.run(blocks, has_block);
    }

    /// The lane, checked open.
    fn open(&mut self, lane: usize) -> &mut Lane {
        let lane = &mut self.lanes[lane];
        assert!(
            lane.phase == Phase::Open,
            "feeding a lane with no open stream"
        );
        lane
    }

    /// Compresses `blocks` blocks of every lane `take` picks (each must
    /// have that many), masking the others. The lanes taken are packed
    /// into the narrowest kernel that holds them ([`Engine::kernel_for`]).
    fn run(&mut self, blocks: usize, take: impl Fn(&Lane) -> bool) {
        let mut picked = [0usize; MAX_LANES];
        let mut count = 0;
        for (i, lane) in self.lanes.iter().enumerate() {
            if take(lane) {
                picked[count] = i;
                count += 1;
            }
        }
        let taken = &picked[..count];
        let Some((kernel, width)) = self.engine.kernel_for(count) else {
            return;
        };
        let mut states = [[0u32; 4]; MAX_LANES];
        let mut inputs: [Option<&[u8]>; MAX_LANES] = [None; MAX_LANES];
        for (slot, &i) in taken.iter().enumerate() {
            let lane = &self.lanes[i];
            states[slot] = lane.state;
            inputs[slot] = Some(&lane.buf[lane.start..lane.start + 64 * blocks]);
        }
        // SAFETY: `kernel` comes from `self.engine.kernel_for`, which only
        // hands out the kernel of the engine's own kind, the portable
        // one-lane kernel, or the 8-lane AVX2 kernel: for `avx2-dual`
        // (built only where AVX2 was detected) or for `avx512` once
        // `supported` detected AVX2 for this pass; and
        // an `Engine` is only built for a kind whose CPU extension
        // `supported` detected (see `Engine`'s constructors). The kernel
        // gets `width` states and inputs, `width` is its lane count and at
        // least `taken.len()`, and each input holds `blocks` blocks.
        unsafe { kernel(&mut states[..width], &inputs[..width], blocks) };
        for (slot, &i) in taken.iter().enumerate() {
            let lane = &mut self.lanes[i];
            lane.state = states[slot];
            lane.start += 64 * blocks;
            if lane.start == lane.end {
                (lane.start, lane.end) = (0, 0);
            }
        }
    }
}

/// The digests of `messages`, fed to `md5`'s lanes `chunk` bytes at a time
/// (at least 1), each lane taking the next message as soon as its own one
/// is digested: the feeding loop a digester runs, over messages in memory.
/// The digests are in the order of `messages`.
pub fn digest_chunked(md5: &mut MultiMd5, messages: &[&[u8]], chunk: usize) -> Vec<[u8; 16]> {
    let chunk = chunk.max(1);
    let mut digests = vec![[0u8; 16]; messages.len()];
    // Per lane: the message it digests and how much of it was fed.
    let mut held: Vec<Option<(usize, usize)>> = vec![None; md5.lanes()];
    let mut next = 0;
    loop {
        for (lane, slot) in held.iter_mut().enumerate() {
            match md5.status(lane) {
                LaneStatus::Done => {
                    if let Some((index, _)) = slot.take() {
                        digests[index] = md5.digest(lane);
                    }
                }
                LaneStatus::Idle if next < messages.len() => {
                    md5.start(lane);
                    *slot = Some((next, 0));
                    next += 1;
                }
                _ => {}
            }
            if let (Some((index, fed)), LaneStatus::Hungry) = (slot.as_mut(), md5.status(lane)) {
                let message = messages[*index];
                let end = message.len().min(*fed + chunk);
                md5.update(lane, &message[*fed..end]);
                *fed = end;
                if end == message.len() {
                    md5.finish(lane);
                }
            }
        }
        if md5.compress() == 0 && held.iter().all(Option::is_none) && next == messages.len() {
            return digests;
        }
    }
}
