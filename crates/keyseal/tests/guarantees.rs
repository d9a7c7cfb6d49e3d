//! The seed's guarantees, each shown with real files, and real processes
//! where processes matter.
#![cfg(test)]

mod support;

use std::process::Stdio;
use std::sync::Arc;

use keyseal::blob::{BlobStore, FileStore, MemoryBlobStore};
use keyseal::keys::testing::{FaultyProvider, Operation};
use keyseal::keys::{Backend, KeyProvider, KeyringProvider, MemoryKeyProvider, ProviderInfo};
use keyseal::{Error, ExposeSecret, Store};
use support::TempDir;

/// The memory provider, counted and scriptable.
type Keys = FaultyProvider<MemoryKeyProvider>;

const CONTEXT: &str = "com.example.test/guarantees";

fn store(provider: &Arc<Keys>, path: &std::path::Path) -> Store {
    Store::builder(Arc::clone(provider), FileStore::new(path), CONTEXT).build()
}

/// The blob stores the in-process guarantees run over, so that the memory
/// store users test with cannot drift from the file store.
#[derive(Clone, Copy, Debug)]
enum BlobKind {
    File,
    Memory,
}

/// One store's place, shared by every store a test opens there (as one file
/// is shared by processes).
struct Place {
    backend: BlobKind,
    dir: TempDir,
    memory: Arc<MemoryBlobStore>,
}

impl Place {
    fn blob(&self) -> Arc<dyn BlobStore> {
        match self.backend {
            BlobKind::File => Arc::new(FileStore::new(self.dir.file())),
            BlobKind::Memory => Arc::clone(&self.memory) as Arc<dyn BlobStore>,
        }
    }

    fn store(&self, provider: &Arc<Keys>) -> Store {
        Store::builder(Arc::clone(provider), self.blob(), CONTEXT).build()
    }

    /// The stored bytes (for the file store, the file's).
    fn bytes(&self) -> Vec<u8> {
        match self.backend {
            BlobKind::File => std::fs::read(self.dir.file()).unwrap(),
            BlobKind::Memory => self.memory.read().unwrap().unwrap().into_bytes(),
        }
    }
}

/// Runs `check` over the file store and over the memory store.
fn each_backend(tag: &str, check: impl Fn(&Place)) {
    for backend in [BlobKind::File, BlobKind::Memory] {
        check(&Place {
            backend,
            dir: TempDir::new(tag),
            memory: Arc::new(MemoryBlobStore::new()),
        });
    }
}

fn key_calls(p: &Keys) -> usize {
    p.calls(Operation::Load) + p.calls(Operation::Create)
}

#[test]
fn the_keyring_is_touched_once_over_a_long_mixed_run_from_8_threads() {
    each_backend("once", touched_once);
}

fn touched_once(place: &Place) {
    let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
    let store = place.store(&provider);
    std::thread::scope(|s| {
        for t in 0..8 {
            let store = store.clone();
            s.spawn(move || {
                for i in 0..60 {
                    let name = format!("server-{}", (t * 7 + i) % 10);
                    match i % 4 {
                        0 => store.set(&name, &format!("token {t}/{i}")).unwrap(),
                        1 => {
                            let _: Option<String> = store.get(&name).unwrap();
                        }
                        2 => {
                            store.list().unwrap();
                        }
                        _ => {
                            store.remove(&name).unwrap();
                        }
                    }
                }
            });
        }
    });
    assert_eq!(
        key_calls(&provider),
        1,
        "the keyring was touched more than once ({:?})",
        place.backend
    );
    assert_eq!(provider.calls(Operation::Create), 1);
    assert_eq!(provider.calls(Operation::Delete), 0);

    // A second process (a new store over the same file and keyring) loads
    // once, and only once, however much it does.
    let only = provider.inner().key_ids();
    assert_eq!(only.len(), 1, "one key for one store");
    let second_provider = Arc::new(Keys::new(MemoryKeyProvider::with_key(
        provider.load(&only[0]).unwrap(),
    )));
    let second = place.store(&second_provider);
    for i in 0..50 {
        second.set(&format!("n{}", i % 5), &i).unwrap();
        second.list().unwrap();
        let _: Option<u32> = second.get("n1").unwrap();
    }
    assert_eq!(second_provider.calls(Operation::Load), 1);
    assert_eq!(second_provider.calls(Operation::Create), 0);
}

#[test]
fn lookups_and_lists_on_a_missing_file_never_touch_the_keyring() {
    let dir = TempDir::new("missing");
    let path = dir.path().join("sub").join("store.sealed");
    let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
    let store = store(&provider, &path);
    assert_eq!(store.get::<String>("x").unwrap(), None);
    assert!(store.get_bytes("x").unwrap().is_none());
    assert!(store.list().unwrap().is_empty());
    assert!(store.entries().unwrap().is_empty());
    assert!(!store.remove("x").unwrap());
    assert_eq!(provider.total_calls(), 0, "the keyring was touched");
    assert!(provider.inner().key_ids().is_empty(), "a key was created");
    assert!(!dir.path().join("sub").exists(), "a lookup created files");
}

/// Forwards to a real keyring and prints what each call did, so the parent
/// can count key creations across processes.
#[derive(Debug)]
struct Reporting(KeyringProvider);

impl KeyProvider for Reporting {
    fn info(&self) -> ProviderInfo {
        self.0.info()
    }
    fn load(&self, id: &keyseal::seal::KeyId) -> keyseal::keys::Result<keyseal::seal::Key> {
        let r = self.0.load(id);
        println!("provider-load {}", if r.is_ok() { "ok" } else { "err" });
        r
    }
    fn create(&self) -> keyseal::keys::Result<keyseal::seal::Key> {
        let r = self.0.create();
        println!(
            "provider-create {}",
            if r.is_ok() { "ok" } else { "refused" }
        );
        r
    }
    fn delete(&self, id: &keyseal::seal::KeyId) -> keyseal::keys::Result<()> {
        self.0.delete(id)
    }
}

/// The key id the file at `path` is sealed for, read from its header.
fn sealed_for(path: &std::path::Path) -> keyseal::seal::KeyId {
    Store::builder(MemoryKeyProvider::new(), FileStore::new(path), CONTEXT)
        .build()
        .status()
        .key_id
        .expect("the file names its key")
}

fn kernel_provider(service: &str) -> KeyringProvider {
    KeyringProvider::builder(service, "store-key")
        .backend(Backend::KernelKeyring)
        .build()
}

#[test]
#[ignore = "child process of the multi-process tests"]
fn child_set() {
    if !support::is_child() {
        return;
    }
    let path = std::env::var("KEYSEAL_TEST_PATH").unwrap();
    let service = std::env::var("KEYSEAL_TEST_SERVICE").unwrap();
    let me = std::env::var("KEYSEAL_TEST_WRITER").unwrap();
    let count: usize = std::env::var("KEYSEAL_TEST_COUNT")
        .unwrap()
        .parse()
        .unwrap();
    let store = Store::builder(
        Reporting(kernel_provider(&service)),
        FileStore::new(path),
        CONTEXT,
    )
    .build();
    for i in 0..count {
        store
            .set(&format!("{me}-{i}"), &format!("value of {me}-{i}"))
            .unwrap();
    }
}

/// Starts `writers` child processes at once, each setting `count` entries.
fn run_writers(dir: &TempDir, service: &str, writers: usize, count: usize) -> Vec<String> {
    let children: Vec<_> = (0..writers)
        .map(|w| {
            support::child("child_set")
                .env("KEYSEAL_TEST_PATH", dir.file())
                .env("KEYSEAL_TEST_SERVICE", service)
                .env("KEYSEAL_TEST_WRITER", format!("w{w}"))
                .env("KEYSEAL_TEST_COUNT", count.to_string())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success() && stdout.contains("1 passed"),
                "a writer failed:\n{stdout}"
            );
            stdout
        })
        .collect()
}

/// A kernel-keyring service name, or `None` (after printing why) when the
/// kernel keyring is not usable here.
fn kernel_service(tag: &str) -> Option<String> {
    let service = support::unique(tag);
    match kernel_provider(&service).load(&keyseal::seal::Key::generate().unwrap().id()) {
        Err(keyseal::keys::Error::NotFound { .. }) => Some(service),
        other => {
            support::skip(&format!("the kernel keyring is not usable: {other:?}"));
            None
        }
    }
}

#[test]
fn processes_starting_at_once_create_exactly_one_key() {
    let Some(service) = kernel_service("onekey") else {
        return;
    };
    let dir = TempDir::new("onekey");
    let outputs = run_writers(&dir, &service, 6, 1);
    let creates: usize = outputs
        .iter()
        .map(|o| o.matches("provider-create ok").count())
        .sum();
    let refused: usize = outputs
        .iter()
        .map(|o| o.matches("provider-create refused").count())
        .sum();
    assert_eq!(creates, 1, "more than one process created a key");
    assert_eq!(
        refused, 0,
        "a process tried to create a key while a sealed file existed"
    );
    let key_id = sealed_for(&dir.file());
    let key = kernel_provider(&service).load(&key_id).unwrap();
    let store = Store::builder(
        MemoryKeyProvider::with_key(key),
        FileStore::new(dir.file()),
        CONTEXT,
    )
    .build();
    assert_eq!(store.list().unwrap().len(), 6);
    kernel_provider(&service).delete(&key_id).unwrap();
}

#[test]
fn processes_writing_different_entries_lose_none() {
    let Some(service) = kernel_service("merge") else {
        return;
    };
    let dir = TempDir::new("merge");
    run_writers(&dir, &service, 8, 25);
    let key_id = sealed_for(&dir.file());
    let key = kernel_provider(&service).load(&key_id).unwrap();
    let store = Store::builder(
        MemoryKeyProvider::with_key(key),
        FileStore::new(dir.file()),
        CONTEXT,
    )
    .build();
    let names = store.list().unwrap();
    assert_eq!(names.len(), 200, "entries were lost");
    for w in 0..8 {
        for i in 0..25 {
            let name = format!("w{w}-{i}");
            assert_eq!(
                store.get::<String>(&name).unwrap().as_deref(),
                Some(&*format!("value of {name}"))
            );
        }
    }
    kernel_provider(&service).delete(&key_id).unwrap();
}

#[test]
fn another_writers_change_is_seen_by_a_cached_reader() {
    each_backend("cache", |place| {
        let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
        let a = place.store(&provider);
        let b = place.store(&provider);
        a.set("token", "one").unwrap();
        assert_eq!(b.get::<String>("token").unwrap().as_deref(), Some("one"));
        a.set("token", "two").unwrap();
        assert_eq!(b.get::<String>("token").unwrap().as_deref(), Some("two"));
        b.remove("token").unwrap();
        assert_eq!(a.get::<String>("token").unwrap(), None);
    });
}

#[test]
fn a_read_inside_a_transaction_returns_the_committed_value_with_either_store() {
    // The memory store once waited on its own lock here, where the file
    // store returns.
    each_backend("read-in-tx", |place| {
        let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
        let store = place.store(&provider);
        store.set("token", "committed").unwrap();
        let seen = store
            .transaction(|tx| {
                tx.set("token", "next")?;
                store.get::<String>("token")
            })
            .unwrap();
        assert_eq!(seen.as_deref(), Some("committed"), "{:?}", place.backend);
        assert_eq!(
            store.get::<String>("token").unwrap().as_deref(),
            Some("next")
        );
    });
}

/// Sets up a store with one entry and returns its file's bytes.
fn sealed_store(dir: &TempDir) -> (Arc<Keys>, Vec<u8>) {
    let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
    store(&provider, &dir.file())
        .set("github", "gho_secret")
        .unwrap();
    (provider, std::fs::read(dir.file()).unwrap())
}

fn assert_untouched(dir: &TempDir, bytes: &[u8]) {
    assert!(
        std::fs::read(dir.file()).unwrap() == bytes,
        "the file was changed"
    );
}

#[test]
fn a_write_through_the_store_inside_its_own_transaction_times_out_with_either_store() {
    let timeout = std::time::Duration::from_millis(200);
    let dir = TempDir::new("write-in-tx");
    let blobs: [Arc<dyn BlobStore>; 2] = [
        Arc::new(FileStore::new(dir.file()).with_lock_timeout(timeout)),
        Arc::new(MemoryBlobStore::new().with_lock_timeout(timeout)),
    ];
    for blob in blobs {
        let keys = Arc::new(Keys::new(MemoryKeyProvider::new()));
        let store = Store::builder(keys, blob, CONTEXT).build();
        store.set("a", "1").unwrap();
        let nested = store
            .transaction(|tx| {
                tx.set("a", "2")?;
                Ok::<_, Error>(store.set("b", "written from inside"))
            })
            .unwrap();
        assert!(
            matches!(nested, Err(Error::LockTimeout { .. })),
            "{}: {nested:?}",
            store.location()
        );
        assert_eq!(store.get::<String>("a").unwrap().as_deref(), Some("2"));
        assert_eq!(store.get::<String>("b").unwrap(), None);
    }
}

#[test]
fn a_file_that_is_not_a_store_is_never_overwritten() {
    let dir = TempDir::new("notastore");
    let junk = b"{\"tokens\": \"plaintext from another tool\"}".to_vec();
    std::fs::write(dir.file(), &junk).unwrap();
    let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
    let store = store(&provider, &dir.file());
    assert!(matches!(store.set("a", "b"), Err(Error::NotAStore { .. })));
    assert!(matches!(
        store.get::<String>("a"),
        Err(Error::NotAStore { .. })
    ));
    assert_untouched(&dir, &junk);
    assert_eq!(
        provider.calls(Operation::Create),
        0,
        "a key was created while a file existed"
    );
}

#[test]
fn a_tampered_file_is_reported_and_never_overwritten() {
    each_backend("tampered", |place| {
        let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
        place.store(&provider).set("github", "gho_secret").unwrap();
        assert!(keyseal::blob::testing::tamper(&place.blob()).unwrap());
        let bytes = place.bytes();
        let store = place.store(&provider);
        assert!(matches!(store.set("x", "y"), Err(Error::Tampered { .. })));
        let err = store.get::<String>("github").unwrap_err();
        assert!(matches!(err, Error::Tampered { .. }), "{:?}", place.backend);
        assert!(err.to_string().contains("left untouched"), "{err}");
        // The error names the store, with its path for a file store.
        if let Error::Tampered { store: at } = &err {
            match place.backend {
                BlobKind::File => assert_eq!(at.path(), Some(place.dir.file().as_path())),
                BlobKind::Memory => assert_eq!(at.path(), None),
            }
        }
        assert_eq!(place.bytes(), bytes, "the damaged blob was changed");
    });
}

#[test]
fn a_wrong_key_is_reported_and_the_file_is_kept() {
    let dir = TempDir::new("wrongkey");
    let (_, bytes) = sealed_store(&dir);
    // A provider whose one key is given from outside (as an environment
    // variable or a mounted secret is), and is not the file's.
    let other = Given(keyseal::seal::Key::generate().unwrap());
    let offered_id = other.0.id();
    let store = Store::builder(other, FileStore::new(dir.file()), CONTEXT).build();
    match store.set("x", "y") {
        Err(Error::WrongKey {
            offered,
            sealed_for,
            ..
        }) => {
            assert_eq!(offered, offered_id);
            assert_eq!(sealed_for.len(), 1);
        }
        r => panic!("{r:?}"),
    }
    assert_untouched(&dir, &bytes);
}

/// A provider with one given key, like the environment provider.
#[derive(Debug)]
struct Given(keyseal::seal::Key);

impl KeyProvider for Given {
    fn info(&self) -> ProviderInfo {
        ProviderInfo::new(
            keyseal::keys::ProviderKind::Other,
            keyseal::keys::KeyLifetime::External,
            "a given key",
        )
    }
    fn load(&self, _: &keyseal::seal::KeyId) -> keyseal::keys::Result<keyseal::seal::Key> {
        Ok(self.0.duplicate())
    }
    fn create(&self) -> keyseal::keys::Result<keyseal::seal::Key> {
        Err(keyseal::keys::Error::ReadOnly {
            location: "a given key".into(),
            operation: "create",
        })
    }
    fn delete(&self, _: &keyseal::seal::KeyId) -> keyseal::keys::Result<()> {
        Err(keyseal::keys::Error::ReadOnly {
            location: "a given key".into(),
            operation: "delete",
        })
    }
    fn given(&self) -> Option<keyseal::keys::Result<keyseal::seal::Key>> {
        Some(Ok(self.0.duplicate()))
    }
}

#[test]
fn a_missing_key_with_a_sealed_file_is_key_missing_and_no_key_is_created() {
    let dir = TempDir::new("keymissing");
    let (_, bytes) = sealed_store(&dir);
    let forgetful = Arc::new(Keys::new(MemoryKeyProvider::new()));
    let store = store(&forgetful, &dir.file());
    assert!(matches!(
        store.get::<String>("github"),
        Err(Error::KeyMissing { .. })
    ));
    assert!(matches!(store.set("x", "y"), Err(Error::KeyMissing { .. })));
    assert_eq!(
        forgetful.calls(Operation::Create),
        0,
        "a new key was created while a sealed file exists"
    );
    assert!(forgetful.inner().key_ids().is_empty());
    assert_untouched(&dir, &bytes);
}

#[test]
fn values_round_trip_byte_for_byte() {
    each_backend("bytes", |place| {
        let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
        let store = place.store(&provider);
        let value: Vec<u8> = (0..=255).collect();
        store.set_bytes("raw", &value).unwrap();
        assert_eq!(
            store.get_bytes("raw").unwrap().unwrap().expose_secret(),
            &value[..]
        );
        assert!(
            !place.bytes().windows(16).any(|w| w == &value[100..116]),
            "plaintext stored ({:?})",
            place.backend
        );
    });
}
