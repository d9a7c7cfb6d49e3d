//! `cargo xtask torture`: real processes under crashes, contention, hostile
//! input and faults. Every `torture_*` test is `#[ignore]`d (the xtask runs
//! them, sized by `KEYSEAL_TORTURE_QUICK`), prints what it tried and what
//! survived, and appends one JSON line per category to the file named by
//! `KEYSEAL_TORTURE_REPORT`.
#![cfg(test)]
#![cfg(target_os = "linux")]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use keyseal::blob::FileStore;
use keyseal::keys::{Backend, EnvKeyProvider, KeyProvider, KeyringProvider, MemoryKeyProvider};
use keyseal::{Error, ExposeSecret, Store};
use keyseal_testkit::{child, child_line, is_child, unique};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const CONTEXT: &str = "keyseal-torture";

fn quick() -> bool {
    std::env::var_os("KEYSEAL_TORTURE_QUICK").is_some_and(|v| v == "1")
}

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(unique(tag));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    fn store(&self) -> PathBuf {
        self.0.join("store.sealed")
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg(&self.0)
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One row of the report: what was tried and what survived.
fn report(category: &str, tried: usize, survived: usize, lost: usize, note: &str) {
    keyseal_testkit::torture_report(category, tried, survived, lost, note);
    assert_eq!(lost, 0, "{category}: {lost} lost");
    assert_eq!(
        tried,
        survived,
        "{category}: {} did not survive",
        tried - survived
    );
}

/// xorshift64*, seeded from the clock (printed, and replayable).
struct Rng(u64);

impl Rng {
    fn seeded(what: &str) -> Self {
        let seed = std::env::var("KEYSEAL_TORTURE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        println!("{what}: KEYSEAL_TORTURE_SEED={seed}");
        Self(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

// ----- crash: SIGKILL at random moments during sets, removes, rotations, migrations -----

fn kernel(service: &str) -> KeyringProvider {
    KeyringProvider::builder(service, "store-key")
        .backend(Backend::KernelKeyring)
        .build()
}

fn crash_store(path: &Path, service: &str) -> Store {
    Store::builder(
        kernel(service),
        FileStore::new(path).with_lock_timeout(Duration::from_secs(30)),
        CONTEXT,
    )
    .build()
}

/// A worker: forever, a random operation; `begin` before, `ack` after success.
#[test]
#[ignore = "child process of torture_crash"]
fn child_crash_worker() {
    if !is_child() {
        return;
    }
    let path = std::env::var("KEYSEAL_TEST_PATH").unwrap();
    let service = std::env::var("KEYSEAL_TEST_SERVICE").unwrap();
    let legacy = std::env::var("KEYSEAL_TEST_LEGACY").ok();
    let me: u64 = std::env::var("KEYSEAL_TEST_WORKER")
        .unwrap()
        .parse()
        .unwrap();
    let store = crash_store(path.as_ref(), &service);
    let mut rng = Rng(me.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        | 1 ^ SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64);
    let out = std::io::stdout();
    for seq in 0..1_000_000u64 {
        let name = format!("w{me}-n{}", rng.below(4));
        let roll = rng.below(100);
        let ops = std::env::var("KEYSEAL_TORTURE_OPS")
            .unwrap_or_else(|_| "set,rm,rotate,migrate".to_owned());
        let line = |s: String| {
            let mut o = out.lock();
            writeln!(o, "{s}").unwrap();
            o.flush().unwrap();
        };
        if roll < 60 {
            let value = format!("w{me}-s{seq}-{}", rng.next());
            line(format!("begin set {name} {value}"));
            store.set_bytes(&name, value.as_bytes()).unwrap();
            line(format!("ack set {name} {value}"));
        } else if roll < 85 {
            line(format!("begin rm {name}"));
            store.remove(&name).unwrap();
            line(format!("ack rm {name}"));
        } else if roll < 95 && ops.contains("rotate") {
            line("begin rotate".to_owned());
            match store.rotate_key() {
                Ok(_) | Err(Error::NoStore { .. }) => {}
                Err(e) => panic!("rotate: {e}"),
            }
            line("ack rotate".to_owned());
        } else if let Some(legacy) = &legacy {
            line("begin migrate".to_owned());
            let layout = keyseal_migrate::Layout::new(legacy.as_str()).with_item_prefix("tok:");
            keyseal_migrate::migrate(
                &store,
                &keyseal_migrate::KeyringSource::new(),
                &layout,
                &keyseal_migrate::Options::raw(),
            )
            .unwrap();
            line("ack migrate".to_owned());
        }
    }
}

/// What the parent knows of one name: the last acknowledged state, and the
/// states of operations begun after it whose outcome is unknown.
#[derive(Default, Clone)]
struct Known {
    acked: Option<Option<String>>, // Some(None): acknowledged removed
    pending: Vec<Option<String>>,
}

struct Worker {
    child: Child,
    reader: std::thread::JoinHandle<()>,
    /// Everything the worker wrote to stderr (a panic says why it died).
    stderr: std::thread::JoinHandle<String>,
    /// Operations this worker acknowledged in its life.
    acked: Arc<Mutex<usize>>,
}

impl Worker {
    /// Kills the worker (SIGKILL) and reaps it; an error when it had already
    /// exited by itself, which no worker does unless an operation failed.
    fn kill(mut self, id: usize) -> Result<usize, String> {
        let exited = self.child.try_wait().unwrap();
        if exited.is_none() {
            self.child.kill().unwrap();
        }
        self.child.wait().unwrap();
        self.reader.join().unwrap();
        let stderr = self.stderr.join().unwrap_or_default();
        let acked = *self.acked.lock().unwrap();
        match exited {
            None => Ok(acked),
            Some(status) => Err(format!(
                "worker {id} died by itself ({status}) before its kill: {}",
                stderr
                    .lines()
                    .rev()
                    .take(12)
                    .collect::<Vec<_>>()
                    .join(" | ")
            )),
        }
    }
}

fn spawn_worker(
    id: u64,
    path: &Path,
    service: &str,
    legacy: Option<&str>,
    known: &Arc<Mutex<BTreeMap<String, Known>>>,
    acks: &Arc<Mutex<usize>>,
    migrated: &Arc<Mutex<bool>>,
) -> Worker {
    let mut cmd = child("child_crash_worker");
    cmd.env("KEYSEAL_TEST_PATH", path)
        .env("KEYSEAL_TEST_SERVICE", service)
        .env("KEYSEAL_TEST_WORKER", id.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(l) = legacy {
        cmd.env("KEYSEAL_TEST_LEGACY", l);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr_pipe = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr_pipe, &mut text);
        text
    });
    let acked = Arc::new(Mutex::new(0usize));
    let mine = Arc::clone(&acked);
    let (known, acks, migrated) = (Arc::clone(known), Arc::clone(acks), Arc::clone(migrated));
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // The first line also carries libtest's "test <name> ... ": a
            // `begin` hidden there once made landed first operations look
            // like lost updates.
            let words: Vec<&str> = child_line(&line).split(' ').collect();
            if words.first() == Some(&"ack") {
                *mine.lock().unwrap() += 1;
            }
            let mut k = known.lock().unwrap();
            match words.as_slice() {
                ["begin", "set", name, value] => k
                    .entry((*name).to_owned())
                    .or_default()
                    .pending
                    .push(Some((*value).to_owned())),
                ["begin", "rm", name] => {
                    k.entry((*name).to_owned()).or_default().pending.push(None)
                }
                ["ack", "set", name, value] => {
                    let e = k.entry((*name).to_owned()).or_default();
                    e.acked = Some(Some((*value).to_owned()));
                    e.pending.clear();
                    *acks.lock().unwrap() += 1;
                }
                ["ack", "rm", name] => {
                    let e = k.entry((*name).to_owned()).or_default();
                    e.acked = Some(None);
                    e.pending.clear();
                    *acks.lock().unwrap() += 1;
                }
                ["ack", "migrate"] => {
                    *migrated.lock().unwrap() = true;
                    *acks.lock().unwrap() += 1;
                }
                ["ack", _] => *acks.lock().unwrap() += 1,
                _ => {}
            }
        }
    });
    Worker {
        child,
        reader,
        stderr,
        acked,
    }
}

/// Checks the store against what was acknowledged; returns the violations.
/// `only`: check just the names with this prefix (the killed writer's; the
/// others are still running).
fn verify(
    store: &Store,
    known: &BTreeMap<String, Known>,
    only: Option<&str>,
    legacy_tokens: &BTreeMap<String, String>,
    migrated: bool,
    legacy: Option<&str>,
) -> Vec<String> {
    let mut bad = Vec::new();
    if let Err(e) = store.reload() {
        return vec![format!("the store does not open: {e}")];
    }
    for (name, k) in known
        .iter()
        .filter(|(n, _)| only.is_none_or(|p| n.starts_with(p)))
    {
        let actual = match store.get_bytes(name) {
            Ok(v) => v.map(|v| String::from_utf8_lossy(v.expose_secret()).into_owned()),
            Err(e) => {
                bad.push(format!("{name}: {e}"));
                continue;
            }
        };
        let mut allowed: Vec<Option<String>> = k.pending.clone();
        match &k.acked {
            Some(state) => allowed.push(state.clone()),
            None => allowed.push(None), // never acknowledged: absent is fine
        }
        if !allowed.contains(&actual) {
            bad.push(format!("{name}: {actual:?} is not one of {allowed:?}"));
        }
    }
    if migrated {
        let items = keyseal::keys::KeyringItems::new();
        for (name, value) in legacy_tokens {
            // The keyring first: a token deleted there was durably in the
            // store before, so the store read that follows must find it.
            let in_legacy = match legacy.map(|l| items.read(l, &format!("tok:{name}"))) {
                Some(Ok(found)) => found.is_some(),
                Some(Err(e)) => {
                    bad.push(format!("the legacy keyring did not answer: {e}"));
                    continue;
                }
                None => false,
            };
            let in_store = match store.get_bytes(name) {
                Ok(v) => v.is_some_and(|v| v.expose_secret() == value.as_bytes()),
                Err(e) => {
                    bad.push(format!("the store does not open: {e}"));
                    continue;
                }
            };
            if !in_store && !in_legacy {
                let status = store.status();
                bad.push(format!(
                    "legacy token {name} is lost (store generation {:?}, entries {:?}, names {:?})",
                    status.generation,
                    status.entries,
                    store.list().unwrap_or_default()
                ));
            }
        }
    }
    bad
}

#[test]
#[ignore = "run by cargo xtask torture"]
fn torture_crash() {
    let kills_wanted: usize = if quick() { 60 } else { 1000 };
    let service = unique("crash");
    if let Err(e) = kernel(&service)
        .load(&keyseal::keys::Key::generate().unwrap().id())
        .map(drop)
        .or_else(|e| if e.is_not_found() { Ok(()) } else { Err(e) })
    {
        panic!("the kernel keyring is needed for the crash torture: {e}");
    }
    // Legacy tokens for the migrations, when a Secret Service answers.
    let legacy = unique("crash-legacy");
    let mut legacy_tokens = BTreeMap::new();
    let has_ss = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
    if has_ss {
        for i in 0..5 {
            let value = format!("legacy-token-{i}");
            keyseal_testkit::secret_tool_store(&legacy, &format!("tok:m{i}"), &value);
            legacy_tokens.insert(format!("m{i}"), value);
        }
    }
    if !has_ss {
        keyseal_testkit::skip("no D-Bus session: the crash torture runs without migrations");
    }
    let legacy_arg = has_ss.then_some(legacy.as_str());
    let dir = Dir::new("crash");
    let path = dir.store();
    let known = Arc::new(Mutex::new(BTreeMap::new()));
    let acks = Arc::new(Mutex::new(0usize));
    let migrated = Arc::new(Mutex::new(false));
    let mut rng = Rng::seeded("crash");
    let mut workers: Vec<Option<Worker>> = (0..4)
        .map(|id| {
            Some(spawn_worker(
                id, &path, &service, legacy_arg, &known, &acks, &migrated,
            ))
        })
        .collect();
    let verifier = crash_store(&path, &service);
    let mut kills = 0;
    let mut idle_lives = 0usize;
    let mut violations = Vec::new();
    let started = Instant::now();
    while kills < kills_wanted {
        std::thread::sleep(Duration::from_micros(2_000 + rng.below(30_000)));
        let id = rng.below(4) as usize;
        if let Some(w) = workers[id].take() {
            match w.kill(id) {
                Ok(0) => idle_lives += 1,
                Ok(_) => {}
                Err(died) => violations.push(died),
            }
            kills += 1;
            let snapshot = known.lock().unwrap().clone();
            let prefix = format!("w{id}-");
            let bad = verify(
                &verifier,
                &snapshot,
                Some(&prefix),
                &legacy_tokens,
                *migrated.lock().unwrap(),
                legacy_arg,
            );
            violations.extend(bad);
            // A killed writer's unknown outcomes are now settled by what the
            // store holds; the replacement continues from there.
            {
                let mut k = known.lock().unwrap();
                for (name, e) in k.iter_mut() {
                    if name.starts_with(&format!("w{id}-")) && !e.pending.is_empty() {
                        // On a failed read, leave it pending: the violation
                        // is already counted.
                        if let Ok(actual) = verifier.get_bytes(name) {
                            e.acked =
                                Some(actual.map(|v| {
                                    String::from_utf8_lossy(v.expose_secret()).into_owned()
                                }));
                            e.pending.clear();
                        }
                    }
                }
            }
            workers[id] = Some(spawn_worker(
                id as u64, &path, &service, legacy_arg, &known, &acks, &migrated,
            ));
        }
    }
    for (id, w) in workers.iter_mut().enumerate() {
        if let Some(w) = w.take()
            && let Err(died) = w.kill(id)
        {
            violations.push(died);
        }
    }
    // Workers that make no progress would pass every other check.
    if idle_lives * 2 > kills {
        violations.push(format!(
            "{idle_lives} of {kills} worker lives acknowledged no operation"
        ));
    }
    let snapshot = known.lock().unwrap().clone();
    violations.extend(verify(
        &verifier,
        &snapshot,
        None,
        &legacy_tokens,
        *migrated.lock().unwrap(),
        legacy_arg,
    ));
    for v in violations.iter().take(10) {
        println!("VIOLATION: {v}");
    }
    let acked = *acks.lock().unwrap();
    report(
        "crash",
        kills,
        kills - violations.len().min(kills),
        violations.len(),
        &format!(
            "SIGKILLs across 4 writers, each checked alive before its kill; {acked} acknowledged operations checked ({idle_lives} lives acknowledged none); {:.0} s",
            started.elapsed().as_secs_f64()
        ),
    );
    keyseal_testkit::remove_kernel_keys(&service);
    if has_ss {
        let items = keyseal::keys::KeyringItems::new();
        for name in legacy_tokens.keys() {
            let _ = items.delete(&legacy, &format!("tok:{name}"));
        }
    }
}

// ----- contention: 16 processes x 200 mixed operations on overlapping names -----

fn env_store(path: &Path) -> Store {
    Store::builder(
        EnvKeyProvider::new("KEYSEAL_TEST_ENV_KEY"),
        FileStore::new(path).with_lock_timeout(Duration::from_secs(120)),
        CONTEXT,
    )
    .build()
}

/// Mixed operations on 6 shared names; each set or remove also appends its
/// id to the `__log` entry in the same locked transaction, which records
/// the serial order the lock imposed.
#[test]
#[ignore = "child process of torture_contention"]
fn child_contention_worker() {
    if !is_child() {
        return;
    }
    let store = env_store(std::env::var("KEYSEAL_TEST_PATH").unwrap().as_ref());
    let me: u64 = std::env::var("KEYSEAL_TEST_WORKER")
        .unwrap()
        .parse()
        .unwrap();
    let ops: u64 = std::env::var("KEYSEAL_TEST_OPS").unwrap().parse().unwrap();
    let mut rng = Rng(me.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    for seq in 0..ops {
        let name = format!("shared-{}", rng.below(6));
        let id = format!("p{me}-{seq}");
        let roll = rng.below(100);
        if roll < 20 {
            store.get_bytes(&name).unwrap();
            continue;
        }
        let remove = roll < 45;
        store
            .transaction(|tx| {
                if remove {
                    tx.remove(&name)?;
                } else {
                    tx.set_bytes(&name, id.as_bytes())?;
                }
                let mut log = tx
                    .get_bytes("__log")?
                    .map(|v| v.expose_secret().to_vec())
                    .unwrap_or_default();
                log.extend_from_slice(
                    format!("{id} {} {name}\n", if remove { "rm" } else { "set" }).as_bytes(),
                );
                tx.set_bytes("__log", &log)
            })
            .unwrap();
        println!("ack {id}");
    }
}

#[test]
#[ignore = "run by cargo xtask torture"]
fn torture_contention() {
    let (procs, ops) = if quick() { (8, 40) } else { (16, 200) };
    let dir = Dir::new("contention");
    let started = Instant::now();
    let children: Vec<Child> = (0..procs)
        .map(|i| {
            child("child_contention_worker")
                .env("KEYSEAL_TEST_PATH", dir.store())
                .env("KEYSEAL_TEST_ENV_KEY", KEY)
                .env("KEYSEAL_TEST_WORKER", i.to_string())
                .env("KEYSEAL_TEST_OPS", ops.to_string())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut acked = BTreeSet::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "a contention worker failed");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(id) = line.strip_prefix("ack ") {
                acked.insert(id.to_owned());
            }
        }
    }
    let store = {
        // SAFETY of the test: the parent reads with the same key, in-process.
        let key = keyseal::seal::Key::from_slice(&{
            use base64ct::{Base64, Encoding};
            Base64::decode_vec(KEY).unwrap()
        })
        .unwrap();
        Store::builder(
            MemoryKeyProvider::with_key(key),
            FileStore::new(dir.store()),
            CONTEXT,
        )
        .build()
    };
    let log = String::from_utf8(
        store
            .get_bytes("__log")
            .unwrap()
            .unwrap()
            .expose_secret()
            .to_vec(),
    )
    .unwrap();
    let mut replay: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut logged = BTreeSet::new();
    for line in log.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        let [id, op, name] = parts.as_slice() else {
            panic!("bad log line {line:?}")
        };
        assert!(
            logged.insert((*id).to_owned()),
            "operation {id} was applied twice"
        );
        replay.insert((*name).to_owned(), (*op == "set").then(|| (*id).to_owned()));
    }
    let lost: Vec<&String> = acked.iter().filter(|id| !logged.contains(*id)).collect();
    let mut mismatched = 0;
    for (name, expected) in &replay {
        let actual = store
            .get_bytes(name)
            .unwrap()
            .map(|v| String::from_utf8_lossy(v.expose_secret()).into_owned());
        if &actual != expected {
            println!("MISMATCH {name}: {actual:?} != replay {expected:?}");
            mismatched += 1;
        }
    }
    let tried = acked.len();
    report(
        "contention",
        tried,
        tried - lost.len(),
        lost.len() + mismatched,
        &format!(
            "{procs} processes x {ops} mixed operations on 6 shared names; final state = serial replay; {:.0} s",
            started.elapsed().as_secs_f64()
        ),
    );
}

// ----- hostile files -----

fn keyseal_cli(store: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyseal"));
    cmd.env("KEYSEAL_STORE", store)
        .env("KEYSEAL_KEYS", "env")
        .env("KEYSEAL_KEY", KEY)
        .env("KEYSEAL_LOCK_TIMEOUT", "2")
        .env(
            "XDG_STATE_HOME",
            std::env::temp_dir().join("keyseal-test-state"),
        )
        .env_remove("KEYSEAL_SERVICE")
        .env_remove("KEYSEAL_CONTEXT");
    cmd
}

/// What is at `path`, as far as a check may look without blocking: the
/// bytes of a regular file (or of a link's target), the kind of anything
/// else.
fn state_of(path: &Path) -> Option<Result<Vec<u8>, String>> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if meta.is_file() || (meta.file_type().is_symlink() && path.is_file()) {
        Some(std::fs::read(path).map_err(|e| e.to_string()))
    } else {
        Some(Err(format!("{:?}", meta.file_type())))
    }
}

/// Runs get, set and list on whatever is at `store`; returns a problem, if
/// any: a success, a panic, a hang (60 s), an unexpected exit code, or a
/// changed file.
fn hostile(store: &Path, allowed: &[i32]) -> Option<String> {
    let before = state_of(store);
    for args in [&["get", "a"][..], &["set", "b"], &["list"]] {
        let mut cmd = keyseal_cli(store);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        // `get` and `list` do not read their input: a broken pipe is fine.
        let _ = child.stdin.take().unwrap().write_all(b"new");
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Some(format!("{args:?} hung"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let out = child.wait_with_output().unwrap();
        let code = out.status.code().unwrap_or(-1);
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("panicked") || code == 101 {
            return Some(format!("{args:?} panicked: {err}"));
        }
        if !allowed.contains(&code) {
            return Some(format!("{args:?} exited {code}: {err}"));
        }
        if state_of(store) != before {
            return Some(format!("{args:?} changed the file"));
        }
    }
    None
}

/// Stores one entry through the CLI and returns the file's bytes.
fn seed_store(path: &Path) -> Vec<u8> {
    let mut set = keyseal_cli(path);
    set.args(["set", "a"]).stdin(Stdio::piped());
    let mut c = set.spawn().unwrap();
    c.stdin.take().unwrap().write_all(b"token").unwrap();
    assert!(c.wait().unwrap().success());
    std::fs::read(path).unwrap()
}

#[test]
#[ignore = "run by cargo xtask torture"]
fn torture_hostile_files() {
    let dir = Dir::new("hostile");
    let path = dir.store();
    let good = seed_store(&path);
    let mut tried = 0;
    let mut problems = Vec::new();
    let mut check = |bytes: Option<&[u8]>, what: String, allowed: &[i32]| {
        if let Some(b) = bytes {
            std::fs::write(&path, b).unwrap();
        }
        tried += 1;
        if let Some(p) = hostile(&path, allowed) {
            problems.push(format!("{what}: {p}"));
        }
    };
    // Every single-bit flip, exhaustively (3 = unreadable, 4 = key id flipped).
    let step = if quick() { 7 } else { 1 };
    for bit in (0..good.len() * 8).step_by(step) {
        let mut b = good.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        check(Some(&b), format!("flip of bit {bit}"), &[3, 4]);
    }
    for len in (0..good.len()).step_by(if quick() { 5 } else { 1 }) {
        check(Some(&good[..len]), format!("truncation to {len}"), &[3]);
    }
    let mut rng = Rng::seeded("hostile files");
    for i in 0..if quick() { 20 } else { 200 } {
        let len = rng.below(600) as usize;
        let garbage: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        check(
            Some(&garbage),
            format!("random garbage {i} ({len} bytes)"),
            &[3],
        );
        let mut keyed = b"keyseal\0\0\x01".to_vec();
        keyed.extend_from_slice(&garbage);
        check(
            Some(&keyed),
            format!("garbage after a valid magic {i}"),
            &[3],
        );
    }
    let mut huge = good.clone();
    let at = 21 + 65 + 12 + 12;
    huge[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    check(
        Some(&huge),
        "a header claiming a 4 GiB body".to_owned(),
        &[3],
    );
    check(Some(b""), "a zero-length file".to_owned(), &[3]);
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    check(
        None,
        "a directory where the file should be".to_owned(),
        &[3],
    );
    std::fs::remove_dir(&path).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap()
            .success()
    );
    check(None, "a FIFO where the file should be".to_owned(), &[3]);
    std::fs::remove_file(&path).unwrap();
    let socket = std::os::unix::net::UnixListener::bind(&path).unwrap();
    check(None, "a socket where the file should be".to_owned(), &[3]);
    drop(socket);
    std::fs::remove_file(&path).unwrap();
    let elsewhere = dir.0.join("elsewhere");
    std::fs::write(&elsewhere, &good).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
    check(
        None,
        "a symbolic link where the file should be".to_owned(),
        &[3],
    );
    assert_eq!(
        std::fs::read(&elsewhere).unwrap(),
        good,
        "the link's target changed"
    );
    // A FIFO where the lock should be, beside a good store.
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, &good).unwrap();
    let lock = dir.0.join("store.sealed.lock");
    let _ = std::fs::remove_file(&lock);
    assert!(
        Command::new("mkfifo")
            .arg(&lock)
            .status()
            .unwrap()
            .success()
    );
    tried += 1;
    let mut set = keyseal_cli(&path);
    set.args(["set", "b"])
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    let out = set.output().unwrap();
    if out.status.code() != Some(3) || std::fs::read(&path).unwrap() != good {
        problems.push(format!(
            "a FIFO where the lock should be: exit {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::remove_file(&lock).unwrap();
    std::fs::remove_file(&path).unwrap();
    tried += 1;
    if let Some(p) = hostile(Path::new("/dev/null"), &[3]) {
        problems.push(format!("a device as the store: {p}"));
    }
    for p in problems.iter().take(10) {
        println!("PROBLEM: {p}");
    }
    report(
        "hostile files",
        tried,
        tried - problems.len(),
        0,
        "every bit flip and truncation of a real store, garbage, 4 GiB header, empty file, directory, FIFO, socket, device, symlink, a FIFO as the lock; get/set/list each: typed error at once (exit 3, or 4 for a flipped key id), no panic, no hang, file unchanged",
    );
    assert!(problems.is_empty());
}

// ----- hostile keys and environment -----

#[test]
#[ignore = "child process of torture_hostile_keys"]
fn child_silent_keyring() {
    if !is_child() {
        return;
    }
    let path = std::env::var("KEYSEAL_TEST_PATH").unwrap();
    let provider = KeyringProvider::builder(unique("silent"), "store-key")
        .backend(Backend::SecretService)
        .timeout(Duration::from_millis(300))
        .build();
    let store = Store::builder(provider, FileStore::new(&path), CONTEXT).build();
    match store.set_bytes("a", b"b") {
        Err(Error::KeyringUnavailable {
            reason: keyseal::keys::UnavailableReason::TimedOut(_),
            ..
        }) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(
        !Path::new(&path).exists(),
        "something was written without a key"
    );
}

#[test]
#[ignore = "run by cargo xtask torture"]
fn torture_hostile_keys() {
    let dir = Dir::new("keys");
    let path = dir.store();
    let good = seed_store(&path);
    let mut tried = 0;
    let mut problems = Vec::new();
    let bad_values = [
        "",
        " ",
        "not base64",
        "AAAA",
        "AAECAwQFBgcICQoLDA0ODw==",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh_-",
        "\u{0}\u{1}",
        "ÄÖÜ€",
        &"A".repeat(10_000),
    ];
    for value in bad_values {
        for args in [&["get", "a"][..], &["set", "a"]] {
            tried += 1;
            let mut cmd = keyseal_cli(&path);
            if value.contains('\u{0}') {
                // A NUL cannot be in the environment: feed bytes that are
                // not UTF-8 at all instead.
                use std::os::unix::ffi::OsStrExt;
                cmd.env(
                    "KEYSEAL_KEY",
                    std::ffi::OsStr::from_bytes(
                        b"\xff\xfe\x80AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                    ),
                );
            } else {
                cmd.env("KEYSEAL_KEY", value);
            }
            let out = cmd.args(args).stdin(Stdio::null()).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            let code = out.status.code().unwrap_or(-1);
            if code != 5
                || (value.trim().len() > 3 && err.contains(value.trim()))
                || std::fs::read(&path).unwrap() != good
            {
                problems.push(format!(
                    "KEYSEAL_KEY={value:?} {args:?}: exit {code}: {err}"
                ));
            }
        }
    }
    // A keyring item of the wrong length, in the real kernel keyring.
    let service = unique("badkey");
    let sealed_for = Store::builder(
        keyseal::keys::MemoryKeyProvider::new(),
        FileStore::new(&path),
        CONTEXT,
    )
    .build()
    .status()
    .key_id
    .unwrap();
    let description = format!("keyseal:{service}:store-key.{sealed_for}");
    for payload in [
        "keyseal-key-v1:AAAA",
        "hunter2",
        "keyseal-key-v1:AAECAwQFBgcICQoLDA0ODw==",
    ] {
        tried += 1;
        let status = Command::new("keyctl")
            .args(["add", "user", &description, payload, "@u"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let store = crash_store(&path, &service);
        match store.get_bytes("a") {
            Err(Error::Key {
                source: keyseal::keys::Error::Malformed { .. },
            }) => {}
            other => problems.push(format!("kernel key {payload:?}: {other:?}")),
        }
        if std::fs::read(&path).unwrap() != good {
            problems.push(format!("kernel key {payload:?}: the file changed"));
        }
    }
    keyseal_testkit::remove_kernel_keys(&service);
    // A keyring that never answers (a silent D-Bus), in a child process.
    tried += 1;
    let bus_dir = Dir::new("bus");
    let bus = bus_dir.0.join("bus");
    let listener = std::os::unix::net::UnixListener::bind(&bus).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let fresh = dir.0.join("fresh.sealed");
    let out = child("child_silent_keyring")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", bus.display()),
        )
        .env("KEYSEAL_TEST_PATH", &fresh)
        .output()
        .unwrap();
    if !String::from_utf8_lossy(&out.stdout).contains("1 passed") {
        problems.push(format!(
            "silent keyring: {}",
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    // A real locked gnome-keyring collection, in a D-Bus session of its own
    // (locking the shared one would lock it for everything after).
    tried += 1;
    let locked_dir = Dir::new("locked");
    let script = r#"
export XDG_DATA_HOME="$1"; shift
eval "$(printf pw | gnome-keyring-daemon --unlock --components=secrets 2>/dev/null)"
i=0
until dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q true; do
  i=$((i+1)); [ "$i" -gt 100 ] && exit 97; sleep 0.1
done
exec "$@"
"#;
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("dbus-run-session")
        .args(["--", "sh", "-c", script, "sh"])
        .arg(&locked_dir.0)
        .arg(&exe)
        .args([
            "child_locked_keyring",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KEYSEAL_TEST_CHILD", "1")
        .env("KEYSEAL_TEST_PATH", locked_dir.store())
        .output()
        .unwrap();
    if !String::from_utf8_lossy(&out.stdout).contains("1 passed") {
        problems.push(format!(
            "locked keyring: {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .filter(|l| !l.contains("fd limit") && !l.contains("Prompter"))
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
    for p in problems.iter().take(10) {
        println!("PROBLEM: {p}");
    }
    report(
        "hostile keys",
        tried,
        tried - problems.len(),
        0,
        "malformed KEYSEAL_KEY values (invalid UTF-8 among them), wrong-length kernel keyring items, a keyring that never answers, a real locked gnome-keyring collection: typed errors, nothing written",
    );
}

#[test]
#[ignore = "child process of torture_hostile_keys, in a D-Bus session of its own"]
fn child_locked_keyring() {
    if !is_child() {
        return;
    }
    let path = PathBuf::from(std::env::var("KEYSEAL_TEST_PATH").unwrap());
    let service = unique("locked");
    let open = || {
        Store::builder(
            KeyringProvider::builder(&service, "store-key")
                .backend(Backend::SecretService)
                .timeout(Duration::from_secs(10))
                .build(),
            FileStore::new(&path),
            CONTEXT,
        )
        .build()
    };
    open().set_bytes("a", b"token").unwrap();
    let good = std::fs::read(&path).unwrap();
    let status = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            "array:objpath:/org/freedesktop/secrets/collection/login",
        ])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "could not lock the login collection");
    // A new process opens the store: the collection is locked and nobody
    // can answer the unlock prompt.
    for result in [open().get_bytes("a").map(drop), open().set_bytes("a", b"x")] {
        match result {
            Err(Error::KeyringUnavailable {
                reason:
                    keyseal::keys::UnavailableReason::Locked
                    | keyseal::keys::UnavailableReason::AccessDenied,
                ..
            }) => {}
            other => panic!("a locked collection: {other:?}"),
        }
    }
    assert_eq!(std::fs::read(&path).unwrap(), good, "the file changed");
}

// ----- faults -----

#[test]
#[ignore = "child process of torture_faults"]
fn child_hold_lock() {
    if !is_child() {
        return;
    }
    let lock = std::fs::File::options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(std::env::var("KEYSEAL_TEST_LOCK").unwrap())
        .unwrap();
    lock.lock().unwrap();
    println!("locked");
    std::thread::sleep(Duration::from_secs(600));
}

fn cli_set(store: &Path, timeout: &str) -> (i32, String) {
    let mut cmd = keyseal_cli(store);
    cmd.env("KEYSEAL_LOCK_TIMEOUT", timeout)
        .args(["set", "a"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut c = cmd.spawn().unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(&vec![b'x'; 40 * 1024])
        .unwrap();
    let out = c.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
#[ignore = "run by cargo xtask torture"]
fn torture_faults() {
    let mut tried = 0;
    let mut problems = Vec::new();
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if root {
        // No space: a 64 KiB tmpfs holds one 40 KiB store, not a second copy.
        let dir = Dir::new("nospace");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs"])
            .arg(&dir.0)
            .status()
            .unwrap()
            .success();
        assert!(mounted, "mounting a tmpfs failed");
        let store = dir.store();
        let (code, err) = cli_set(&store, "2");
        assert_eq!(code, 0, "{err}");
        let before = std::fs::read(&store).unwrap();
        tried += 1;
        let (code, err) = cli_set(&store, "2");
        if code != 6 || !err.contains("no space") || std::fs::read(&store).unwrap() != before {
            problems.push(format!("no space: exit {code}: {err}"));
        }
        // A read-only file system.
        tried += 1;
        let remounted = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&dir.0)
            .status()
            .unwrap()
            .success();
        assert!(remounted);
        let (code, err) = cli_set(&store, "2");
        if code != 6 || std::fs::read(&store).unwrap() != before {
            problems.push(format!("read-only: exit {code}: {err}"));
        }
    } else {
        keyseal_testkit::skip("the no-space and read-only faults need root to mount a tmpfs");
    }
    // A lock held by a stopped process.
    tried += 1;
    let dir = Dir::new("stopped");
    let store = dir.store();
    assert_eq!(cli_set(&store, "2").0, 0);
    let before = std::fs::read(&store).unwrap();
    let mut holder = child("child_hold_lock")
        .env("KEYSEAL_TEST_LOCK", dir.0.join("store.sealed.lock"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(holder.stdout.take().unwrap()).lines();
    assert!(lines.any(|l| l.is_ok_and(|l| l.ends_with("locked"))));
    let pid = holder.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let (code, err) = cli_set(&store, "0.5");
    if code != 6 || !err.contains("store.sealed.lock") || std::fs::read(&store).unwrap() != before {
        problems.push(format!("stopped lock holder: exit {code}: {err}"));
    }
    let _ = Command::new("kill").args(["-CONT", &pid]).status();
    holder.kill().unwrap();
    holder.wait().unwrap();
    // The lock dies with its holder.
    tried += 1;
    if cli_set(&store, "2").0 != 0 {
        problems.push("the store stayed locked after the holder died".to_owned());
    }
    for p in &problems {
        println!("PROBLEM: {p}");
    }
    report(
        "faults",
        tried,
        tried - problems.len(),
        0,
        "no space (64 KiB tmpfs), read-only file system, a lock held by a stopped process, the lock released when its holder dies",
    );
}

// ----- many stores in one keyring service, rotated under contention -----

/// One store of the shared-service torture, by its index, its key in the
/// keyring `backend` names (`kernel` or `secret-service`).
fn shared_store(dir: &Path, index: usize, service: &str, backend: &str) -> Store {
    let backend = match backend {
        "secret-service" => Backend::SecretService,
        _ => Backend::KernelKeyring,
    };
    Store::builder(
        KeyringProvider::builder(service, "store-key")
            .backend(backend)
            .timeout(Duration::from_secs(20))
            .build(),
        FileStore::new(dir.join(format!("s{index}")).join("store.sealed"))
            .with_lock_timeout(Duration::from_secs(30)),
        CONTEXT,
    )
    .build()
}

const SHARED_STORES: usize = 3;

#[test]
#[ignore = "child process of torture_shared_service"]
fn child_shared_worker() {
    if !is_child() {
        return;
    }
    let dir = PathBuf::from(std::env::var("KEYSEAL_TEST_PATH").unwrap());
    let service = std::env::var("KEYSEAL_TEST_SERVICE").unwrap();
    let backend = std::env::var("KEYSEAL_TEST_BACKEND").unwrap();
    let me: u64 = std::env::var("KEYSEAL_TEST_WORKER")
        .unwrap()
        .parse()
        .unwrap();
    let ops: u64 = std::env::var("KEYSEAL_TEST_OPS").unwrap().parse().unwrap();
    let stores: Vec<Store> = (0..SHARED_STORES)
        .map(|i| shared_store(&dir, i, &service, &backend))
        .collect();
    let mut rng = Rng(me.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    for seq in 0..ops {
        let index = rng.below(SHARED_STORES as u64) as usize;
        let store = &stores[index];
        let roll = rng.below(100);
        if roll < 65 || store.status().generation.is_none() {
            let name = format!("w{me}-n{}", rng.below(3));
            let value = format!("w{me}-{seq}");
            store.set_bytes(&name, value.as_bytes()).unwrap();
            println!("ack set {index} {name} {value}");
        } else if roll < 90 {
            store.rotate_key().unwrap();
            println!("ack rotate {index}");
        } else {
            // A recovery key made and used at once: a new keyring key, the
            // old one retired, while the others write and rotate.
            let recovery = store.enable_recovery().unwrap();
            match store.recover(&recovery) {
                Ok(_) => println!("ack recover {index}"),
                // Another worker put in its own recovery key meanwhile.
                Err(Error::WrongRecoveryKey { .. }) => println!("ack recover-overtaken {index}"),
                Err(e) => panic!("recover: {e}"),
            }
        }
    }
}

/// How many keyring items (Secret Service) or keys (kernel keyring) the
/// service holds.
fn keys_of(service: &str, backend: &str) -> usize {
    if backend == "secret-service" {
        return keyseal::keys::KeyringItems::new()
            .search(service)
            .map_or(0, |names| names.len());
    }
    keyseal_testkit::kernel_keys(service).len()
}

#[test]
#[ignore = "run by cargo xtask torture"]
fn torture_shared_service() {
    let ops = if quick() { 30 } else { 300 };
    let workers = 4;
    let mut backends = vec!["kernel"];
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
        backends.push("secret-service");
    } else {
        keyseal_testkit::skip(
            "no D-Bus session: the shared-service torture runs on the kernel keyring only",
        );
    }
    let started = Instant::now();
    let mut tried = 0;
    let mut problems = Vec::new();
    let (mut rotations, mut recoveries) = (0, 0);
    for backend in backends {
        let service = unique("shared");
        let dir = Dir::new("shared");
        let children: Vec<Child> = (0..workers)
            .map(|id| {
                child("child_shared_worker")
                    .env("KEYSEAL_TEST_PATH", &dir.0)
                    .env("KEYSEAL_TEST_SERVICE", &service)
                    .env("KEYSEAL_TEST_BACKEND", backend)
                    .env("KEYSEAL_TEST_WORKER", id.to_string())
                    .env("KEYSEAL_TEST_OPS", ops.to_string())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut last: BTreeMap<(usize, String), String> = BTreeMap::new();
        for (id, c) in children.into_iter().enumerate() {
            let out = c.wait_with_output().unwrap();
            if !out.status.success() {
                problems.push(format!(
                    "{backend}: worker {id} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .rev()
                        .take(12)
                        .collect::<Vec<_>>()
                        .join(" | ")
                ));
            }
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                match child_line(line).split(' ').collect::<Vec<_>>().as_slice() {
                    ["ack", "set", index, name, value] => {
                        last.insert(
                            (index.parse().unwrap(), (*name).to_owned()),
                            (*value).to_owned(),
                        );
                    }
                    ["ack", "rotate", _] => rotations += 1,
                    ["ack", "recover", _] => recoveries += 1,
                    _ => {}
                }
            }
        }
        for ((index, name), value) in &last {
            tried += 1;
            let store = shared_store(&dir.0, *index, &service, backend);
            match store.get_bytes(name) {
                Ok(Some(v)) if v.expose_secret() == value.as_bytes() => {}
                other => problems.push(format!(
                    "{backend}: store {index} {name}: {other:?}, wanted {value}"
                )),
            }
        }
        // One key per store, none shared, none left over.
        let ids: BTreeSet<_> = (0..SHARED_STORES)
            .filter_map(|i| shared_store(&dir.0, i, &service, backend).status().key_id)
            .collect();
        let held = keys_of(&service, backend);
        if ids.len() != SHARED_STORES || held != SHARED_STORES {
            problems.push(format!(
                "{backend}: {} distinct store keys and {held} keyring keys for {SHARED_STORES} stores",
                ids.len()
            ));
        }
        if backend == "secret-service" {
            let items = keyseal::keys::KeyringItems::new();
            for name in items.search(&service).unwrap_or_default() {
                let _ = items.delete(&service, &name);
            }
        } else {
            keyseal_testkit::remove_kernel_keys(&service);
        }
    }
    for p in problems.iter().take(10) {
        println!("PROBLEM: {p}");
    }
    report(
        "shared service",
        tried,
        tried - problems.len().min(tried),
        problems.len(),
        &format!(
            "{workers} processes x {ops} sets, rotations and recoveries over {SHARED_STORES} stores in one keyring service, on the kernel keyring and the Secret Service ({rotations} rotations, {recoveries} recoveries); every acknowledged value read back, one key per store; {:.0} s",
            started.elapsed().as_secs_f64()
        ),
    );
}

// ----- SIGKILL while a recovery key is being changed -----

/// The recovery key id the file at `path` names, from its header.
fn named_recovery(path: &Path) -> Option<keyseal::KeyId> {
    Store::builder(MemoryKeyProvider::new(), FileStore::new(path), CONTEXT)
        .build()
        .status()
        .recovery_key_id
}

#[test]
#[ignore = "run by cargo xtask torture"]
fn torture_recovery_kill() {
    let rounds = if quick() { 30 } else { 300 };
    let dir = Dir::new("recovery-kill");
    let path = dir.store();
    seed_store(&path);
    let out = keyseal_cli(&path)
        .args(["recovery", "enable"])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut current = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let mut rng = Rng::seeded("recovery kill");
    let mut problems = Vec::new();
    let mut changed = 0;
    let started = Instant::now();
    for round in 0..rounds {
        let rotate = rng.below(2) == 0;
        let mut cmd = keyseal_cli(&path);
        if rotate {
            cmd.args(["recover", "--rotate-recovery"]);
        } else {
            cmd.args(["recovery", "enable"]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(current.as_bytes());
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
            text
        });
        // The command takes a few milliseconds: most kills land inside it.
        std::thread::sleep(Duration::from_micros(rng.below(6_000)));
        let _ = child.kill(); // SIGKILL, at any point
        let status = child.wait().unwrap();
        let printed = reader.join().unwrap();
        // Only a key printed whole, with its newline, reached anyone.
        let shown: Vec<keyseal::RecoveryKey> = printed
            .split_inclusive('\n')
            .filter(|l| l.ends_with('\n'))
            .filter_map(|l| keyseal::RecoveryKey::parse(l.trim()).ok())
            .collect();
        let before = keyseal::RecoveryKey::parse(&current).unwrap().id();
        let named = named_recovery(&path);
        match named {
            Some(id) if id == before => {}
            Some(id) => match shown.iter().find(|k| k.id() == id) {
                Some(k) => {
                    current = k.to_text().to_string();
                    changed += 1;
                }
                None => problems.push(format!(
                    "round {round}: the file names recovery key {id}, which was never shown whole (exit {status})"
                )),
            },
            None => problems.push(format!("round {round}: the file names no recovery key")),
        }
        // The store still opens with its key.
        let out = keyseal_cli(&path).args(["get", "a"]).output().unwrap();
        if out.stdout != b"token" {
            problems.push(format!(
                "round {round}: the store does not open: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    // The key last shown still recovers the store.
    let mut recover = keyseal_cli(&path);
    recover
        .args(["recover"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped());
    let mut c = recover.spawn().unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(current.as_bytes())
        .unwrap();
    let out = c.wait_with_output().unwrap();
    if !out.status.success() {
        problems.push(format!(
            "the recovery key last shown does not recover the store: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    for p in problems.iter().take(10) {
        println!("PROBLEM: {p}");
    }
    report(
        "recovery kill",
        rounds,
        rounds - problems.len().min(rounds),
        problems.len(),
        &format!(
            "SIGKILL at a random moment of `recovery enable` and `recover --rotate-recovery`; the file names the previous key or one shown whole ({changed} changes landed); {:.0} s",
            started.elapsed().as_secs_f64()
        ),
    );
}
