//! The table that [`Stats`] displays: one line per stage.

use std::fmt;
use std::time::Duration;

use super::{StageSnapshot, Stats};

fn ms(d: Duration) -> String {
    format!("{:.1}ms", d.as_secs_f64() * 1e3)
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_table(f, &self.snapshot())
    }
}

impl StageSnapshot {
    /// `rows` as the table [`Stats`] displays: one line per stage with its
    /// kind, width, items, errors and busy and waiting times, and a
    /// `retries` column after `errors` when a stage retried.
    pub fn table(rows: &[StageSnapshot]) -> impl fmt::Display + '_ {
        struct Table<'a>(&'a [StageSnapshot]);
        impl fmt::Display for Table<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_table(f, self.0)
            }
        }
        Table(rows)
    }
}

/// Writes `rows` as the table [`Stats`] displays; the `retries` column
/// only if some stage retried, so a table of runs without retries reads
/// as it always has.
fn write_table(f: &mut fmt::Formatter<'_>, rows: &[StageSnapshot]) -> fmt::Result {
    let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(5).max(5);
    let retried = rows.iter().any(|r| r.retries > 0);
    let retries = |v: &dyn fmt::Display| {
        if retried {
            format!("  {v:>7}")
        } else {
            String::new()
        }
    };
    writeln!(
        f,
        "{:<w$}  {:<6}  {:>5}  {:>10}  {:>10}  {:>6}{}  {:>11}  {:>11}  {:>11}",
        "stage",
        "kind",
        "width",
        "in",
        "out",
        "errors",
        retries(&"retries"),
        "busy",
        "wait in",
        "wait out"
    )?;
    for r in rows {
        writeln!(
            f,
            "{:<w$}  {:<6}  {:>5}  {:>10}  {:>10}  {:>6}{}  {:>11}  {:>11}  {:>11}",
            r.name,
            r.kind.to_string(),
            r.width,
            r.items_in,
            r.items_out,
            r.errors,
            retries(&r.retries),
            ms(r.busy),
            ms(r.wait_in),
            ms(r.wait_out)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Kind;

    #[test]
    fn the_table_shows_a_retries_column_only_when_a_stage_retried() {
        let mut rows = vec![
            StageSnapshot::new("gen", Kind::Source, 1),
            StageSnapshot::new("fetch", Kind::Stage, 4),
        ];
        let plain = StageSnapshot::table(&rows).to_string();
        assert!(!plain.contains("retries"), "{plain}");
        rows[1].retries = 7;
        let table = StageSnapshot::table(&rows).to_string();
        let lines: Vec<&str> = table.lines().collect();
        let col = lines[0].find("retries").expect("a retries column");
        // Right-aligned under its heading: the count ends where it does.
        let end = col + "retries".len();
        assert_eq!(&lines[2][end - 1..end], "7", "{table}");
        assert_eq!(&lines[1][end - 1..end], "0", "{table}");
    }
}
