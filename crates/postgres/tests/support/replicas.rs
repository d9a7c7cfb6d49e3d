//! Replicas: separate processes of this test binary, each with its own
//! environment (its own state directory), the same key file and the same
//! database, setting and removing entries of one store. The parent keeps
//! what each acknowledged and checks every name at the end, while it stops,
//! kills or fails over the server under them.
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keyseal::keys::KeyFileProvider;
use keyseal::{RollbackMarks, Store};
use keyseal_postgres::PostgresStore;

use super::{TempDir, child, child_line};

pub(crate) const CONTEXT: &str = "com.example.gateway/oauth";

/// How long a replica keeps retrying one operation before it gives up.
const GIVE_UP_AFTER: Duration = Duration::from_secs(90);

/// The environment a replica reads.
const URL: &str = "KEYSEAL_TEST_URL";
const KEY_FILE: &str = "KEYSEAL_KEY_FILE";
const REPLICA: &str = "KEYSEAL_TEST_REPLICA";
const COUNT: &str = "KEYSEAL_TEST_COUNT";
const STATE: &str = "KEYSEAL_TEST_STATE";

/// A replica's store.
fn open(url: &str, key_file: &Path, state: &Path) -> Store {
    let blob = PostgresStore::new(url)
        .unwrap_or_else(|e| panic!("{e}"))
        .with_lock_timeout(Duration::from_secs(30));
    Store::builder(KeyFileProvider::new(key_file), blob, CONTEXT)
        .rollback_marks(Some(RollbackMarks::in_dir(state)))
        .build()
}

/// What kind of failure an error is, as a replica reports it.
fn kind(e: &keyseal::Error) -> String {
    use keyseal::blob::Error as Blob;
    match e {
        keyseal::Error::LockTimeout { .. } => "LockTimeout".to_owned(),
        keyseal::Error::Storage { source } => match source {
            Blob::Unreachable { .. } => "Unreachable".to_owned(),
            Blob::Unconfirmed { .. } => "Unconfirmed".to_owned(),
            Blob::Server { .. } => "Server".to_owned(),
            other => format!("other: {other}"),
        },
        other => format!("other: {other}"),
    }
}

/// Runs one operation until it is acknowledged, printing each failure.
fn until_acknowledged<T>(what: &str, mut op: impl FnMut() -> keyseal::Result<T>) {
    let started = Instant::now();
    loop {
        match op() {
            Ok(_) => return,
            Err(e) => {
                println!("fail {} {what}: {e}", kind(&e));
                assert!(
                    started.elapsed() < GIVE_UP_AFTER,
                    "gave up on {what} after {GIVE_UP_AFTER:?}: {e}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// The body of a replica process: `count` entries of its own, every third
/// one's predecessor removed again, each operation retried until the store
/// acknowledges it, and each acknowledgement printed after it returned.
pub(crate) fn replica_main() {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let replica = var(REPLICA);
    let count: usize = var(COUNT).parse().unwrap();
    let store = open(&var(URL), Path::new(&var(KEY_FILE)), Path::new(&var(STATE)));
    for i in 0..count {
        let name = format!("r{replica}-{i}");
        let value = format!("v{replica}-{i}");
        until_acknowledged(&format!("set {name}"), || store.set(&name, &value));
        println!("ack set {name} {value}");
        if i % 3 == 2 {
            let gone = format!("r{replica}-{}", i - 1);
            until_acknowledged(&format!("rm {gone}"), || store.remove(&gone));
            println!("ack rm {gone}");
        }
    }
    println!("done");
}

/// A key file of 32 raw bytes, readable by its owner only.
pub(crate) fn key_file(dir: &TempDir) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.path().join("store-key");
    let key: Vec<u8> = (0..32u8).map(|b| b.wrapping_mul(7)).collect();
    std::fs::write(&path, key).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// What the replicas said, as it arrives.
#[derive(Debug, Default)]
pub(crate) struct Said {
    pub(crate) acks: usize,
    pub(crate) lines: Vec<String>,
}

/// Running replicas.
pub(crate) struct Fleet {
    children: Vec<Child>,
    readers: Vec<std::thread::JoinHandle<()>>,
    pub(crate) said: Arc<Mutex<Said>>,
    pub(crate) url: String,
    pub(crate) key_file: PathBuf,
    _dir: TempDir,
}

/// The result of a run, checked per name.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Acknowledged operations.
    pub(crate) acknowledged: usize,
    /// Names whose last acknowledged set is missing or has another value.
    pub(crate) lost: Vec<String>,
    /// Names whose last acknowledged operation removed them, present again.
    pub(crate) resurrected: Vec<String>,
    /// Failures the replicas reported, by kind.
    pub(crate) failures: BTreeMap<String, usize>,
}

impl Fleet {
    /// Starts `replicas` processes of `count` entries each against `url`.
    pub(crate) fn start(child_test: &str, url: &str, replicas: usize, count: usize) -> Self {
        let dir = TempDir::new("pg-fleet");
        let key_file = key_file(&dir);
        let said = Arc::new(Mutex::new(Said::default()));
        let mut children = Vec::new();
        let mut readers = Vec::new();
        for r in 0..replicas {
            let state = dir.path().join(format!("replica-{r}"));
            std::fs::create_dir_all(&state).unwrap();
            let mut child = child(child_test)
                .env(URL, url)
                .env(KEY_FILE, &key_file)
                .env(REPLICA, r.to_string())
                .env(COUNT, count.to_string())
                .env(STATE, &state)
                .env("HOME", &state)
                .env("XDG_STATE_HOME", &state)
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let stdout = child.stdout.take().unwrap();
            let said = Arc::clone(&said);
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let line = child_line(&line).to_owned();
                    let mut said = said.lock().unwrap();
                    if line.starts_with("ack ") {
                        said.acks += 1;
                    }
                    said.lines.push(line);
                }
            }));
            children.push(child);
        }
        Self {
            children,
            readers,
            said,
            url: url.to_owned(),
            key_file,
            _dir: dir,
        }
    }

    /// Waits until the replicas have acknowledged `acks` operations.
    pub(crate) fn wait_for_acks(&self, acks: usize) {
        let deadline = Instant::now() + GIVE_UP_AFTER;
        while self.said.lock().unwrap().acks < acks {
            assert!(Instant::now() < deadline, "the replicas stalled");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for every replica, then checks every name through a fresh
    /// store at `check_url`.
    pub(crate) fn finish(mut self, check_url: &str) -> Outcome {
        for child in &mut self.children {
            let status = child.wait().unwrap();
            assert!(status.success(), "a replica failed: {status}");
        }
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        let said = self.said.lock().unwrap();
        let mut expected: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut failures = BTreeMap::new();
        let mut done = 0;
        for line in &said.lines {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["ack", "set", name, value] => {
                    expected.insert((*name).to_owned(), Some((*value).to_owned()));
                }
                ["ack", "rm", name] => {
                    expected.insert((*name).to_owned(), None);
                }
                ["fail", kind, ..] => {
                    let kind = if *kind == "other:" {
                        line.clone()
                    } else {
                        (*kind).to_owned()
                    };
                    *failures.entry(kind).or_insert(0) += 1;
                }
                ["done"] => done += 1,
                _ => {}
            }
        }
        assert_eq!(done, self.children.len(), "a replica did not finish");
        let state = self._dir.path().join("checker");
        std::fs::create_dir_all(&state).unwrap();
        let store = open(check_url, &self.key_file, &state);
        let present: BTreeMap<String, String> = store
            .list()
            .unwrap()
            .into_iter()
            .map(|name| {
                let value: String = store.get(&name).unwrap().unwrap();
                (name, value)
            })
            .collect();
        let mut lost = Vec::new();
        let mut resurrected = Vec::new();
        for (name, want) in &expected {
            match (want, present.get(name)) {
                (Some(value), Some(found)) if found == value => {}
                (Some(_), _) => lost.push(name.clone()),
                (None, Some(_)) => resurrected.push(name.clone()),
                (None, None) => {}
            }
        }
        Outcome {
            acknowledged: said.acks,
            lost,
            resurrected,
            failures,
        }
    }
}

/// The failures a fault may cause: each a typed error of the store.
const FAULT_KINDS: [&str; 4] = ["Unreachable", "Unconfirmed", "Server", "LockTimeout"];

/// Asserts nothing was lost or resurrected and every failure was typed.
fn check(outcome: &Outcome, expected_acks: usize) {
    assert!(outcome.lost.is_empty(), "lost updates: {:?}", outcome.lost);
    assert!(
        outcome.resurrected.is_empty(),
        "resurrected deletes: {:?}",
        outcome.resurrected
    );
    assert_eq!(outcome.acknowledged, expected_acks);
    for kind in outcome.failures.keys() {
        assert!(
            FAULT_KINDS.contains(&kind.as_str()),
            "an untyped failure: {kind}"
        );
    }
}

/// Acknowledgements a run of `replicas` × `count` produces.
fn acks(replicas: usize, count: usize) -> usize {
    replicas * (count + count / 3)
}

/// `replicas` processes on one store, nothing failing.
pub(crate) fn contention(child_test: &str, replicas: usize, count: usize) -> Option<Outcome> {
    let server = super::server()?;
    let url = server.url("fleet");
    let fleet = Fleet::start(child_test, &url, replicas, count);
    let outcome = fleet.finish(&url);
    check(&outcome, acks(replicas, count));
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    Some(outcome)
}

/// `replicas` processes while the server is stopped abruptly
/// (`pg_ctl stop -m immediate`) and started again, `stops` times.
pub(crate) fn restarts(
    child_test: &str,
    replicas: usize,
    count: usize,
    stops: usize,
) -> Option<Outcome> {
    let server = super::server()?;
    let url = server.url("fleet");
    let total = acks(replicas, count);
    let fleet = Fleet::start(child_test, &url, replicas, count);
    for stop in 1..=stops {
        fleet.wait_for_acks(total * stop / (stops + 1));
        server.stop_immediately();
        std::thread::sleep(Duration::from_millis(500));
        server.start_again();
    }
    let outcome = fleet.finish(&url);
    check(&outcome, total);
    assert!(
        outcome.failures.values().sum::<usize>() > 0,
        "no operation was in flight when the server stopped: the fault was not exercised"
    );
    Some(outcome)
}

/// `replicas` processes on a primary with a synchronous standby; the
/// primary is SIGKILLed mid-run and the standby promoted. The replicas'
/// URL names both hosts (`target_session_attrs=read-write`).
pub(crate) fn failover(child_test: &str, replicas: usize, count: usize) -> Option<Outcome> {
    let primary = super::server()?;
    let standby = super::PgServer::standby_of(&primary, true);
    // Writes on the primary reach the standby before they are acknowledged.
    let url = format!(
        "postgres://{}:{}@127.0.0.1:{},127.0.0.1:{}/{}?sslmode=disable&target_session_attrs=read-write&connect_timeout=5&store=fleet",
        keyseal_testkit::postgres::USER,
        super::PASSWORD,
        primary.port(),
        standby.port(),
        keyseal_testkit::postgres::DATABASE,
    );
    let total = acks(replicas, count);
    let fleet = Fleet::start(child_test, &url, replicas, count);
    fleet.wait_for_acks(total / 3);
    primary.kill();
    let killed_at = fleet.said.lock().unwrap().acks;
    std::thread::sleep(Duration::from_millis(300));
    standby.promote();
    let outcome = fleet.finish(&standby.url("fleet"));
    check(&outcome, total);
    assert!(killed_at < total, "the run ended before the kill");
    assert!(
        outcome.failures.values().sum::<usize>() > 0,
        "no operation failed over: the fault was not exercised"
    );
    Some(outcome)
}
