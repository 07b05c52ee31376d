//! What a sweep measured: per point, its times and the per-stage counters
//! of its median run; as a table, CSV or an SVG chart.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::{Point, Sample, Setting};
use pipeline_core::StageSnapshot;

/// The measurements of one point.
#[derive(Debug, Clone)]
pub struct PointResult {
    point: Point,
    times: Vec<Duration>,
    median: usize,
    median_run: Sample,
}

impl PointResult {
    pub(super) fn new(point: Point, runs: Vec<(Duration, Sample)>) -> Self {
        let times: Vec<Duration> = runs.iter().map(|r| r.0).collect();
        let mut order: Vec<usize> = (0..runs.len()).collect();
        order.sort_by_key(|&i| times[i]);
        let median = order[order.len() / 2];
        let median_run = runs
            .into_iter()
            .nth(median)
            .map(|r| r.1)
            .expect("a point runs at least once");
        PointResult {
            point,
            times,
            median,
            median_run,
        }
    }

    /// The point measured.
    pub fn point(&self) -> &Point {
        &self.point
    }

    /// The time of every timed run, in the order they ran.
    pub fn times(&self) -> &[Duration] {
        &self.times
    }

    /// The median time (of an odd number of runs; the upper middle one
    /// otherwise). Throughput and stage loads come from this run.
    pub fn median(&self) -> Duration {
        self.times[self.median]
    }

    /// `(max - min) / median` of the times: how much to trust differences
    /// between points smaller than this.
    pub fn spread(&self) -> f64 {
        let min = self.times.iter().min().copied().unwrap_or_default();
        let max = self.times.iter().max().copied().unwrap_or_default();
        (max - min).as_secs_f64() / self.median().as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// Items the median run moved.
    pub fn items(&self) -> u64 {
        self.median_run.items
    }

    /// Items per second in the median run.
    pub fn items_per_sec(&self) -> f64 {
        self.median_run.items as f64 / self.median().as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// Bytes per second in the median run, if the run counted bytes.
    pub fn bytes_per_sec(&self) -> Option<f64> {
        let secs = self.median().as_secs_f64().max(f64::MIN_POSITIVE);
        self.median_run.bytes.map(|b| b as f64 / secs)
    }

    /// The per-stage counters of the median run (empty if the run did not
    /// report them).
    pub fn stages(&self) -> &[StageSnapshot] {
        &self.median_run.stages
    }

    /// How loaded `stage` was in the median run: its busy time over
    /// `width × run time`. Near 1, every worker of the stage was working
    /// (or ready to work) all the time; low, its workers mostly waited.
    ///
    /// A worker woken with input waits for an executor thread before it
    /// runs, and that time counts as waiting: a stage much wider than
    /// [`threads`](pipeline_core::threads) shows a low load even when it keeps
    /// every core busy. Compare its throughput with a narrower point.
    pub fn load(&self, stage: &StageSnapshot) -> f64 {
        let capacity = self.median().as_secs_f64() * stage.width.max(1) as f64;
        stage.busy.as_secs_f64() / capacity.max(f64::MIN_POSITIVE)
    }

    /// The stage with the highest [`load`](Self::load): the one that keeps
    /// the others waiting. `None` if the run reported no stats.
    pub fn bottleneck(&self) -> Option<&StageSnapshot> {
        self.stages()
            .iter()
            .max_by(|a, b| self.load(a).total_cmp(&self.load(b)))
    }

    /// One line: the point, its throughput and its bottleneck.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{}: {} items/s ±{:.0}%",
            self.point,
            si(self.items_per_sec()),
            self.spread() * 100.0
        );
        if let Some(b) = self.bytes_per_sec() {
            s += &format!(", {}", bytes(b));
        }
        if let Some(stage) = self.bottleneck() {
            s += &format!(
                ", bottleneck {} ({:.0}% busy)",
                stage.name,
                self.load(stage) * 100.0
            );
        }
        s
    }
}

/// Everything a sweep measured, in the order it ran the points.
///
/// `Display` renders a table: one row per point with its settings, median
/// throughput, spread, each stage's load (busy time over width × run
/// time) and the bottleneck; then the fastest point's full stage counters.
#[derive(Debug, Clone)]
pub struct Report {
    name: String,
    axes: Vec<(Arc<str>, Setting)>,
    results: Vec<PointResult>,
}

impl Report {
    pub(super) fn new(
        name: String,
        axes: Vec<(Arc<str>, Setting)>,
        results: Vec<PointResult>,
    ) -> Self {
        Report {
            name,
            axes,
            results,
        }
    }

    /// The sweep's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The result of every point, in the order they ran.
    pub fn results(&self) -> &[PointResult] {
        &self.results
    }

    /// The point with the highest median throughput.
    pub fn best(&self) -> Option<&PointResult> {
        self.results
            .iter()
            .max_by(|a, b| a.items_per_sec().total_cmp(&b.items_per_sec()))
    }

    /// The names of the stages seen in the results, in pipeline order.
    pub(super) fn stage_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for r in &self.results {
            for s in r.stages() {
                if !names.contains(&s.name) {
                    names.push(s.name.clone());
                }
            }
        }
        names
    }

    /// The results as CSV: one row per point, one column per axis, then
    /// median seconds, items/s, spread, and each stage's load.
    pub fn to_csv(&self) -> String {
        let stages = self.stage_names();
        let mut out = String::from("point");
        for (stage, setting) in &self.axes {
            out += &format!(",{stage}.{setting}");
        }
        out += ",median_s,items_per_s,bytes_per_s,spread";
        for s in &stages {
            out += &format!(",load.{s}");
        }
        out += ",bottleneck\n";
        for r in &self.results {
            out += &r.point.index.to_string();
            for (stage, setting) in &self.axes {
                let v = r.point.get(stage, *setting);
                out += &format!(",{}", v.map(|v| v.to_string()).unwrap_or_default());
            }
            out += &format!(
                ",{:.6},{:.1},{},{:.4}",
                r.median().as_secs_f64(),
                r.items_per_sec(),
                r.bytes_per_sec()
                    .map(|b| format!("{b:.1}"))
                    .unwrap_or_default(),
                r.spread()
            );
            for name in &stages {
                let load = r
                    .stages()
                    .iter()
                    .find(|s| &s.name == name)
                    .map(|s| r.load(s));
                out += &format!(",{}", load.map(|l| format!("{l:.3}")).unwrap_or_default());
            }
            out += &format!(",{}\n", r.bottleneck().map_or("", |s| &s.name));
        }
        out
    }

    /// The results as an SVG bar chart: one bar per point (median
    /// throughput, with a line from the slowest to the fastest run),
    /// coloured by its bottleneck stage.
    pub fn to_svg(&self) -> String {
        super::svg::chart(self)
    }

    /// Writes [`to_svg`](Self::to_svg) to `path`.
    ///
    /// # Errors
    /// Any error writing the file.
    pub fn write_svg(&self, path: impl AsRef<std::path::Path>) -> std::io::Result<()> {
        std::fs::write(path, self.to_svg())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stages = self.stage_names();
        let reps = self.results.first().map_or(0, |r| r.times.len());
        writeln!(
            f,
            "sweep `{}`: {} points, median of {} runs each; load = busy / (width x run time)",
            self.name,
            self.results.len(),
            reps
        )?;
        let with_bytes = self.results.iter().any(|r| r.bytes_per_sec().is_some());
        let mut header: Vec<String> = vec!["#".into()];
        header.extend(self.axes.iter().map(|(s, k)| format!("{s}.{k}")));
        header.push("items/s".into());
        header.push("spread".into());
        if with_bytes {
            header.push("bytes/s".into());
        }
        header.extend(stages.iter().map(|s| format!("load {s}")));
        header.push("bottleneck".into());
        let mut rows = vec![header];
        for r in &self.results {
            let mut row = vec![r.point.index.to_string()];
            for (stage, setting) in &self.axes {
                row.push(
                    r.point
                        .get(stage, *setting)
                        .map_or("-".into(), |v| v.to_string()),
                );
            }
            row.push(si(r.items_per_sec()));
            row.push(format!("±{:.0}%", r.spread() * 100.0));
            if with_bytes {
                row.push(r.bytes_per_sec().map_or("-".into(), bytes));
            }
            for name in &stages {
                let load = r
                    .stages()
                    .iter()
                    .find(|s| &s.name == name)
                    .map(|s| r.load(s));
                row.push(load.map_or("-".into(), |l| format!("{:.0}%", l * 100.0)));
            }
            row.push(r.bottleneck().map_or("-".into(), |s| s.name.clone()));
            rows.push(row);
        }
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        for row in &rows {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, &w)| format!("{cell:>w$}"))
                .collect();
            writeln!(f, "{}", cells.join("  ").trim_end())?;
        }
        if let (Some(best), Some(first)) = (self.best(), self.results.first()) {
            writeln!(
                f,
                "\nfastest: {} ({:.2}x #1); its stages:",
                best.summary(),
                best.items_per_sec() / first.items_per_sec().max(f64::MIN_POSITIVE)
            )?;
            if best.stages().is_empty() {
                writeln!(f, "(no stats: return Sample::with_stats to see them)")?;
            } else {
                write!(f, "{}", StageSnapshot::table(best.stages()))?;
            }
        }
        Ok(())
    }
}

/// `1234567.0` as `1.23M`.
pub(super) fn si(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let (v, unit) = if x >= 1e9 {
        (x / 1e9, "G")
    } else if x >= 1e6 {
        (x / 1e6, "M")
    } else if x >= 1e3 {
        (x / 1e3, "k")
    } else {
        (x, "")
    };
    if v >= 100.0 {
        format!("{v:.0}{unit}")
    } else if v >= 10.0 {
        format!("{v:.1}{unit}")
    } else {
        format!("{v:.2}{unit}")
    }
}

/// Bytes per second as `123 MB/s`.
fn bytes(b: f64) -> String {
    format!("{}B/s", si(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline_core::Kind;

    fn snapshot(name: &str, width: usize, busy_ms: u64) -> StageSnapshot {
        let mut s = StageSnapshot::new(name, Kind::Stage, width);
        s.items_in = 100;
        s.items_out = 100;
        s.busy = Duration::from_millis(busy_ms);
        s
    }

    fn run(ms: u64, stages: Vec<StageSnapshot>) -> (Duration, Sample) {
        let s = Sample {
            items: 100,
            bytes: None,
            stages,
            elapsed: None,
        };
        (Duration::from_millis(ms), s)
    }

    #[test]
    fn the_bottleneck_is_the_stage_with_the_most_busy_time_per_worker() {
        let point = crate::Sweep::new("t").points().remove(0);
        let r = PointResult::new(
            point,
            vec![
                run(120, vec![]),
                // The median run: `wide` is busier in total but has 4
                // workers; `narrow` is busy all the time.
                run(
                    100,
                    vec![snapshot("wide", 4, 200), snapshot("narrow", 1, 100)],
                ),
                run(80, vec![]),
            ],
        );
        assert_eq!(r.median(), Duration::from_millis(100));
        assert!((r.spread() - 0.4).abs() < 1e-9);
        assert_eq!(r.items_per_sec(), 1000.0);
        assert_eq!(r.bottleneck().map(|s| s.name.as_str()), Some("narrow"));
        assert!((r.load(&r.stages()[0]) - 0.5).abs() < 1e-9);
        assert!(r.summary().contains("bottleneck narrow (100% busy)"));
    }

    #[test]
    fn si_keeps_three_digits() {
        assert_eq!(si(1_234_567.0), "1.23M");
        assert_eq!(si(45_600.0), "45.6k");
        assert_eq!(si(999.0), "999");
    }
}
