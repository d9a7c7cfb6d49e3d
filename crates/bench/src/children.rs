//! What the harness runs in fresh processes (it re-executes itself): cold
//! starts, a process reading 20 secrets, the 1,000-operation workload, a
//! contending writer, and memory peaks.
//!
//! Children print their measurements on one line of standard output.
//!
//! Three more modes are not part of a run; they are for profiling one path
//! by hand with the key in `KEYSEAL_BENCH_KEY`, for example
//! `perf record -g -- keyseal-bench child sets STORE 1000`: `seed STORE N`
//! fills a store, `sets STORE N` makes N sets, `open STORE NAME` is a cold
//! read that prints its time.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use keyseal::Store;
use keyseal_keys::{Backend, KeyringProvider, SessionAlgorithm};

use crate::common::{self, Result, Rng, env_store, name, store_at, value};
use crate::keyring::{Counting, PerItem};

/// The keyring item name of keyseal's key in every benchmark store.
pub(crate) const KEY_ITEM: &str = keyseal::KEY_ITEM_NAME;

/// How many operations the mixed workload runs.
pub(crate) const MIXED_OPS: usize = 1000;

/// A measurement in a fresh process: `keyseal-bench child MODE ...`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ChildMode {
    /// Opens the store and reads one entry; prints the time since the
    /// process started and the part spent loading the key.
    ColdStart {
        /// `secret-service:plain`, `secret-service:dh` or `kernel`.
        keyring: String,
        service: String,
        store: PathBuf,
        entry: String,
    },
    /// Reads 20 secrets, through keyseal or one item per secret.
    Read20 {
        /// `keyseal` or `per-item`.
        layout: String,
        algorithm: SessionAlgorithm,
        service: String,
        /// keyseal's store (for the `keyseal` layout).
        store: Option<PathBuf>,
    },
    /// Times each step of one Secret Service key load.
    SsSteps {
        algorithm: SessionAlgorithm,
        service: String,
        item: String,
    },
    /// The 1,000-operation workload; prints the keyring calls it made.
    Mixed {
        /// `keyseal` or `per-item`.
        layout: String,
        service: String,
        /// keyseal's store (for the `keyseal` layout).
        store: Option<PathBuf>,
    },
    /// A contending writer: `sets` numbered sets of its own names.
    Contend {
        store: PathBuf,
        worker: usize,
        sets: usize,
    },
    /// The process's memory, and its peaks while opening and setting.
    Memory { store: PathBuf, entry: String },
    /// Profiling by hand: fills a store with `entries` entries.
    Seed { store: PathBuf, entries: usize },
    /// Profiling by hand: `count` sets.
    Sets { store: PathBuf, count: u64 },
    /// Profiling by hand: a cold read that prints its time.
    Open { store: PathBuf, entry: String },
}

/// Runs one child mode, the process started at `started`.
pub(crate) fn run(started: Instant, mode: ChildMode) -> Result {
    match mode {
        ChildMode::ColdStart {
            keyring: backend,
            service,
            store,
            entry,
        } => cold_start(started, &backend, &service, &store, &entry),
        ChildMode::Read20 {
            layout,
            algorithm,
            service,
            store,
        } => read20(&layout, algorithm, &service, store.as_deref()),
        ChildMode::SsSteps {
            algorithm,
            service,
            item,
        } => {
            let steps = crate::keyring::load_steps(algorithm, &service, &item)?;
            println!(
                "{} {} {} {}",
                steps.connection, steps.session, steps.search, steps.secret
            );
            Ok(())
        }
        ChildMode::Mixed {
            layout,
            service,
            store,
        } => mixed(&layout, &service, store.as_deref()),
        ChildMode::Contend {
            store,
            worker,
            sets,
        } => contend(&store, worker, sets),
        ChildMode::Memory { store, entry } => memory(&store, &entry),
        ChildMode::Seed { store, entries } => common::seed(&env_store(&store), entries),
        ChildMode::Sets { store, count } => {
            let store = env_store(&store);
            for round in 0..count {
                store.set(&name(usize::try_from(round % 100)?), &value(0, round))?;
            }
            Ok(())
        }
        ChildMode::Open { store, entry } => {
            let value: Option<String> = env_store(&store).get(&entry)?;
            println!(
                "{} {}",
                started.elapsed().as_nanos(),
                value.map_or(0, |v| v.len())
            );
            Ok(())
        }
    }
}

/// Where a benchmark store keeps its key: `secret-service:plain`,
/// `secret-service:dh` or `kernel`.
pub(crate) fn keyring(name: &str) -> Result<(Backend, SessionAlgorithm)> {
    match name.split_once(':') {
        Some(("secret-service", algorithm)) => Ok((Backend::SecretService, algorithm.parse()?)),
        None if name == "kernel" => Ok((Backend::KernelKeyring, SessionAlgorithm::default())),
        _ => Err(format!("unknown keyring {name}").into()),
    }
}

/// keyseal's store at `path` with its key in the keyring, the provider
/// counted.
pub(crate) fn keyring_store(
    (backend, algorithm): (Backend, SessionAlgorithm),
    service: &str,
    path: &Path,
) -> (Store, Arc<Counting<KeyringProvider>>) {
    let provider = Arc::new(Counting::new(
        KeyringProvider::builder(service, KEY_ITEM)
            .backend(backend)
            .secret_service_session(algorithm)
            .build(),
    ));
    (store_at(path, Arc::clone(&provider)), provider)
}

/// A new process opens the store and reads one entry; prints the time
/// since the process started and the part of it spent loading the key.
fn cold_start(
    started: Instant,
    backend_name: &str,
    service: &str,
    path: &Path,
    entry: &str,
) -> Result {
    let (store, provider) = keyring_store(keyring(backend_name)?, service, path);
    let value: Option<String> = store.get(entry)?;
    let total = started.elapsed();
    if value.is_none_or(|v| v.len() != common::VALUE_LEN) {
        return Err(format!("entry {entry} is missing or has the wrong size").into());
    }
    println!("{} {}", total.as_nanos(), provider.load_nanos());
    Ok(())
}

/// A new process reads 20 secrets (the per-item layout or keyseal), with
/// this Secret Service session algorithm.
fn read20(layout: &str, algorithm: SessionAlgorithm, service: &str, path: Option<&Path>) -> Result {
    match (layout, path) {
        ("per-item", _) => {
            let items = PerItem::connect(service, algorithm)?;
            for i in 0..20 {
                if items.get(&name(i))?.is_none() {
                    return Err(format!("item {} is missing", name(i)).into());
                }
            }
        }
        ("keyseal", Some(path)) => {
            let (store, _) = keyring_store((Backend::SecretService, algorithm), service, path);
            for i in 0..20 {
                if store.get::<String>(&name(i))?.is_none() {
                    return Err(format!("entry {} is missing", name(i)).into());
                }
            }
        }
        _ => {
            return Err(
                "read20 per-item ALGORITHM SERVICE | read20 keyseal ALGORITHM SERVICE STORE".into(),
            );
        }
    }
    Ok(())
}

/// One operation of the mixed workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Get(String),
    Set(String, u64),
    List,
    Remove(String),
}

/// The mixed workload: 70% gets, 20% sets (some of new names), 5% lists,
/// 5% removes of names the sets may have added; the same every run.
pub(crate) fn mixed_ops() -> Vec<Op> {
    let mut rng = Rng::new(0x5EED);
    (0..MIXED_OPS as u64)
        .map(|round| match rng.below(100) {
            0..70 => Op::Get(name(rng.below(100))),
            70..90 => Op::Set(name(rng.below(120)), round),
            90..95 => Op::List,
            _ => Op::Remove(name(100 + rng.below(20))),
        })
        .collect()
}

/// Runs the mixed workload in this new process; prints the keyring
/// operations it cost and the time it took.
fn mixed(layout: &str, service: &str, path: Option<&Path>) -> Result {
    let ops = mixed_ops();
    let started = Instant::now();
    let calls = match (layout, path) {
        ("per-item", _) => {
            let items = PerItem::connect(service, SessionAlgorithm::default())?;
            for op in &ops {
                match op {
                    Op::Get(n) => drop(items.get(n)?),
                    Op::Set(n, round) => items.set(n, value(0, *round).as_bytes())?,
                    Op::List => drop(items.list()?),
                    Op::Remove(n) => drop(items.remove(n)?),
                }
            }
            items.calls()
        }
        ("keyseal", Some(path)) => {
            let (store, provider) = keyring_store(
                (Backend::SecretService, SessionAlgorithm::default()),
                service,
                path,
            );
            for op in &ops {
                match op {
                    Op::Get(n) => drop(store.get::<String>(n)?),
                    Op::Set(n, round) => store.set(n, &value(0, *round))?,
                    Op::List => drop(store.list()?),
                    Op::Remove(n) => drop(store.remove(n)?),
                }
            }
            provider.calls()
        }
        _ => return Err("mixed per-item SERVICE | mixed keyseal SERVICE STORE".into()),
    };
    println!("{calls} {}", started.elapsed().as_nanos());
    Ok(())
}

/// The value a contending writer stores: who, which write, padded to 4 KiB.
pub(crate) fn contend_value(worker: usize, seq: usize) -> String {
    let head = format!("{worker}:{seq}:");
    let pad = common::VALUE_LEN.saturating_sub(head.len());
    head + &"x".repeat(pad)
}

/// The entry names of writer `worker`.
pub(crate) fn contend_name(worker: usize, slot: usize) -> String {
    format!("writer-{worker}-{slot}")
}

/// How many names each contending writer cycles through.
pub(crate) const CONTEND_SLOTS: usize = 4;

fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// A contending writer: says "ready", waits for a line on standard input,
/// then makes `sets` sets of its own names; prints when it started and
/// ended (Unix nanoseconds).
fn contend(path: &Path, worker: usize, sets: usize) -> Result {
    let store = env_store(path);
    // The one key load happens before the start line, as in a process that
    // has been running for a while.
    store.list()?;
    println!("ready");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let start = unix_nanos();
    for seq in 0..sets {
        store.set(
            &contend_name(worker, seq % CONTEND_SLOTS),
            &contend_value(worker, seq),
        )?;
    }
    println!("{start} {}", unix_nanos());
    Ok(())
}

/// Peak resident memory (KiB) while opening the store and reading one
/// entry, then while setting one, each above this process's baseline.
fn memory(path: &Path, entry: &str) -> Result {
    let store = env_store(path);
    reset_peak()?;
    let baseline = status_kib("VmRSS")?;
    let value: Option<String> = store.get(entry)?;
    let open_peak = status_kib("VmHWM")?;
    let value = value.ok_or("the entry is missing")?;
    reset_peak()?;
    store.set(entry, &value)?;
    let set_peak = status_kib("VmHWM")?;
    println!("{baseline} {open_peak} {set_peak}");
    Ok(())
}

/// Resets this process's peak resident size to its current size.
fn reset_peak() -> Result {
    Ok(std::fs::write("/proc/self/clear_refs", "5")?)
}

fn status_kib(field: &str) -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/self/status").into())
}
