//! Scaling.

use std::hint::black_box;
use std::sync::Arc;

use crate::common::{
    self, Result, atomic_write, contender, file_len, filler, interleave, name, seed, store_at,
    value,
};
use crate::stats::Summary;

use super::{Bench, Compared, compare, numbers, summary};

/// One store size.
#[derive(Debug)]
pub(crate) struct ScaleRow {
    pub(crate) entries: usize,
    pub(crate) file_bytes: u64,
    /// keyseal's set beside the write floor of the same bytes.
    pub(crate) set: Compared,
    pub(crate) cold_open: Summary,
    /// Resident memory of a process holding the store open (KiB), and the
    /// peaks above it while opening it and while setting one entry.
    pub(crate) baseline_kib: u64,
    pub(crate) open_peak_kib: u64,
    pub(crate) set_peak_kib: u64,
}

impl Bench {
    pub(crate) fn scaling(&self, sizes: &[usize]) -> Result<Vec<ScaleRow>> {
        let mut rows = Vec::new();
        for &entries in sizes {
            let dir = common::fresh_dir(&self.path(&format!("scaling-{entries}")))?;
            let store_path = dir.join("store.sealed");
            let provider = self.key.provider();
            let store = store_at(&store_path, Arc::clone(&provider));
            seed(&store, entries)?;
            let file_bytes = file_len(&store_path)?;
            let floor_path = dir.join("floor.bin");
            let bytes = filler(file_bytes);
            let full_rounds = match entries {
                0..=100 => 40,
                101..=1000 => 20,
                _ => 8,
            };
            let rounds = if self.plan.quick {
                (full_rounds / 4).max(3)
            } else {
                full_rounds
            };
            let which = |round: u64| name(usize::try_from(round).unwrap_or(0) % entries);
            let [floor, set, cold] = interleave(
                1,
                rounds,
                [
                    contender("write floor", |_| atomic_write(&floor_path, &bytes)),
                    contender("keyseal set", |r| {
                        Ok(store.set(&which(r), &value(0, r + 1))?)
                    }),
                    contender("keyseal cold open", |r| {
                        let store = store_at(&store_path, Arc::clone(&provider));
                        let v: Option<String> = store.get(&which(r))?;
                        black_box(v.ok_or("missing")?);
                        Ok(())
                    }),
                ],
            )?;
            let line = self.child_output(&[
                "memory",
                &store_path.display().to_string(),
                &name(entries / 2),
            ])?;
            let [baseline, open_peak, set_peak] = numbers(&line)?
                .iter()
                .map(|n| u64::try_from(*n).unwrap_or(u64::MAX))
                .collect::<Vec<_>>()
                .try_into()
                .map_err(|_| format!("memory printed {line:?}"))?;
            rows.push(ScaleRow {
                entries,
                file_bytes,
                set: compare(&set, &floor)?,
                cold_open: summary(&cold)?,
                baseline_kib: baseline,
                open_peak_kib: open_peak.saturating_sub(baseline),
                set_peak_kib: set_peak.saturating_sub(baseline),
            });
            drop(store);
            let _ = std::fs::remove_dir_all(&dir);
        }
        Ok(rows)
    }
}
