//! One table per block of `BENCHMARKS.md`, from what the run measured.
//! Tables only: what they mean is the document's prose.

use keyseal_keys::SessionAlgorithm;

use super::Report;
use super::goals::{self, Metric};
use super::table::{Table, kib, ms, percent, rate, sig, times};
use crate::cases::{Compared, ContentionRow, ScaleRow};
use crate::stats::Summary;

/// A row comparing keyseal with a baseline: both times and their ratio.
fn compared_row(what: String, c: &Compared, ratio: &Summary) -> [String; 4] {
    [what, ms(&c.keyseal), ms(&c.other), times(ratio)]
}

pub(super) fn files(r: &Report) -> Table {
    let f = &r.files;
    let mut t = Table::new(&["Operation", "keyseal", "Baseline", "keyseal / baseline"]);
    for (what, c) in [
        ("set vs write floor", &f.floor),
        ("set vs append floor", &f.append),
        ("set vs JSON file set", &f.json_set),
        ("cold get vs JSON file get", &f.json_get),
    ] {
        t.row(compared_row(what.to_owned(), c, &c.ratio));
    }
    t.row([
        format!("file, {} entries", f.entries),
        format!("{} ({} bytes)", kib(f.file_bytes), f.file_bytes),
        format!("{} (JSON)", kib(f.json_bytes)),
        String::new(),
    ]);
    t
}

pub(super) fn per_item(r: &Report) -> Table {
    let p = &r.per_item;
    let mut t = Table::new(&[
        "Operation",
        "keyseal",
        "One item per secret",
        "keyseal faster by",
    ]);
    t.row(compared_row("set".to_owned(), &p.set, &p.set.speedup));
    t.row(compared_row(
        "get (cached)".to_owned(),
        &p.get,
        &p.get.speedup,
    ));
    for row in &p.read20 {
        let what = format!("new process reads 20 ({} session)", row.algorithm);
        t.row(compared_row(what, &row.compared, &row.compared.speedup));
    }
    t
}

pub(super) fn bundle(r: &Report) -> Table {
    let mut t = Table::new(&[
        "Entries",
        "Item size",
        "set",
        "get",
        "keyring answer",
        "keyseal set (section 6)",
        "bundle set / keyseal set (medians)",
    ]);
    let cell = |s: &Option<Summary>| s.as_ref().map_or_else(|| "–".to_owned(), ms);
    for row in &r.bundle {
        let keyseal = r.scaling.iter().find(|s| s.entries == row.entries);
        t.row([
            row.entries.to_string(),
            kib(row.bytes as u64),
            cell(&row.set),
            cell(&row.get),
            row.refused
                .as_deref()
                .map_or_else(|| "accepted".to_owned(), |e| format!("refused: {e}")),
            keyseal.map_or_else(|| "–".to_owned(), |s| ms(&s.set.keyseal)),
            match (row.set, keyseal) {
                (Some(set), Some(s)) => format!("{}x", sig(set.median / s.set.keyseal.median)),
                _ => "–".to_owned(),
            },
        ]);
    }
    t
}

pub(super) fn cold(r: &Report) -> Table {
    let mut t = Table::new(&[
        "Key in",
        "In process",
        "Key load",
        "Beyond the key load",
        "Key load's share",
        "Spawn to exit",
    ]);
    for row in &r.cold {
        t.row([
            row.backend.to_owned(),
            ms(&row.total),
            ms(&row.keyring),
            ms(&row.beyond),
            percent(row.keyring.median, row.total.median),
            ms(&row.process),
        ]);
    }
    t
}

pub(super) fn key_load_steps(r: &Report) -> Table {
    let mut t = Table::new(&[
        "Session",
        "Connection",
        "Session",
        "Search",
        "Secret",
        "Total",
    ]);
    for row in &r.steps {
        let total =
            row.connection.median + row.session.median + row.search.median + row.secret.median;
        t.row([
            row.algorithm.to_string(),
            ms(&row.connection),
            ms(&row.session),
            ms(&row.search),
            ms(&row.secret),
            format!("{} ms", sig(total)),
        ]);
    }
    t
}

pub(super) fn dh_arithmetic(r: &Report) -> Table {
    let mut t = Table::new(&["The client's two exponentiations", "Time"]);
    t.row([
        "square-and-multiply, a full division after each product (the `secret-service` crate)"
            .to_owned(),
        ms(&r.dh.schoolbook),
    ]);
    t.row([
        "Montgomery exponentiation (`BigUint::modpow`)".to_owned(),
        ms(&r.dh.montgomery),
    ]);
    t
}

pub(super) fn command(r: &Report) -> Table {
    let mut t = Table::new(&["Command", "Spawn to exit", "vs `keyseal --version`"]);
    t.row([
        "`keyseal --version`".to_owned(),
        ms(&r.cli.version),
        "1x".to_owned(),
    ]);
    for get in &r.cli.gets {
        t.row([
            format!("`keyseal get` ({} session)", get.algorithm),
            ms(&get.get),
            times(&get.ratio),
        ]);
    }
    t
}

pub(super) fn scaling(r: &Report) -> Table {
    let mut t = Table::new(&[
        "Entries",
        "File",
        "set",
        "write floor",
        "set / floor",
        "cold open",
        "memory: process",
        "peak while opening",
        "peak while setting",
    ]);
    for s in &r.scaling {
        t.row([
            s.entries.to_string(),
            kib(s.file_bytes),
            ms(&s.set.keyseal),
            ms(&s.set.other),
            times(&s.set.ratio),
            ms(&s.cold_open),
            kib(s.baseline_kib * 1024),
            format!("+{}", kib(s.open_peak_kib * 1024)),
            format!("+{}", kib(s.set_peak_kib * 1024)),
        ]);
    }
    t
}

/// Section 7's table (`who` "process"), and section 12's replicas
/// (`who` "replica").
pub(super) fn contention(rows: &[ContentionRow], who: &str) -> Table {
    let count = match who {
        "replica" => "Replicas",
        _ => "Processes",
    };
    let vs = format!("vs 1 {who}");
    let mut t = Table::new(&[
        count,
        "Sets (all rounds)",
        "Sets per second",
        &vs,
        "Lost updates",
    ]);
    let one = rows
        .iter()
        .find(|r| r.processes == 1)
        .map(|r| r.throughput.median);
    for row in rows {
        t.row([
            row.processes.to_string(),
            row.sets.to_string(),
            rate(&row.throughput),
            one.map_or_else(|| "–".to_owned(), |o| percent(row.throughput.median, o)),
            row.lost.to_string(),
        ]);
    }
    t
}

pub(super) fn round_trips(r: &Report) -> Table {
    let mut t = Table::new(&[
        "Layout",
        "Keyring operations",
        "Time for the workload (one run)",
    ]);
    for row in &r.round_trips {
        t.row([
            row.layout.to_owned(),
            row.calls.to_string(),
            format!("{} ms", sig(row.elapsed.as_secs_f64() * 1e3)),
        ]);
    }
    t
}

pub(super) fn aead(r: &Report) -> Table {
    let mut t = Table::new(&[
        "Algorithm",
        "seal",
        "open",
        "memcpy",
        "seal throughput",
        "seal / memcpy",
    ]);
    for row in &r.aead {
        #[allow(clippy::cast_precision_loss, reason = "4 MiB")]
        let mib = row.bytes as f64 / (1024.0 * 1024.0);
        t.row([
            row.algorithm.to_owned(),
            ms(&row.seal),
            ms(&row.open),
            ms(&row.memcpy),
            format!("{} MiB/s", sig(mib / (row.seal.median / 1e3))),
            format!("{}x", sig(row.seal.median / row.memcpy.median)),
        ]);
    }
    t
}

pub(super) fn keyring_core(r: &Report) -> Table {
    let mut t = Table::new(&[
        "Operation",
        "Entries",
        "keyseal-keyring-store",
        "zbus-secret-service-keyring-store",
        "native / keyseal",
    ]);
    for row in &r.keyring_core {
        t.row([
            format!("`{}`", row.operation),
            row.entries.to_string(),
            ms(&row.compared.keyseal),
            ms(&row.compared.other),
            times(&row.compared.speedup),
        ]);
    }
    t
}

pub(super) fn rmcp(r: &Report) -> Table {
    let mut t = Table::new(&[
        "Operation",
        "keyseal-rmcp",
        "rmcp in-memory",
        "keyseal-rmcp / in-memory",
    ]);
    t.row(compared_row(
        "`load` (warm)".to_owned(),
        &r.rmcp.load,
        &r.rmcp.load.ratio,
    ));
    t.row([
        "`acquire_refresh_guard` + release".to_owned(),
        ms(&r.rmcp.guard),
        "(none)".to_owned(),
        String::new(),
    ]);
    t
}

/// Section 12's comparison; `None` where PostgreSQL is not installed.
pub(super) fn postgres(r: &Report) -> Option<Table> {
    let p = r.postgres.as_ref()?;
    let mut t = Table::new(&[
        "Operation",
        "keyseal-postgres",
        "beside it",
        "keyseal-postgres / beside",
    ]);
    for (what, c) in [
        ("set vs the file store", &p.set_vs_file),
        ("set vs the floor (`UPDATE`, committed)", &p.set_vs_floor),
        ("get (warm) vs the file store", &p.get_vs_file),
    ] {
        t.row(compared_row(what.to_owned(), c, &c.ratio));
    }
    t.row([
        "the sealed blob in the row".to_owned(),
        kib(p.blob_len),
        String::new(),
        String::new(),
    ]);
    Some(t)
}

/// The quantities that bound the goals, derived from the other tables.
pub(super) fn limits(r: &Report) -> Table {
    let mut t = Table::new(&["Quantity", "Value"]);
    let item_write = r.per_item.set.other.median;
    t.row([
        "one Secret Service item write over the write floor of 100 entries: the most any durable set of this store can gain on the keyring".to_owned(),
        format!("{}x", sig(item_write / r.files.floor.other.median)),
    ]);
    if let Some(small) = r.scaling.iter().find(|s| s.entries == 10) {
        t.row([
            "one Secret Service item write over keyseal's set of a 10-entry store".to_owned(),
            format!("{}x", sig(item_write / small.set.keyseal.median)),
        ]);
    }
    t.row([
        "entries of 4 KiB up to which a set costs less than one Secret Service item write"
            .to_owned(),
        crossing(&r.scaling, item_write).map_or_else(
            || "no crossing in the sizes measured".to_owned(),
            |n| format!("about {n:.0}"),
        ),
    ]);
    for row in &r.per_item.read20 {
        let short = match row.algorithm {
            SessionAlgorithm::DiffieHellman => "dh",
            _ => "plain",
        };
        let load = r
            .cold
            .iter()
            .find(|c| c.backend.contains(&format!("{short} session")))
            .map_or(0.0, |c| c.keyring.median);
        if let Some(speedup) = goals::bound(Metric::Read20Speedup(row.algorithm)) {
            t.row([
                format!(
                    "a new process reading 20, {short} sessions: the most keyseal may take for {speedup}x"
                ),
                format!("{} ms", sig(row.compared.other.median / speedup)),
            ]);
        }
        t.row([
            format!("a new process reading 20, {short} sessions: a process start (`keyseal --version`) and one key load, the least keyseal can take"),
            format!("{} ms", sig(r.cli.version.median + load)),
        ]);
    }
    let session = |algorithm| {
        r.steps
            .iter()
            .find(|s| s.algorithm == algorithm)
            .map(|s| s.session.median)
    };
    if let (Some(dh), Some(plain)) = (
        session(SessionAlgorithm::DiffieHellman),
        session(SessionAlgorithm::Plain),
    ) {
        t.row([
            "the Diffie-Hellman exchange: opening a dh session beyond a plain one".to_owned(),
            format!("{} ms", sig(dh - plain)),
        ]);
    }
    if let Some(p) = &r.postgres {
        t.row([
            "keyseal-postgres: a set beyond the floor's committed `UPDATE` (medians)".to_owned(),
            format!(
                "{} ms",
                sig(p.set_vs_floor.keyseal.median - p.set_vs_floor.other.median)
            ),
        ]);
    }
    t
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
