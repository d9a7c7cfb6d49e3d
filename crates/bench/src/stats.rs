//! Medians and spreads of repeated measurements, and paired ratios.

use std::time::Duration;

/// The distribution of one measured quantity over its repetitions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Summary {
    pub(crate) n: usize,
    pub(crate) median: f64,
    /// First quartile.
    pub(crate) low: f64,
    /// Third quartile.
    pub(crate) high: f64,
}

impl Summary {
    /// Median and quartiles (linear interpolation between order statistics).
    /// `None` for no values or a value that is not a number.
    pub(crate) fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() || values.iter().any(|v| v.is_nan()) {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        Some(Self {
            n: sorted.len(),
            median: quantile(&sorted, 0.5),
            low: quantile(&sorted, 0.25),
            high: quantile(&sorted, 0.75),
        })
    }

    /// Durations in milliseconds.
    pub(crate) fn of_millis(durations: &[Duration]) -> Option<Self> {
        Self::of(&durations.iter().map(millis).collect::<Vec<_>>())
    }

    /// `a[i] / b[i]` for measurements taken back to back, so slow drift of
    /// the machine cancels out of each pair.
    pub(crate) fn of_ratios(a: &[Duration], b: &[Duration]) -> Option<Self> {
        let ratios: Vec<f64> = a
            .iter()
            .zip(b)
            .filter(|(_, b)| !b.is_zero())
            .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
            .collect();
        Self::of(&ratios)
    }
}

pub(crate) fn millis(d: &Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let last = sorted.len().saturating_sub(1);
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "indexes of at most a few thousand samples"
    )]
    let (lo, frac) = {
        let pos = q * last as f64;
        (pos.floor() as usize, pos - pos.floor())
    };
    let at = |i: usize| sorted.get(i.min(last)).copied().unwrap_or(0.0);
    at(lo) + (at(lo + 1) - at(lo)) * frac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_quartiles_of_odd_and_even_counts() {
        let s = Summary::of(&[5.0, 1.0, 3.0, 2.0, 4.0]).unwrap();
        assert_eq!((s.n, s.median, s.low, s.high), (5, 3.0, 2.0, 4.0));
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.median, s.low, s.high), (2.5, 1.75, 3.25));
        let s = Summary::of(&[7.0]).unwrap();
        assert_eq!((s.median, s.low, s.high), (7.0, 7.0, 7.0));
    }

    #[test]
    fn nothing_or_nan_has_no_summary() {
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(Summary::of(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn ratios_are_paired_and_skip_zero_denominators() {
        let ms = Duration::from_millis;
        let s = Summary::of_ratios(&[ms(2), ms(9), ms(6)], &[ms(1), ms(3), ms(0)]).unwrap();
        assert_eq!(s.n, 2);
        assert!((s.median - 2.5).abs() < 1e-9);
        assert!((s.low - 2.25).abs() < 1e-9 && (s.high - 2.75).abs() < 1e-9);
    }
}
