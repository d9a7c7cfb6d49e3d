//! What migration refuses to do: touch key material, let one bad entry
//! block the others, write anything when it fails, or delete a legacy item
//! while the store is not saving to disk.
#![cfg(test)]

use std::sync::Arc;

use keyseal::blob::{FileStore, MemoryBlobStore};
use keyseal::keys::testing::{FaultyProvider, Operation};
use keyseal::keys::{MemoryKeyProvider, UnavailableReason};
use keyseal::{ExposeSecret, OnKeyringUnavailable, Store};
use keyseal_migrate::{Error, Layout, MemorySource, Options, migrate};
use keyseal_testkit::TempDir;

/// The memory provider, counted and scriptable.
type Keys = FaultyProvider<MemoryKeyProvider>;

const SERVICE: &str = "legacy-app";

fn memory_store() -> Store {
    Store::builder(
        MemoryKeyProvider::new(),
        MemoryBlobStore::new(),
        "migration-test",
    )
    .build()
}

#[test]
fn keyseal_key_records_and_the_layouts_key_items_are_never_moved_or_deleted() {
    let source = MemorySource::new();
    let record = b"keyseal-key-v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    source.insert(SERVICE, "store-key", record);
    source.insert(
        SERVICE,
        "store-key.0123456789abcdef0123456789abcdef",
        record,
    );
    source.insert(SERVICE, "store-token", b"a real token");
    let layout = Layout::new(SERVICE).with_item_prefix("store-");
    for dry_run in [true, false] {
        let store = memory_store();
        let report = migrate(&store, &source, &layout, &Options::raw().dry_run(dry_run)).unwrap();
        let skipped: Vec<&str> = report
            .skipped
            .iter()
            .map(|(item, _)| item.as_str())
            .collect();
        assert_eq!(
            skipped,
            ["store-key", "store-key.0123456789abcdef0123456789abcdef"],
            "dry run {dry_run}: {report:?}"
        );
        assert!(
            report
                .skipped
                .iter()
                .all(|(_, why)| why.contains("key material"))
        );
        assert_eq!(report.moved, ["token"], "dry run {dry_run}");
    }
    assert_eq!(
        source.names(SERVICE),
        ["store-key", "store-key.0123456789abcdef0123456789abcdef"],
        "a key item was deleted, or the token was kept"
    );

    // docker-agent's own key item, whatever it holds.
    let source = MemorySource::new();
    source.insert("docker-agent-oauth", "oauth:encryption-key", &[7u8; 32]);
    source.insert(
        "docker-agent-oauth",
        "oauth:https://mcp.example",
        b"{\"t\":1}",
    );
    let mut layout = Layout::docker_agent();
    // Not the user's real docker-agent file (tests/sealed_file.rs has files).
    layout.sealed_file = None;
    let report = migrate(&memory_store(), &source, &layout, &Options::raw()).unwrap();
    assert_eq!(report.moved, ["https://mcp.example"]);
    assert_eq!(report.skipped.len(), 1, "{report:?}");
    assert_eq!(source.names("docker-agent-oauth"), ["oauth:encryption-key"]);
}

#[test]
fn entries_that_cannot_move_are_reported_and_kept_and_the_others_move() {
    let source = MemorySource::new();
    let long = "x".repeat(5000);
    let bundle =
        format!(r#"{{"good":"1","":"empty name","{long}":"long name","bad\u0007bell":"2"}}"#);
    source.insert(SERVICE, "bundle", bundle.as_bytes());
    let layout = Layout::new(SERVICE).with_bundle_item("bundle");
    let store = memory_store();
    let report = migrate(&store, &source, &layout, &Options::raw()).unwrap();
    assert_eq!(report.moved, ["good"]);
    let refused: Vec<&str> = report
        .not_converted
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(refused.len(), 3, "{report:?}");
    assert!(refused.contains(&""));
    assert!(
        report
            .not_converted
            .iter()
            .all(|(_, why)| why.contains("name is refused"))
    );
    assert_eq!(
        store.get_bytes("good").unwrap().unwrap().expose_secret(),
        b"1"
    );
    // The bundle still holds what did not move, so it stays.
    assert_eq!(report.kept, ["bundle"]);
    assert_eq!(source.names(SERVICE), ["bundle"]);
    // A second run is not blocked by the bad names either.
    let again = migrate(&store, &source, &layout, &Options::raw()).unwrap();
    assert_eq!(again.already_present, ["good"]);
}

#[test]
fn strict_fails_before_anything_is_written() {
    let dir = TempDir::new("strict");
    let source = MemorySource::new();
    source.insert(SERVICE, "bundle", br#"{"good":"1","":"empty name"}"#);
    let layout = Layout::new(SERVICE).with_bundle_item("bundle");
    let store = Store::builder(MemoryKeyProvider::new(), FileStore::new(dir.file()), "t").build();
    match migrate(&store, &source, &layout, &Options::raw().strict(true)) {
        Err(Error::NotMigratable { entries }) => assert_eq!(entries.len(), 1),
        other => panic!("{other:?}"),
    }
    assert!(!dir.file().exists(), "strict wrote the store");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "strict created files"
    );
    assert_eq!(source.names(SERVICE), ["bundle"]);
}

#[test]
fn a_dry_run_on_a_new_path_creates_no_directory_lock_or_key() {
    let dir = TempDir::new("dry");
    let path = dir.path().join("new").join("store.sealed");
    let keys = Arc::new(Keys::new(MemoryKeyProvider::new()));
    let store = Store::builder(Arc::clone(&keys), FileStore::new(&path), "t").build();
    let source = MemorySource::new();
    source.insert(SERVICE, "bundle", br#"{"a":"1","b":"2"}"#);
    let layout = Layout::new(SERVICE).with_bundle_item("bundle");
    let report = migrate(&store, &source, &layout, &Options::raw().dry_run(true)).unwrap();
    assert_eq!(report.moved, ["a", "b"]);
    assert!(
        !dir.path().join("new").exists(),
        "a dry run created the directory"
    );
    assert_eq!(keys.total_calls(), 0, "a dry run touched the key provider");
}

/// The provider of an application whose keyring does not answer: every call
/// is unavailable.
fn silent_keys() -> Arc<Keys> {
    let keys = Arc::new(Keys::new(MemoryKeyProvider::new()));
    for nth in 1..10 {
        for op in [Operation::Load, Operation::Create] {
            keys.fail_unavailable_on(op, nth, UnavailableReason::NoService);
        }
    }
    keys
}

#[test]
fn a_store_in_memory_only_never_lets_migration_delete_a_legacy_item() {
    for on_unavailable in [OnKeyringUnavailable::Fail, OnKeyringUnavailable::MemoryOnly] {
        let dir = TempDir::new("memonly");
        let store = Store::builder(silent_keys(), FileStore::new(dir.file()), "t")
            .on_keyring_unavailable(on_unavailable)
            .build();
        let source = MemorySource::new();
        source.insert(SERVICE, "bundle", br#"{"a":"1"}"#);
        source.insert(SERVICE, "item:b", b"2");
        let layout = Layout::new(SERVICE)
            .with_bundle_item("bundle")
            .with_item_prefix("item:");
        let result = migrate(&store, &source, &layout, &Options::raw());
        match (on_unavailable, &result) {
            (OnKeyringUnavailable::MemoryOnly, Err(Error::NotPersisting { .. })) => {}
            (
                OnKeyringUnavailable::Fail,
                Err(Error::Store(keyseal::Error::KeyringUnavailable { .. })),
            ) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(
            source.names(SERVICE),
            ["bundle", "item:b"],
            "{on_unavailable:?}: a legacy item was deleted"
        );
        assert!(!dir.file().exists());
    }
}

#[test]
fn an_item_that_cannot_be_read_stays_and_blocks_nothing_else() {
    let source = MemorySource::new();
    source.insert(SERVICE, "tok:a", b"A");
    source.insert(SERVICE, "tok:b", b"B");
    source.insert(SERVICE, "tok:index", br#"["a","b"]"#);
    source.fail_read("tok:b");
    let layout = Layout::new(SERVICE)
        .with_item_prefix("tok:")
        .with_index_item("tok:index");
    let store = memory_store();
    let report = migrate(&store, &source, &layout, &Options::raw()).unwrap();
    assert_eq!(report.moved, ["a"]);
    assert_eq!(report.not_converted.len(), 1, "{report:?}");
    assert_eq!(report.not_converted[0].0, "tok:b");
    // b and the index that lists it stay; a moved and its item is gone.
    assert_eq!(source.names(SERVICE), ["tok:b", "tok:index"]);
    source.heal();
    let again = migrate(&store, &source, &layout, &Options::raw()).unwrap();
    assert_eq!(again.moved, ["b"]);
    assert!(
        source.names(SERVICE).is_empty(),
        "{:?}",
        source.names(SERVICE)
    );
}

#[test]
fn a_custom_layout_protects_the_key_items_it_names_even_as_a_bundle_item() {
    let source = MemorySource::new();
    source.insert(SERVICE, "oauth:encryption-key", &[9u8; 32]);
    source.insert(SERVICE, "oauth:https://x.example", b"{}");
    let layout = Layout::new(SERVICE)
        .with_item_prefix("oauth:")
        .with_bundle_item("oauth:encryption-key")
        .with_key_item("oauth:encryption-key");
    let report = migrate(&memory_store(), &source, &layout, &Options::raw()).unwrap();
    assert_eq!(report.moved, ["https://x.example"]);
    assert!(
        report
            .skipped
            .iter()
            .all(|(item, _)| item == "oauth:encryption-key"),
        "{report:?}"
    );
    assert_eq!(source.names(SERVICE), ["oauth:encryption-key"]);
}

#[test]
fn bundle_values_move_as_compact_json_and_strings_keep_their_spaces() {
    let source = MemorySource::new();
    source.insert(
        SERVICE,
        "bundle",
        b"{ \"obj\" : { \"t\" : 1 ,\n \"s\" : \"a b\\\" c\" } , \"str\" : \"plain value\" }",
    );
    let layout = Layout::new(SERVICE).with_bundle_item("bundle");
    let store = memory_store();
    migrate(&store, &source, &layout, &Options::raw()).unwrap();
    assert_eq!(
        store.get_bytes("obj").unwrap().unwrap().expose_secret(),
        b"{\"t\":1,\"s\":\"a b\\\" c\"}"
    );
    assert_eq!(
        store.get_bytes("str").unwrap().unwrap().expose_secret(),
        b"plain value"
    );
}

#[test]
fn a_value_too_large_for_the_store_stays_in_the_legacy_keyring_and_the_rest_moves() {
    let dir = TempDir::new("toolarge");
    let store = Store::builder(
        MemoryKeyProvider::new(),
        FileStore::new(dir.file()).with_max_size(16 * 1024),
        "t",
    )
    .build();
    let source = MemorySource::new();
    source.insert(SERVICE, "tok:small", b"fits");
    source.insert(SERVICE, "tok:huge", &vec![b'x'; 32 * 1024]);
    let layout = Layout::new(SERVICE).with_item_prefix("tok:");
    match migrate(&store, &source, &layout, &Options::raw().strict(true)) {
        Err(Error::Store(keyseal::Error::Storage { .. })) => {}
        other => panic!("strict: {other:?}"),
    }
    assert!(!dir.file().exists(), "strict wrote the store");
    let report = migrate(&store, &source, &layout, &Options::raw()).unwrap();
    assert_eq!(report.moved, ["small"]);
    assert_eq!(report.not_converted.len(), 1, "{report:?}");
    assert_eq!(report.not_converted[0].0, "huge");
    assert_eq!(source.names(SERVICE), ["tok:huge"]);
}
