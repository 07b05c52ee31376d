//! A small hand-written SVG bar chart of a sweep: no dependencies, opens in
//! any browser and renders on GitHub.

use std::fmt::Write;

use super::report::{si, Report};

const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#9c755f",
];
const NO_STATS: &str = "#bab0ac";
const ROW: usize = 22;
const BAR: usize = 14;
const CHAR: usize = 7; // px per character of 12px monospace, roughly

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The chart: one horizontal bar per point.
pub(super) fn chart(report: &Report) -> String {
    let results = report.results();
    let stages = report.stage_names();
    let labels: Vec<String> = results.iter().map(|r| r.point().to_string()).collect();
    let label_w = (labels.iter().map(|l| l.len()).max().unwrap_or(1) * CHAR + 16).min(460);
    let plot_w = 520;
    let value_w = 90;
    let width = label_w + plot_w + value_w;
    let top = 52;
    let legend_h = 18 * stages.len().div_ceil(4).max(1) + 28;
    let height = top + ROW * results.len() + legend_h;

    // Throughput of the fastest and slowest run of each point.
    let range = |r: &super::PointResult| {
        let items = r.items() as f64;
        let rate = |d: std::time::Duration| items / d.as_secs_f64().max(f64::MIN_POSITIVE);
        let fastest = r.times().iter().min().map_or(0.0, |&d| rate(d));
        let slowest = r.times().iter().max().map_or(0.0, |&d| rate(d));
        (slowest, fastest)
    };
    let max = results
        .iter()
        .map(|r| range(r).1.max(r.items_per_sec()))
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    let x = |v: f64| label_w as f64 + v / max * plot_w as f64;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="monospace" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let reps = results.first().map_or(0, |r| r.times().len());
    let _ = writeln!(
        s,
        r#"<text x="8" y="18" font-size="14" font-weight="bold">sweep {}: items/s (median of {reps} runs; line: slowest to fastest run)</text>"#,
        escape(report.name())
    );
    let _ = writeln!(
        s,
        r##"<text x="8" y="36" fill="#555">bar colour: the point's bottleneck stage (highest busy / (width x time))</text>"##
    );
    // Grid lines at quarters of the scale.
    for q in 0..=4 {
        let v = max * q as f64 / 4.0;
        let gx = x(v);
        let bottom = top + ROW * results.len();
        let _ = writeln!(
            s,
            r##"<line x1="{gx:.1}" y1="{}" x2="{gx:.1}" y2="{bottom}" stroke="#ddd"/><text x="{gx:.1}" y="{}" text-anchor="middle" fill="#777">{}</text>"##,
            top - 4,
            bottom + 14,
            si(v)
        );
    }
    for (i, (r, label)) in results.iter().zip(&labels).enumerate() {
        let y = top + ROW * i;
        let colour = r
            .bottleneck()
            .and_then(|b| stages.iter().position(|n| *n == b.name))
            .map_or(NO_STATS, |k| PALETTE[k % PALETTE.len()]);
        let v = r.items_per_sec();
        let (lo, hi) = range(r);
        let by = y + (ROW - BAR) / 2;
        let mid = by + BAR / 2;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            label_w - 8,
            mid + 4,
            escape(label)
        );
        let _ = writeln!(
            s,
            r#"<rect x="{label_w}" y="{by}" width="{:.1}" height="{BAR}" fill="{colour}"><title>{}</title></rect>"#,
            x(v) - label_w as f64,
            escape(&r.summary())
        );
        let _ = writeln!(
            s,
            r#"<line x1="{:.1}" y1="{mid}" x2="{:.1}" y2="{mid}" stroke="black"/>"#,
            x(lo),
            x(hi)
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}">{}</text>"#,
            x(hi.max(v)) + 6.0,
            mid + 4,
            si(v)
        );
    }
    let ly = top + ROW * results.len() + 34;
    for (k, name) in stages.iter().enumerate() {
        let lx = 8 + (k % 4) * 200;
        let row_y = ly + 18 * (k / 4);
        let _ = writeln!(
            s,
            r#"<rect x="{lx}" y="{}" width="12" height="12" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            row_y - 10,
            PALETTE[k % PALETTE.len()],
            lx + 18,
            row_y,
            escape(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape(r#"a<b>&"c""#), "a&lt;b&gt;&amp;&quot;c&quot;");
    }
}
