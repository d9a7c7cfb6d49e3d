//! A locked docker-agent collection on the real Secret Service, with no
//! prompter to unlock it. In a test binary of its own: gnome-keyring 42's
//! failed prompt has taken the daemon down once while other tests of the
//! same binary were talking to it (a fresh-clone CI run), and test binaries
//! run one after another.
#![cfg(test)]
#![cfg(target_os = "linux")]

use std::path::PathBuf;

use keyseal::Store;
use keyseal::blob::MemoryBlobStore;
use keyseal::keys::{ItemLayout, KeyringItems, MemoryKeyProvider};
use keyseal_migrate::{KeyringSource, Layout, LegacySource, Options, SealedFile, migrate};
use keyseal_testkit::go_keyring::{
    create_collection, delete_collection, item_json, lock_collection, store_item,
};
use keyseal_testkit::{TempDir, docker_agent as sealed, skip, unique};

fn go_source() -> KeyringSource {
    KeyringSource::with_items(KeyringItems::new().with_layout(ItemLayout::GoKeyring))
}

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
        "com.example.test/go-keyring-locked",
    )
    .build()
}

#[test]
fn a_locked_collection_with_no_prompter_is_a_locked_error_naming_it_and_moves_nothing() {
    if !secret_service_here() {
        return;
    }
    let service = unique("docker-agent-oauth");
    create_collection(&service, "pw");
    let dir = TempDir::new("docker-agent-home");
    let key = [4u8; 32];
    store_item(
        &service,
        "oauth:encryption-key",
        &item_json("oauth:encryption-key", &key),
    );
    store_item(
        &service,
        "oauth:tokens",
        &item_json(
            "oauth:tokens",
            br#"{"https://a.example/mcp":{"access_token":"A"}}"#,
        ),
    );
    sealed::write(
        &sealed_file(&dir),
        &key,
        br#"{"https://b.example/mcp":{"access_token":"B"}}"#,
    );
    lock_collection(&service);
    let store = store();
    let result = migrate(
        &store,
        &go_source(),
        &docker_agent(&service, &dir),
        &Options::raw(),
    );
    match result {
        Err(keyseal_migrate::Error::Read { item, source }) => {
            assert_eq!(item, "oauth:encryption-key");
            assert_eq!(
                source.unavailable_reason(),
                Some(keyseal::keys::UnavailableReason::Locked),
                "{source}"
            );
            assert!(source.to_string().contains(&service), "{source}");
        }
        other => panic!("{other:?}"),
    }
    assert!(store.list().unwrap().is_empty());
    assert!(sealed_file(&dir).exists());
    delete_collection(&service);
}
