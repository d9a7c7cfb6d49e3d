//! Contention.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::Duration;

use crate::children::{CONTEND_SLOTS, contend_name, contend_value};
use crate::common::{self, Result, seed, store_at};
use crate::stats::Summary;

use super::{Bench, numbers};

/// Several processes setting at once.
#[derive(Debug)]
pub(crate) struct ContentionRow {
    pub(crate) processes: usize,
    pub(crate) sets: usize,
    /// Sets per second, all processes together.
    pub(crate) throughput: Summary,
    /// Acknowledged sets whose value is not in the store afterwards.
    pub(crate) lost: usize,
}

impl Bench {
    pub(crate) fn contention(&self, counts: &[usize], base: usize) -> Result<Vec<ContentionRow>> {
        let dir = common::fresh_dir(&self.path("contention"))?;
        let store_path = dir.join("store.sealed");
        let provider = self.key.provider();
        let most = counts.iter().copied().max().unwrap_or(1);
        // Every writer's names exist from the start, so the file has the
        // same size whichever number of writers runs.
        {
            let store = store_at(&store_path, Arc::clone(&provider));
            seed(&store, base)?;
            for w in 0..most {
                for slot in 0..CONTEND_SLOTS {
                    store.set(&contend_name(w, slot), &contend_value(w, 0))?;
                }
            }
        }
        self.contention_rounds(&store_path, &store_path, counts)
    }

    /// Rounds of `counts` writers each on the store at `target`, the order
    /// rotating from round to round; `check` is where this process reads
    /// the result (see [`contend`](Self::contend)).
    pub(crate) fn contention_rounds(
        &self,
        target: &Path,
        check: &Path,
        counts: &[usize],
    ) -> Result<Vec<ContentionRow>> {
        let per_process = if self.plan.quick { 15 } else { 40 };
        let rounds = if self.plan.quick { 2 } else { 5 };
        let mut rates: Vec<Vec<f64>> = vec![Vec::new(); counts.len()];
        let mut lost = vec![0usize; counts.len()];
        for round in 0..rounds {
            for k in 0..counts.len() {
                let at = (k + round) % counts.len();
                let processes = counts.get(at).copied().unwrap_or(1);
                let (rate, missing) = self.contend(target, check, processes, per_process)?;
                if let Some(r) = rates.get_mut(at) {
                    r.push(rate);
                }
                if let Some(l) = lost.get_mut(at) {
                    *l += missing;
                }
            }
        }
        counts
            .iter()
            .zip(rates.iter().zip(&lost))
            .map(|(&processes, (rate, &lost))| {
                Ok(ContentionRow {
                    processes,
                    sets: processes * per_process * rounds,
                    throughput: Summary::of(rate).ok_or("no measurements")?,
                    lost,
                })
            })
            .collect()
    }

    /// One run of `processes` writers; their sets per second and how many
    /// acknowledged values are missing afterwards.
    /// `check_path` is where this process reads the result (the same
    /// store; for PostgreSQL, the URL with the password the children take
    /// from `PGPASSWORD`).
    pub(crate) fn contend(
        &self,
        store_path: &Path,
        check_path: &Path,
        processes: usize,
        sets: usize,
    ) -> Result<(f64, usize)> {
        let path = store_path.display().to_string();
        let mut children: Vec<(Child, BufReader<std::process::ChildStdout>)> = Vec::new();
        for worker in 0..processes {
            let mut child = self
                .child()?
                .args(["contend", &path, &worker.to_string(), &sets.to_string()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()?;
            let stdout = child.stdout.take().ok_or("no stdout")?;
            children.push((child, BufReader::new(stdout)));
        }
        for (_, out) in &mut children {
            let mut line = String::new();
            out.read_line(&mut line)?;
            if line.trim() != "ready" {
                return Err(format!("a writer said {line:?} instead of ready").into());
            }
        }
        for (child, _) in &mut children {
            child.stdin.take().ok_or("no stdin")?.write_all(b"go\n")?;
        }
        let mut first = u128::MAX;
        let mut last = 0u128;
        for (mut child, mut out) in children {
            let mut line = String::new();
            out.read_line(&mut line)?;
            let status = child.wait()?;
            if !status.success() {
                return Err(format!("a writer exited with {status}").into());
            }
            match numbers(&line)?.as_slice() {
                [start, end] => {
                    first = first.min(*start);
                    last = last.max(*end);
                }
                _ => return Err(format!("a writer printed {line:?}").into()),
            }
        }
        // Every writer's last value for each of its names must be there.
        let store = store_at(check_path, self.key.provider());
        let mut missing = 0;
        for worker in 0..processes {
            for slot in 0..CONTEND_SLOTS.min(sets) {
                let last_seq = (0..sets).rev().find(|s| s % CONTEND_SLOTS == slot);
                let expected = last_seq.map(|s| contend_value(worker, s));
                if store.get::<String>(&contend_name(worker, slot))? != expected {
                    missing += 1;
                }
            }
        }
        let seconds = Duration::from_nanos(u64::try_from(last.saturating_sub(first)).unwrap_or(0))
            .as_secs_f64();
        #[allow(clippy::cast_precision_loss, reason = "a few thousand sets")]
        let rate = (processes * sets) as f64 / seconds.max(1e-9);
        Ok((rate, missing))
    }
}
