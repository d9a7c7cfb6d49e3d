//! `BENCHMARKS.md`: the machine, the goals met or not, and every table.

use std::fmt::Write as _;
use std::path::Path;

use keyseal_keys::SessionAlgorithm;

use crate::cases::{
    AeadRow, BundleRow, CliCold, ColdRow, ContentionRow, DhArithmetic, Files, PerItemResult,
    RoundTrips, ScaleRow, StepsRow,
};
use crate::plot::{self, Series};
use crate::stats::Summary;

/// What the run measured, and where.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) machine: Option<Machine>,
    pub(crate) seconds: f64,
    pub(crate) files: Files,
    pub(crate) per_item: PerItemResult,
    pub(crate) bundle: Vec<BundleRow>,
    pub(crate) cold: Vec<ColdRow>,
    pub(crate) steps: Vec<StepsRow>,
    pub(crate) cli: CliCold,
    pub(crate) dh: DhArithmetic,
    pub(crate) scaling: Vec<ScaleRow>,
    pub(crate) contention: Vec<ContentionRow>,
    pub(crate) round_trips: Vec<RoundTrips>,
    pub(crate) aead: Vec<AeadRow>,
    pub(crate) keyring_core: Vec<crate::keyring_core::KeyringCoreRow>,
    pub(crate) rmcp: crate::rmcp::RmcpRow,
    /// Section 12; `None` where PostgreSQL is not installed.
    pub(crate) postgres: Option<crate::postgres::PostgresRow>,
}

/// The machine and the build the numbers come from.
#[derive(Debug)]
pub(crate) struct Machine {
    pub(crate) facts: Vec<(&'static str, String)>,
    pub(crate) command: String,
    pub(crate) quick: bool,
}

impl Machine {
    pub(crate) fn read(work: &Path, command: String, quick: bool) -> Self {
        let proc_field = |file: &str, key: &str| {
            std::fs::read_to_string(file).ok().and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with(key))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
        };
        let unknown = || "unknown".to_owned();
        let env = |var: &str| std::env::var(var).unwrap_or_else(|_| unknown());
        let memory = proc_field("/proc/meminfo", "MemTotal")
            .and_then(|v| v.trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or_else(unknown, |kib| {
                format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0)
            });
        let facts = vec![
            ("Date (UTC)", env("KEYSEAL_BENCH_DATE")),
            ("Commit", env("KEYSEAL_BENCH_COMMIT")),
            (
                "CPU",
                proc_field("/proc/cpuinfo", "model name").unwrap_or_else(unknown),
            ),
            (
                "Cores",
                std::thread::available_parallelism().map_or_else(|_| unknown(), |n| n.to_string()),
            ),
            ("Memory", memory),
            (
                "Kernel",
                std::fs::read_to_string("/proc/sys/kernel/osrelease")
                    .map_or_else(|_| unknown(), |s| s.trim().to_owned()),
            ),
            (
                "Filesystem of the stores",
                filesystem(work).unwrap_or_else(unknown),
            ),
            ("Rust", env("KEYSEAL_BENCH_RUSTC")),
            ("Profile", "release".to_owned()),
            (
                "Secret Service",
                "gnome-keyring in a private D-Bus session".to_owned(),
            ),
        ];
        Self {
            facts,
            command,
            quick,
        }
    }
}

/// The type and device of the mount holding `path` (from mountinfo).
fn filesystem(path: &Path) -> Option<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount_point = left.split_whitespace().nth(4)?;
            let mut right = right.split_whitespace();
            let (fstype, source) = (right.next()?, right.next()?);
            path.starts_with(mount_point).then(|| {
                (
                    mount_point.len(),
                    format!("{fstype} on {source} (mounted at {mount_point})"),
                )
            })
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, text)| text)
}

/// Three significant digits.
fn sig(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    #[allow(clippy::cast_possible_truncation, reason = "a digit count")]
    let digits = (2 - v.abs().log10().floor() as i32).max(0);
    format!("{v:.*}", usize::try_from(digits).unwrap_or(0))
}

fn ms(s: &Summary) -> String {
    format!("{} ms ({}–{})", sig(s.median), sig(s.low), sig(s.high))
}

fn times(s: &Summary) -> String {
    format!("{}x ({}–{})", sig(s.median), sig(s.low), sig(s.high))
}

fn kib(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss, reason = "file sizes")]
    let k = bytes as f64 / 1024.0;
    if k >= 1024.0 {
        format!("{} MiB", sig(k / 1024.0))
    } else {
        format!("{} KiB", sig(k))
    }
}

fn mark(met: bool) -> &'static str {
    if met { "met" } else { "**not met**" }
}

/// One goal of the issue.
struct Goal {
    what: &'static str,
    target: &'static str,
    measured: String,
    met: bool,
    /// Why it is not met and what would fix it (shown only then).
    why_not: String,
}

impl Report {
    fn keyseal_calls(&self) -> Option<usize> {
        self.round_trips
            .iter()
            .find(|r| r.layout == "keyseal")
            .map(|r| r.calls)
    }

    fn contention_ratio(&self) -> Option<f64> {
        let rate = |n| {
            self.contention
                .iter()
                .find(|r| r.processes == n)
                .map(|r| r.throughput.median)
        };
        Some(rate(8)? / rate(1)?)
    }

    pub(crate) fn lost_updates(&self) -> usize {
        let replicas: usize = self
            .postgres
            .iter()
            .flat_map(|p| &p.replicas)
            .map(|r| r.lost)
            .sum();
        self.contention.iter().map(|r| r.lost).sum::<usize>() + replicas
    }

    fn goals(&self) -> Vec<Goal> {
        let f = &self.files;
        let p = &self.per_item;
        let mut goals = vec![
            Goal {
                what: "keyseal `set` vs the write floor, 100 x 4 KiB",
                target: "at most 1.15x",
                measured: times(&f.floor.ratio),
                met: f.floor.ratio.median <= 1.15,
                why_not: explain::floor(self),
            },
            Goal {
                what: "writes vs one Secret Service item per secret",
                target: "keyseal at least 10x faster",
                measured: times(&p.set.speedup),
                met: p.set.speedup.median >= 10.0,
                why_not: explain::per_item_writes(self),
            },
            Goal {
                what: "cached reads vs one Secret Service item per secret",
                target: "keyseal at least 100x faster",
                measured: times(&p.get.speedup),
                met: p.get.speedup.median >= 100.0,
                why_not: explain::per_item_reads(self),
            },
        ];
        if !self.cold.is_empty() {
            goals.push(Goal {
                what: "cold start beyond the keyring load",
                target: "under 1 ms",
                measured: self
                    .cold
                    .iter()
                    .map(|row| format!("{}: {}", row.backend, ms(&row.beyond)))
                    .collect::<Vec<_>>()
                    .join("; "),
                met: self.cold.iter().all(|row| row.beyond.median < 1.0),
                why_not: explain::cold(self),
            });
        }
        for get in &self.cli.gets {
            goals.push(Goal {
                what: match get.algorithm {
                    SessionAlgorithm::DiffieHellman => {
                        "`keyseal get` of 1 entry, key in the Secret Service, vs `keyseal --version`, spawn to exit (dh session, the default)"
                    }
                    _ => {
                        "`keyseal get` of 1 entry, key in the Secret Service, vs `keyseal --version`, spawn to exit (plain session)"
                    }
                },
                target: "at most 3x",
                measured: times(&get.ratio),
                met: get.ratio.median <= 3.0,
                why_not: explain::cli(self, get),
            });
        }
        for row in &self.per_item.read20 {
            goals.push(Goal {
                what: match row.algorithm {
                    SessionAlgorithm::DiffieHellman => {
                        "a new process reading 20 entries vs one Secret Service item per secret (both with a dh session, the default)"
                    }
                    _ => {
                        "a new process reading 20 entries vs one Secret Service item per secret (both with a plain session)"
                    }
                },
                target: "keyseal at least 5x faster",
                measured: times(&row.compared.speedup),
                met: row.compared.speedup.median >= 5.0,
                why_not: explain::read20(self, row),
            });
        }
        if let Some(ratio) = self.contention_ratio() {
            goals.push(Goal {
                what: "8 contending processes vs 1, total set throughput",
                target: "at least 80%",
                measured: format!("{:.0}%", ratio * 100.0),
                met: ratio >= 0.8,
                why_not: explain::contention(ratio),
            });
        }
        goals.push(Goal {
            what: "lost updates under contention",
            target: "0",
            measured: self.lost_updates().to_string(),
            met: self.lost_updates() == 0,
            why_not: "A lost update is a bug in the locked read-modify-write; \
                      `cargo xtask bench` fails when it sees one."
                .to_owned(),
        });
        if let Some(calls) = self.keyseal_calls() {
            goals.push(Goal {
                what: "keyring round trips for 1,000 mixed operations (keyseal)",
                target: "1",
                measured: calls.to_string(),
                met: calls == 1,
                why_not: "The store caches its key for the life of the process; more than one \
                          keyring call means that cache was bypassed."
                    .to_owned(),
            });
        }
        goals
    }

    /// The goals, one line each, for the terminal.
    pub(crate) fn summary(&self) -> String {
        let mut out = String::from("goals:\n");
        for g in self.goals() {
            let _ = writeln!(
                out,
                "  {:<9} {} (target {}): {}",
                if g.met { "met" } else { "NOT MET" },
                g.what,
                g.target,
                g.measured
            );
        }
        out
    }

    /// The scaling curve: keyseal's set and cold open beside the write
    /// floor, with one Secret Service item's write for reference.
    pub(crate) fn plot(&self) -> Option<String> {
        #[allow(clippy::cast_precision_loss, reason = "entry counts")]
        let line = |pick: fn(&ScaleRow) -> f64| -> Vec<(f64, f64)> {
            self.scaling
                .iter()
                .map(|r| (r.entries as f64, pick(r)))
                .collect()
        };
        let mut series = vec![
            Series {
                label: "keyseal set",
                color: "#1f77b4",
                dashed: false,
                points: line(|r| r.set.keyseal.median),
            },
            Series {
                label: "write floor",
                color: "#2ca02c",
                dashed: false,
                points: line(|r| r.set.other.median),
            },
            Series {
                label: "keyseal cold open",
                color: "#ff7f0e",
                dashed: false,
                points: line(|r| r.cold_open.median),
            },
        ];
        #[allow(clippy::cast_precision_loss, reason = "entry counts")]
        if let (Some(first), Some(last)) = (self.scaling.first(), self.scaling.last()) {
            let item = self.per_item.set.other.median;
            series.push(Series {
                label: "one keyring item set",
                color: "#d62728",
                dashed: true,
                points: vec![(first.entries as f64, item), (last.entries as f64, item)],
            });
        }
        plot::svg(
            "keyseal: time per operation by store size (4 KiB entries)",
            "entries in the store",
            "milliseconds (median)",
            &series,
        )
    }

    pub(crate) fn markdown(&self, plot_file: &str) -> String {
        let mut o = String::new();
        let w = &mut o;
        let _ = writeln!(w, "# Benchmarks\n");
        let _ = writeln!(
            w,
            "Produced by `cargo xtask bench`, which builds in release mode and measures every \
             comparison below in one run, inside a private Secret Service session. This machine \
             is shared and noisy: absolute times drift from run to run, so each comparison runs \
             its contenders interleaved, round by round, and reports the **median of the paired \
             ratios** with its interquartile range in parentheses (the middle half of the \
             rounds). Times are medians with their interquartile range.\n"
        );
        if let Some(m) = &self.machine {
            if m.quick {
                let _ = writeln!(
                    w,
                    "> This is a `--quick` run (fewer rounds, smaller bundle ladder): a smoke \
                     test, not the published numbers.\n"
                );
            }
            let _ = writeln!(w, "## Machine and command\n");
            let _ = writeln!(w, "| | |\n|---|---|");
            let _ = writeln!(w, "| Command | `{}` |", m.command);
            for (k, v) in &m.facts {
                let _ = writeln!(w, "| {k} | {v} |");
            }
            let _ = writeln!(w, "| Run time | {:.0} s |\n", self.seconds);
        }

        let goals = self.goals();
        let _ = writeln!(w, "## Goals\n");
        let _ = writeln!(w, "| Goal | Target | Measured | |\n|---|---|---|---|");
        for g in &goals {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} |",
                g.what,
                g.target,
                g.measured,
                mark(g.met)
            );
        }
        let _ = writeln!(w);
        let floor = &self.files.floor.ratio;
        if floor.median <= 1.15 && floor.high > 1.15 {
            let _ = writeln!(
                w,
                "**At the edge: keyseal `set` vs the write floor.** The median of the paired \
                 ratios meets the goal, but the slowest quarter of the rounds is above {}x: \
                 on this shared machine the goal holds for the median, not for every round. \
                 {}\n",
                sig(floor.high),
                explain::floor(self)
            );
        }
        for g in goals.iter().filter(|g| !g.met) {
            let _ = writeln!(w, "**Not met: {}.** {}\n", g.what, g.why_not);
        }

        self.files_md(w);
        self.per_item_md(w);
        self.bundle_md(w);
        self.cold_md(w);
        self.scaling_md(w, plot_file);
        self.contention_md(w);
        self.round_trips_md(w);
        self.aead_md(w);
        self.keyring_core_md(w);
        self.rmcp_md(w);
        self.postgres_md(w);
        o
    }

    fn files_md(&self, w: &mut String) {
        let f = &self.files;
        let _ = writeln!(w, "## 1–2. The write floor and a plaintext JSON file\n");
        let _ = writeln!(
            w,
            "{} entries of 4 KiB. keyseal's file is {} ({} bytes); the write floor writes the \
             same number of bytes to a temporary file, fsyncs it, renames it over the target \
             and fsyncs the directory, with no encryption and no lock. The JSON file ({}) is \
             what several tools fall back to: every secret in plaintext, read, changed and \
             replaced atomically, without a lock. A keyseal `set` takes the cross-process lock, \
             checks the file is the one it has cached, seals the changed entry and the index, \
             copies the other entries' records as they are, and replaces the file the same \
             way. The append floor is the least any durable write of one 4 KiB entry can \
             cost: the entry appended to a file kept open, then `fdatasync`; no rename, no \
             directory sync, nothing else read or written. A cold `get` is a new store handle \
             (nothing cached, the key already in memory) reading one entry: it opens the index \
             and that entry's record.\n",
            f.entries,
            kib(f.file_bytes),
            f.file_bytes,
            kib(f.json_bytes)
        );
        let _ = writeln!(
            w,
            "| Operation | keyseal | Baseline | keyseal / baseline |\n|---|---|---|---|"
        );
        for (what, c, end) in [
            ("set vs write floor", &f.floor, ""),
            ("set vs append floor", &f.append, ""),
            ("set vs JSON file set", &f.json_set, ""),
            ("cold get vs JSON file get", &f.json_get, "\n"),
        ] {
            let _ = writeln!(
                w,
                "| {what} | {} | {} | {} |{end}",
                ms(&c.keyseal),
                ms(&c.other),
                times(&c.ratio)
            );
        }
    }

    fn per_item_md(&self, w: &mut String) {
        let p = &self.per_item;
        let _ = writeln!(w, "## 3. One keyring item per secret (Secret Service)\n");
        let _ = writeln!(
            w,
            "The layout keyseal replaces: each secret its own gnome-keyring item, written and \
             read through the Secret Service directly (the `secret-service` crate, attributes \
             `service` and `username` as keyring-core writes them; a set is one `CreateItem` \
             that replaces, without keyring-core's search first), 100 items of 4 KiB. keyseal \
             holds the same 100 entries in its file, with its key in the same Secret Service. \
             \"Cached\" reads are a running process's repeated reads. The last row starts a new \
             process that reads 20 secrets, timed from spawn to exit (both sides pay the \
             process start; keyseal also pays its one key load).\n"
        );
        let _ = writeln!(
            w,
            "| Operation | keyseal | One item per secret | keyseal faster by |\n|---|---|---|---|"
        );
        let read20: Vec<(String, &crate::cases::Compared)> = p
            .read20
            .iter()
            .map(|row| {
                (
                    format!("new process reads 20 ({} session)", row.algorithm),
                    &row.compared,
                )
            })
            .collect();
        for (what, c) in [
            ("set".to_owned(), &p.set),
            ("get (cached)".to_owned(), &p.get),
        ]
        .into_iter()
        .chain(read20)
        {
            let _ = writeln!(
                w,
                "| {what} | {} | {} | {} |",
                ms(&c.keyseal),
                ms(&c.other),
                times(&c.speedup)
            );
        }
        let _ = writeln!(w);
    }

    fn bundle_md(&self, w: &mut String) {
        let _ = writeln!(w, "## 4. One bundle item in the keyring\n");
        let _ = writeln!(
            w,
            "All secrets as one JSON object in one Secret Service item (the layout docker-agent \
             moved away from), growing until the keyring refuses or slows down. For \
             comparison, keyseal's `set` at the same number of entries is in section 6.\n"
        );
        let _ = writeln!(
            w,
            "| Entries | Item size | set | get | keyring answer |\n|---|---|---|---|---|"
        );
        for row in &self.bundle {
            let cell = |s: &Option<Summary>| s.as_ref().map_or_else(|| "–".to_owned(), ms);
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} |",
                row.entries,
                kib(row.bytes as u64),
                cell(&row.set),
                cell(&row.get),
                row.refused
                    .as_deref()
                    .map_or_else(|| "accepted".to_owned(), |e| format!("refused: {e}"))
            );
        }
        let _ = writeln!(w, "\n{}\n", explain::bundle(&self.bundle, &self.scaling));
    }

    fn cold_md(&self, w: &mut String) {
        let _ = writeln!(w, "## 5. Cold start\n");
        let _ = writeln!(
            w,
            "A new process opens a store of 100 entries of 4 KiB and reads one. \"In process\" is \
             measured from the process's `main` to the value in hand; the keyring part is the \
             one key load; \"beyond the keyring\" is the rest (reading, authenticating, \
             decrypting and decoding the file). \"Spawn to exit\" is seen from the parent and \
             adds the process start and exit.\n"
        );
        let _ = writeln!(
            w,
            "| Key in | In process | Keyring load | Beyond the keyring | Spawn to exit |\n|---|---|---|---|---|"
        );
        for row in &self.cold {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} |",
                row.backend,
                ms(&row.total),
                ms(&row.keyring),
                ms(&row.beyond),
                ms(&row.process)
            );
        }
        let _ = writeln!(w, "\n{}\n", explain::key_load_share(self));
        let _ = writeln!(w, "### Where a Secret Service key load goes\n");
        let _ = writeln!(
            w,
            "Each step of one key load in a new process, timed apart (the `secret-service` \
             crate, as keyseal calls it): the D-Bus connection to the session bus (its \
             authentication and `Hello`), opening the session (`OpenSession` with the \
             algorithm: for `dh` the Diffie-Hellman exchange on both sides), the item search \
             (`SearchItems`) and the secret (`GetSecret`, decrypted here for `dh`).\n"
        );
        let _ = writeln!(
            w,
            "| Session | Connection | Session | Search | Secret | Total |\n|---|---|---|---|---|---|"
        );
        for row in &self.steps {
            let total =
                row.connection.median + row.session.median + row.search.median + row.secret.median;
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} | {total:.3} ms |",
                row.algorithm,
                ms(&row.connection),
                ms(&row.session),
                ms(&row.search),
                ms(&row.secret)
            );
        }
        let _ = writeln!(
            w,
            "\nThe client's own arithmetic in a `dh` session (its public key and the shared \
             secret, two exponentiations with a 1024-bit private exponent): {} the way the \
             `secret-service` crate computes it (square-and-multiply, a full division after \
             each product), {} with a Montgomery exponentiation (`BigUint::modpow`), in this \
             process.",
            ms(&self.dh.schoolbook),
            ms(&self.dh.montgomery)
        );
        let _ = writeln!(w, "\n### The `keyseal` command\n");
        let _ = writeln!(
            w,
            "The real command from spawn to exit, interleaved: `keyseal --version` (a process \
             that only starts and exits) and `keyseal get` of one entry with its key in the \
             Secret Service, with each session algorithm (`--secret-service-session`).\n"
        );
        let _ = writeln!(
            w,
            "| Command | Spawn to exit | vs `keyseal --version` |\n|---|---|---|"
        );
        let _ = writeln!(
            w,
            "| `keyseal --version` | {} | 1x |",
            ms(&self.cli.version)
        );
        for get in &self.cli.gets {
            let _ = writeln!(
                w,
                "| `keyseal get` ({} session) | {} | {} |",
                get.algorithm,
                ms(&get.get),
                times(&get.ratio)
            );
        }
        let _ = writeln!(w);
    }

    fn scaling_md(&self, w: &mut String, plot_file: &str) {
        let _ = writeln!(w, "## 6. Scaling\n");
        let _ = writeln!(
            w,
            "![keyseal's set and cold open by store size]({plot_file})\n"
        );
        let _ = writeln!(
            w,
            "| Entries | File | set | write floor | set / floor | cold open | memory: process | peak while opening | peak while setting |\n|---|---|---|---|---|---|---|---|---|"
        );
        for r in &self.scaling {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} | {} | {} | +{} | +{} |",
                r.entries,
                kib(r.file_bytes),
                ms(&r.set.keyseal),
                ms(&r.set.other),
                times(&r.set.ratio),
                ms(&r.cold_open),
                kib(r.baseline_kib * 1024),
                kib(r.open_peak_kib * 1024),
                kib(r.set_peak_kib * 1024)
            );
        }
        let _ = writeln!(w, "\n{}\n", explain::scaling(self));
    }

    fn contention_md(&self, w: &mut String) {
        let _ = writeln!(w, "## 7. Contention\n");
        let _ = writeln!(
            w,
            "Several processes set entries of the same store at once (100 entries of 4 KiB plus \
             4 names per writer, all present from the start so the file keeps its size). Each \
             writer stores a numbered value; afterwards every writer's last value for each of \
             its names must be in the store, or the update was lost. Throughput is all sets \
             divided by the time from the first writer's start to the last one's end.\n"
        );
        let _ = writeln!(
            w,
            "| Processes | Sets (all rounds) | Sets per second | vs 1 process | Lost updates |\n|---|---|---|---|---|"
        );
        let one = self
            .contention
            .iter()
            .find(|r| r.processes == 1)
            .map(|r| r.throughput.median);
        for r in &self.contention {
            let _ = writeln!(
                w,
                "| {} | {} | {} ({}–{}) | {} | {} |",
                r.processes,
                r.sets,
                sig(r.throughput.median),
                sig(r.throughput.low),
                sig(r.throughput.high),
                one.map_or_else(
                    || "–".to_owned(),
                    |o| format!("{:.0}%", r.throughput.median / o * 100.0)
                ),
                r.lost
            );
        }
        let _ = writeln!(w);
    }

    fn round_trips_md(&self, w: &mut String) {
        let _ = writeln!(w, "## 8. Keyring round trips per process\n");
        let _ = writeln!(
            w,
            "A new process runs the same {} operations (70% gets, 20% sets, 5% lists, 5% \
             removes) on 100 entries of 4 KiB. Counted: calls into the keyring (keyseal's key \
             provider; item reads, writes, deletes and searches for the per-item layout).\n",
            crate::children::MIXED_OPS
        );
        let _ = writeln!(
            w,
            "| Layout | Keyring calls | Time for the workload |\n|---|---|---|"
        );
        for r in &self.round_trips {
            let _ = writeln!(
                w,
                "| {} | {} | {} ms |",
                r.layout,
                r.calls,
                sig(r.elapsed.as_secs_f64() * 1e3)
            );
        }
        let _ = writeln!(w);
    }

    fn keyring_core_md(&self, w: &mut String) {
        let _ = writeln!(
            w,
            "## 10. keyring-core: keyseal-keyring-store beside the native Secret Service store\n"
        );
        let _ = writeln!(
            w,
            "A keyring-core application's `Entry::set_password` and `get_password` on every one \
             of the same entries of 4 KiB, in one process, round by round: through \
             `keyseal-keyring-store` (one sealed file, its key the only keyring item, read once) \
             and through `zbus-secret-service-keyring-store` (one Secret Service item per \
             entry). Each set through keyseal writes the whole file (sealed, fsynced, renamed).\n"
        );
        let _ = writeln!(
            w,
            "| Operation | Entries | keyseal-keyring-store | zbus-secret-service-keyring-store | native / keyseal |\n|---|---|---|---|---|"
        );
        for r in &self.keyring_core {
            let _ = writeln!(
                w,
                "| `{}` | {} | {} | {} | {} |",
                r.operation,
                r.entries,
                ms(&r.compared.keyseal),
                ms(&r.compared.other),
                times(&r.compared.speedup)
            );
        }
        let _ = writeln!(w);
    }

    fn rmcp_md(&self, w: &mut String) {
        let r = &self.rmcp;
        let _ = writeln!(
            w,
            "## 11. rmcp: keyseal-rmcp beside rmcp's in-memory credential store\n"
        );
        let _ = writeln!(
            w,
            "rmcp's `AuthorizationManager` calls `load` before every request. A warm `load` \
             through keyseal-rmcp (the store open, its key loaded; each load checks the file's \
             version, reads through the store on a blocking thread and decodes the JSON) beside \
             rmcp's `InMemoryCredentialStore` (a lock and a clone), measured round by round, and \
             the refresh guard's acquire and release (a `flock` on its file in `<store>.locks/`).\n"
        );
        let _ = writeln!(
            w,
            "| Operation | keyseal-rmcp | rmcp in-memory | keyseal-rmcp / in-memory |\n|---|---|---|---|"
        );
        let _ = writeln!(
            w,
            "| `load` (warm) | {} | {} | {} |",
            ms(&r.load.keyseal),
            ms(&r.load.other),
            times(&r.load.ratio)
        );
        let _ = writeln!(
            w,
            "| `acquire_refresh_guard` + release | {} | (none) | |\n",
            ms(&r.guard)
        );
    }

    fn postgres_md(&self, w: &mut String) {
        let _ = writeln!(
            w,
            "## 12. PostgreSQL: keyseal-postgres beside the file store and the database's floor\n"
        );
        let Some(r) = &self.postgres else {
            let _ = writeln!(w, "Not measured: PostgreSQL is not installed here.\n");
            return;
        };
        let _ = writeln!(
            w,
            "A throwaway PostgreSQL 15 server on loopback (fsync and `synchronous_commit` on, \
             no TLS), started by the harness. The store holds 100 entries of 4 KiB, a {} KiB \
             sealed blob, in one row. A **set** through keyseal-postgres is one transaction: \
             the row locked with `SELECT … FOR UPDATE`, only the blob's ends read back when its \
             version is the one the store holds, the blob resealed and written, the commit \
             flushed to the WAL. Beside it, in the same rounds: a set through the file store \
             (lock, fsync, rename, directory fsync), and the database's floor, one committed \
             `UPDATE` of a row with the same sealed bytes (one byte changed each time; \
             sealed bytes do not compress) on a connection of its own. A warm **get** \
             asks the server for the row's version (one round trip) and decrypts from memory. \
             Medians with the 5th–95th percentile range.\n",
            r.blob_len / 1024
        );
        let _ = writeln!(
            w,
            "| Operation | keyseal-postgres | beside it | keyseal-postgres / beside |\n|---|---|---|---|"
        );
        let _ = writeln!(
            w,
            "| set vs the file store | {} | {} | {} |",
            ms(&r.set_vs_file.keyseal),
            ms(&r.set_vs_file.other),
            times(&r.set_vs_file.ratio)
        );
        let _ = writeln!(
            w,
            "| set vs the floor (`UPDATE`, committed) | {} | {} | {} |",
            ms(&r.set_vs_floor.keyseal),
            ms(&r.set_vs_floor.other),
            times(&r.set_vs_floor.ratio)
        );
        let _ = writeln!(
            w,
            "| get (warm) vs the file store | {} | {} | {} |\n",
            ms(&r.get_vs_file.keyseal),
            ms(&r.get_vs_file.other),
            times(&r.get_vs_file.ratio)
        );
        let _ = writeln!(
            w,
            "What a set adds to the floor, {} ms at the medians, is the transaction's other \
             round trips (its settings, making sure the row exists, the row lock that returns \
             the blob's ends) and resealing the blob on the client; writing the {} KiB row \
             and flushing the WAL is the floor itself, and dominates. Beside the file store a \
             set pays the server's WAL and TOAST writes and the network for the whole blob \
             where the file store writes it once to its own file. A warm get is one round \
             trip for the row's version, against a `stat` for the file.\n",
            sig(r.set_vs_floor.keyseal.median - r.set_vs_floor.other.median),
            r.blob_len / 1024
        );
        let _ = writeln!(
            w,
            "Replicas: separate processes, each with its own store object over the same row, \
             setting 4 names of their own, as in section 7; every replica's last value must be \
             there afterwards. The row lock makes every set one after another, so 8 replicas \
             can at best keep the throughput of one; what they lose is the hand-over of the \
             lock between sessions.\n"
        );
        let _ = writeln!(
            w,
            "| Replicas | Sets (all rounds) | Sets per second | vs 1 replica | Lost updates |\n|---|---|---|---|---|"
        );
        let one = r
            .replicas
            .iter()
            .find(|c| c.processes == 1)
            .map(|c| c.throughput.median);
        for c in &r.replicas {
            let _ = writeln!(
                w,
                "| {} | {} | {} ({}–{}) | {} | {} |",
                c.processes,
                c.sets,
                sig(c.throughput.median),
                sig(c.throughput.low),
                sig(c.throughput.high),
                one.map_or_else(
                    || "–".to_owned(),
                    |o| format!("{:.0}%", c.throughput.median / o * 100.0)
                ),
                c.lost
            );
        }
        let _ = writeln!(w);
    }

    fn aead_md(&self, w: &mut String) {
        let _ = writeln!(w, "## 9. AEAD throughput\n");
        let _ = writeln!(
            w,
            "Each sealer on 4 MiB, beside a plain memory copy of the same bytes (the sealers \
             use the CPU's AES and carry-less multiply instructions when it has them, detected \
             at run time).\n"
        );
        let _ = writeln!(
            w,
            "| Algorithm | seal | open | memcpy | seal throughput | seal / memcpy |\n|---|---|---|---|---|---|"
        );
        for r in &self.aead {
            #[allow(clippy::cast_precision_loss, reason = "4 MiB")]
            let mib = r.bytes as f64 / (1024.0 * 1024.0);
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} MiB/s | {}x |",
                r.algorithm,
                ms(&r.seal),
                ms(&r.open),
                ms(&r.memcpy),
                sig(mib / (r.seal.median / 1e3)),
                sig(r.seal.median / r.memcpy.median)
            );
        }
        let _ = writeln!(w);
    }
}

/// The paragraphs that interpret the numbers.
mod explain {
    use super::{Report, ms, sig};
    use crate::cases::{BundleRow, ScaleRow};
    use keyseal_keys::SessionAlgorithm;

    pub(super) fn floor(r: &Report) -> String {
        let f = &r.files;
        format!(
            "A set costs {} against the floor's {} (the ratio is of rounds measured back to \
             back; this machine's fsync times vary by tens of percent between rounds). The \
             floor writes bytes it already holds; a keyseal set also takes the lock file, \
             checks the first and last bytes of the file against its cache, copies every \
             unchanged record into the new file ({} here), seals the changed record and the \
             index, and sets the file's time: one copy of the file and about a dozen system \
             calls more. Writing the unchanged records from where they already are (a \
             vectored write) would remove the copy.",
            ms(&f.floor.keyseal),
            ms(&f.floor.other),
            super::kib(f.file_bytes)
        )
    }

    pub(super) fn per_item_writes(r: &Report) -> String {
        let p = &r.per_item;
        let f = &r.files;
        let small = r
            .scaling
            .iter()
            .find(|s| s.entries == 10)
            .map_or_else(String::new, |s| {
                format!(
                    " A smaller store writes a smaller file: at 10 entries a set takes {}, {}x \
                     faster than the keyring item.",
                    ms(&s.set.keyseal),
                    sig(p.set.other.median / s.set.keyseal.median)
                )
            });
        format!(
            "One Secret Service item write takes {} here, and the write floor for the same \
             {} entries (a durable write of their bytes, with no encryption at all) takes {}: \
             the disk's own limit is only {}x faster than the keyring. A set that is durable \
             when it returns cannot be 10x faster than the keyring on this disk; keyseal \
             reaches {}x.{small} On a disk with a faster fsync the ratio grows; what a set adds \
             to the floor is in section 1.",
            ms(&p.set.other),
            f.entries,
            ms(&f.floor.other),
            sig(p.set.other.median / f.floor.other.median),
            sig(p.set.speedup.median)
        )
    }

    pub(super) fn per_item_reads(r: &Report) -> String {
        format!(
            "A cached keyseal read takes {}: it checks the file's version with one `stat` and \
             copies the value out of memory; a keyring read takes {}.",
            ms(&r.per_item.get.keyseal),
            ms(&r.per_item.get.other)
        )
    }

    pub(super) fn cold(r: &Report) -> String {
        let beyond = r
            .cold
            .iter()
            .map(|row| format!("{} with the {}", ms(&row.beyond), row.backend))
            .collect::<Vec<_>>()
            .join(" and ");
        format!(
            "Beyond the key load, a new process spends {beyond}. It reads the whole file \
             ({}), though it opens only the index and one record; a new process also pays \
             for the first touch of every page it allocates and runs CPU feature detection \
             for AES and CLMUL once. Reading only the header, the index and the one record \
             asked for (positioned reads) would leave the file's size out of a cold read.",
            super::kib(r.files.file_bytes)
        )
    }

    pub(super) fn key_load_share(r: &Report) -> String {
        let shares: Vec<String> = r
            .cold
            .iter()
            .map(|row| {
                format!(
                    "{:.0}% with the {}",
                    100.0 * row.keyring.median / row.total.median.max(f64::MIN_POSITIVE),
                    row.backend
                )
            })
            .collect();
        format!(
            "The key load's share of the in-process cold start: {}.",
            shares.join(", ")
        )
    }

    pub(super) fn cli(r: &Report, get: &crate::cases::CliGet) -> String {
        let step = |algorithm: SessionAlgorithm| r.steps.iter().find(|s| s.algorithm == algorithm);
        let steps = step(get.algorithm)
            .map(|s| {
                format!(
                    " Of its key load, the D-Bus connection takes {}, the session {}, the search \
                     {} and the secret {}.",
                    super::ms(&s.connection),
                    super::ms(&s.session),
                    super::ms(&s.search),
                    super::ms(&s.secret)
                )
            })
            .unwrap_or_default();
        let cause = match (get.algorithm, step(SessionAlgorithm::Plain)) {
            (SessionAlgorithm::DiffieHellman, Some(plain)) => {
                let dh_session =
                    step(SessionAlgorithm::DiffieHellman).map_or(0.0, |s| s.session.median);
                let exchange = (dh_session - plain.session.median).max(0.0);
                let client = r.dh.schoolbook.median.min(exchange);
                format!(
                    " What stands in the way is the Diffie-Hellman exchange: a `plain` session \
                     opens in {}, so the exchange costs about {exchange:.1} ms. The client's \
                     arithmetic is {} of it as the `secret-service` crate computes it \
                     ({} with a Montgomery exponentiation, which would save about {:.1} ms); \
                     the other {:.1} ms or so are gnome-keyring's side of the exchange, which \
                     no client can remove. `dh` stays the default, as it is libsecret's, \
                     though it does not spare gnome-keyring 42's abort when a client dies \
                     while its session opens: `cargo xtask torture` has seen it with `plain` \
                     and with `dh` (`docs/THREAT-MODEL.md`).",
                    super::ms(&plain.session),
                    super::ms(&r.dh.schoolbook),
                    super::ms(&r.dh.montgomery),
                    (r.dh.schoolbook.median - r.dh.montgomery.median).max(0.0),
                    exchange - client
                )
            }
            _ => " With no key exchange left, what stands in the way is the D-Bus round trips \
                  themselves (the connection's authentication and each call through zbus's \
                  blocking API to gnome-keyring) and the helper thread each keyring call \
                  runs on."
                .to_owned(),
        };
        format!(
            "`keyseal get` with a {} session takes {} against {} for `keyseal --version`, \
             a process that only starts and exits.{steps}{cause}",
            get.algorithm,
            super::ms(&get.get),
            super::ms(&r.cli.version)
        )
    }

    pub(super) fn read20(r: &Report, row: &crate::cases::Read20Row) -> String {
        let short = match row.algorithm {
            SessionAlgorithm::DiffieHellman => "dh",
            _ => "plain",
        };
        let load = r
            .cold
            .iter()
            .find(|c| c.backend.contains(&format!("{short} session")))
            .map_or(0.0, |c| c.keyring.median);
        let start = r.cli.version.median;
        let floor = start + load;
        let needed = row.compared.other.median / 5.0;
        let head = format!(
            "With a {} session, a new process reading 20 entries takes {} with keyseal and {} \
             with one item per secret. 5x needs keyseal at {needed:.2} ms at most; a process \
             that only starts and exits takes {start:.2} ms here and keyseal's one key load \
             {load:.2} ms, {floor:.2} ms together.",
            row.algorithm,
            super::ms(&row.compared.keyseal),
            super::ms(&row.compared.other)
        );
        if floor >= needed {
            format!(
                "{head} That floor alone is above what 5x allows: the process start and the \
                 session bound the ratio whatever keyseal does after its key load."
            )
        } else {
            format!(
                "{head} The other {:.2} ms or so (the helper thread of the keyring call, \
                 reading and opening the store, 20 reads, the exit) would have to shrink to \
                 {:.2} ms; this section's cold-start rows show where they go.",
                (row.compared.keyseal.median - floor).max(0.0),
                (needed - floor).max(0.0)
            )
        }
    }

    pub(super) fn contention(ratio: f64) -> String {
        format!(
            "8 processes keep {:.0}% of one process's throughput. Each set after another \
             process's write reads the new file and opens the records it has not seen, and a \
             waiting process polls the lock (`File::try_lock`, every millisecond at most while \
             the wait is short), so the lock can sit idle between holders. A blocking lock \
             with a timeout would remove the idle gaps.",
            ratio * 100.0
        )
    }

    pub(super) fn bundle(rows: &[BundleRow], scaling: &[ScaleRow]) -> String {
        let refused = rows.iter().find(|b| b.refused.is_some());
        let largest = rows.iter().rfind(|b| b.refused.is_none());
        let mut out = match (refused, largest) {
            (Some(b), _) => format!(
                "gnome-keyring refused the bundle at {} entries ({}).",
                b.entries,
                super::kib(b.bytes as u64)
            ),
            (None, Some(b)) => format!(
                "gnome-keyring accepted every size tried, up to {} entries ({}); it does not \
                 refuse, it slows down: every change re-encrypts and rewrites its whole keyring \
                 file, and the item crosses D-Bus, encrypted with the session key, on every \
                 read and write.",
                b.entries,
                super::kib(b.bytes as u64)
            ),
            (None, None) => String::from("No bundle size was measured."),
        };
        for b in rows {
            if let (Some(set), Some(s)) = (b.set, scaling.iter().find(|s| s.entries == b.entries)) {
                out.push_str(&format!(
                    " At {} entries a bundle write takes {} ms, keyseal's set {} ms ({}x).",
                    b.entries,
                    sig(set.median),
                    sig(s.set.keyseal.median),
                    sig(set.median / s.set.keyseal.median)
                ));
            }
        }
        if let Some(read) = rows.iter().find(|b| b.entries == 100).and_then(|b| b.get) {
            out.push_str(&format!(
                " And every read of one secret reads them all: {} ms at 100 entries, where \
                 keyseal answers from memory.",
                sig(read.median)
            ));
        }
        out.push_str(
            " Elsewhere the wall is hard: Windows' Credential Manager refuses any credential \
             over 2,560 bytes, smaller than one 4 KiB entry (not measurable on this Linux \
             machine).",
        );
        out
    }

    /// Where the set time crosses `limit`, interpolated on the log-log curve.
    fn crossing(rows: &[ScaleRow], limit: f64) -> Option<f64> {
        rows.windows(2).find_map(|pair| {
            let [a, b] = pair else { return None };
            (a.set.keyseal.median <= limit && b.set.keyseal.median > limit).then(|| {
                #[allow(clippy::cast_precision_loss, reason = "entry counts")]
                let (xa, xb) = ((a.entries as f64).ln(), (b.entries as f64).ln());
                let (ya, yb) = (a.set.keyseal.median.ln(), b.set.keyseal.median.ln());
                (xa + (limit.ln() - ya) / (yb - ya) * (xb - xa)).exp()
            })
        })
    }

    pub(super) fn scaling(r: &Report) -> String {
        let rows = &r.scaling;
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            return String::new();
        };
        let item = r.per_item.set.other.median;
        let cross = crossing(rows, item).map_or_else(
            || "over the whole range measured".to_owned(),
            |n| format!("up to about {:.0} entries of 4 KiB", n),
        );
        format!(
            "A set rewrites the whole file, so it grows linearly with the store: {} at {} \
             entries, {} at {} ({} of file). The write floor grows the same way but more \
             slowly ({}x at {} entries): per entry, a set copies the record, lists it in the \
             index and keeps its state, which costs more than the page cache does per byte. \
             A cold open reads the whole file and decodes the whole index but opens one \
             record; a process keeps the file it read and the values it opened in memory. At \
             {} entries opening peaks {} above the process, a set {}. Where it stops being reasonable: a set stays cheaper than \
             writing one keyring item ({} ms) {cross}; the file store's default size limit \
             (16 MiB, about 4,000 entries of 4 KiB; `FileStore::with_max_size` changes it, and \
             this benchmark raises it to 64 MiB for the last row) stops a store first. keyseal \
             is built for credentials: tens to hundreds of tokens of a few KiB. Thousands of \
             large values want a database.",
            ms(&first.set.keyseal),
            first.entries,
            ms(&last.set.keyseal),
            last.entries,
            super::kib(last.file_bytes),
            sig(last.set.ratio.median),
            last.entries,
            last.entries,
            super::kib(last.open_peak_kib * 1024),
            super::kib(last.set_peak_kib * 1024),
            sig(item)
        )
    }
}
