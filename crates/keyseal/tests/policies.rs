//! Typed errors beyond the seed, the application's policies, `status()`,
//! schema evolution, and the real Secret Service end to end.
#![cfg(test)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use keyseal::blob::testing::FaultyBlobStore;
use keyseal::blob::{FileStore, MemoryBlobStore};
use keyseal::keys::testing::{FaultyProvider, Operation};
use keyseal::keys::{
    Backend, KeyLifetime, KeyringProvider, MemoryKeyProvider, ProviderKind, UnavailableReason,
};
use keyseal::{Algorithm, Error, ExposeSecret, OnKeyringUnavailable, OnUnreadable, Store};
use serde::{Deserialize, Serialize};
use support::TempDir;

/// The memory store, scriptable.
type Blobs = FaultyBlobStore<MemoryBlobStore>;

/// The memory provider, counted and scriptable.
type Keys = FaultyProvider<MemoryKeyProvider>;

const CONTEXT: &str = "com.example.test/policies";

fn file_store(provider: &Arc<Keys>, dir: &TempDir) -> keyseal::StoreBuilder {
    Store::builder(Arc::clone(provider), FileStore::new(dir.file()), CONTEXT)
}

#[test]
fn a_newer_format_version_is_unsupported_and_never_quarantined() {
    let dir = TempDir::new("newer");
    let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
    file_store(&provider, &dir).build().set("a", "b").unwrap();
    let mut bytes = std::fs::read(dir.file()).unwrap();
    bytes[9] = 4; // format version 4
    std::fs::write(dir.file(), &bytes).unwrap();
    let store = file_store(&provider, &dir)
        .on_unreadable(OnUnreadable::Quarantine)
        .build();
    match store.set("c", "d") {
        Err(Error::UnsupportedVersion {
            found: 4,
            supported: 3,
            ..
        }) => {}
        r => panic!("{r:?}"),
    }
    assert!(store.status().quarantined.is_empty());
    assert_eq!(std::fs::read(dir.file()).unwrap(), bytes);
}

#[test]
fn a_set_that_would_outgrow_the_size_limit_is_refused_and_nothing_moves() {
    let dir = TempDir::new("outgrow");
    let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
    let blob = FileStore::new(dir.file()).with_max_size(16 * 1024);
    let store = Store::builder(Arc::clone(&provider), blob, CONTEXT)
        .on_unreadable(OnUnreadable::Quarantine)
        .build();
    store.set("small", "value").unwrap();
    let before = std::fs::read(dir.file()).unwrap();
    match store.set_bytes("big", &[7u8; 32 * 1024]) {
        Err(Error::Storage {
            source: keyseal::blob::Error::WriteTooLarge { limit, .. },
        }) => assert_eq!(limit, 16 * 1024),
        r => panic!("expected WriteTooLarge, got {r:?}"),
    }
    // Neither written nor moved aside: the store keeps working.
    assert_eq!(std::fs::read(dir.file()).unwrap(), before);
    assert!(store.status().quarantined.is_empty());
    assert_eq!(store.list().unwrap(), ["small"]);
    store.set("other", "fits").unwrap();
}

#[test]
fn the_quarantine_policy_moves_an_unusable_file_aside_and_starts_fresh() {
    let dir = TempDir::new("quarantine");
    let junk = b"not a keyseal file".to_vec();
    std::fs::write(dir.file(), &junk).unwrap();
    let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
    let store = file_store(&provider, &dir)
        .on_unreadable(OnUnreadable::Quarantine)
        .build();
    store.set("fresh", "start").unwrap();
    assert_eq!(
        store.get::<String>("fresh").unwrap().as_deref(),
        Some("start")
    );
    let status = store.status();
    assert_eq!(status.quarantined.len(), 1, "{status:?}");
    let moved = &status.quarantined[0];
    assert!(
        moved.location.contains("store.sealed.not-a-store-"),
        "{moved:?}"
    );
    assert!(moved.reason.contains("not a keyseal store"), "{moved:?}");
    assert_eq!(
        std::fs::read(&moved.location).unwrap(),
        junk,
        "the quarantined file changed"
    );
}

#[test]
fn an_unavailable_keyring_fails_by_default_and_writes_nothing() {
    let dir = TempDir::new("unavailable");
    let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
    provider.fail_unavailable_on(Operation::Create, 1, UnavailableReason::Locked);
    let store = file_store(&provider, &dir).build();
    match store.set("a", "b") {
        Err(Error::KeyringUnavailable {
            reason: UnavailableReason::Locked,
            ..
        }) => {}
        r => panic!("{r:?}"),
    }
    assert!(!dir.file().exists(), "a file was written without a key");
    assert!(store.status().degraded.is_none());
}

#[test]
fn the_memory_only_policy_persists_nothing_and_says_so() {
    let dir = TempDir::new("memoryonly");
    let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
    provider.fail_unavailable_on(Operation::Create, 1, UnavailableReason::NoService);
    let store = file_store(&provider, &dir)
        .on_keyring_unavailable(OnKeyringUnavailable::MemoryOnly)
        .build();
    store.set("a", "in memory").unwrap();
    store.set("b", "also").unwrap();
    assert_eq!(
        store.get::<String>("a").unwrap().as_deref(),
        Some("in memory")
    );
    assert_eq!(store.list().unwrap(), ["a", "b"]);
    assert!(store.remove("b").unwrap());
    assert!(!dir.file().exists(), "degraded mode wrote to disk");
    let status = store.status();
    let degraded = status.degraded.expect("status shows the degraded mode");
    assert!(
        degraded.contains("in memory only") && degraded.contains("no keyring service"),
        "{degraded}"
    );
    assert_eq!(status.entries, Some(1));
    assert_eq!(
        provider.calls(Operation::Create),
        1,
        "degraded mode kept asking the keyring"
    );
}

#[test]
fn a_rolled_back_file_is_reported_instead_of_written_over() {
    let dir = TempDir::new("rollback");
    let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
    let store = file_store(&provider, &dir).build();
    store.set("token", "v1").unwrap();
    let old = std::fs::read(dir.file()).unwrap();
    store.set("token", "v2").unwrap();
    store.set("token", "v3").unwrap();
    // Someone restores the old copy (a backup, a sync tool).
    std::fs::write(dir.file(), &old).unwrap();
    match store.set("token", "v4") {
        Err(Error::Rollback {
            found: 1, seen: 3, ..
        }) => {}
        r => panic!("{r:?}"),
    }
    assert!(matches!(
        store.get::<String>("token"),
        Err(Error::Rollback { .. })
    ));
    assert_eq!(std::fs::read(dir.file()).unwrap(), old);
    // A fresh process has seen nothing newer and reads the restored file.
    let fresh = file_store(&provider, &dir).build();
    assert_eq!(fresh.get::<String>("token").unwrap().as_deref(), Some("v1"));
}

#[test]
fn a_held_lock_is_a_lock_timeout() {
    let dir = TempDir::new("lock");
    let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
    let blob = FileStore::new(dir.file()).with_lock_timeout(Duration::from_millis(200));
    let store = Store::builder(Arc::clone(&provider), blob.clone(), CONTEXT).build();
    store.set("a", "b").unwrap();
    let holder = std::fs::File::options()
        .write(true)
        .open(blob.lock_path())
        .unwrap();
    holder.lock().unwrap();
    match store.set("a", "c") {
        Err(Error::LockTimeout { lock_path, .. }) => assert_eq!(lock_path, blob.lock_path()),
        r => panic!("{r:?}"),
    }
    // Reads take no lock.
    assert_eq!(store.get::<String>("a").unwrap().as_deref(), Some("b"));
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct TokenV1 {
    access_token: String,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct TokenV2 {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
}

#[test]
fn a_value_type_that_gains_an_optional_field_reads_old_entries() {
    let store = Store::builder(MemoryKeyProvider::new(), MemoryBlobStore::new(), CONTEXT).build();
    store
        .set(
            "server",
            &TokenV1 {
                access_token: "a1".into(),
            },
        )
        .unwrap();
    let v2: TokenV2 = store.get("server").unwrap().unwrap();
    assert_eq!(
        v2,
        TokenV2 {
            access_token: "a1".into(),
            refresh_token: None
        }
    );
    store
        .set(
            "server",
            &TokenV2 {
                access_token: "a2".into(),
                refresh_token: Some("r2".into()),
            },
        )
        .unwrap();
    // And the old type still reads new entries (unknown fields are ignored).
    let v1: TokenV1 = store.get("server").unwrap().unwrap();
    assert_eq!(v1.access_token, "a2");
}

#[test]
fn a_value_of_another_type_is_a_value_error_that_does_not_quote_it() {
    let store = Store::builder(MemoryKeyProvider::new(), MemoryBlobStore::new(), CONTEXT).build();
    store.set("token", "gho_supersecretvalue").unwrap();
    let err = store.get::<u32>("token").unwrap_err();
    assert!(
        matches!(
            err,
            Error::Value {
                operation: keyseal::ValueOperation::Decode,
                category: keyseal::JsonErrorCategory::Data,
                field: None,
                ..
            }
        ),
        "{err:?}"
    );
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("supersecret"), "{shown}");
    assert_eq!(err.kind(), keyseal::ErrorKind::Usage);
}

#[test]
fn a_value_missing_a_field_names_the_field_and_never_a_value() {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code, reason = "only decoded")]
    struct Token {
        access_token: String,
        refresh_token: String,
    }
    let store = Store::builder(MemoryKeyProvider::new(), MemoryBlobStore::new(), CONTEXT).build();
    store
        .set(
            "token",
            &serde_json::json!({"access_token": "gho_supersecretvalue"}),
        )
        .unwrap();
    let err = store.get::<Token>("token").unwrap_err();
    match &err {
        Error::Value { field, .. } => assert_eq!(field.as_deref(), Some("refresh_token")),
        other => panic!("{other:?}"),
    }
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("field `refresh_token`"), "{shown}");
    assert!(!shown.contains("supersecret"), "{shown}");
}

#[test]
fn invalid_names_are_refused() {
    let store = Store::builder(MemoryKeyProvider::new(), MemoryBlobStore::new(), CONTEXT).build();
    assert!(matches!(store.set("", "x"), Err(Error::InvalidName { .. })));
    assert!(matches!(
        store.get::<String>(&"n".repeat(5000)),
        Err(Error::InvalidName { .. })
    ));
}

#[test]
fn status_reports_the_provider_the_file_and_the_entries() {
    let dir = TempDir::new("status");
    let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
    let store = file_store(&provider, &dir)
        .algorithm(Algorithm::XChaCha20Poly1305)
        .build();
    let empty = store.status();
    assert!(!empty.exists);
    assert_eq!(empty.entries, Some(0));
    assert_eq!(empty.provider.kind, ProviderKind::Memory);
    assert_eq!(empty.provider.lifetime, KeyLifetime::Process);
    assert_eq!(
        provider.total_calls(),
        0,
        "status of an empty store touched the keyring"
    );

    store.set("a", "1").unwrap();
    store.set("b", "2").unwrap();
    let status = store.status();
    assert!(status.exists);
    assert_eq!(status.format_version, Some(3));
    assert_eq!(status.algorithm, Some(Algorithm::XChaCha20Poly1305));
    assert_eq!(
        status.key_id.into_iter().collect::<Vec<_>>(),
        provider.inner().key_ids()
    );
    assert_eq!(status.generation, Some(2));
    assert_eq!(status.entries, Some(2));
    assert!(status.location.as_str().ends_with("store.sealed"));
    assert_eq!(status.location.path(), Some(dir.file().as_path()));
    assert!(status.degraded.is_none() && status.problem.is_none());
    let shown = format!("{status:?}");
    assert!(!shown.contains("\"1\""), "{shown}");

    // A damaged file: the header's fields are still shown, and the problem
    // is the typed error, not only its text.
    let mut bytes = std::fs::read(dir.file()).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    std::fs::write(dir.file(), &bytes).unwrap();
    let status = file_store(&provider, &dir).build().status();
    assert_eq!(status.generation, Some(2));
    match status.problem {
        Some(keyseal::Problem::Failed(e)) => {
            assert!(matches!(*e, Error::Tampered { .. }), "{e:?}");
            assert_eq!(e.kind(), keyseal::ErrorKind::UnusableFile);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn entries_carry_their_update_time_and_size() {
    let store = Store::builder(MemoryKeyProvider::new(), MemoryBlobStore::new(), CONTEXT).build();
    let before = std::time::SystemTime::now() - Duration::from_secs(1);
    store.set_bytes("k", b"12345").unwrap();
    let entries = store.entries().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].name, "k");
    assert_eq!(entries[0].size, 5);
    assert!(entries[0].updated >= before);
}

#[test]
fn the_real_secret_service_holds_the_key_of_a_real_file_store() {
    let service = support::unique("facade-ss");
    let provider = || {
        KeyringProvider::builder(&service, "store-key")
            .backend(Backend::SecretService)
            .build()
    };
    let unknown = keyseal::seal::Key::generate().unwrap().id();
    match keyseal::keys::KeyProvider::load(&provider(), &unknown) {
        Err(keyseal::keys::Error::NotFound { .. }) => {}
        other => {
            support::skip(&format!("no Secret Service answers: {other:?}"));
            return;
        }
    }
    let dir = TempDir::new("facade-ss");
    let store = Store::builder(provider(), FileStore::new(dir.file()), CONTEXT).build();
    store.set("https://mcp.example.com", "token-1").unwrap();
    assert_eq!(store.status().provider.kind, ProviderKind::SecretService);
    // A new process: a new provider and store over the same item and file.
    let again = Store::builder(provider(), FileStore::new(dir.file()), CONTEXT).build();
    assert_eq!(
        again
            .get::<String>("https://mcp.example.com")
            .unwrap()
            .as_deref(),
        Some("token-1")
    );
    let key_id = again.status().key_id.unwrap();
    assert_eq!(
        keyseal::keys::KeyProvider::load(&provider(), &key_id)
            .ok()
            .map(|k| k.id()),
        Some(key_id)
    );
    keyseal::keys::KeyProvider::delete(&provider(), &key_id).unwrap();
    // The keyring forgot the key: the file is kept and the error says so.
    let forgot = Store::builder(provider(), FileStore::new(dir.file()), CONTEXT).build();
    assert!(matches!(
        forgot.get::<String>("https://mcp.example.com"),
        Err(Error::KeyMissing { .. })
    ));
}

#[cfg(feature = "async")]
#[tokio::test(flavor = "current_thread")]
async fn the_async_store_runs_the_same_operations() {
    let dir = TempDir::new("async");
    let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
    let store = keyseal::AsyncStore::new(file_store(&provider, &dir).build());
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.set(&format!("s{i}"), &i).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(store.list().await.unwrap().len(), 8);
    assert_eq!(store.get::<i32>("s3").await.unwrap(), Some(3));
    assert!(store.remove("s3").await.unwrap());
    assert_eq!(store.status().await.entries, Some(7));
    assert_eq!(
        provider.calls(Operation::Create) + provider.calls(Operation::Load),
        1
    );
    // A bad name with a value JSON cannot hold is the name's error, as
    // with the blocking store.
    let unserializable = std::collections::BTreeMap::from([(vec![1u8], 1)]);
    assert!(matches!(
        store.blocking().set("", &unserializable),
        Err(Error::InvalidName { .. })
    ));
    assert!(matches!(
        store.set("", &unserializable).await,
        Err(Error::InvalidName { .. })
    ));
    assert!(matches!(
        store.set("ok", &unserializable).await,
        Err(Error::Value { .. })
    ));
}

#[cfg(feature = "async")]
#[tokio::test(flavor = "current_thread")]
async fn the_async_store_covers_transactions_rotation_recovery_and_rollback() {
    let dir = TempDir::new("async-lifecycle");
    let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
    let store = keyseal::AsyncStore::new(file_store(&provider, &dir).build());
    store.set("a", "1").await.unwrap();
    let moved = store
        .transaction(|tx| {
            let Some(a) = tx.get::<String>("a")? else {
                return Ok::<_, Error>(false);
            };
            tx.set("b", &a)?;
            tx.remove("a")
        })
        .await
        .unwrap();
    assert!(moved);
    assert!(store.contains("b").await.unwrap());
    assert!(!store.contains("a").await.unwrap());

    let recovery = store.enable_recovery().await.unwrap();
    let text = recovery.to_text();
    store
        .check_recovery_key(keyseal::RecoveryKey::parse(&text).unwrap())
        .await
        .unwrap();
    let rotation = store.rotate_key().await.unwrap();
    assert_eq!(store.blocking().status().key_id, Some(rotation.key_id));
    // The keyring forgets the key: a new process cannot open the store,
    // and the recovery key opens it again.
    keyseal::keys::KeyProvider::delete(&provider, &rotation.key_id).unwrap();
    let store = keyseal::AsyncStore::new(file_store(&provider, &dir).build());
    assert!(matches!(
        store.reload().await,
        Err(Error::KeyMissing { .. })
    ));
    store
        .recover(keyseal::RecoveryKey::parse(&text).unwrap())
        .await
        .unwrap();
    assert_eq!(
        store.get::<String>("b").await.unwrap().as_deref(),
        Some("1")
    );
    let replaced = store
        .recover_and_rotate_recovery(keyseal::RecoveryKey::parse(&text).unwrap())
        .await
        .unwrap();
    assert_ne!(replaced.id(), recovery.id());
    assert!(store.disable_recovery().await.unwrap());
    assert!(store.blocking().status().recovery_key_id.is_none());
    store.accept_rollback().await.unwrap();
}

#[test]
fn a_transaction_changes_several_entries_in_one_write_or_none() {
    let dir = TempDir::new("tx");
    let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
    let store = file_store(&provider, &dir).build();
    // Reading inside a transaction on a missing file creates nothing.
    let seen = store
        .transaction(|tx| Ok::<_, Error>(tx.names().count()))
        .unwrap();
    assert_eq!(seen, 0);
    assert!(!dir.file().exists());
    assert_eq!(provider.total_calls(), 0);

    store
        .transaction(|tx| {
            tx.set_bytes("a", b"1")?;
            tx.set_bytes("b", b"2")
        })
        .unwrap();
    assert_eq!(
        store.status().generation,
        Some(1),
        "two sets were two writes"
    );
    let removed = store
        .transaction(|tx| {
            assert_eq!(
                tx.get_bytes("a")?.map(|v| v.expose_secret().to_vec()),
                Some(b"1".to_vec())
            );
            assert!(matches!(tx.get_bytes(""), Err(Error::InvalidName { .. })));
            Ok::<_, Error>(tx.remove("a")? && !tx.remove("missing")?)
        })
        .unwrap();
    assert!(removed);
    assert_eq!(store.list().unwrap(), ["b"]);
    store.transaction(|tx| tx.contains("b")).unwrap();
    assert_eq!(
        store.status().generation,
        Some(2),
        "a read-only transaction wrote"
    );
    store.reload().unwrap();
    assert_eq!(store.list().unwrap(), ["b"]);
}

#[test]
fn contains_only_looks_no_policy_acts_on_what_it_finds() {
    let dir = TempDir::new("contains");
    std::fs::write(dir.file(), b"not a keyseal file").unwrap();
    let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
    let store = file_store(&provider, &dir)
        .on_unreadable(OnUnreadable::Quarantine)
        .build();
    assert!(matches!(store.contains("a"), Err(Error::NotAStore { .. })));
    assert!(store.status().quarantined.is_empty());
    assert_eq!(std::fs::read(dir.file()).unwrap(), b"not a keyseal file");
}

/// A store file that cannot be used in one way or another, made at `dir`.
fn damaged(dir: &TempDir, how: &str) -> Arc<Keys> {
    let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
    file_store(&provider, dir).build().set("a", "b").unwrap();
    let mut bytes = std::fs::read(dir.file()).unwrap();
    match how {
        "key-missing" => return Arc::new(Keys::new(MemoryKeyProvider::new())),
        "tampered" => *bytes.last_mut().unwrap() ^= 1,
        "corrupt" => bytes.truncate(bytes.len() - 1),
        "not-a-store" => bytes = b"junk".to_vec(),
        "too-large" => bytes.resize(17 * 1024 * 1024, 0),
        "newer" => bytes[9] = 9,
        _ => unreachable!(),
    }
    std::fs::write(dir.file(), &bytes).unwrap();
    provider
}

#[test]
fn quarantine_moves_aside_every_kind_of_unusable_file_and_never_a_newer_one() {
    for (how, moved) in [
        ("key-missing", true),
        ("tampered", true),
        ("corrupt", true),
        ("not-a-store", true),
        ("too-large", true),
        ("newer", false),
    ] {
        let dir = TempDir::new("quarantine-each");
        let provider = damaged(&dir, how);
        let before = std::fs::read(dir.file()).unwrap();
        let store = file_store(&provider, &dir)
            .on_unreadable(OnUnreadable::Quarantine)
            .build();
        let result = store.set("fresh", "start");
        let quarantined = store.status().quarantined;
        if moved {
            assert!(result.is_ok(), "{how}: {result:?}");
            assert_eq!(quarantined.len(), 1, "{how}");
            assert_eq!(
                std::fs::read(&quarantined[0].location).unwrap(),
                before,
                "{how}: the moved file changed"
            );
            assert_eq!(
                store.get::<String>("fresh").unwrap().as_deref(),
                Some("start")
            );
        } else {
            assert!(result.is_err(), "{how}");
            assert!(quarantined.is_empty(), "{how}");
            assert_eq!(std::fs::read(dir.file()).unwrap(), before, "{how}");
        }
    }
    // A wrong key (a given key that is not the file's) is moved aside too.
    let dir = TempDir::new("quarantine-wrong");
    let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
    file_store(&provider, &dir).build().set("a", "b").unwrap();
    let store = Store::builder(
        MemoryKeyProvider::given(keyseal::seal::Key::generate().unwrap()),
        FileStore::new(dir.file()),
        CONTEXT,
    )
    .on_unreadable(OnUnreadable::Quarantine)
    .build();
    store.set("fresh", "start").unwrap();
    assert_eq!(store.status().quarantined.len(), 1);
    // An unreadable blob (a failing disk) is moved aside as well.
    let blob = Arc::new(Blobs::new(MemoryBlobStore::new()));
    let keys = Arc::new(Keys::new(MemoryKeyProvider::new()));
    Store::builder(Arc::clone(&keys), Arc::clone(&blob), CONTEXT)
        .build()
        .set("a", "b")
        .unwrap();
    blob.make_unreadable();
    let store = Store::builder(Arc::clone(&keys), Arc::clone(&blob), CONTEXT)
        .on_unreadable(OnUnreadable::Quarantine)
        .build();
    store.set("fresh", "start").unwrap();
    assert_eq!(blob.inner().quarantined().len(), 1);
}

#[test]
fn a_read_that_failed_once_moves_nothing_when_the_file_reads_again() {
    // Another process may have replaced a file this one could not read with
    // a good one, or the disk error passed: the quarantine policy moves a
    // file aside only while it still cannot be read.
    let dir = TempDir::new("unreadable-once");
    let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
    file_store(&provider, &dir)
        .build()
        .set("kept", "value")
        .unwrap();
    let before = std::fs::read(dir.file()).unwrap();
    let blob = Arc::new(FaultyBlobStore::new(FileStore::new(dir.file())));
    blob.unreadable_read_on(1);
    let store = Store::builder(Arc::clone(&provider), Arc::clone(&blob), CONTEXT)
        .on_unreadable(OnUnreadable::Quarantine)
        .build();
    assert_eq!(
        store.get::<String>("kept").unwrap().as_deref(),
        Some("value")
    );
    assert!(store.status().quarantined.is_empty());
    assert_eq!(std::fs::read(dir.file()).unwrap(), before);
    let siblings = std::fs::read_dir(dir.file().parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".unreadable-"))
        .count();
    assert_eq!(siblings, 0, "nothing was moved aside");
}

#[test]
fn a_transaction_whose_closure_fails_writes_nothing_and_returns_its_error() {
    #[derive(Debug, PartialEq)]
    enum AppError {
        Refused,
        Store(String),
    }
    impl From<Error> for AppError {
        fn from(e: Error) -> Self {
            Self::Store(e.to_string())
        }
    }
    for memory_only in [false, true] {
        let dir = TempDir::new("tx-err");
        let provider = Arc::new(Keys::new(MemoryKeyProvider::new()));
        if memory_only {
            for n in 1..4 {
                provider.fail_unavailable_on(
                    Operation::Create,
                    n,
                    keyseal::keys::UnavailableReason::NoService,
                );
            }
        }
        let store = file_store(&provider, &dir)
            .on_keyring_unavailable(OnKeyringUnavailable::MemoryOnly)
            .build();
        store.set("kept", "1").unwrap();
        let before = std::fs::read(dir.file()).ok();
        let result = store.transaction(|tx| {
            tx.set_bytes("kept", b"changed")?;
            tx.set_bytes("new", b"2")?;
            tx.remove("kept")?;
            Err::<(), _>(AppError::Refused)
        });
        assert_eq!(result, Err(AppError::Refused), "memory only: {memory_only}");
        assert_eq!(
            std::fs::read(dir.file()).ok(),
            before,
            "memory only: {memory_only}"
        );
        assert_eq!(store.get::<String>("kept").unwrap().as_deref(), Some("1"));
        assert_eq!(store.get::<String>("new").unwrap(), None);
        assert_eq!(store.degraded().is_some(), memory_only);
    }
}

#[test]
fn a_transaction_reads_and_writes_typed_values_as_the_store_does() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Token {
        access_token: String,
        expires_in: u64,
    }
    let store = Store::builder(MemoryKeyProvider::new(), MemoryBlobStore::new(), CONTEXT).build();
    store
        .set(
            "a",
            &Token {
                access_token: "A".into(),
                expires_in: 1,
            },
        )
        .unwrap();
    store
        .transaction(|tx| -> keyseal::Result<()> {
            let mut token: Token = tx.get("a")?.expect("set above");
            token.expires_in += 1;
            tx.set("b", &token)?;
            // Bytes that are not a Token: a value error that does not quote them.
            tx.set_bytes("c", b"secret-not-json")?;
            let err = tx.get::<Token>("c").unwrap_err();
            assert!(matches!(err, Error::Value { .. }), "{err:?}");
            assert!(!format!("{err} {err:?}").contains("secret-not-json"));
            assert_eq!(tx.get::<Token>("missing")?, None);
            Ok(())
        })
        .unwrap();
    // Written by the transaction exactly as Store::set writes it.
    let b: Token = store.get("b").unwrap().unwrap();
    assert_eq!(b.expires_in, 2);
    store.set("d", &b).unwrap();
    assert_eq!(
        store.get_bytes("b").unwrap().unwrap().expose_secret(),
        store.get_bytes("d").unwrap().unwrap().expose_secret()
    );
}

#[test]
fn open_derives_the_path_from_the_application_id_and_refuses_ids_that_are_not_names() {
    let store = Store::open("com.example.keyseal-test").unwrap();
    let expected = keyseal::default_path("com.example.keyseal-test").unwrap();
    assert_eq!(store.location().path(), Some(expected.as_path()));
    assert_eq!(store.location().to_string(), expected.display().to_string());
    assert!(
        !expected.exists(),
        "open touched the disk before the first operation"
    );
    for bad in [
        "",
        ".hidden",
        "../escape",
        "a/b",
        "a\\b",
        "com.example app",
        "ü",
    ] {
        match Store::open(bad) {
            Err(e @ Error::InvalidAppId { .. }) => {
                assert_eq!(e.kind(), keyseal::ErrorKind::Usage, "{bad:?}");
            }
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    assert!(matches!(
        Store::open(&"a".repeat(256)),
        Err(Error::InvalidAppId { .. })
    ));
}

/// A blob store where another process repairs the file (writes a good one)
/// between this store's judging the old file unusable and its quarantine.
#[derive(Debug)]
struct RepairedMeanwhile {
    inner: Arc<MemoryBlobStore>,
    good: std::sync::Mutex<Option<Vec<u8>>>,
}

impl keyseal::blob::BlobStore for RepairedMeanwhile {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn read(&self) -> keyseal::blob::Result<Option<keyseal::blob::Snapshot>> {
        self.inner.read()
    }
    fn version(&self) -> keyseal::blob::Result<Option<keyseal::blob::Version>> {
        self.inner.version()
    }
    fn update(
        &self,
        decide: &mut dyn FnMut(Option<&keyseal::blob::Snapshot>) -> keyseal::blob::Decision,
    ) -> keyseal::blob::Result<Option<keyseal::blob::Version>> {
        self.inner.update(decide)
    }
    fn quarantine(
        &self,
        reason: &str,
        judged: Option<keyseal::blob::Version>,
    ) -> keyseal::blob::Result<Option<String>> {
        if let Some(good) = self.good.lock().unwrap().take() {
            self.inner
                .update(&mut |_| keyseal::blob::Decision::Write(good.clone()))
                .unwrap();
        }
        self.inner.quarantine(reason, judged)
    }
}

#[test]
fn quarantine_never_moves_aside_a_good_file_written_after_the_bad_one_was_judged() {
    use keyseal::blob::BlobStore as _;
    let keys = Arc::new(Keys::new(MemoryKeyProvider::new()));
    let shared = Arc::new(MemoryBlobStore::new());
    let writer = Store::builder(Arc::clone(&keys), Arc::clone(&shared), CONTEXT).build();
    writer.set("token", "kept").unwrap();
    let good = shared.read().unwrap().unwrap().into_bytes();
    assert!(keyseal::blob::testing::tamper(&shared).unwrap());
    let blob = RepairedMeanwhile {
        inner: Arc::clone(&shared),
        good: std::sync::Mutex::new(Some(good.clone())),
    };
    let store = Store::builder(Arc::clone(&keys), blob, CONTEXT)
        .on_unreadable(OnUnreadable::Quarantine)
        .build();
    assert_eq!(
        store.get::<String>("token").unwrap().as_deref(),
        Some("kept"),
        "the repaired file was moved aside in place of the tampered one"
    );
    assert!(store.quarantined().is_empty());
    assert!(shared.quarantined().is_empty());
    assert_eq!(shared.read().unwrap().unwrap().bytes(), good);
}
