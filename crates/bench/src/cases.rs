//! The nine comparisons. Each returns what the report needs; every
//! contender of one comparison runs on the same entries, sizes and disk,
//! interleaved round by round.

use std::hint::black_box;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keyseal_keys::{Backend, SessionAlgorithm};
use keyseal_seal::{Algorithm, Key};

use crate::children::{self, CONTEND_SLOTS, contend_name, contend_value};
use crate::common::{
    self, BenchKey, Contender, JsonFile, Result, atomic_write, contender, file_len, filler,
    interleave, interleave_all, name, seed, store_at, value,
};
use crate::keyring::PerItem;
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

// ----- 1 and 2: the write floor and a plaintext JSON file -----

/// keyseal beside the write floor and a plaintext JSON file, at 100
/// entries of 4 KiB.
#[derive(Debug)]
pub(crate) struct Files {
    pub(crate) entries: usize,
    pub(crate) file_bytes: u64,
    pub(crate) json_bytes: u64,
    /// keyseal's set beside the write floor.
    pub(crate) floor: Compared,
    /// keyseal's set beside the append floor: 4 KiB appended to an open
    /// file and `fdatasync`, the least a durable one-entry write can cost.
    pub(crate) append: Compared,
    /// keyseal's set beside the JSON file's.
    pub(crate) json_set: Compared,
    /// keyseal's cold get beside the JSON file's.
    pub(crate) json_get: Compared,
}

impl Bench {
    pub(crate) fn files(&self, entries: usize) -> Result<Files> {
        let store_path = self.path("files/store.sealed");
        common::fresh_dir(&self.path("files"))?;
        let provider = self.key.provider();
        let store = store_at(&store_path, Arc::clone(&provider));
        seed(&store, entries)?;
        let file_bytes = file_len(&store_path)?;
        let floor_path = self.path("files/floor.bin");
        let bytes = filler(file_bytes);
        let mut appended = common::AppendFile::create(&self.path("files/append.bin"))?;
        let entry = filler(4096);
        let json = JsonFile::create(self.path("files/secrets.json"), entries)?;
        let json_bytes = file_len(&json.path)?;

        let rounds = self.plan.rounds(60);
        let which = |round: u64| name(usize::try_from(round).unwrap_or(0) % entries);
        let [floor, append, set, json_set] = interleave(
            3,
            rounds,
            [
                contender("write floor", |_| atomic_write(&floor_path, &bytes)),
                contender("append floor", |_| appended.append(&entry)),
                contender("keyseal set", |r| {
                    Ok(store.set(&which(r), &value(0, r + 1))?)
                }),
                contender("JSON file set", |r| json.set(&which(r), &value(0, r + 1))),
            ],
        )?;

        let rounds = self.plan.rounds(200);
        let [cold_get, json_get] = interleave(
            5,
            rounds,
            [
                contender("keyseal cold get", |r| {
                    // A new store: nothing cached, the key already in
                    // memory (keyring loads are measured separately).
                    let store = store_at(&store_path, Arc::clone(&provider));
                    let v: Option<String> = store.get(&which(r))?;
                    black_box(v.ok_or("missing")?);
                    Ok(())
                }),
                contender("JSON file get", |r| {
                    black_box(json.get(&which(r))?.ok_or("missing")?);
                    Ok(())
                }),
            ],
        )?;
        Ok(Files {
            entries,
            file_bytes,
            json_bytes,
            floor: compare(&set, &floor)?,
            append: compare(&set, &append)?,
            json_set: compare(&set, &json_set)?,
            json_get: compare(&cold_get, &json_get)?,
        })
    }
}

// ----- 3: one keyring item per secret -----

/// keyseal beside one Secret Service item per secret.
#[derive(Debug)]
pub(crate) struct PerItemResult {
    pub(crate) set: Compared,
    pub(crate) get: Compared,
    /// A new process reading 20 secrets, each layout with each Secret
    /// Service session algorithm (keyseal's default first).
    pub(crate) read20: Vec<Read20Row>,
}

/// A new process reading 20 secrets, both layouts with one session
/// algorithm.
#[derive(Debug)]
pub(crate) struct Read20Row {
    pub(crate) algorithm: SessionAlgorithm,
    pub(crate) compared: Compared,
}

impl Bench {
    /// The keyring services and store paths the per-item comparison leaves
    /// for the round-trip count.
    fn per_item_service(&self) -> String {
        format!("{}-per-item", self.service)
    }

    fn keyseal_service(&self) -> String {
        format!("{}-store", self.service)
    }

    pub(crate) fn per_item(&self, entries: usize) -> Result<PerItemResult> {
        common::fresh_dir(&self.path("per-item"))?;
        let store_path = self.path("per-item/store.sealed");
        let items = PerItem::connect(&self.per_item_service(), SessionAlgorithm::default())?;
        for i in 0..entries {
            items.set(&name(i), value(i, 0).as_bytes())?;
        }
        let keyseal_service = self.keyseal_service();
        let (store, _) = children::keyring_store(
            (Backend::SecretService, SessionAlgorithm::default()),
            &keyseal_service,
            &store_path,
        );
        seed(&store, entries)?;

        let which = |round: u64| name(usize::try_from(round).unwrap_or(0) % entries);
        let [set, item_set] = interleave(
            2,
            self.plan.rounds(40),
            [
                contender("keyseal set", |r| {
                    Ok(store.set(&which(r), &value(0, r + 1))?)
                }),
                contender("per-item set", |r| {
                    items.set(&which(r), value(0, r + 1).as_bytes())
                }),
            ],
        )?;
        let [get, item_get] = interleave(
            5,
            self.plan.rounds(200),
            [
                contender("keyseal get", |r| {
                    let v: Option<String> = store.get(&which(r))?;
                    black_box(v.ok_or("missing")?);
                    Ok(())
                }),
                contender("per-item get", |r| {
                    black_box(items.get(&which(r))?.ok_or("missing")?);
                    Ok(())
                }),
            ],
        )?;
        let per_item_service = self.per_item_service();
        let store_arg = store_path.display().to_string();
        let mut read20 = Vec::new();
        for algorithm in SessionAlgorithm::ALL {
            let algorithm_arg = algorithm.to_string();
            let algorithm_arg = algorithm_arg.as_str();
            let [keyseal_reads, per_item_reads] = interleave(
                1,
                if self.plan.quick { 5 } else { 20 },
                [
                    contender("keyseal process reading 20", |_| {
                        self.child_output(&[
                            "read20",
                            "keyseal",
                            algorithm_arg,
                            &keyseal_service,
                            &store_arg,
                        ])?;
                        Ok(())
                    }),
                    contender("per-item process reading 20", |_| {
                        self.child_output(&[
                            "read20",
                            "per-item",
                            algorithm_arg,
                            &per_item_service,
                        ])?;
                        Ok(())
                    }),
                ],
            )?;
            read20.push(Read20Row {
                algorithm,
                compared: compare(&keyseal_reads, &per_item_reads)?,
            });
        }
        Ok(PerItemResult {
            set: compare(&set, &item_set)?,
            get: compare(&get, &item_get)?,
            read20,
        })
    }
}

// ----- 4: one bundle item -----

/// One size of the bundle layout.
#[derive(Debug)]
pub(crate) struct BundleRow {
    pub(crate) entries: usize,
    pub(crate) bytes: usize,
    pub(crate) set: Option<Summary>,
    pub(crate) get: Option<Summary>,
    /// What the keyring answered when it refused.
    pub(crate) refused: Option<String>,
}

impl Bench {
    pub(crate) fn bundle(&self) -> Result<Vec<BundleRow>> {
        let items = PerItem::connect(
            &format!("{}-bundle", self.service),
            SessionAlgorithm::default(),
        )?;
        let sizes: &[usize] = if self.plan.quick {
            &[1, 10, 100, 1000]
        } else {
            &[1, 10, 100, 1000, 2500, 5000, 10_000]
        };
        let mut rows = Vec::new();
        for &entries in sizes {
            let map: std::collections::BTreeMap<String, String> =
                (0..entries).map(|i| (name(i), value(i, 0))).collect();
            let json = serde_json::to_vec(&map)?;
            let rounds = match (self.plan.quick, entries) {
                (_, 0..=100) => 5,
                (true, _) | (false, 1001..) => 2,
                (false, _) => 3,
            };
            let mut sets = Vec::new();
            let mut gets = Vec::new();
            let mut refused = None;
            for _ in 0..rounds {
                match common::time(|| items.set("bundle", &json)) {
                    Ok(took) => sets.push(took),
                    Err(e) => {
                        refused = Some(e.to_string());
                        break;
                    }
                }
                match common::time(|| {
                    let got = items.get("bundle")?.ok_or("the bundle item is missing")?;
                    if got.len() == json.len() {
                        Ok(())
                    } else {
                        Err("the bundle came back with another size".into())
                    }
                }) {
                    Ok(took) => gets.push(took),
                    Err(e) => {
                        refused = Some(e.to_string());
                        break;
                    }
                }
            }
            let stop = refused.is_some();
            rows.push(BundleRow {
                entries,
                bytes: json.len(),
                set: Summary::of_millis(&sets),
                get: Summary::of_millis(&gets),
                refused,
            });
            if stop {
                break;
            }
        }
        items.clear()?;
        Ok(rows)
    }
}

// ----- 5: cold start -----

/// A new process opening a store of 100 entries and reading one.
#[derive(Debug)]
pub(crate) struct ColdRow {
    pub(crate) backend: &'static str,
    /// Process start to value in hand.
    pub(crate) total: Summary,
    /// The part spent loading the key from the keyring.
    pub(crate) keyring: Summary,
    /// The rest: opening, decrypting and decoding the file.
    pub(crate) beyond: Summary,
    /// Spawn to exit, seen from the parent.
    pub(crate) process: Summary,
}

impl Bench {
    pub(crate) fn cold_start(&self, entries: usize) -> Result<Vec<ColdRow>> {
        common::fresh_dir(&self.path("cold"))?;
        let backends: [(&'static str, &str); 3] = [
            ("Secret Service, plain session", "secret-service:plain"),
            ("Secret Service, dh session", "secret-service:dh"),
            ("kernel keyring", "kernel"),
        ];
        let mut stores = Vec::new();
        for (label, arg) in backends {
            let file = arg.replace(':', "-");
            let path = self.path(&format!("cold/{file}.sealed"));
            let service = format!("{}-cold-{file}", self.service);
            let (store, _) = children::keyring_store(children::keyring(arg)?, &service, &path);
            seed(&store, entries)?;
            stores.push((label, arg, service, path.display().to_string()));
        }
        let target = name(entries / 2);
        let mut inside: Vec<Vec<(u128, u128)>> = vec![Vec::new(); stores.len()];
        let mut contenders: Vec<Contender<'_>> = Vec::new();
        for ((_, arg, service, path), inside) in stores.iter().zip(inside.iter_mut()) {
            let target = &target;
            contenders.push(contender(arg, move |_| {
                let line = self.child_output(&["cold-start", arg, service, path, target])?;
                match numbers(&line)?.as_slice() {
                    [total, keyring] => inside.push((*total, *keyring)),
                    _ => return Err(format!("cold-start printed {line:?}").into()),
                }
                Ok(())
            }));
        }
        let warmup = 1;
        let process = interleave_all(
            warmup,
            if self.plan.quick { 8 } else { 30 },
            &mut contenders,
        )?;
        drop(contenders);
        let mut rows = Vec::new();
        for (((label, ..), inside), process) in stores.iter().zip(&inside).zip(&process) {
            let kept = inside.get(warmup..).unwrap_or_default();
            let total: Vec<Duration> = kept.iter().map(|(t, _)| nanos(*t)).collect();
            let keyring: Vec<Duration> = kept.iter().map(|(_, k)| nanos(*k)).collect();
            let beyond: Vec<Duration> = kept
                .iter()
                .map(|(t, k)| nanos(t.saturating_sub(*k)))
                .collect();
            rows.push(ColdRow {
                backend: label,
                total: summary(&total)?,
                keyring: summary(&keyring)?,
                beyond: summary(&beyond)?,
                process: summary(process)?,
            });
        }
        Ok(rows)
    }
}

/// The steps of one Secret Service key load in a new process, with one
/// session algorithm.
#[derive(Debug)]
pub(crate) struct StepsRow {
    pub(crate) algorithm: SessionAlgorithm,
    pub(crate) connection: Summary,
    pub(crate) session: Summary,
    pub(crate) search: Summary,
    pub(crate) secret: Summary,
}

/// The client's Diffie-Hellman arithmetic for one session, two ways.
#[derive(Debug)]
pub(crate) struct DhArithmetic {
    pub(crate) schoolbook: Summary,
    pub(crate) montgomery: Summary,
}

impl Bench {
    pub(crate) fn dh_arithmetic(&self) -> Result<DhArithmetic> {
        let rounds = if self.plan.quick { 10 } else { 40 };
        let (mut slow, mut fast) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let (s, f) = crate::keyring::dh_client_arithmetic()?;
            slow.push(s);
            fast.push(f);
        }
        Ok(DhArithmetic {
            schoolbook: summary(&slow)?,
            montgomery: summary(&fast)?,
        })
    }
}

/// The `keyseal` command from spawn to exit: a process that only starts
/// and exits, and `keyseal get` of one entry with its key in the Secret
/// Service, with each session algorithm.
#[derive(Debug)]
pub(crate) struct CliCold {
    pub(crate) version: Summary,
    pub(crate) gets: Vec<CliGet>,
}

/// `keyseal get` with one session algorithm, and its ratio to
/// `keyseal --version`, round by round.
#[derive(Debug)]
pub(crate) struct CliGet {
    pub(crate) algorithm: SessionAlgorithm,
    pub(crate) get: Summary,
    pub(crate) ratio: Summary,
}

impl Bench {
    pub(crate) fn secret_service_steps(&self) -> Result<Vec<StepsRow>> {
        let service = format!("{}-cold-secret-service-plain", self.service);
        // The cold-start store's key is the service's only item.
        let items = keyseal_keys::KeyringItems::new();
        let item = items
            .search(&service)?
            .into_iter()
            .next()
            .ok_or("the cold-start store has no key item")?;
        let rounds = if self.plan.quick { 8 } else { 30 };
        let mut rows = Vec::new();
        for algorithm in SessionAlgorithm::ALL {
            let arg = algorithm.to_string();
            let mut steps: [Vec<Duration>; 4] = Default::default();
            for round in 0..=rounds {
                let line = self.child_output(&["ss-steps", &arg, &service, &item])?;
                let numbers = numbers(&line)?;
                if round == 0 {
                    continue; // warm-up
                }
                for (all, n) in steps.iter_mut().zip(numbers) {
                    all.push(nanos(n));
                }
            }
            let [connection, session, search, secret] = steps;
            rows.push(StepsRow {
                algorithm,
                connection: summary(&connection)?,
                session: summary(&session)?,
                search: summary(&search)?,
                secret: summary(&secret)?,
            });
        }
        Ok(rows)
    }

    pub(crate) fn cli_cold(&self) -> Result<CliCold> {
        let keyseal = std::env::current_exe()?.with_file_name("keyseal");
        if !keyseal.exists() {
            return Err(format!("{} is missing: build keyseal-cli too", keyseal.display()).into());
        }
        common::fresh_dir(&self.path("cli"))?;
        let store = self.path("cli/store.sealed");
        let service = format!("{}-cli", self.service);
        let command = |args: &[&str], session: &str| {
            let mut cmd = Command::new(&keyseal);
            cmd.args(args)
                .env("KEYSEAL_KEYS", "keyring")
                .env("KEYSEAL_SERVICE", &service)
                .env("KEYSEAL_STORE", &store)
                .env("KEYSEAL_SECRET_SERVICE_SESSION", session)
                .env("XDG_STATE_HOME", self.path("cli/state"))
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            cmd
        };
        let mut seed = command(&["set", "token"], "dh")
            .stdin(Stdio::piped())
            .spawn()?;
        seed.stdin
            .take()
            .ok_or("no stdin")?
            .write_all(value(0, 0).as_bytes())?;
        if !seed.wait()?.success() {
            return Err("keyseal set failed".into());
        }
        let run = |args: &[&str], session: &str| -> Result {
            let out = command(args, session).output()?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "keyseal {args:?} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
                .into())
            }
        };
        let sessions: Vec<String> = SessionAlgorithm::ALL
            .iter()
            .map(ToString::to_string)
            .collect();
        let mut contenders = vec![contender("keyseal --version", |_| {
            run(&["--version"], "dh")
        })];
        for session in &sessions {
            contenders.push(contender("keyseal get", move |_| {
                run(&["get", "token"], session)
            }));
        }
        let times = interleave_all(2, if self.plan.quick { 10 } else { 40 }, &mut contenders)?;
        drop(contenders);
        let Some((version, get_times)) = times.split_first() else {
            return Err("no measurements".into());
        };
        let mut gets = Vec::new();
        for (algorithm, get) in SessionAlgorithm::ALL.into_iter().zip(get_times) {
            gets.push(CliGet {
                algorithm,
                get: summary(get)?,
                ratio: ratio(get, version)?,
            });
        }
        Ok(CliCold {
            version: summary(version)?,
            gets,
        })
    }
}

// ----- 6: scaling -----

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

// ----- 7: contention -----

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
        let per_process = if self.plan.quick { 15 } else { 40 };
        let rounds = if self.plan.quick { 2 } else { 5 };
        let mut rates: Vec<Vec<f64>> = vec![Vec::new(); counts.len()];
        let mut lost = vec![0usize; counts.len()];
        for round in 0..rounds {
            for k in 0..counts.len() {
                let at = (k + round) % counts.len();
                let processes = counts.get(at).copied().unwrap_or(1);
                let (rate, missing) =
                    self.contend(&store_path, &store_path, processes, per_process)?;
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

// ----- 8: keyring round trips -----

/// The mixed workload in a new process, per layout.
#[derive(Debug)]
pub(crate) struct RoundTrips {
    pub(crate) layout: &'static str,
    pub(crate) calls: usize,
    pub(crate) elapsed: Duration,
}

impl Bench {
    pub(crate) fn round_trips(&self) -> Result<Vec<RoundTrips>> {
        // The stores of the per-item comparison: 100 entries each.
        let store_path = self.path("per-item/store.sealed").display().to_string();
        let mut rows = Vec::new();
        for (layout, args) in [
            (
                "keyseal",
                vec!["mixed", "keyseal", &self.keyseal_service(), &store_path],
            ),
            (
                "per-item",
                vec!["mixed", "per-item", &self.per_item_service()],
            ),
        ] {
            let line = self.child_output(&args)?;
            match numbers(&line)?.as_slice() {
                [calls, elapsed] => rows.push(RoundTrips {
                    layout,
                    calls: usize::try_from(*calls)?,
                    elapsed: nanos(*elapsed),
                }),
                _ => return Err(format!("mixed printed {line:?}").into()),
            }
        }
        Ok(rows)
    }

    /// Removes every keyring item the run made.
    pub(crate) fn clean_keyrings(&self) -> Result {
        PerItem::connect(&self.per_item_service(), SessionAlgorithm::default())?.clear()?;
        // Each store's key is an item of its own (`store-key.<key id>`):
        // remove every item of the services the run used.
        let items = keyseal_keys::KeyringItems::new();
        for service in [
            self.keyseal_service(),
            format!("{}-cold-secret-service-plain", self.service),
            format!("{}-cold-secret-service-dh", self.service),
            format!("{}-cli", self.service),
            self.keyring_core_service(),
            format!("{}-native", self.keyring_core_service()),
        ] {
            for name in items.search(&service)? {
                items.delete(&service, &name)?;
            }
        }
        keyseal_testkit::remove_kernel_keys(&format!("{}-cold-kernel", self.service));
        Ok(())
    }
}

// ----- 9: AEAD throughput -----

/// One sealer on 4 MiB.
#[derive(Debug)]
pub(crate) struct AeadRow {
    pub(crate) algorithm: &'static str,
    pub(crate) bytes: usize,
    pub(crate) seal: Summary,
    pub(crate) open: Summary,
    pub(crate) memcpy: Summary,
}

impl Bench {
    pub(crate) fn aead(&self) -> Result<Vec<AeadRow>> {
        const LEN: usize = 4 << 20;
        let plaintext = filler(LEN as u64);
        let mut copy = vec![0u8; LEN];
        let key = Key::generate()?;
        let rounds = self.plan.rounds(40);
        let mut rows = Vec::new();
        for algorithm in [Algorithm::Aes256Gcm, Algorithm::XChaCha20Poly1305] {
            let sealer = algorithm.sealer();
            let nonce = vec![7u8; algorithm.nonce_len()];
            let sealed = sealer.seal(&key, &nonce, b"bench", &plaintext)?;
            let [seal, open, memcpy] = interleave(
                2,
                rounds,
                [
                    contender("seal", |_| {
                        black_box(sealer.seal(&key, &nonce, b"bench", black_box(&plaintext))?);
                        Ok(())
                    }),
                    contender("open", |_| {
                        black_box(sealer.open(&key, &nonce, b"bench", black_box(&sealed))?);
                        Ok(())
                    }),
                    contender("memcpy", |_| {
                        copy.copy_from_slice(black_box(&plaintext));
                        black_box(&copy);
                        Ok(())
                    }),
                ],
            )?;
            rows.push(AeadRow {
                algorithm: algorithm.name(),
                bytes: LEN,
                seal: summary(&seal)?,
                open: summary(&open)?,
                memcpy: summary(&memcpy)?,
            });
        }
        Ok(rows)
    }
}

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
