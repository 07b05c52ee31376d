//! Benchmarking stage configurations: run one pipeline over a grid of
//! settings (workers × buffer × window × batch, per named stage), time
//! each point, and report throughput with the per-stage counters that
//! show which stage is the bottleneck.
//!
//! You describe the grid with [`Sweep`]; you give [`Sweep::run`] a closure
//! that runs your pipeline once with the settings of a [`Point`] and
//! returns a [`Sample`] (how many items it moved, and its [`Stats`]). The
//! [`Report`] prints as a table and can be written as an SVG bar chart.
//!
//! ```
//! use pipeline_sweep::{Sample, Sweep};
//! use pipeline_core::Pipeline;
//!
//! let report = Sweep::new("squares")
//!     .workers("sq", [1, 2])
//!     .buffer("sq", [1, 16])
//!     .repetitions(1)
//!     .warmup(0)
//!     .run(|point| {
//!         let p = Pipeline::new();
//!         let stats = p.stats();
//!         let n = p
//!             .from_iter(point.stage("gen"), 0..1000u64)
//!             .map(point.stage("sq"), |n| n * n)
//!             .fold(0u64, |count, _| count + 1)
//!             .run()?;
//!         Ok::<_, pipeline_core::Error>(Sample::items(n).with_stats(&stats))
//!     })?;
//! assert_eq!(report.results().len(), 4);
//! println!("{report}");
//! let svg = report.to_svg();
//! assert!(svg.starts_with("<svg"));
//! # Ok::<(), pipeline_core::Error>(())
//! ```
//!
//! Timings are wall-clock times of whole runs, each point run
//! [`repetitions`](Sweep::repetitions) times in a row; the report uses the
//! median. Compare points of one sweep with each other rather than with
//! numbers taken at another time: other load on the machine moves them all.

#![warn(missing_docs)]

mod report;
mod svg;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeline_core::Error;
use pipeline_core::StageConfig;
use pipeline_core::{StageSnapshot, Stats};

pub use report::{PointResult, Report};

/// A stage setting a sweep can vary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Setting {
    /// [`StageConfig::workers`].
    Workers,
    /// [`StageConfig::buffer`].
    Buffer,
    /// [`StageConfig::window`] (which also makes the stage ordered).
    Window,
    /// [`StageConfig::batch`].
    Batch,
}

impl Setting {
    /// The setting's name, as in `StageConfig` and `pipeline!` options.
    pub fn name(self) -> &'static str {
        match self {
            Setting::Workers => "workers",
            Setting::Buffer => "buffer",
            Setting::Window => "window",
            Setting::Batch => "batch",
        }
    }

    fn apply(self, cfg: &mut StageConfig, value: usize) {
        match self {
            Setting::Workers => cfg.workers = value,
            Setting::Buffer => cfg.buffer = value,
            Setting::Window => {
                cfg.ordered = true;
                cfg.reorder_window = Some(value);
            }
            Setting::Batch => cfg.batch = Some(value),
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One axis of the grid: a setting of a stage and the values it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Axis {
    stage: Arc<str>,
    setting: Setting,
    values: Vec<usize>,
}

/// A grid of stage settings to run a pipeline over.
///
/// Every axis added with [`workers`](Self::workers), [`buffer`](Self::buffer),
/// [`window`](Self::window), [`batch`](Self::batch) or [`axis`](Self::axis)
/// multiplies the number of points; the last axis added varies fastest.
/// Settings a point does not mention keep the values your closure gives
/// them.
#[derive(Debug, Clone)]
pub struct Sweep {
    name: String,
    axes: Vec<Axis>,
    repetitions: usize,
    warmup: usize,
    progress: bool,
}

impl Sweep {
    /// An empty grid (one point, with no setting changed) called `name`;
    /// 3 repetitions per point, 1 warm-up run, no progress lines.
    pub fn new(name: impl Into<String>) -> Self {
        Sweep {
            name: name.into(),
            axes: Vec::new(),
            repetitions: 3,
            warmup: 1,
            progress: false,
        }
    }

    /// Adds an axis: `stage`'s `setting` takes each of `values`. An axis
    /// with no values is ignored.
    pub fn axis(
        mut self,
        stage: impl Into<Arc<str>>,
        setting: Setting,
        values: impl IntoIterator<Item = usize>,
    ) -> Self {
        let values: Vec<usize> = values.into_iter().collect();
        if !values.is_empty() {
            self.axes.push(Axis {
                stage: stage.into(),
                setting,
                values,
            });
        }
        self
    }

    /// Varies the number of workers of `stage`.
    pub fn workers(
        self,
        stage: impl Into<Arc<str>>,
        values: impl IntoIterator<Item = usize>,
    ) -> Self {
        self.axis(stage, Setting::Workers, values)
    }

    /// Varies the output buffer of `stage`.
    pub fn buffer(
        self,
        stage: impl Into<Arc<str>>,
        values: impl IntoIterator<Item = usize>,
    ) -> Self {
        self.axis(stage, Setting::Buffer, values)
    }

    /// Varies the reorder window of `stage` (which makes it ordered).
    pub fn window(
        self,
        stage: impl Into<Arc<str>>,
        values: impl IntoIterator<Item = usize>,
    ) -> Self {
        self.axis(stage, Setting::Window, values)
    }

    /// Varies the batch size of `stage`.
    pub fn batch(
        self,
        stage: impl Into<Arc<str>>,
        values: impl IntoIterator<Item = usize>,
    ) -> Self {
        self.axis(stage, Setting::Batch, values)
    }

    /// Timed runs per point (at least 1; default 3). The report shows the
    /// median and the spread.
    pub fn repetitions(mut self, n: usize) -> Self {
        self.repetitions = n.max(1);
        self
    }

    /// Untimed runs of the first point before the sweep starts (default
    /// 1): warms caches, the page cache and the executor's threads.
    pub fn warmup(mut self, n: usize) -> Self {
        self.warmup = n;
        self
    }

    /// Prints a line to stderr as each point finishes (default off).
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// The sweep's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every point of the grid, in the order [`run`](Self::run) runs them.
    pub fn points(&self) -> Vec<Point> {
        let mut points = vec![Vec::new()];
        for axis in &self.axes {
            points = points
                .into_iter()
                .flat_map(|p: Vec<(Arc<str>, Setting, usize)>| {
                    axis.values.iter().map(move |&v| {
                        let mut p = p.clone();
                        p.push((axis.stage.clone(), axis.setting, v));
                        p
                    })
                })
                .collect();
        }
        points
            .into_iter()
            .enumerate()
            .map(|(index, settings)| Point {
                index: index + 1,
                settings,
            })
            .collect()
    }

    /// Runs `run_once` for every point, [`repetitions`](Self::repetitions)
    /// times each after the warm-up, timing each call (or taking the time
    /// its [`Sample`] reports).
    ///
    /// # Errors
    /// The first error `run_once` returns; the sweep stops there.
    pub fn run<E, F>(&self, mut run_once: F) -> Result<Report, E>
    where
        F: FnMut(&Point) -> Result<Sample, E>,
    {
        let points = self.points();
        if let Some(first) = points.first() {
            for _ in 0..self.warmup {
                run_once(first)?;
            }
        }
        let mut results = Vec::with_capacity(points.len());
        for point in points {
            let mut runs = Vec::with_capacity(self.repetitions);
            for _ in 0..self.repetitions {
                let t0 = Instant::now();
                let sample = run_once(&point)?;
                let elapsed = sample.elapsed.unwrap_or_else(|| t0.elapsed());
                runs.push((elapsed, sample));
            }
            let result = PointResult::new(point, runs);
            if self.progress {
                eprintln!("sweep {}: {}", self.name, result.summary());
            }
            results.push(result);
        }
        Ok(Report::new(self.name.clone(), self.axes_labels(), results))
    }

    fn axes_labels(&self) -> Vec<(Arc<str>, Setting)> {
        self.axes
            .iter()
            .map(|a| (a.stage.clone(), a.setting))
            .collect()
    }
}

/// One point of a [`Sweep`]: a value for each of its axes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    index: usize,
    settings: Vec<(Arc<str>, Setting, usize)>,
}

impl Point {
    /// The point's number in its sweep, from 1.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The value this point gives `stage`'s `setting`, if it sets it.
    pub fn get(&self, stage: &str, setting: Setting) -> Option<usize> {
        self.settings
            .iter()
            .rev()
            .find(|(s, k, _)| &**s == stage && *k == setting)
            .map(|&(_, _, v)| v)
    }

    /// Every setting of the point: stage, setting, value.
    pub fn settings(&self) -> impl Iterator<Item = (&str, Setting, usize)> + '_ {
        self.settings.iter().map(|(s, k, v)| (&**s, *k, *v))
    }

    /// A stage config called `name` with the defaults and this point's
    /// settings for it: `.map(point.stage("hash"), f)`.
    pub fn stage(&self, name: impl Into<Arc<str>>) -> StageConfig {
        self.configure(StageConfig::new(name))
    }

    /// `cfg` with this point's settings for the stage it names applied
    /// over it: `point.configure(StageConfig::new("hash").workers(2))`.
    pub fn configure(&self, mut cfg: StageConfig) -> StageConfig {
        self.apply(&mut cfg);
        cfg
    }

    /// Applies this point's settings for `cfg`'s stage to `cfg`.
    pub fn apply(&self, cfg: &mut StageConfig) {
        for (stage, setting, value) in &self.settings {
            if *stage == cfg.name {
                setting.apply(cfg, *value);
            }
        }
    }

    /// Applies every setting of the point to a pipeline that finds its
    /// stage configs by name, such as a type declared with the reusable
    /// form of `pipeline!`: `point.apply_to(&mut p, MyPipeline::stage_mut)`
    /// (a method of `pipeline::Declared`, which must be in scope).
    ///
    /// # Errors
    /// [`Error::Config`] naming a stage the point sets that `stage_mut`
    /// does not know; settings before it are applied.
    pub fn apply_to<P, F>(&self, pipeline: &mut P, mut stage_mut: F) -> Result<(), Error>
    where
        F: for<'a> FnMut(&'a mut P, &str) -> Option<&'a mut StageConfig>,
    {
        for (stage, setting, value) in &self.settings {
            match stage_mut(pipeline, stage) {
                Some(cfg) => setting.apply(cfg, *value),
                None => {
                    return Err(Error::Config {
                        stage: stage.clone(),
                        message: format!(
                        "the sweep sets its {setting}, but the pipeline has no stage of that name"
                    ),
                    })
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Point {
    /// `#3 hash.workers=2 hash.buffer=16`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.index)?;
        for (stage, setting, value) in &self.settings {
            write!(f, " {stage}.{setting}={value}")?;
        }
        Ok(())
    }
}

/// What one run of a point reports back to the sweep.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    items: u64,
    bytes: Option<u64>,
    stages: Vec<StageSnapshot>,
    elapsed: Option<Duration>,
}

impl Sample {
    /// A run that moved `n` items (what throughput is counted in).
    pub fn items(n: u64) -> Self {
        Sample {
            items: n,
            ..Sample::default()
        }
    }

    /// Also counts `n` bytes, so the report shows bytes per second too.
    pub fn with_bytes(mut self, n: u64) -> Self {
        self.bytes = Some(n);
        self
    }

    /// Keeps a snapshot of the run's per-stage counters, which the report
    /// uses to show each stage's load and the bottleneck. Take it after
    /// the run has ended.
    pub fn with_stats(mut self, stats: &Stats) -> Self {
        self.stages = stats.snapshot();
        self
    }

    /// Reports the run's time instead of the time the whole call took
    /// (to leave out setup the closure does before running).
    pub fn with_elapsed(mut self, elapsed: Duration) -> Self {
        self.elapsed = Some(elapsed);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_is_the_product_of_its_axes_last_axis_fastest() {
        let sweep = Sweep::new("t")
            .workers("a", [1, 2])
            .buffer("b", [4, 8, 16])
            .batch("c", []);
        let points = sweep.points();
        assert_eq!(points.len(), 6);
        assert_eq!(points[0].to_string(), "#1 a.workers=1 b.buffer=4");
        assert_eq!(points[1].to_string(), "#2 a.workers=1 b.buffer=8");
        assert_eq!(points[5].to_string(), "#6 a.workers=2 b.buffer=16");
        assert_eq!(Sweep::new("empty").points().len(), 1);
    }

    #[test]
    fn a_point_configures_only_the_stages_it_names() {
        let p = &Sweep::new("t").workers("a", [3]).window("a", [5]).points()[0];
        let a = p.stage("a");
        assert_eq!((a.workers, a.ordered, a.window_len()), (3, true, 5));
        assert_eq!(p.stage("b"), StageConfig::new("b"));
        let kept = p.configure(StageConfig::new("a").buffer(7));
        assert_eq!((kept.workers, kept.buffer), (3, 7));
        assert_eq!(p.get("a", Setting::Workers), Some(3));
        assert_eq!(p.get("a", Setting::Batch), None);
    }

    struct Named(Vec<StageConfig>);

    impl Named {
        fn stage_mut(&mut self, name: &str) -> Option<&mut StageConfig> {
            self.0.iter_mut().find(|c| &*c.name == name)
        }
    }

    #[test]
    fn apply_to_sets_stages_by_name_and_names_an_unknown_one() {
        let mut p = Named(vec![StageConfig::new("a"), StageConfig::new("b")]);
        let point = &Sweep::new("t").buffer("b", [2]).points()[0];
        point.apply_to(&mut p, Named::stage_mut).unwrap();
        assert_eq!(p.0[1].buffer, 2);
        let bad = &Sweep::new("t").batch("zz", [2]).points()[0];
        let err = bad.apply_to(&mut p, Named::stage_mut).unwrap_err();
        assert_eq!(err.stage_name(), Some("zz"));
    }

    #[test]
    fn run_times_every_point_and_stops_at_the_first_error() {
        let mut calls = 0;
        let report = Sweep::new("t")
            .workers("a", [1, 2])
            .repetitions(3)
            .warmup(2)
            .run(|_| {
                calls += 1;
                Ok::<_, ()>(Sample::items(10).with_elapsed(Duration::from_millis(10)))
            })
            .unwrap();
        assert_eq!(calls, 2 + 2 * 3);
        assert_eq!(report.results().len(), 2);
        assert_eq!(report.results()[0].items_per_sec(), 1000.0);
        let err = Sweep::new("t").workers("a", [1, 2]).run(|p| {
            if p.index() == 2 {
                Err("boom")
            } else {
                Ok(Sample::items(1))
            }
        });
        assert_eq!(err.unwrap_err(), "boom");
    }
}
