//! Real processes sharing one file store: concurrent writers, and writers
//! killed with SIGKILL at random moments.
//!
//! Sizes: `KEYSEAL_TORTURE_KILLS` sets the number of kills (default 25;
//! `cargo xtask torture` runs 200 and more).
#![cfg(test)]
#![cfg(unix)]

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keyseal_blob::{BlobStore, Decision, FileStore};
use support::TempDir;

fn store_at(path: &str) -> FileStore {
    FileStore::new(path).with_lock_timeout(Duration::from_secs(60))
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
#[ignore = "child process of eight_processes_each_adding_100_entries_lose_none"]
fn child_writer() {
    if !support::is_child() {
        return;
    }
    let store = store_at(&std::env::var("KEYSEAL_TEST_PATH").unwrap());
    let writer = std::env::var("KEYSEAL_TEST_WRITER").unwrap();
    let count = env_usize("KEYSEAL_TEST_COUNT", 100);
    for i in 0..count {
        store
            .update(&mut |current| {
                let mut bytes = current.map(|s| s.bytes().to_vec()).unwrap_or_default();
                bytes.extend_from_slice(format!("{writer} {i}\n").as_bytes());
                Decision::Write(bytes)
            })
            .unwrap();
    }
}

#[test]
fn eight_processes_each_adding_100_entries_lose_none() {
    let dir = TempDir::new("many");
    let path = dir.path().join("store.sealed");
    let children: Vec<_> = (0..8)
        .map(|w| {
            support::child("child_writer")
                .env("KEYSEAL_TEST_PATH", &path)
                .env("KEYSEAL_TEST_WRITER", format!("w{w}"))
                .env("KEYSEAL_TEST_COUNT", "100")
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a writer process failed");
    }
    let blob = FileStore::new(&path).read().unwrap().unwrap();
    let text = String::from_utf8(blob.into_bytes()).unwrap();
    let mut per_writer: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for line in text.lines() {
        let (w, i) = line.split_once(' ').unwrap();
        per_writer.entry(w).or_default().push(i.parse().unwrap());
    }
    assert_eq!(text.lines().count(), 800, "entries were lost");
    assert_eq!(per_writer.len(), 8);
    for (w, seen) in per_writer {
        assert_eq!(
            seen,
            (0..100).collect::<Vec<_>>(),
            "writer {w}'s entries are missing or out of order"
        );
    }
}

/// Appends the next integer to the blob forever, printing each one that
/// committed.
#[test]
#[ignore = "child process of sigkill_during_updates_never_tears_or_loses_a_committed_blob"]
fn child_appender() {
    if !support::is_child() {
        return;
    }
    let store = store_at(&std::env::var("KEYSEAL_TEST_PATH").unwrap());
    for _ in 0..1_000_000 {
        let mut next = 0;
        store
            .update(&mut |current| {
                let mut bytes = current.map(|s| s.bytes().to_vec()).unwrap_or_default();
                next = parse(&bytes).map_or(0, |n| n + 1);
                bytes.extend_from_slice(format!("{next}\n").as_bytes());
                Decision::Write(bytes)
            })
            .unwrap();
        println!("committed {next}");
    }
}

/// The last integer of a blob that is exactly `0\n1\n...\nN\n`, or `None`
/// for an empty blob; panics on anything else (a torn or mixed blob).
fn parse(bytes: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(bytes).expect("the blob is not text: torn write?");
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the blob ends mid-line: torn write"
    );
    let mut last = None;
    for (i, line) in text.lines().enumerate() {
        let n: u64 = line
            .parse()
            .unwrap_or_else(|_| panic!("line {i} is {line:?}: torn write"));
        assert_eq!(n, i as u64, "line {i} is {n}: the blob mixes two versions");
        last = Some(n);
    }
    last
}

/// xorshift64*, seeded from the clock; the seed is printed for replay.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn sigkill_during_updates_never_tears_or_loses_a_committed_blob() {
    let kills = env_usize("KEYSEAL_TORTURE_KILLS", 25);
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
    eprintln!("sigkill torture: {kills} kills, KEYSEAL_TORTURE_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = TempDir::new("sigkill");
    let path = dir.path().join("store.sealed");
    let store = FileStore::new(&path);
    let mut acknowledged: Option<u64> = None;
    let mut killed = 0;
    while killed < kills {
        // Two writers at once, so kills also land while one waits for the lock.
        let acked = Arc::new(Mutex::new(acknowledged));
        let mut children = Vec::new();
        for _ in 0..2 {
            let mut child = support::child("child_appender")
                .env("KEYSEAL_TEST_PATH", &path)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let stdout = child.stdout.take().unwrap();
            let acked = Arc::clone(&acked);
            let reader = std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if let Some(n) = support::child_line(&line)
                        .strip_prefix("committed ")
                        .and_then(|n| n.parse::<u64>().ok())
                    {
                        let mut a = acked.lock().unwrap();
                        *a = Some(a.map_or(n, |a| a.max(n)));
                    }
                }
            });
            children.push((child, reader));
        }
        std::thread::sleep(Duration::from_micros(rng.next() % 40_000));
        for (mut child, reader) in children {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            reader.join().unwrap();
            killed += 1;
        }
        acknowledged = *acked.lock().unwrap();

        // The blob is exactly one committed version: well formed, holding
        // every acknowledged update, and at most one unacknowledged update
        // per killed writer beyond them.
        let bytes = store
            .read()
            .unwrap()
            .map(|s| s.into_bytes())
            .unwrap_or_default();
        let last = parse(&bytes);
        if let Some(acked) = acknowledged {
            let last = last.unwrap_or_else(|| {
                panic!("acknowledged update {acked} is missing: the blob is empty")
            });
            assert!(
                last >= acked,
                "acknowledged update {acked} is missing (blob ends at {last})"
            );
            assert!(
                last <= acked + 2,
                "the blob ends at {last}, far past the acknowledged {acked}"
            );
        }
        acknowledged = last.or(acknowledged);
    }
    // The lock was released by every killed holder, and leftovers are
    // cleaned by the first update of a new handle (a restarted process).
    FileStore::new(store.path())
        .update(&mut |_| Decision::Keep)
        .unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files were left: {leftovers:?}"
    );
    eprintln!("sigkill torture: {killed} kills, blob ends at {acknowledged:?}, nothing lost");
    assert!(
        acknowledged.is_some(),
        "no update ever committed: the kills came too early to test anything"
    );
}

/// Takes the named lock `KEYSEAL_TEST_NAME`, says so, and holds it until
/// killed.
#[test]
#[ignore = "child process of a_named_lock_excludes_other_processes_and_dies_with_its_holder"]
fn child_named_lock_holder() {
    if !support::is_child() {
        return;
    }
    let store = store_at(&std::env::var("KEYSEAL_TEST_PATH").unwrap());
    let _held = store
        .named_lock(
            &std::env::var("KEYSEAL_TEST_NAME").unwrap(),
            Duration::from_secs(10),
        )
        .unwrap();
    println!("held");
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn a_named_lock_excludes_other_processes_and_dies_with_its_holder() {
    let dir = TempDir::new("named");
    let path = dir.path().join("store.sealed");
    let mut holder = support::child("child_named_lock_holder")
        .env("KEYSEAL_TEST_PATH", &path)
        .env("KEYSEAL_TEST_NAME", "https://mcp.example/a")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let ready = BufReader::new(holder.stdout.take().unwrap())
        .lines()
        .any(|l| l.is_ok_and(|l| l.contains("held")));
    assert!(ready, "the holder did not take the lock");
    let store = store_at(path.to_str().unwrap());
    let short = Duration::from_millis(200);
    assert!(matches!(
        store.named_lock("https://mcp.example/a", short),
        Err(keyseal_blob::Error::LockTimeout { .. })
    ));
    // Another name, and the store's own updates, do not wait for it.
    drop(store.named_lock("https://mcp.example/b", short).unwrap());
    store
        .update(&mut |_| Decision::Write(b"x".to_vec()))
        .unwrap();
    // SIGKILL: the system releases the lock.
    holder.kill().unwrap();
    holder.wait().unwrap();
    drop(
        store
            .named_lock("https://mcp.example/a", Duration::from_secs(10))
            .unwrap(),
    );
    // The lock files live in a private directory beside the store.
    let locks = dir.path().join("store.sealed.locks");
    assert!(locks.is_dir());
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&locks).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    assert_eq!(std::fs::read_dir(&locks).unwrap().count(), 2);
}
