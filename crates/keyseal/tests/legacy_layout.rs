//! Stores of the earlier keyring layout (one item `store-key` per service,
//! which a second store of the service shared with the first) keep opening,
//! and rotating one of them never takes the shared key from the other.
#![cfg(test)]

mod support;

use std::process::Command;

use base64ct::{Base64, Encoding};
use keyseal::Store;
use keyseal::blob::FileStore;
use keyseal::keys::{Backend, KeyProvider, KeyringProvider, MemoryKeyProvider};
use keyseal::seal::Key;
use support::TempDir;

const CONTEXT: &str = "com.example.test/legacy-layout";

fn provider(service: &str) -> KeyringProvider {
    KeyringProvider::builder(service, "store-key")
        .backend(Backend::SecretService)
        .build()
}

#[test]
fn rotating_one_store_of_the_earlier_layout_keeps_the_key_another_store_shares() {
    let service = support::unique("legacy-layout");
    if let Err(e) = provider(&service).load(&Key::generate().unwrap().id())
        && !e.is_not_found()
    {
        support::skip(&format!("no Secret Service answers: {e}"));
        return;
    }
    // The earlier layout: one item, and two stores sealed with its key.
    let shared = Key::generate().unwrap();
    let record = format!(
        "keyseal-key-v1:{}",
        Base64::encode_string(shared.expose_secret())
    );
    support::secret_tool_store(&service, "store-key", &record);
    let (dir_a, dir_c) = (TempDir::new("legacy-a"), TempDir::new("legacy-c"));
    for (dir, value) in [(&dir_a, "token-a"), (&dir_c, "token-c")] {
        Store::builder(
            MemoryKeyProvider::given(shared.duplicate()),
            FileStore::new(dir.file()),
            CONTEXT,
        )
        .build()
        .set("token", value)
        .unwrap();
    }
    let open = |dir: &TempDir| {
        Store::builder(provider(&service), FileStore::new(dir.file()), CONTEXT).build()
    };
    // Both open through the keyring with no change.
    let before_c = std::fs::read(dir_c.file()).unwrap();
    assert_eq!(
        open(&dir_a).get::<String>("token").unwrap().as_deref(),
        Some("token-a")
    );
    assert_eq!(
        open(&dir_c).get::<String>("token").unwrap().as_deref(),
        Some("token-c")
    );
    // Store a moves to its own item; store c is untouched and still opens.
    let rotation = open(&dir_a).rotate_key().unwrap();
    assert_eq!(rotation.previous_key_id, Some(shared.id()));
    assert_eq!(
        open(&dir_a).get::<String>("token").unwrap().as_deref(),
        Some("token-a")
    );
    assert_eq!(
        open(&dir_c).get::<String>("token").unwrap().as_deref(),
        Some("token-c")
    );
    assert_eq!(std::fs::read(dir_c.file()).unwrap(), before_c);
    let lookup = Command::new("secret-tool")
        .args(["lookup", "service", &service, "username", "store-key"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&lookup.stdout),
        record,
        "the shared item changed"
    );
    // Clean up.
    provider(&service).delete(&rotation.key_id).unwrap();
    let _ = Command::new("secret-tool")
        .args(["clear", "service", &service, "username", "store-key"])
        .status();
}
