//! The procedure against an in-memory legacy keyring, with a failure
//! injected at every step.
#![cfg(test)]

use std::collections::BTreeMap;
use std::sync::Arc;

use keyseal::blob::MemoryBlobStore;
use keyseal::blob::testing::FaultyBlobStore;
use keyseal::keys::MemoryKeyProvider;
use keyseal::keys::testing::FaultyProvider;
use keyseal::{ExposeSecret, Store};
use keyseal_migrate::{Error, Layout, MemorySource, Options, migrate};

/// The memory provider, counted and scriptable.
type Keys = FaultyProvider<MemoryKeyProvider>;

/// The memory store, scriptable.
type Blobs = FaultyBlobStore<MemoryBlobStore>;

const SERVICE: &str = "docker-agent-oauth";

/// The layouts under test, each with the tokens it holds (name -> stored value).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Bundle,
    PerItemSearch,
    PerItemIndex,
    All,
}

struct Case {
    layout: Layout,
    source: MemorySource,
    tokens: BTreeMap<String, Vec<u8>>,
}

fn case(kind: Kind) -> Case {
    let searchable = kind != Kind::PerItemIndex;
    let source = if searchable {
        MemorySource::new()
    } else {
        MemorySource::unsearchable()
    };
    let mut tokens = BTreeMap::new();
    let mut layout = Layout::new(SERVICE);
    if matches!(kind, Kind::Bundle | Kind::All) {
        layout = layout.with_bundle_item("oauth:tokens");
        source.insert(
            SERVICE,
            "oauth:tokens",
            br#"{"https://a.example":{"access_token":"A"},"https://b.example":"plain-b"}"#,
        );
        tokens.insert(
            "https://a.example".to_owned(),
            br#"{"access_token":"A"}"#.to_vec(),
        );
        tokens.insert("https://b.example".to_owned(), b"plain-b".to_vec());
    }
    if kind != Kind::Bundle {
        layout = layout.with_item_prefix("oauth:");
        if kind == Kind::PerItemIndex || kind == Kind::All {
            layout = layout.with_index_item("oauth:_index");
            source.insert(
                SERVICE,
                "oauth:_index",
                br#"["https://c.example","https://d.example"]"#,
            );
        }
        source.insert(
            SERVICE,
            "oauth:https://c.example",
            br#"{"access_token":"C"}"#,
        );
        source.insert(SERVICE, "oauth:https://d.example", b"raw-d");
        tokens.insert(
            "https://c.example".to_owned(),
            br#"{"access_token":"C"}"#.to_vec(),
        );
        tokens.insert("https://d.example".to_owned(), b"raw-d".to_vec());
        if searchable {
            // Missing from any index: only a search finds it.
            source.insert(SERVICE, "oauth:https://e.example", b"raw-e");
            tokens.insert("https://e.example".to_owned(), b"raw-e".to_vec());
        }
    }
    Case {
        layout,
        source,
        tokens,
    }
}

fn store(blob: &Arc<Blobs>, keys: &Arc<Keys>) -> Store {
    Store::builder(Arc::clone(keys), Arc::clone(blob), "migration-test").build()
}

/// Every token is in the store or still in the legacy keyring (or both),
/// with its value intact.
fn assert_nothing_lost(c: &Case, store: &Store, when: &str) {
    let legacy = c.source.names(SERVICE);
    for (name, value) in &c.tokens {
        let stored = store
            .get_bytes(name)
            .unwrap_or_else(|e| panic!("{when}: {e}"));
        let in_store = stored
            .as_ref()
            .is_some_and(|s| s.expose_secret() == value.as_slice());
        let in_legacy = legacy.iter().any(|i| i == &format!("oauth:{name}"))
            || legacy.iter().any(|i| i == "oauth:tokens");
        assert!(in_store || in_legacy, "{when}: token {name} is lost");
    }
}

fn assert_complete(c: &Case, store: &Store, when: &str) {
    for (name, value) in &c.tokens {
        let stored = store
            .get_bytes(name)
            .unwrap()
            .unwrap_or_else(|| panic!("{when}: {name} missing"));
        assert_eq!(stored.expose_secret(), value.as_slice(), "{when}: {name}");
    }
    assert!(
        c.source.names(SERVICE).is_empty(),
        "{when}: legacy items left: {:?}",
        c.source.names(SERVICE)
    );
}

#[test]
fn every_layout_migrates_completely_and_a_second_run_is_a_no_op() {
    for kind in [
        Kind::Bundle,
        Kind::PerItemSearch,
        Kind::PerItemIndex,
        Kind::All,
    ] {
        let c = case(kind);
        let (blob, keys) = (
            Arc::new(Blobs::new(MemoryBlobStore::new())),
            Arc::new(Keys::new(MemoryKeyProvider::new())),
        );
        let store = store(&blob, &keys);
        let report = migrate(&store, &c.source, &c.layout, &Options::raw()).unwrap();
        assert_eq!(report.moved.len(), c.tokens.len(), "{kind:?}: {report:?}");
        assert!(
            report.kept.is_empty() && report.delete_failures.is_empty(),
            "{kind:?}: {report:?}"
        );
        assert_complete(&c, &store, &format!("{kind:?}"));
        let again = migrate(&store, &c.source, &c.layout, &Options::raw()).unwrap();
        assert!(
            again.is_noop(),
            "{kind:?}: second run did something: {again:?}"
        );
        assert_eq!(
            store.status().generation,
            Some(1),
            "{kind:?}: more than one write"
        );
    }
}

#[test]
fn the_file_wins_over_legacy_values_and_the_bundle_wins_over_per_item() {
    let source = MemorySource::new();
    source.insert(
        SERVICE,
        "oauth:tokens",
        br#"{"x":"from-bundle","y":"bundle-y"}"#,
    );
    source.insert(SERVICE, "oauth:x", b"from-item");
    source.insert(SERVICE, "oauth:y", b"item-y");
    let layout = Layout::new(SERVICE)
        .with_bundle_item("oauth:tokens")
        .with_item_prefix("oauth:");
    let store = Store::builder(MemoryKeyProvider::new(), MemoryBlobStore::new(), "t").build();
    store.set_bytes("y", b"newer-in-file").unwrap();
    let report = migrate(&store, &source, &layout, &Options::raw()).unwrap();
    assert_eq!(report.moved, ["x"]);
    assert_eq!(report.already_present, ["y"]);
    assert_eq!(
        store.get_bytes("x").unwrap().unwrap().expose_secret(),
        b"from-bundle"
    );
    assert_eq!(
        store.get_bytes("y").unwrap().unwrap().expose_secret(),
        b"newer-in-file"
    );
    assert!(source.names(SERVICE).is_empty());
}

#[test]
fn a_dry_run_names_what_would_move_and_touches_nothing() {
    let c = case(Kind::All);
    let keys = Arc::new(Keys::new(MemoryKeyProvider::new()));
    let blob = Arc::new(Blobs::new(MemoryBlobStore::new()));
    let store = store(&blob, &keys);
    let before = c.source.names(SERVICE);
    let report = migrate(&store, &c.source, &c.layout, &Options::raw().dry_run(true)).unwrap();
    assert!(report.dry_run);
    assert_eq!(report.moved.len(), c.tokens.len());
    assert!(report.deleted.is_empty());
    assert_eq!(
        c.source.names(SERVICE),
        before,
        "a dry run deleted legacy items"
    );
    assert!(store.list().unwrap().is_empty(), "a dry run wrote entries");
    assert_eq!(
        keys.total_calls(),
        0,
        "a dry run on an empty store touched the keyring"
    );
    let shown = format!("{report:?}");
    for value in ["plain-b", "raw-d", "access_token"] {
        assert!(!shown.contains(value), "the report shows a value: {shown}");
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Token {
    access_token: String,
}

#[test]
fn a_typed_store_keeps_values_that_do_not_decode_in_the_legacy_keyring() {
    let c = case(Kind::All);
    let store = Store::builder(MemoryKeyProvider::new(), MemoryBlobStore::new(), "t").build();
    let report = migrate(&store, &c.source, &c.layout, &Options::typed::<Token>()).unwrap();
    // a and c decode; b (a bare string), d and e (not JSON) do not.
    assert_eq!(report.moved, ["https://a.example", "https://c.example"]);
    let failed: Vec<&str> = report
        .not_converted
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(
        failed,
        [
            "https://b.example",
            "https://d.example",
            "https://e.example"
        ]
    );
    assert!(!format!("{report:?}").contains("raw-d"));
    let token: Token = store.get("https://c.example").unwrap().unwrap();
    assert_eq!(token.access_token, "C");
    // Everything not migrated is still in the legacy keyring.
    let left = c.source.names(SERVICE);
    for item in [
        "oauth:tokens",
        "oauth:https://d.example",
        "oauth:https://e.example",
        "oauth:_index",
    ] {
        assert!(
            left.iter().any(|i| i == item),
            "{item} was deleted: {left:?}"
        );
    }
    assert!(!left.iter().any(|i| i == "oauth:https://c.example"));
}

#[test]
fn malformed_bundle_or_index_items_stop_before_anything_is_written() {
    for (item, value) in [
        ("oauth:tokens", &b"not json"[..]),
        ("oauth:_index", b"{\"not\":\"an array\"}"),
    ] {
        let c = case(Kind::All);
        c.source.insert(SERVICE, item, value);
        let store = Store::builder(MemoryKeyProvider::new(), MemoryBlobStore::new(), "t").build();
        match migrate(&store, &c.source, &c.layout, &Options::raw()) {
            Err(Error::Malformed { item: bad, .. }) => assert_eq!(bad, item),
            other => panic!("{other:?}"),
        }
        assert!(store.list().unwrap().is_empty());
        assert_eq!(c.source.names(SERVICE).len(), 5);
    }
}

/// A step of the procedure where a failure is injected.
#[derive(Debug, Clone)]
enum Step {
    Read(String),
    Search,
    Persist,
    ReadBack,
    Delete(String),
}

#[test]
fn a_failure_at_any_step_loses_no_token_and_the_next_run_finishes() {
    let mut tried = 0;
    for kind in [
        Kind::Bundle,
        Kind::PerItemSearch,
        Kind::PerItemIndex,
        Kind::All,
    ] {
        let items = case(kind).source.names(SERVICE);
        let mut steps: Vec<Step> = items.iter().map(|i| Step::Read(i.clone())).collect();
        steps.extend(items.iter().map(|i| Step::Delete(i.clone())));
        steps.extend([Step::Persist, Step::ReadBack]);
        if kind != Kind::Bundle && kind != Kind::PerItemIndex {
            steps.push(Step::Search);
        }
        for step in steps {
            let c = case(kind);
            let blob = Arc::new(Blobs::new(MemoryBlobStore::new()));
            let keys = Arc::new(Keys::new(MemoryKeyProvider::new()));
            let s = store(&blob, &keys);
            match &step {
                Step::Read(item) => c.source.fail_read(item),
                Step::Search => c.source.fail_search(),
                Step::Persist => blob.fail_write_on(1),
                // read() calls: the reload after the write is the first.
                Step::ReadBack => blob.fail_read_on(1),
                Step::Delete(item) => c.source.fail_delete(item),
            }
            let when = format!("{kind:?}, failure at {step:?}");
            let result = migrate(&s, &c.source, &c.layout, &Options::raw());
            // A per-secret item that cannot be read stays, and the others
            // move; a bundle or index that cannot be read stops everything.
            let per_item_read = matches!(&step, Step::Read(item)
                if Some(item.as_str()) != c.layout.bundle_item.as_deref()
                    && Some(item.as_str()) != c.layout.index_item.as_deref());
            match (&step, &result) {
                (Step::Read(item), Ok(report)) if per_item_read => {
                    assert!(
                        report.not_converted.iter().any(|(i, _)| i == item),
                        "{when}: {report:?}"
                    );
                    assert!(
                        c.source.names(SERVICE).contains(item),
                        "{when}: the unreadable item was deleted"
                    );
                }
                (Step::Delete(item), Ok(report)) => {
                    assert!(
                        report.delete_failures.iter().any(|(i, _)| i == item),
                        "{when}: {report:?}"
                    );
                }
                (Step::Delete(_), Err(e)) => {
                    panic!("{when}: a failed delete failed the migration: {e}")
                }
                (_, Ok(report)) => panic!("{when}: no error reported: {report:?}"),
                (_, Err(_)) => {}
            }
            if !matches!(step, Step::Delete(_)) && !per_item_read {
                assert_eq!(
                    c.source.names(SERVICE),
                    items,
                    "{when}: legacy items were deleted"
                );
            }
            assert_nothing_lost(&c, &s, &when);
            assert_nothing_lost(&c, &store(&blob, &keys), &format!("{when}, new process"));

            c.source.heal();
            migrate(&s, &c.source, &c.layout, &Options::raw())
                .unwrap_or_else(|e| panic!("{when}, retry: {e}"));
            assert_complete(
                &c,
                &store(&blob, &keys),
                &format!("{when}, after the retry"),
            );
            tried += 1;
        }
    }
    assert!(tried >= 30, "only {tried} failure points were tried");
}
