//! A Markdown table, and the number formats every table uses.

use std::fmt;

use crate::stats::Summary;

/// A Markdown table: a header and rows of cells.
#[derive(Debug)]
pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|&h| h.to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, cells: impl IntoIterator<Item = String>) {
        self.rows.push(cells.into_iter().collect());
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line =
            |f: &mut fmt::Formatter<'_>, cells: &[String]| writeln!(f, "| {} |", cells.join(" | "));
        line(f, &self.header)?;
        writeln!(f, "|{}", "---|".repeat(self.header.len()))?;
        for row in &self.rows {
            line(f, row)?;
        }
        Ok(())
    }
}

/// Three significant digits.
pub(crate) fn sig(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    #[allow(clippy::cast_possible_truncation, reason = "a digit count")]
    let digits = (2 - v.abs().log10().floor() as i32).max(0);
    format!("{v:.*}", usize::try_from(digits).unwrap_or(0))
}

/// A time: its median and interquartile range, in milliseconds.
pub(crate) fn ms(s: &Summary) -> String {
    format!("{} ms ({}–{})", sig(s.median), sig(s.low), sig(s.high))
}

/// A ratio: its median and interquartile range.
pub(crate) fn times(s: &Summary) -> String {
    format!("{}x ({}–{})", sig(s.median), sig(s.low), sig(s.high))
}

/// A rate (per second): its median and interquartile range.
pub(crate) fn rate(s: &Summary) -> String {
    format!("{} ({}–{})", sig(s.median), sig(s.low), sig(s.high))
}

/// A size in KiB or MiB.
pub(crate) fn kib(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss, reason = "file sizes")]
    let k = bytes as f64 / 1024.0;
    if k >= 1024.0 {
        format!("{} MiB", sig(k / 1024.0))
    } else {
        format!("{} KiB", sig(k))
    }
}

/// `part` as a whole percentage of `whole`.
pub(crate) fn percent(part: f64, whole: f64) -> String {
    format!("{:.0}%", 100.0 * part / whole.max(f64::MIN_POSITIVE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_a_header_a_rule_and_its_rows() {
        let mut table = Table::new(&["a", "b"]);
        table.row(["1".to_owned(), "2".to_owned()]);
        assert_eq!(table.to_string(), "| a | b |\n|---|---|\n| 1 | 2 |\n");
    }

    #[test]
    fn numbers_keep_three_significant_digits() {
        assert_eq!(sig(1234.5), "1234");
        assert_eq!(sig(1.2345), "1.23");
        assert_eq!(sig(0.012_345), "0.0123");
        assert_eq!(kib(414_836), "405 KiB");
        assert_eq!(kib(41_100_000), "39.2 MiB");
        assert_eq!(percent(87.0, 100.0), "87%");
    }
}
