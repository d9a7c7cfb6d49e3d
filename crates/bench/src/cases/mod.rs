//! The comparisons, one file per section of `BENCHMARKS.md`. Each returns
//! what the report needs; every contender of one comparison runs on the same
//! entries, sizes and disk, interleaved round by round.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, BenchKey, Result};
use crate::stats::Summary;

/// How long and how often to measure.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    pub(crate) quick: bool,
}

impl Plan {
    /// Rounds of a comparison whose operations take about a millisecond.
    pub(crate) fn rounds(self, full: usize) -> usize {
        if self.quick { (full / 4).max(5) } else { full }
    }
}

/// The harness's state: where it works and the keys it uses.
#[derive(Debug)]
pub(crate) struct Bench {
    pub(crate) plan: Plan,
    pub(crate) dir: PathBuf,
    pub(crate) key: BenchKey,
    /// Prefix of every keyring service the run uses (removed at the end).
    pub(crate) service: String,
}

fn summary(durations: &[Duration]) -> Result<Summary> {
    Summary::of_millis(durations).ok_or_else(|| "no measurements".into())
}

fn ratio(a: &[Duration], b: &[Duration]) -> Result<Summary> {
    Summary::of_ratios(a, b).ok_or_else(|| "no measurements".into())
}

/// keyseal beside another contender, measured round by round.
#[derive(Debug)]
pub(crate) struct Compared {
    pub(crate) keyseal: Summary,
    pub(crate) other: Summary,
    /// keyseal / other, pair by pair.
    pub(crate) ratio: Summary,
    /// other / keyseal, pair by pair: how many times faster keyseal is.
    pub(crate) speedup: Summary,
}

pub(crate) fn compare(keyseal: &[Duration], other: &[Duration]) -> Result<Compared> {
    Ok(Compared {
        keyseal: summary(keyseal)?,
        other: summary(other)?,
        ratio: ratio(keyseal, other)?,
        speedup: ratio(other, keyseal)?,
    })
}

impl Bench {
    /// The keyring service of the per-item comparison's items, which the
    /// round-trip count (section 8) reads again.
    fn per_item_service(&self) -> String {
        format!("{}-per-item", self.service)
    }

    /// The keyring service of the per-item comparison's keyseal store key,
    /// which the round-trip count reads again.
    fn keyseal_service(&self) -> String {
        format!("{}-store", self.service)
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn child(&self) -> Result<Command> {
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.arg("child").env(common::KEY_VAR, &self.key.base64);
        // Section 12's replicas take the test server's password from here,
        // not from their command line.
        #[cfg(target_os = "linux")]
        cmd.env("PGPASSWORD", keyseal_testkit::postgres::PASSWORD);
        Ok(cmd)
    }

    /// Runs a child to the end; its one line of output.
    fn child_output(&self, args: &[&str]) -> Result<String> {
        let out = self.child()?.args(args).stderr(Stdio::inherit()).output()?;
        if !out.status.success() {
            return Err(format!("child {args:?} exited with {}", out.status).into());
        }
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    }
}

fn numbers(line: &str) -> Result<Vec<u128>> {
    line.split_whitespace()
        .map(|w| {
            w.parse::<u128>()
                .map_err(|e| format!("{line:?}: {e}").into())
        })
        .collect()
}

fn nanos(n: u128) -> Duration {
    Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
}

mod aead;
mod bundle;
mod cold;
mod contention;
mod files;
mod keyring_core;
mod per_item;
mod postgres;
mod rmcp;
mod round_trips;
mod scaling;

pub(crate) use aead::AeadRow;
pub(crate) use bundle::BundleRow;
pub(crate) use cold::{CliCold, ColdRow, DhArithmetic, StepsRow};
pub(crate) use contention::ContentionRow;
pub(crate) use files::Files;
pub(crate) use keyring_core::KeyringCoreRow;
pub(crate) use per_item::PerItemResult;
pub(crate) use postgres::PostgresRow;
pub(crate) use rmcp::RmcpRow;
pub(crate) use round_trips::RoundTrips;
pub(crate) use scaling::ScaleRow;

/// Wall time of a whole section, for the progress lines.
pub(crate) fn timed<T>(label: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let started = Instant::now();
    println!("keyseal-bench: {label} ...");
    let out = f().map_err(|e| format!("{label}: {e}"))?;
    println!(
        "keyseal-bench: {label} done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(out)
}
