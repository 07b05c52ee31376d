//! The streaming API: digest several roots with any of the three designs,
//! results (and per-file errors) in order as an iterator, with the run's
//! cancel signal, stats and progress at hand.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use pipeline::{Cancel, Declared, ErrorPolicy, LiveTasks, RunIter, StageConfig, Stats};

use crate::bounded::{Job, Md5Bounded, Md5BoundedAsync};
use crate::digest::DEFAULT_CHUNK;
use crate::engine::Engine;
use crate::error::Error;
use crate::parallel::Md5Parallel;
use crate::progress::Progress;
use crate::relay::Relay;
use crate::serial::Md5Serial;
use crate::stages::WalkErrors;
use crate::FileDigest;

/// Which of the article's three designs runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mode {
    /// A walker, [`Options::digesters`] digesters, results in walk order.
    #[default]
    Bounded,
    /// A task per file, started as the walk finds it (at most
    /// [`Options::buffer`] ahead of the output).
    Parallel,
    /// One stage walks and digests, one file after another.
    Serial,
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "bounded" => Ok(Mode::Bounded),
            "parallel" => Ok(Mode::Parallel),
            "serial" => Ok(Mode::Serial),
            _ => Err(format!(
                "unknown mode `{s}` (expected bounded, parallel or serial)"
            )),
        }
    }
}

/// How the bounded design's digesters read files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Io {
    /// `std::fs` in a blocking stage: one hop to the blocking pool per
    /// group of small files ([`Options::group`]) or per large file. The
    /// default: measured faster (see the crate docs).
    #[default]
    Blocking,
    /// An async stage, one file at a time, reading through `smol::Unblock`
    /// (the reader `async-fs` is built on) with one chunk of read-ahead:
    /// one hop to the blocking pool per open and per chunk.
    Async,
}

impl FromStr for Io {
    type Err = String;
    fn from_str(s: &str) -> Result<Io, String> {
        match s {
            "blocking" => Ok(Io::Blocking),
            "async" => Ok(Io::Async),
            _ => Err(format!("unknown io `{s}` (expected blocking or async)")),
        }
    }
}

/// The largest values [`Options::validate`] accepts: past them a setting
/// would only reserve memory (channel slots are allocated up front) or
/// start tasks no machine has the cores or the descriptors for.
pub mod limits {
    /// Most digesters ([`Options::digesters`](super::Options::digesters)).
    pub const DIGESTERS: usize = 1024;
    /// Largest channel capacity ([`Options::buffer`](super::Options::buffer)).
    pub const BUFFER: usize = 1 << 16;
    /// Largest reorder window ([`Options::window`](super::Options::window)).
    pub const WINDOW: usize = 1 << 16;
    /// Largest read size in bytes ([`Options::chunk`](super::Options::chunk)).
    pub const CHUNK: usize = 256 << 20;
    /// Most files in a group ([`Options::group`](super::Options::group)).
    pub const GROUP: usize = 4096;
}

/// The reorder window `md5pipe` uses unless told otherwise (at least twice
/// the digesters). A waiting result is a digest and its path, never file
/// data, so a wide window is cheap; and it lets the other digesters go on
/// through many small files while a big file ahead of them is read (on a
/// tree of small files with a few of 1–20 MiB, a window of 64 instead of 4
/// made the run ~20% faster). In groups of [`DEFAULT_GROUP`], up to 16,384
/// outcomes (about 2 MiB) may wait for one large file.
pub const DEFAULT_WINDOW: usize = 64;

/// The files a digester is handed at once unless told otherwise: many
/// times the widest engine's 16 lanes, so that lanes freed by short files
/// find the next file in the same group, and so that the few large files of
/// a tree of mostly small ones meet in one group and share the lanes
/// instead of each running alone at the end of its own (on the mixed tree,
/// 256 took 0.75x the time of 64; BENCHMARKS.md).
pub const DEFAULT_GROUP: usize = 256;

/// How to digest a tree. `Options::default()` is `md5pipe`'s default.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Which design runs.
    pub mode: Mode,
    /// Digesters of the bounded design (its fan-out width); default: the
    /// number of CPUs.
    pub digesters: usize,
    /// Capacity of the channels between stages.
    pub buffer: usize,
    /// How many finished digests may wait for a slower one ahead of them;
    /// `None`: [`DEFAULT_WINDOW`] or twice the digesters, whichever is
    /// more. In the bounded design on `std::fs` ([`Io::Blocking`]) it is
    /// counted in groups: a large file is handed on to later groups
    /// only while it lags fewer than `window` groups of files behind
    /// them; the async design counts it in files.
    pub window: Option<usize>,
    /// Bytes read at a time; memory per digester.
    pub chunk: usize,
    /// Follow symbolic links below the roots (`-L`); loops are errors.
    pub follow_links: bool,
    /// The first error cancels the run and ends it (the article's
    /// semantics); otherwise errors come in their place and the run goes on.
    pub fail_fast: bool,
    /// How the bounded design reads.
    pub io: Io,
    /// The most files the bounded design hands a digester at once: files
    /// travel in groups of this many, so the hop to the blocking pool is
    /// paid once per group and the digester has files to fill its
    /// engine's lanes with; 1 hands them one by one.
    pub group: usize,
    /// The MD5 engine of the bounded design and of check mode; default:
    /// [`Engine::detect`] (the best this CPU runs, unless `MD5PIPE_ENGINE`
    /// names one; a name it cannot run falls back to the best; `md5pipe`
    /// reports it instead).
    pub engine: Engine,
    /// The digest algorithm; default MD5, the only one the multi-lane
    /// [`engine`](Self::engine) runs (the others read a file at a time per
    /// digester, in every design).
    pub algorithm: crate::algorithm::Algorithm,
    /// Check mode: the algorithm of list lines without a tag whose digest
    /// has its length (`Some(Blake3)` to read `b3sum` lists, whose 64 hex
    /// digits would otherwise be SHA-256); `None`: by length alone.
    pub check_untagged: Option<crate::algorithm::Algorithm>,
    /// Which files below the roots are digested (all by default).
    pub filter: std::sync::Arc<crate::filter::Filter>,
    /// Roots read from a list after the ones given (`--files-from`).
    pub files_from: Option<crate::roots::FilesFrom>,
    /// A cache of digests to read files only if they changed, and to
    /// update ([`crate::cache`]; `md5pipe --cache FILE`). It needs one
    /// root and no [`files_from`](Self::files_from); keep it at the end
    /// of the run with [`Digests::save_cache`].
    pub cache: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            mode: Mode::Bounded,
            digesters: std::thread::available_parallelism().map_or(1, |n| n.get()),
            buffer: pipeline::DEFAULT_BUFFER,
            window: None,
            chunk: DEFAULT_CHUNK,
            follow_links: false,
            fail_fast: false,
            io: Io::Blocking,
            group: DEFAULT_GROUP,
            engine: Engine::detect().unwrap_or_else(|_| Engine::best()),
            algorithm: Default::default(),
            check_untagged: None,
            filter: Default::default(),
            files_from: None,
            cache: None,
        }
    }
}

impl Options {
    /// Sets [`mode`](Self::mode).
    pub fn mode(mut self, mode: Mode) -> Options {
        self.mode = mode;
        self
    }

    /// Sets [`digesters`](Self::digesters).
    pub fn digesters(mut self, n: usize) -> Options {
        self.digesters = n;
        self
    }

    /// Sets [`buffer`](Self::buffer).
    pub fn buffer(mut self, n: usize) -> Options {
        self.buffer = n;
        self
    }

    /// Sets [`window`](Self::window).
    pub fn window(mut self, n: usize) -> Options {
        self.window = Some(n);
        self
    }

    /// Sets [`chunk`](Self::chunk).
    pub fn chunk(mut self, n: usize) -> Options {
        self.chunk = n;
        self
    }

    /// Sets [`files_from`](Self::files_from).
    pub fn files_from(mut self, from: Option<crate::roots::FilesFrom>) -> Options {
        self.files_from = from;
        self
    }

    /// Sets [`cache`](Self::cache).
    pub fn cache(mut self, cache: Option<PathBuf>) -> Options {
        self.cache = cache;
        self
    }

    /// Sets [`filter`](Self::filter).
    pub fn filter(mut self, filter: crate::filter::Filter) -> Options {
        self.filter = std::sync::Arc::new(filter);
        self
    }

    /// Sets [`follow_links`](Self::follow_links).
    pub fn follow_links(mut self, yes: bool) -> Options {
        self.follow_links = yes;
        self
    }

    /// Sets [`fail_fast`](Self::fail_fast).
    pub fn fail_fast(mut self, yes: bool) -> Options {
        self.fail_fast = yes;
        self
    }

    /// Sets [`group`](Self::group).
    pub fn group(mut self, n: usize) -> Options {
        self.group = n;
        self
    }

    /// Sets [`algorithm`](Self::algorithm).
    pub fn algorithm(mut self, algorithm: crate::algorithm::Algorithm) -> Options {
        self.algorithm = algorithm;
        self
    }

    /// Sets [`check_untagged`](Self::check_untagged).
    pub fn check_untagged(mut self, algorithm: Option<crate::algorithm::Algorithm>) -> Options {
        self.check_untagged = algorithm;
        self
    }

    /// Sets [`engine`](Self::engine).
    pub fn engine(mut self, engine: Engine) -> Options {
        self.engine = engine;
        self
    }

    /// Sets [`io`](Self::io).
    pub fn io(mut self, io: Io) -> Options {
        self.io = io;
        self
    }

    /// The reorder window in effect: [`window`](Self::window), or
    /// [`DEFAULT_WINDOW`] or twice the digesters, whichever is more.
    pub fn window_len(&self) -> usize {
        self.window
            .unwrap_or_else(|| DEFAULT_WINDOW.max(2 * self.digesters))
    }

    /// Checks that every count is at least 1 and at most its [`limits`].
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the first setting out of range.
    pub fn validate(&self) -> Result<(), Error> {
        let settings = [
            ("digesters", self.digesters, limits::DIGESTERS),
            ("buffer", self.buffer, limits::BUFFER),
            ("window", self.window_len(), limits::WINDOW),
            ("chunk", self.chunk, limits::CHUNK),
            ("group", self.group, limits::GROUP),
        ];
        for (name, n, max) in settings {
            if n == 0 {
                return Err(Error::Config(format!("{name} must be at least 1")));
            }
            if n > max {
                return Err(Error::Config(format!("{name} must be at most {max}")));
            }
        }
        Ok(())
    }

    fn policy(&self) -> ErrorPolicy {
        if self.fail_fast {
            ErrorPolicy::FailFast
        } else {
            ErrorPolicy::Continue
        }
    }

    /// Applies the buffer to a stage, and the window to the ordered stage
    /// with more than one worker.
    fn configure(&self, stage: &mut StageConfig) {
        stage.buffer = self.buffer;
        if stage.ordered && stage.workers > 1 {
            stage.reorder_window = Some(self.window_len());
        }
    }
}

/// A running digest of one or more trees: an iterator of each file's
/// [`FileDigest`] in order (roots in the order given, each root's files in
/// bytewise path order), with every error in its place.
///
/// With [`Options::fail_fast`] the first error cancels the run and is the
/// last item. Otherwise errors ([`Error::Walk`], [`Error::Read`]) come in
/// their place and the run goes on. If the run is cancelled through
/// [`cancel_signal`](Self::cancel_signal), the last item is
/// [`Error::Cancelled`].
///
/// Dropping it cancels the run and waits until every task of it has ended.
///
/// ```
/// use pipeline_md5::{digest_tree, Mode, Options};
///
/// let dir = tempfile::tempdir()?;
/// std::fs::create_dir(dir.path().join("a"))?;
/// std::fs::write(dir.path().join("a/x"), b"x")?;
/// std::fs::write(dir.path().join("a-b"), b"")?;
/// let opts = Options::default().mode(Mode::Bounded).digesters(4);
/// let run = digest_tree([dir.path()], &opts)?;
/// let stats = run.stats();
/// let names: Vec<String> = run
///     .map(|r| r.map(|d| d.path.file_name().unwrap().to_string_lossy().into_owned()))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(names, ["a-b", "x"]); // "a-b" < "a/x" bytewise
/// assert_eq!(stats.stage("digest").unwrap().width, 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Digests {
    iter: Box<dyn Iterator<Item = Result<FileDigest, Error>> + Send>,
    stats: Stats,
    cancel: Cancel,
    live: LiveTasks,
    progress: Arc<Progress>,
    cache: Option<crate::cache::Recorder>,
}

impl std::fmt::Debug for Digests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Digests")
            .field("cancel", &self.cancel)
            .field("progress", &self.progress.snapshot())
            .finish_non_exhaustive()
    }
}

impl Digests {
    /// The run's close-to-cancel signal: cancelling it stops every stage
    /// within one chunk's work, and the iterator ends with
    /// [`Error::Cancelled`].
    pub fn cancel_signal(&self) -> Cancel {
        self.cancel.clone()
    }

    /// The run's per-stage counters (`Display` renders the table).
    pub fn stats(&self) -> Stats {
        self.stats.clone()
    }

    /// Files and bytes found and done so far.
    pub fn progress(&self) -> Arc<Progress> {
        self.progress.clone()
    }

    /// The run's live-task counter: 0 once the run has ended.
    pub fn live_tasks(&self) -> LiveTasks {
        self.live.clone()
    }

    /// Keeps what the run learnt in its cache ([`Options::cache`]): the
    /// digest and key of every file handed out so far replace the old
    /// cache, a `rename` beside it. If the iterator did not reach its
    /// end (a cancel, or the caller stopped early), the old records of
    /// the paths after the last one handed out are kept too, so that the
    /// next run goes on from here. Call it once the caller is done with
    /// the items, after a cancel if it stops early; without it the old
    /// cache stays as it was. `Ok(None)`: the run has no cache.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`] if the new cache could not be written or put in
    /// place (the old one is then as it was), or if it was kept already.
    pub fn save_cache(&mut self) -> Result<Option<crate::cache::Summary>, Error> {
        match self.cache.as_mut() {
            Some(cache) => cache.save().map(Some),
            None => Ok(None),
        }
    }
}

impl Iterator for Digests {
    type Item = Result<FileDigest, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.iter.next();
        if let Some(cache) = self.cache.as_mut() {
            cache.saw(item.as_ref(), self.cancel.is_cancelled());
        }
        item
    }
}

/// A run's items as the crate's results: the pipeline's errors converted,
/// and (for designs whose items are results, or packets of them)
/// flattened.
trait IntoDigested: Send + 'static {
    fn into_digested(self) -> Items;
}

/// The results one item of a run stands for: one, or a packet.
enum Items {
    One(Option<Result<FileDigest, Error>>),
    Packet(std::vec::IntoIter<Result<FileDigest, Error>>),
}

impl Iterator for Items {
    type Item = Result<FileDigest, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Items::One(item) => item.take(),
            Items::Packet(items) => items.next(),
        }
    }
}

impl IntoDigested for FileDigest {
    fn into_digested(self) -> Items {
        Items::One(Some(Ok(self)))
    }
}

impl IntoDigested for Result<FileDigest, Error> {
    fn into_digested(self) -> Items {
        Items::One(Some(self))
    }
}

/// A digester's packet: the results of one group, in order. It crosses to
/// the consumer whole, so the consumer's thread is woken once per group,
/// not once per file.
impl IntoDigested for Vec<Result<FileDigest, Error>> {
    fn into_digested(self) -> Items {
        Items::Packet(self.into_iter())
    }
}

fn boxed<T: IntoDigested>(
    iter: RunIter<T>,
) -> Box<dyn Iterator<Item = Result<FileDigest, Error>> + Send> {
    Box::new(iter.flat_map(|item| match item {
        Ok(item) => item.into_digested(),
        Err(err) => Items::One(Some(Err(Error::from(err)))),
    }))
}

/// Starts digesting every regular file below `roots` with `opts`; see
/// [`Digests`]. A root that is a file is digested itself.
///
/// # Errors
///
/// [`Error::Config`] if a count in `opts` is 0, or a cache is asked for
/// with other than one root or with a list of roots; [`Error::Cache`] if
/// the cache cannot be read, is not one, or nothing can be written beside
/// it. Then nothing ran.
pub fn digest_tree<I, P>(roots: I, opts: &Options) -> Result<Digests, Error>
where
    I: IntoIterator<Item = P>,
    P: Into<PathBuf>,
{
    opts.validate()?;
    let roots: Arc<[PathBuf]> = roots.into_iter().map(Into::into).collect();
    let (cache, recorder) = match &opts.cache {
        None => (None, None),
        Some(_) if roots.len() != 1 || opts.files_from.is_some() => {
            return Err(Error::Config(
                "a cache keeps one tree: give one root and no list of roots".into(),
            ));
        }
        Some(path) => {
            let (shared, recorder) = crate::cache::open(path)?;
            (Some(shared), Some(recorder))
        }
    };
    let job = Job {
        roots,
        follow_links: opts.follow_links,
        filter: opts.filter.clone(),
        files_from: opts.files_from.clone(),
        chunk: opts.chunk,
        walk_errors: WalkErrors::InPlace,
        progress: Arc::new(Progress::new()),
        group: opts.group,
        window: opts.window_len(),
        fail_fast: opts.fail_fast,
        algorithm: opts.algorithm,
        engine: opts.engine,
        digesters: opts.digesters,
        cache,
    };
    let mut digests = start(job, opts);
    digests.cache = recorder;
    Ok(digests)
}

/// Declares and starts the pipeline of `opts.mode` over `job`.
pub(crate) fn start(job: Job, opts: &Options) -> Digests {
    let progress = job.progress.clone();
    match (opts.mode, opts.io) {
        (Mode::Bounded, Io::Blocking) => {
            let relay = Arc::new(Relay::new(&job));
            started(Md5Bounded::new(job, opts.digesters, relay), opts, progress)
        }
        (Mode::Bounded, Io::Async) => {
            started(Md5BoundedAsync::new(job, opts.digesters), opts, progress)
        }
        (Mode::Parallel, _) => started(Md5Parallel::new(job), opts, progress),
        (Mode::Serial, _) => started(Md5Serial::new(job), opts, progress),
    }
}

/// Starts one of the designs with the policy, buffers and window of
/// `opts` applied to each of its stages.
fn started<D, T>(mut design: D, opts: &Options, progress: Arc<Progress>) -> Digests
where
    D: Declared<Built = RunIter<T>>,
    T: IntoDigested,
{
    design.set_policy(opts.policy());
    for name in D::STAGES {
        if let Some(stage) = design.stage_mut(name) {
            opts.configure(stage);
        }
    }
    let iter = boxed(design.build());
    Digests {
        iter,
        stats: design.stats(),
        cancel: design.cancel_signal(),
        live: design.live_tasks(),
        progress,
        cache: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_defaults_to_the_wider_of_64_and_twice_the_digesters() {
        assert_eq!(Options::default().digesters(2).window_len(), DEFAULT_WINDOW);
        assert_eq!(Options::default().digesters(100).window_len(), 200);
        assert_eq!(Options::default().digesters(100).window(3).window_len(), 3);
    }
}
