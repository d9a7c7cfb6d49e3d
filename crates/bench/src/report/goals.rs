//! The goals, as one table: what each compares, its target, and how a run
//! is read against it. The report prints the table; `docs/BENCHMARKS.md`
//! says in prose what bounds the goals that are not met.

use keyseal_keys::SessionAlgorithm;

use super::Report;
use super::table::{Table, ms, times};

/// One goal.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Goal {
    pub(crate) what: &'static str,
    pub(crate) metric: Metric,
    pub(crate) target: Target,
}

/// What a goal reads from a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Metric {
    /// keyseal's set over the write floor (section 1), a ratio.
    SetOverWriteFloor,
    /// One Secret Service item write over keyseal's set (section 3).
    PerItemWriteSpeedup,
    /// One Secret Service item read over keyseal's cached get (section 3).
    PerItemReadSpeedup,
    /// The slowest backend's cold start beyond its key load (section 5), ms.
    ColdBeyondKeyLoad,
    /// `keyseal get` over `keyseal --version`, spawn to exit (section 5).
    CommandOverVersion(SessionAlgorithm),
    /// One item per secret over keyseal, a new process reading 20 (section 3).
    Read20Speedup(SessionAlgorithm),
    /// 8 contending processes' throughput as a share of 1's (section 7), %.
    ContentionKept,
    /// Updates lost under contention and by replicas (sections 7 and 12).
    LostUpdates,
    /// keyseal's keyring operations for the 1,000-operation workload
    /// (section 8).
    KeyringCalls,
}

/// The bound a goal's median must keep.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target {
    AtMost(f64),
    AtLeast(f64),
    Below(f64),
    Exactly(f64),
}

/// The goals, in the order the report lists them.
pub(crate) const GOALS: &[Goal] = &[
    Goal {
        what: "keyseal `set` over the write floor, 100 x 4 KiB",
        metric: Metric::SetOverWriteFloor,
        target: Target::AtMost(1.15),
    },
    Goal {
        what: "writes: one Secret Service item per secret over keyseal",
        metric: Metric::PerItemWriteSpeedup,
        target: Target::AtLeast(10.0),
    },
    Goal {
        what: "cached reads: one Secret Service item per secret over keyseal",
        metric: Metric::PerItemReadSpeedup,
        target: Target::AtLeast(100.0),
    },
    Goal {
        what: "cold start beyond the key load, slowest key backend",
        metric: Metric::ColdBeyondKeyLoad,
        target: Target::Below(1.0),
    },
    Goal {
        what: "`keyseal get` over `keyseal --version`, spawn to exit, key in the Secret Service (dh session, the default)",
        metric: Metric::CommandOverVersion(SessionAlgorithm::DiffieHellman),
        target: Target::AtMost(3.0),
    },
    Goal {
        what: "`keyseal get` over `keyseal --version`, spawn to exit, key in the Secret Service (plain session)",
        metric: Metric::CommandOverVersion(SessionAlgorithm::Plain),
        target: Target::AtMost(3.0),
    },
    Goal {
        what: "a new process reading 20 entries: one Secret Service item per secret over keyseal (dh sessions, the default)",
        metric: Metric::Read20Speedup(SessionAlgorithm::DiffieHellman),
        target: Target::AtLeast(5.0),
    },
    Goal {
        what: "a new process reading 20 entries: one Secret Service item per secret over keyseal (plain sessions)",
        metric: Metric::Read20Speedup(SessionAlgorithm::Plain),
        target: Target::AtLeast(5.0),
    },
    Goal {
        what: "8 contending processes' total set throughput, as a share of 1 process's",
        metric: Metric::ContentionKept,
        target: Target::AtLeast(80.0),
    },
    Goal {
        what: "lost updates under contention",
        metric: Metric::LostUpdates,
        target: Target::Exactly(0.0),
    },
    Goal {
        what: "keyring operations (key loads) for 1,000 mixed store operations (keyseal)",
        metric: Metric::KeyringCalls,
        target: Target::Exactly(1.0),
    },
];

/// The bound of the goal on `metric`, for a table that derives from it.
pub(crate) fn bound(metric: Metric) -> Option<f64> {
    GOALS
        .iter()
        .find(|g| g.metric == metric)
        .map(|g| match g.target {
            Target::AtMost(b) | Target::AtLeast(b) | Target::Below(b) | Target::Exactly(b) => b,
        })
}

/// What a run measured for one goal: the median it is judged on, and the
/// text shown.
#[derive(Debug)]
pub(crate) struct Reading {
    pub(crate) value: f64,
    pub(crate) shown: String,
}

impl Metric {
    /// The unit a target of this metric is written in.
    fn unit(self) -> &'static str {
        match self {
            Self::ColdBeyondKeyLoad => " ms",
            Self::ContentionKept => "%",
            Self::LostUpdates | Self::KeyringCalls => "",
            _ => "x",
        }
    }

    /// This metric in `report`; `None` when the run did not measure it.
    fn read(self, report: &Report) -> Option<Reading> {
        let ratio = |s: &crate::stats::Summary| Reading {
            value: s.median,
            shown: times(s),
        };
        let count = |n: usize| {
            #[allow(clippy::cast_precision_loss, reason = "small counts")]
            Reading {
                value: n as f64,
                shown: n.to_string(),
            }
        };
        match self {
            Self::SetOverWriteFloor => Some(ratio(&report.files.floor.ratio)),
            Self::PerItemWriteSpeedup => Some(ratio(&report.per_item.set.speedup)),
            Self::PerItemReadSpeedup => Some(ratio(&report.per_item.get.speedup)),
            Self::ColdBeyondKeyLoad => {
                let slowest = report
                    .cold
                    .iter()
                    .max_by(|a, b| a.beyond.median.total_cmp(&b.beyond.median))?;
                Some(Reading {
                    value: slowest.beyond.median,
                    shown: format!("{} ({})", ms(&slowest.beyond), slowest.backend),
                })
            }
            Self::CommandOverVersion(algorithm) => report
                .cli
                .gets
                .iter()
                .find(|g| g.algorithm == algorithm)
                .map(|g| ratio(&g.ratio)),
            Self::Read20Speedup(algorithm) => report
                .per_item
                .read20
                .iter()
                .find(|r| r.algorithm == algorithm)
                .map(|r| ratio(&r.compared.speedup)),
            Self::ContentionKept => {
                let rate = |n| {
                    report
                        .contention
                        .iter()
                        .find(|r| r.processes == n)
                        .map(|r| r.throughput.median)
                };
                let kept = 100.0 * rate(8)? / rate(1)?;
                Some(Reading {
                    value: kept,
                    shown: format!("{kept:.0}%"),
                })
            }
            Self::LostUpdates => Some(count(report.lost_updates())),
            Self::KeyringCalls => report
                .round_trips
                .iter()
                .find(|r| r.layout == "keyseal")
                .map(|r| count(r.calls)),
        }
    }
}

impl Target {
    fn holds(self, value: f64) -> bool {
        match self {
            Self::AtMost(bound) => value <= bound,
            Self::AtLeast(bound) => value >= bound,
            Self::Below(bound) => value < bound,
            #[allow(clippy::float_cmp, reason = "counts, exactly")]
            Self::Exactly(bound) => value == bound,
        }
    }

    fn text(self, unit: &str) -> String {
        match self {
            Self::AtMost(b) => format!("at most {b}{unit}"),
            Self::AtLeast(b) => format!("at least {b}{unit}"),
            Self::Below(b) => format!("under {b}{unit}"),
            Self::Exactly(b) => format!("{b}{unit}"),
        }
    }
}

/// One goal judged against a run.
#[derive(Debug)]
pub(crate) struct Judged {
    pub(crate) goal: Goal,
    /// `None` when the run did not measure it.
    pub(crate) reading: Option<Reading>,
}

impl Judged {
    pub(crate) fn met(&self) -> Option<bool> {
        self.reading
            .as_ref()
            .map(|r| self.goal.target.holds(r.value))
    }

    fn verdict(&self) -> &'static str {
        match self.met() {
            Some(true) => "met",
            Some(false) => "**not met**",
            None => "not measured",
        }
    }

    fn target(&self) -> String {
        self.goal.target.text(self.goal.metric.unit())
    }
}

/// Every goal of [`GOALS`] judged against `report`.
pub(crate) fn judge(report: &Report) -> Vec<Judged> {
    GOALS
        .iter()
        .map(|&goal| Judged {
            goal,
            reading: goal.metric.read(report),
        })
        .collect()
}

/// The goals table of the report.
pub(crate) fn table(judged: &[Judged]) -> Table {
    let mut table = Table::new(&["Goal", "Target", "Measured", ""]);
    for j in judged {
        table.row([
            j.goal.what.to_owned(),
            j.target(),
            j.reading
                .as_ref()
                .map_or_else(|| "–".to_owned(), |r| r.shown.clone()),
            j.verdict().to_owned(),
        ]);
    }
    table
}

/// The goals, one line each, for the terminal.
pub(crate) fn summary(judged: &[Judged]) -> String {
    let mut out = String::from("goals:\n");
    for j in judged {
        let verdict = match j.met() {
            Some(true) => "met",
            Some(false) => "NOT MET",
            None => "-",
        };
        let shown = j.reading.as_ref().map_or("not measured", |r| &r.shown);
        out.push_str(&format!(
            "  {verdict:<9} {} (target {}): {shown}\n",
            j.goal.what,
            j.target()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_hold_at_their_bounds_and_not_past_them() {
        assert!(Target::AtMost(1.15).holds(1.15));
        assert!(!Target::AtMost(1.15).holds(1.16));
        assert!(Target::AtLeast(10.0).holds(10.0));
        assert!(!Target::AtLeast(10.0).holds(9.99));
        assert!(!Target::Below(1.0).holds(1.0));
        assert!(Target::Exactly(0.0).holds(0.0));
        assert!(!Target::Exactly(0.0).holds(1.0));
        assert_eq!(Target::AtMost(1.15).text("x"), "at most 1.15x");
        assert_eq!(Target::Below(1.0).text(" ms"), "under 1 ms");
    }
}
