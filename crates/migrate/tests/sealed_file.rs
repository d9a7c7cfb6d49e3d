//! docker-agent's sealed file (`mcp-oauth-tokens.enc`) with its bundle and
//! per-item layouts, against a real file system, real locks held by other
//! processes, and an in-memory legacy keyring with failures injected (the
//! real Secret Service is in `go_keyring.rs`).
#![cfg(test)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

use keyseal::blob::FileStore;
use keyseal::keys::MemoryKeyProvider;
use keyseal::{ExposeSecret, Store};
use keyseal_migrate::{
    Error, Layout, LegacySource, MemorySource, Options, Origin, SealedFile, SealedFileProblem,
    migrate,
};
use keyseal_testkit::{TempDir, docker_agent};
use zeroize::Zeroizing;

const SERVICE: &str = "docker-agent-oauth";
const KEY_ITEM: &str = "oauth:encryption-key";
const KEY: [u8; 32] = [7; 32];
const FILE_JSON: &[u8] =
    br#"{"https://a.example":{"access_token":"A-file"},"https://b.example":{"access_token":"B-file"}}"#;
const BUNDLE_JSON: &[u8] = br#"{"https://a.example":{"access_token":"A-bundle"},"https://c.example":{"access_token":"C-bundle"}}"#;

/// A docker-agent user's state: the sealed file, its key item, the bundle,
/// per-resource items and the index, each holding a token the others do
/// not, and `https://a.example` in all three (the file's is the newest).
struct Fixture {
    dir: TempDir,
    file: PathBuf,
    source: MemorySource,
    layout: Layout,
    keys: Arc<MemoryKeyProvider>,
}

impl Fixture {
    fn new() -> Self {
        let dir = TempDir::new("docker-agent");
        let file = dir.path().join("mcp-oauth-tokens.enc");
        docker_agent::write(&file, &KEY, FILE_JSON);
        let source = MemorySource::new();
        source.insert(SERVICE, KEY_ITEM, &KEY);
        source.insert(SERVICE, "oauth:tokens", BUNDLE_JSON);
        source.insert(
            SERVICE,
            "oauth:https://a.example",
            br#"{"access_token":"A-item"}"#,
        );
        source.insert(
            SERVICE,
            "oauth:https://d.example",
            br#"{"access_token":"D-item"}"#,
        );
        source.insert(
            SERVICE,
            "oauth:_index",
            br#"["https://a.example","https://d.example"]"#,
        );
        let mut layout = Layout::docker_agent();
        layout.sealed_file = Some(SealedFile::docker_agent_at(&file));
        Self {
            dir,
            file,
            source,
            layout,
            keys: Arc::new(MemoryKeyProvider::new()),
        }
    }

    /// The keyseal store, as a new process would open it.
    fn store(&self) -> Store {
        Store::builder(
            Arc::clone(&self.keys),
            FileStore::new(self.store_path()),
            "com.example.test/docker-agent",
        )
        .build()
    }

    fn store_path(&self) -> PathBuf {
        self.dir.path().join("store").join("store.sealed")
    }

    fn migrate(&self, options: &Options) -> keyseal_migrate::Result<keyseal_migrate::Report> {
        self.migrate_from(&self.source, options)
    }

    fn migrate_from(
        &self,
        source: &dyn LegacySource,
        options: &Options,
    ) -> keyseal_migrate::Result<keyseal_migrate::Report> {
        migrate(&self.store(), source, &self.layout, options)
    }

    fn value(&self, name: &str) -> Option<Vec<u8>> {
        self.store()
            .get_bytes(name)
            .unwrap()
            .map(|v| v.expose_secret().to_vec())
    }

    fn legacy(&self) -> Vec<String> {
        self.source.names(SERVICE)
    }
}

fn all_legacy_items() -> Vec<String> {
    [
        "oauth:_index",
        KEY_ITEM,
        "oauth:https://a.example",
        "oauth:https://d.example",
        "oauth:tokens",
    ]
    .map(str::to_owned)
    .to_vec()
}

#[test]
fn the_file_wins_then_the_bundle_then_the_items_and_the_file_and_its_key_stay() {
    let f = Fixture::new();
    let file_before = std::fs::read(&f.file).unwrap();
    let report = f.migrate(&Options::raw()).unwrap();

    // Byte for byte as docker-agent's JSON token objects, newest first.
    assert_eq!(
        f.value("https://a.example").unwrap(),
        br#"{"access_token":"A-file"}"#
    );
    assert_eq!(
        f.value("https://b.example").unwrap(),
        br#"{"access_token":"B-file"}"#
    );
    assert_eq!(
        f.value("https://c.example").unwrap(),
        br#"{"access_token":"C-bundle"}"#
    );
    assert_eq!(
        f.value("https://d.example").unwrap(),
        br#"{"access_token":"D-item"}"#
    );
    assert_eq!(
        report.origins.get("https://a.example"),
        Some(&Origin::SealedFile)
    );
    assert_eq!(
        report.origins.get("https://b.example"),
        Some(&Origin::SealedFile)
    );
    assert_eq!(
        report.origins.get("https://c.example"),
        Some(&Origin::Bundle)
    );
    assert_eq!(report.origins.get("https://d.example"), Some(&Origin::Item));

    // The keyring items are gone; docker-agent's key and file stay, unchanged.
    assert_eq!(f.legacy(), [KEY_ITEM]);
    assert_eq!(std::fs::read(&f.file).unwrap(), file_before);
    let sealed = report.sealed_file.as_ref().unwrap();
    assert_eq!(sealed.path, f.file);
    assert_eq!(sealed.entries, ["https://a.example", "https://b.example"]);
    assert!(!sealed.removed && !sealed.key_item_removed && sealed.kept.is_none());
    assert!(
        report.skipped.iter().any(|(item, _)| item == KEY_ITEM),
        "{report:?}"
    );

    // A second run writes nothing and deletes nothing.
    let store_before = std::fs::read(f.store_path()).unwrap();
    let again = f.migrate(&Options::raw()).unwrap();
    assert!(
        again.moved.is_empty() && again.deleted.is_empty(),
        "{again:?}"
    );
    assert_eq!(std::fs::read(f.store_path()).unwrap(), store_before);
    assert_eq!(std::fs::read(&f.file).unwrap(), file_before);
    assert_eq!(f.legacy(), [KEY_ITEM]);
}

#[test]
fn the_file_alone_migrates_and_a_bundle_or_items_alone_still_do_without_a_file() {
    // The file alone (docker-agent after its own migration).
    let f = Fixture::new();
    for item in all_legacy_items().iter().filter(|i| *i != KEY_ITEM) {
        f.source.delete(SERVICE, item).unwrap();
    }
    let report = f.migrate(&Options::raw()).unwrap();
    assert_eq!(report.moved, ["https://a.example", "https://b.example"]);
    assert_eq!(f.legacy(), [KEY_ITEM]);

    // No file and no key (docker-agent before its sealed file): the
    // keyring layouts migrate as before.
    let f = Fixture::new();
    std::fs::remove_file(&f.file).unwrap();
    f.source.delete(SERVICE, KEY_ITEM).unwrap();
    let report = f.migrate(&Options::raw().remove_sealed_file(true)).unwrap();
    assert_eq!(
        f.value("https://a.example").unwrap(),
        br#"{"access_token":"A-bundle"}"#
    );
    assert!(report.sealed_file.is_none(), "{report:?}");
    assert!(f.legacy().is_empty());
    assert!(
        !f.dir.path().join("mcp-oauth-tokens.enc.lock").exists(),
        "no file, yet its lock file was made"
    );
}

#[test]
fn a_key_item_without_its_file_where_expected_stops_the_migration_and_keeps_everything() {
    // docker-agent keeps its file elsewhere (another configuration
    // directory): the keyring items alone are older than that file, and
    // its key must stay, or that file could never be opened again.
    let f = Fixture::new();
    std::fs::remove_file(&f.file).unwrap();
    for options in [Options::raw(), Options::raw().remove_sealed_file(true)] {
        match f.migrate(&options) {
            Err(Error::SealedFile {
                problem: SealedFileProblem::FileMissing { key_item },
                ..
            }) => assert_eq!(key_item, KEY_ITEM),
            other => panic!("{other:?}"),
        }
        assert_eq!(f.legacy(), all_legacy_items());
        assert!(!f.store_path().exists());
    }
}

#[test]
fn remove_source_keeps_the_file_when_the_store_holds_another_value_for_one_of_its_entries() {
    // Migrated, then docker-agent ran on and refreshed b.example's token
    // in its file: the store's value is the older one, so the file (the
    // only copy of the refreshed token) and its key stay.
    let f = Fixture::new();
    f.migrate(&Options::raw()).unwrap();
    docker_agent::write(
        &f.file,
        &KEY,
        br#"{"https://a.example":{"access_token":"A-file"},"https://b.example":{"access_token":"B-refreshed"}}"#,
    );
    let report = f.migrate(&Options::raw().remove_sealed_file(true)).unwrap();
    let sealed = report.sealed_file.unwrap();
    assert!(!sealed.removed && !sealed.key_item_removed, "{sealed:?}");
    let kept = sealed.kept.unwrap();
    assert!(
        kept.contains("https://b.example") && !kept.contains("https://a.example"),
        "{kept}"
    );
    assert!(f.file.exists());
    assert_eq!(f.legacy(), [KEY_ITEM]);
}

#[test]
fn a_file_sealed_by_an_independent_aes_gcm_opens_byte_for_byte() {
    // Made by tests/data/make-docker-agent-fixture.py (Python's
    // cryptography, i.e. OpenSSL), with Go's json.Marshal escapes.
    let dir = TempDir::new("docker-agent-fixture");
    let file = dir.path().join("mcp-oauth-tokens.enc");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/docker-agent-mcp-oauth-tokens.enc"),
        &file,
    )
    .unwrap();
    let source = MemorySource::new();
    let key: Vec<u8> = (0u8..32).collect();
    source.insert(SERVICE, KEY_ITEM, &key);
    let layout = Layout::new(SERVICE).with_sealed_file(SealedFile::docker_agent_at(&file));
    let store = Store::builder(
        MemoryKeyProvider::new(),
        keyseal::blob::MemoryBlobStore::new(),
        "fixture",
    )
    .build();
    migrate(&store, &source, &layout, &Options::raw()).unwrap();
    assert_eq!(
        store
            .get_bytes("https://mcp.example/a")
            .unwrap()
            .unwrap()
            .expose_secret(),
        br#"{"access_token":"A\u003c1\u0026","token_type":"Bearer","refresh_token":"R1","expiry":"2026-12-01T10:00:00.123456789Z"}"#
    );
    assert_eq!(
        store
            .get_bytes("https://mcp.example/b")
            .unwrap()
            .unwrap()
            .expose_secret(),
        br#"{"access_token":"B1","token_type":"Bearer"}"#
    );
}

/// One way the sealed file cannot be imported, made on a fresh fixture.
struct Broken {
    what: &'static str,
    make: fn(&Fixture),
    expect: fn(&SealedFileProblem) -> bool,
}

fn broken_cases() -> Vec<Broken> {
    vec![
        Broken {
            what: "key item missing",
            make: |f| {
                f.source.delete(SERVICE, KEY_ITEM).unwrap();
            },
            expect: |p| matches!(p, SealedFileProblem::KeyMissing { key_item } if key_item == KEY_ITEM),
        },
        Broken {
            what: "key item of 31 bytes",
            make: |f| f.source.insert(SERVICE, KEY_ITEM, &[7; 31]),
            expect: |p| matches!(p, SealedFileProblem::KeyMalformed { length: 31, .. }),
        },
        Broken {
            what: "wrong key",
            make: |f| f.source.insert(SERVICE, KEY_ITEM, &[8; 32]),
            expect: |p| matches!(p, SealedFileProblem::NotAuthentic),
        },
        Broken {
            what: "a nonce byte changed",
            make: |f| flip(&f.file, 0),
            expect: |p| matches!(p, SealedFileProblem::NotAuthentic),
        },
        Broken {
            what: "a ciphertext byte changed",
            make: |f| flip(&f.file, 20),
            expect: |p| matches!(p, SealedFileProblem::NotAuthentic),
        },
        Broken {
            what: "a tag byte changed",
            make: |f| {
                let len = std::fs::read(&f.file).unwrap().len();
                flip(&f.file, len - 1);
            },
            expect: |p| matches!(p, SealedFileProblem::NotAuthentic),
        },
        Broken {
            what: "truncated by one byte",
            make: |f| {
                let bytes = std::fs::read(&f.file).unwrap();
                docker_agent::write_bytes(&f.file, &bytes[..bytes.len() - 1]);
            },
            expect: |p| matches!(p, SealedFileProblem::NotAuthentic),
        },
        Broken {
            what: "shorter than a nonce and a tag",
            make: |f| docker_agent::write_bytes(&f.file, &[0; 27]),
            expect: |p| matches!(p, SealedFileProblem::Malformed { .. }),
        },
        Broken {
            what: "empty",
            make: |f| docker_agent::write_bytes(&f.file, b""),
            expect: |p| matches!(p, SealedFileProblem::Malformed { .. }),
        },
        Broken {
            what: "a JSON array inside",
            make: |f| docker_agent::write(&f.file, &KEY, br#"["https://a.example"]"#),
            expect: |p| matches!(p, SealedFileProblem::Malformed { .. }),
        },
        Broken {
            what: "not JSON inside",
            make: |f| docker_agent::write(&f.file, &KEY, b"\xff\xfe"),
            expect: |p| matches!(p, SealedFileProblem::Malformed { .. }),
        },
        Broken {
            what: "a directory",
            make: |f| {
                std::fs::remove_file(&f.file).unwrap();
                std::fs::create_dir(&f.file).unwrap();
            },
            expect: |p| {
                matches!(
                    p,
                    SealedFileProblem::NotRegularFile {
                        kind: "a directory"
                    }
                )
            },
        },
        #[cfg(unix)]
        Broken {
            what: "a FIFO",
            make: |f| {
                std::fs::remove_file(&f.file).unwrap();
                rustix::fs::mkfifoat(
                    rustix::fs::CWD,
                    &f.file,
                    rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
                )
                .unwrap();
            },
            expect: |p| matches!(p, SealedFileProblem::NotRegularFile { kind: "a FIFO" }),
        },
        #[cfg(unix)]
        Broken {
            what: "a symbolic link to a good file",
            make: |f| {
                let elsewhere = f.dir.path().join("elsewhere.enc");
                std::fs::rename(&f.file, &elsewhere).unwrap();
                std::os::unix::fs::symlink(&elsewhere, &f.file).unwrap();
            },
            expect: |p| {
                matches!(
                    p,
                    SealedFileProblem::NotRegularFile {
                        kind: "a symbolic link"
                    }
                )
            },
        },
        #[cfg(unix)]
        Broken {
            what: "its lock file a symbolic link",
            make: |f| {
                let target = f.dir.path().join("planted");
                std::os::unix::fs::symlink(&target, lock_path(f)).unwrap();
            },
            expect: |p| {
                matches!(
                    p,
                    SealedFileProblem::LockFile {
                        kind: "a symbolic link",
                        ..
                    }
                )
            },
        },
        #[cfg(unix)]
        Broken {
            what: "its lock file a FIFO",
            make: |f| {
                rustix::fs::mkfifoat(
                    rustix::fs::CWD,
                    lock_path(f),
                    rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
                )
                .unwrap();
            },
            expect: |p| matches!(p, SealedFileProblem::LockFile { kind: "a FIFO", .. }),
        },
        Broken {
            what: "its lock file a directory",
            make: |f| std::fs::create_dir(lock_path(f)).unwrap(),
            expect: |p| {
                matches!(
                    p,
                    SealedFileProblem::LockFile {
                        kind: "a directory",
                        ..
                    }
                )
            },
        },
        #[cfg(unix)]
        Broken {
            what: "a socket",
            make: |f| {
                std::fs::remove_file(&f.file).unwrap();
                // The socket file stays after the listener goes.
                drop(std::os::unix::net::UnixListener::bind(&f.file).unwrap());
            },
            expect: |p| matches!(p, SealedFileProblem::NotRegularFile { kind: "a socket" }),
        },
        Broken {
            what: "over 64 MiB (sparse)",
            make: |f| {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&f.file)
                    .unwrap();
                file.set_len(keyseal_migrate::MAX_SEALED_FILE + 1).unwrap();
            },
            expect: |p| matches!(p, SealedFileProblem::TooLarge { .. }),
        },
    ]
}

fn flip(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x01;
    docker_agent::write_bytes(path, &bytes);
}

fn lock_path(f: &Fixture) -> PathBuf {
    f.dir.path().join("mcp-oauth-tokens.enc.lock")
}

/// What a path is now, to tell that a failure changed nothing.
fn snapshot(path: &Path) -> Option<Vec<u8>> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if meta.is_file() {
        std::fs::read(path).ok()
    } else {
        Some(format!("{:?}", meta.file_type()).into_bytes())
    }
}

#[test]
fn a_sealed_file_that_cannot_be_imported_imports_nothing_and_deletes_nothing() {
    let cases = broken_cases();
    assert!(cases.len() >= 18);
    for case in cases {
        for options in [
            Options::raw(),
            Options::raw().remove_sealed_file(true),
            Options::raw().dry_run(true),
        ] {
            let f = Fixture::new();
            (case.make)(&f);
            let legacy = f.legacy();
            let file = snapshot(&f.file);
            let when = format!("{} with {options:?}", case.what);
            match f.migrate(&options) {
                Err(Error::SealedFile { path, problem }) => {
                    assert_eq!(path, f.file, "{when}");
                    assert!((case.expect)(&problem), "{when}: {problem:?}");
                    let message = Error::SealedFile { path, problem }.to_string();
                    assert!(
                        message.contains("nothing was migrated"),
                        "{when}: {message}"
                    );
                }
                other => panic!("{when}: {other:?}"),
            }
            assert_eq!(f.legacy(), legacy, "{when}: a legacy item was deleted");
            assert_eq!(snapshot(&f.file), file, "{when}: the file changed");
            assert!(!f.store_path().exists(), "{when}: the store was written");
        }
    }
}

/// A process that holds docker-agent's lock (util-linux `flock`, the same
/// `flock(2)` docker-agent takes) and then runs `then` in a shell.
#[cfg(unix)]
fn hold_lock(f: &Fixture, then: &str) -> Child {
    // `--no-fork`: the shell is the process holding the lock, so killing
    // it releases the lock (a forked child would inherit it).
    let child = Command::new("flock")
        .args(["--exclusive", "--no-fork"])
        .arg(lock_path(f))
        .args(["sh", "-c", then])
        .spawn()
        .expect("util-linux flock");
    // Wait until it holds the lock.
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock_path(f))
        .unwrap();
    for _ in 0..500 {
        match lock.try_lock() {
            Ok(()) => {
                lock.unlock().unwrap();
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(_) => return child,
        }
    }
    panic!("the lock holder never took the lock");
}

#[cfg(unix)]
#[test]
fn a_lock_held_past_the_timeout_is_a_typed_error_and_changes_nothing() {
    let f = Fixture::new();
    let mut holder = hold_lock(&f, "exec sleep 60");
    let legacy = f.legacy();
    let result = f.migrate(&Options::raw().sealed_file_lock_timeout(Duration::from_millis(200)));
    match result {
        Err(Error::SealedFile {
            problem: SealedFileProblem::LockTimeout { lock, waited },
            ..
        }) => {
            assert_eq!(lock, lock_path(&f));
            assert!(waited >= Duration::from_millis(200));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.legacy(), legacy);
    assert!(!f.store_path().exists());
    // The holder goes (killed: the kernel releases its lock); the next run
    // finishes.
    holder.kill().unwrap();
    holder.wait().unwrap();
    f.migrate(&Options::raw()).unwrap();
    assert_eq!(
        f.value("https://b.example").unwrap(),
        br#"{"access_token":"B-file"}"#
    );
}

#[cfg(unix)]
#[test]
fn a_running_docker_agent_is_never_read_mid_write() {
    // docker-agent, holding its lock, replaces its file a moment later; a
    // reader that did not wait for the lock would import the old token.
    let f = Fixture::new();
    let newer = f.dir.path().join("newer.enc");
    docker_agent::write(
        &newer,
        &KEY,
        br#"{"https://b.example":{"access_token":"B-refreshed"}}"#,
    );
    let mut holder = hold_lock(
        &f,
        &format!("sleep 1; mv '{}' '{}'", newer.display(), f.file.display()),
    );
    f.migrate(&Options::raw().sealed_file_lock_timeout(Duration::from_secs(60)))
        .unwrap();
    holder.wait().unwrap();
    assert_eq!(
        f.value("https://b.example").unwrap(),
        br#"{"access_token":"B-refreshed"}"#
    );
}

/// A legacy keyring that checks, at each delete, that the sealed file is
/// gone before its key item goes, and can run something at a given delete.
struct Watching<'a> {
    inner: &'a MemorySource,
    file: PathBuf,
    at_delete: Option<AtDelete<'a>>,
}

/// Something that happens when one item is deleted.
struct AtDelete<'a> {
    item: &'static str,
    run: Box<dyn Fn() + Send + Sync + 'a>,
}

impl std::fmt::Debug for Watching<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watching")
    }
}

impl LegacySource for Watching<'_> {
    fn read(&self, service: &str, item: &str) -> keyseal::keys::Result<Option<Zeroizing<Vec<u8>>>> {
        self.inner.read(service, item)
    }
    fn search(&self, service: &str) -> keyseal::keys::Result<Option<Vec<String>>> {
        self.inner.search(service)
    }
    fn delete(&self, service: &str, item: &str) -> keyseal::keys::Result<bool> {
        if item == KEY_ITEM {
            assert!(!self.file.exists(), "the key item went before the file");
        }
        if let Some(at) = &self.at_delete
            && at.item == item
        {
            (at.run)();
        }
        self.inner.delete(service, item)
    }
}

#[test]
fn remove_source_removes_the_file_first_and_its_key_item_last_and_keeps_the_lock_file() {
    let f = Fixture::new();
    let watching = Watching {
        inner: &f.source,
        file: f.file.clone(),
        at_delete: None,
    };
    let report = f
        .migrate_from(&watching, &Options::raw().remove_sealed_file(true))
        .unwrap();
    assert!(!f.file.exists());
    assert!(f.legacy().is_empty(), "{:?}", f.legacy());
    assert_eq!(report.deleted.last().map(String::as_str), Some(KEY_ITEM));
    let sealed = report.sealed_file.unwrap();
    assert!(sealed.removed && sealed.key_item_removed, "{sealed:?}");
    assert!(lock_path(&f).exists(), "docker-agent keeps its lock file");
    for name in [
        "https://a.example",
        "https://b.example",
        "https://c.example",
        "https://d.example",
    ] {
        assert!(f.value(name).is_some(), "{name}");
    }
    // Again: nothing left to do.
    let again = f.migrate(&Options::raw().remove_sealed_file(true)).unwrap();
    assert!(again.is_noop(), "{again:?}");
}

#[test]
fn remove_source_keeps_a_file_docker_agent_wrote_again_after_the_import() {
    let f = Fixture::new();
    let file = f.file.clone();
    let watching = Watching {
        inner: &f.source,
        file: f.file.clone(),
        // docker-agent refreshes a token while the keyring items are deleted.
        at_delete: Some(AtDelete {
            item: "oauth:tokens",
            run: Box::new(move || {
                docker_agent::write(
                    &file,
                    &KEY,
                    br#"{"https://b.example":{"access_token":"B-refreshed"}}"#,
                );
            }),
        }),
    };
    let report = f
        .migrate_from(&watching, &Options::raw().remove_sealed_file(true))
        .unwrap();
    let sealed = report.sealed_file.unwrap();
    assert!(!sealed.removed && !sealed.key_item_removed, "{sealed:?}");
    assert!(sealed.kept.unwrap().contains("wrote it again"));
    assert_eq!(
        f.legacy(),
        [KEY_ITEM],
        "the key item must stay with its file"
    );
    assert!(f.file.exists());
}

#[test]
fn a_keyring_item_written_again_during_the_migration_is_kept_not_deleted() {
    // An older docker-agent, still running, refreshes its bundle while the
    // per-resource items are deleted: the bundle now holds a token the
    // store does not, so it must stay.
    let f = Fixture::new();
    let source = &f.source;
    let refreshed = br#"{"https://c.example":{"access_token":"C-refreshed"}}"#;
    let watching = Watching {
        inner: &f.source,
        file: f.file.clone(),
        at_delete: Some(AtDelete {
            item: "oauth:https://a.example",
            run: Box::new(move || source.insert(SERVICE, "oauth:tokens", refreshed)),
        }),
    };
    let report = f.migrate_from(&watching, &Options::raw()).unwrap();
    assert_eq!(report.changed_since_read, ["oauth:tokens"]);
    assert!(
        report.kept.iter().any(|k| k == "oauth:tokens"),
        "{report:?}"
    );
    assert!(
        !report.deleted.iter().any(|d| d == "oauth:tokens"),
        "{report:?}"
    );
    assert_eq!(
        f.source
            .read(SERVICE, "oauth:tokens")
            .unwrap()
            .unwrap()
            .as_slice(),
        refreshed,
        "the refreshed bundle was deleted"
    );
    // The items that did not change went as before.
    assert!(
        report
            .deleted
            .iter()
            .any(|d| d == "oauth:https://a.example")
    );
}

#[cfg(unix)]
#[test]
fn a_removal_that_fails_keeps_the_file_and_its_key_and_a_failed_key_delete_is_reported() {
    // The lock file turns into a FIFO between the import and the removal.
    let f = Fixture::new();
    let lock = lock_path(&f);
    let watching = Watching {
        inner: &f.source,
        file: f.file.clone(),
        at_delete: Some(AtDelete {
            item: "oauth:tokens",
            run: Box::new(move || {
                std::fs::remove_file(&lock).unwrap();
                rustix::fs::mkfifoat(
                    rustix::fs::CWD,
                    &lock,
                    rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
                )
                .unwrap();
            }),
        }),
    };
    let report = f
        .migrate_from(&watching, &Options::raw().remove_sealed_file(true))
        .unwrap();
    let sealed = report.sealed_file.unwrap();
    assert!(!sealed.removed && sealed.kept.is_some(), "{sealed:?}");
    assert!(f.file.exists());
    assert_eq!(f.legacy(), [KEY_ITEM]);
    std::fs::remove_file(lock_path(&f)).unwrap();

    // Now the key item's delete fails: the file goes, the key item stays
    // and is reported with what to do.
    f.source.fail_delete(KEY_ITEM);
    let report = f.migrate(&Options::raw().remove_sealed_file(true)).unwrap();
    assert!(!f.file.exists());
    let (_, why) = report
        .delete_failures
        .iter()
        .find(|(item, _)| item == KEY_ITEM)
        .unwrap_or_else(|| panic!("{report:?}"));
    assert!(why.contains("delete this keyring item yourself"), "{why}");
    assert_eq!(f.legacy(), [KEY_ITEM]);
    // A key item whose file is gone: the next run says so and moves nothing.
    f.source.heal();
    assert!(matches!(
        f.migrate(&Options::raw()),
        Err(Error::SealedFile {
            problem: SealedFileProblem::FileMissing { .. },
            ..
        })
    ));
}

#[test]
fn a_dry_run_names_each_entry_with_its_origin_and_writes_nothing() {
    let f = Fixture::new();
    let file = std::fs::read(&f.file).unwrap();
    // Any timeout, however large, is a bound and never a panic.
    let report = f
        .migrate(
            &Options::raw()
                .dry_run(true)
                .remove_sealed_file(true)
                .sealed_file_lock_timeout(Duration::MAX),
        )
        .unwrap();
    assert_eq!(
        report.moved,
        [
            "https://a.example",
            "https://b.example",
            "https://c.example",
            "https://d.example"
        ]
    );
    assert_eq!(
        report.origins.get("https://a.example"),
        Some(&Origin::SealedFile)
    );
    assert_eq!(
        report.origins.get("https://c.example"),
        Some(&Origin::Bundle)
    );
    assert_eq!(report.origins.get("https://d.example"), Some(&Origin::Item));
    assert!(report.deleted.is_empty());
    assert_eq!(f.legacy(), all_legacy_items());
    assert_eq!(std::fs::read(&f.file).unwrap(), file);
    assert!(!f.store_path().exists());
}

#[test]
fn a_failure_at_the_persist_or_the_read_back_keeps_the_file_its_key_and_every_item() {
    use keyseal::blob::MemoryBlobStore;
    use keyseal::blob::testing::FaultyBlobStore;
    for at in ["persist", "read-back"] {
        let f = Fixture::new();
        let blob = Arc::new(FaultyBlobStore::new(MemoryBlobStore::new()));
        let store = Store::builder(MemoryKeyProvider::new(), Arc::clone(&blob), "t").build();
        match at {
            "persist" => blob.fail_write_on(1),
            _ => blob.fail_read_on(1),
        }
        let file = std::fs::read(&f.file).unwrap();
        let options = Options::raw().remove_sealed_file(true);
        assert!(
            migrate(&store, &f.source, &f.layout, &options).is_err(),
            "{at}"
        );
        assert_eq!(f.legacy(), all_legacy_items(), "{at}");
        assert_eq!(std::fs::read(&f.file).unwrap(), file, "{at}");
        // The next run finishes.
        migrate(&store, &f.source, &f.layout, &options).unwrap();
        assert!(!f.file.exists() && f.legacy().is_empty(), "{at}");
    }
}

/// A legacy keyring that answers for items but whose search times out.
#[derive(Debug)]
struct SearchTimesOut<'a>(&'a MemorySource);

impl LegacySource for SearchTimesOut<'_> {
    fn read(&self, service: &str, item: &str) -> keyseal::keys::Result<Option<Zeroizing<Vec<u8>>>> {
        self.0.read(service, item)
    }
    fn search(&self, _: &str) -> keyseal::keys::Result<Option<Vec<String>>> {
        Err(keyseal::keys::Error::Unavailable {
            location: "search".to_owned(),
            reason: keyseal::keys::UnavailableReason::TimedOut(Duration::from_secs(5)),
            source: None,
        })
    }
    fn delete(&self, service: &str, item: &str) -> keyseal::keys::Result<bool> {
        self.0.delete(service, item)
    }
}

#[test]
fn a_keyring_that_stops_answering_with_the_file_there_is_an_error_not_nothing_to_migrate() {
    let f = Fixture::new();
    let file = std::fs::read(&f.file).unwrap();
    match f.migrate_from(&SearchTimesOut(&f.source), &Options::raw()) {
        Err(Error::Search { .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(!f.store_path().exists(), "the store was written");
    assert_eq!(f.legacy(), all_legacy_items());
    assert_eq!(std::fs::read(&f.file).unwrap(), file);
}
