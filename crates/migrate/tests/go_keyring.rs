//! docker-agent's items as `github.com/99designs/keyring` writes them on a
//! real Secret Service (its own collection, attribute `profile`, JSON
//! `Item` with base64 `Data`; written by `keyseal_testkit::go_keyring`, an
//! independent writer), migrated through `KeyringSource` with
//! `ItemLayout::GoKeyring`: every token moves, the key item and anything
//! unreadable stay, and a second run changes nothing.
#![cfg(test)]
#![cfg(target_os = "linux")]

use keyseal::blob::MemoryBlobStore;
use keyseal::keys::{ItemLayout, KeyringItems, MemoryKeyProvider};
use keyseal::{ExposeSecret, Store};
use std::path::PathBuf;

use keyseal_migrate::{KeyringSource, Layout, LegacySource, Options, Origin, SealedFile, migrate};
use keyseal_testkit::go_keyring::{
    create_collection, delete_collection, item_json, keys, store_item, store_item_with,
};
use keyseal_testkit::{TempDir, docker_agent as sealed, skip, unique};

fn go_source() -> KeyringSource {
    KeyringSource::with_items(KeyringItems::new().with_layout(ItemLayout::GoKeyring))
}

/// docker-agent's layout under a collection of its own for this test, its
/// sealed file in `dir`.
fn docker_agent(service: &str, dir: &TempDir) -> Layout {
    let mut layout = Layout::docker_agent();
    layout.service = service.to_owned();
    layout.sealed_file = Some(SealedFile::docker_agent_at(sealed_file(dir)));
    layout
}

fn sealed_file(dir: &TempDir) -> PathBuf {
    dir.path().join("mcp-oauth-tokens.enc")
}

fn secret_service_here() -> bool {
    match go_source().search(&unique("probe")) {
        Ok(_) => true,
        Err(e) => {
            skip(&format!("no Secret Service answers: {e}"));
            false
        }
    }
}

fn store() -> Store {
    Store::builder(
        MemoryKeyProvider::new(),
        MemoryBlobStore::new(),
        "com.example.test/go-keyring",
    )
    .build()
}

#[test]
fn docker_agents_real_layout_migrates_and_its_key_item_and_broken_items_stay() {
    let _one_at_a_time = keyseal_testkit::secret_service_lock();
    if !secret_service_here() {
        return;
    }
    let service = unique("docker-agent-oauth");
    create_collection(&service, "collection password");
    // Its sealed file, made with the key in the collection: the newest
    // truth, so its token for a.example wins over the bundle's.
    let dir = TempDir::new("docker-agent-home");
    let file_json = br#"{"https://a.example/mcp":{"access_token":"A2","refresh_token":"R2"},"https://e.example/mcp":{"access_token":"E1"}}"#;
    sealed::write(&sealed_file(&dir), &[7u8; 32], file_json);
    let file_before = std::fs::read(sealed_file(&dir)).unwrap();
    let bundle = br#"{"https://a.example/mcp":{"access_token":"A1","refresh_token":"R1","expiry":"2026-12-01T00:00:00Z"}}"#;
    let b_token = br#"{"access_token":"B1","token_type":"Bearer"}"#;
    for (key, data) in [
        ("oauth:tokens", &bundle[..]),
        ("oauth:https://b.example/mcp", &b_token[..]),
        ("oauth:_index", &br#"["https://b.example/mcp"]"#[..]),
        ("oauth:encryption-key", &[7u8; 32][..]),
    ] {
        store_item(&service, key, &item_json(key, data));
    }
    // An item the library did not write: reported, never guessed at.
    store_item(
        &service,
        "oauth:https://c.example/mcp",
        b"raw, not a JSON Item",
    );

    let store = store();
    let report = migrate(
        &store,
        &go_source(),
        &docker_agent(&service, &dir),
        &Options::raw(),
    )
    .unwrap();
    let a = store.get_bytes("https://a.example/mcp").unwrap().unwrap();
    assert_eq!(
        a.expose_secret(),
        br#"{"access_token":"A2","refresh_token":"R2"}"#
    );
    let e = store.get_bytes("https://e.example/mcp").unwrap().unwrap();
    assert_eq!(e.expose_secret(), br#"{"access_token":"E1"}"#);
    assert_eq!(
        report.origins.get("https://a.example/mcp"),
        Some(&Origin::SealedFile)
    );
    assert_eq!(
        report.origins.get("https://b.example/mcp"),
        Some(&Origin::Item)
    );
    let b = store.get_bytes("https://b.example/mcp").unwrap().unwrap();
    assert_eq!(b.expose_secret(), b_token, "byte for byte");
    assert!(store.get_bytes("https://c.example/mcp").unwrap().is_none());
    assert_eq!(report.not_converted.len(), 1, "{report:?}");
    assert!(
        report
            .skipped
            .iter()
            .any(|(item, _)| item.contains("encryption-key")),
        "{report:?}"
    );
    // The tokens' items are gone; docker-agent's key and the unreadable item
    // stay, and so does the index while a per-item entry is left.
    let left = [
        "oauth:_index",
        "oauth:encryption-key",
        "oauth:https://c.example/mcp",
    ];
    assert_eq!(keys(&service), left);

    assert_eq!(std::fs::read(sealed_file(&dir)).unwrap(), file_before);

    let again = migrate(
        &store,
        &go_source(),
        &docker_agent(&service, &dir),
        &Options::raw(),
    )
    .unwrap();
    assert!(
        again.moved.is_empty() && again.deleted.is_empty(),
        "{again:?}"
    );
    assert_eq!(keys(&service), left);
    assert_eq!(std::fs::read(sealed_file(&dir)).unwrap(), file_before);
    delete_collection(&service);
}

#[test]
fn the_keyring_crates_layout_does_not_see_go_keyring_items_and_no_collection_is_nothing() {
    let _one_at_a_time = keyseal_testkit::secret_service_lock();
    if !secret_service_here() {
        return;
    }
    let service = unique("docker-agent-oauth");
    let dir = TempDir::new("docker-agent-home");
    // No collection at all: nothing to migrate, nothing changes.
    let empty = migrate(
        &store(),
        &go_source(),
        &docker_agent(&service, &dir),
        &Options::raw(),
    )
    .unwrap();
    assert!(empty.moved.is_empty() && empty.deleted.is_empty());
    create_collection(&service, "pw");
    store_item(
        &service,
        "oauth:https://b.example/mcp",
        &item_json("oauth:https://b.example/mcp", b"{}"),
    );
    // The keyring crates' layout (attributes service/username) finds none:
    // the reason the docker-agent preset reads the Go library's layout.
    let keyring = KeyringSource::new();
    assert!(
        keyring
            .search(&service)
            .unwrap()
            .unwrap_or_default()
            .is_empty()
    );
    assert_eq!(
        go_source().search(&service).unwrap().unwrap(),
        ["oauth:https://b.example/mcp"]
    );
    delete_collection(&service);
}

#[test]
fn remove_source_takes_docker_agents_file_and_then_its_key_out_of_the_real_collection() {
    let _one_at_a_time = keyseal_testkit::secret_service_lock();
    if !secret_service_here() {
        return;
    }
    let service = unique("docker-agent-oauth");
    create_collection(&service, "pw");
    let dir = TempDir::new("docker-agent-home");
    let key = [3u8; 32];
    store_item(
        &service,
        "oauth:encryption-key",
        &item_json("oauth:encryption-key", &key),
    );
    sealed::write(
        &sealed_file(&dir),
        &key,
        br#"{"https://a.example/mcp":{"access_token":"A"}}"#,
    );
    let store = store();
    let layout = docker_agent(&service, &dir);

    // The key item in the real collection opens the file; both stay.
    migrate(&store, &go_source(), &layout, &Options::raw()).unwrap();
    assert_eq!(keys(&service), ["oauth:encryption-key"]);
    assert!(sealed_file(&dir).exists());

    let report = migrate(
        &store,
        &go_source(),
        &layout,
        &Options::raw().remove_sealed_file(true),
    )
    .unwrap();
    assert!(!sealed_file(&dir).exists());
    assert!(keys(&service).is_empty(), "{:?}", keys(&service));
    assert_eq!(report.deleted, ["oauth:encryption-key"]);
    assert_eq!(
        store
            .get_bytes("https://a.example/mcp")
            .unwrap()
            .unwrap()
            .expose_secret(),
        br#"{"access_token":"A"}"#
    );
    delete_collection(&service);
}

#[test]
fn an_item_gnome_keyring_rewrote_is_found_and_two_different_items_for_one_key_stay() {
    let _one_at_a_time = keyseal_testkit::secret_service_lock();
    if !secret_service_here() {
        return;
    }
    let service = unique("docker-agent-oauth");
    create_collection(&service, "collection password");
    let dir = TempDir::new("docker-agent-dupes");
    let rewritten = br#"{"access_token":"R1"}"#;
    // Rewritten by gnome-keyring: `xdg:schema` beside `profile`.
    store_item_with(
        &service,
        "oauth:https://r.example/mcp",
        &[("xdg:schema", "org.freedesktop.Secret.Generic")],
        &item_json("oauth:https://r.example/mcp", rewritten),
    );
    // Two items for one key holding different tokens: neither is guessed
    // at, and neither is deleted (a delete would remove both).
    store_item(
        &service,
        "oauth:https://d.example/mcp",
        &item_json("oauth:https://d.example/mcp", br#"{"access_token":"D1"}"#),
    );
    store_item_with(
        &service,
        "oauth:https://d.example/mcp",
        &[("xdg:schema", "org.freedesktop.Secret.Generic")],
        &item_json("oauth:https://d.example/mcp", br#"{"access_token":"D2"}"#),
    );
    let mut layout = docker_agent(&service, &dir);
    layout.sealed_file = None;
    let store = store();
    let report = migrate(&store, &go_source(), &layout, &Options::raw()).unwrap();
    assert_eq!(
        store
            .get_bytes("https://r.example/mcp")
            .unwrap()
            .unwrap()
            .expose_secret(),
        rewritten
    );
    assert!(store.get_bytes("https://d.example/mcp").unwrap().is_none());
    assert!(
        report
            .kept
            .iter()
            .any(|k| k == "oauth:https://d.example/mcp"),
        "{report:?}"
    );
    // Both stay; the rewritten one went.
    assert_eq!(
        keys(&service),
        ["oauth:https://d.example/mcp", "oauth:https://d.example/mcp"]
    );
    delete_collection(&service);
}
