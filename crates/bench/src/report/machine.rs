//! The machine and the build the numbers come from.

use std::path::Path;

use super::table::Table;

/// The machine, the build and the command of a run.
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

impl Machine {
    /// The machine table, with the run's length.
    pub(crate) fn table(&self, seconds: f64) -> Table {
        let mut table = Table::new(&["", ""]);
        table.row(["Command".to_owned(), format!("`{}`", self.command)]);
        if self.quick {
            table.row([
                "Run".to_owned(),
                "`--quick`: fewer rounds and a smaller bundle ladder, a smoke test, not the published numbers".to_owned(),
            ]);
        }
        for (k, v) in &self.facts {
            table.row([(*k).to_owned(), v.clone()]);
        }
        table.row(["Run time".to_owned(), format!("{seconds:.0} s")]);
        table
    }
}
