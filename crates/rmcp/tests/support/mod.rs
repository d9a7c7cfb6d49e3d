//! What the refresh tests share: an OAuth authorization server on loopback
//! with refresh-token rotation and reuse detection, and the child process
//! that runs rmcp's `AuthorizationManager` against it.

#![allow(dead_code, reason = "test support: each test binary uses its own part")]

pub(crate) mod auth_server;
pub(crate) mod client;

use std::path::Path;

use keyseal::Store;
use keyseal::blob::FileStore;
use keyseal::keys::EnvKeyProvider;

/// The environment variable the children read the store's key from.
pub(crate) const KEY_VAR: &str = "KEYSEAL_RMCP_TEST_KEY";

/// Standard base64 of 32 bytes 0x00..=0x1f.
pub(crate) const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The client id the server and every client use.
pub(crate) const CLIENT_ID: &str = "keyseal-test-client";

/// The store every process opens: the file at `path`, its key in
/// [`KEY_VAR`].
pub(crate) fn store_at(path: &Path) -> Store {
    Store::builder(
        EnvKeyProvider::new(KEY_VAR),
        FileStore::new(path).with_lock_timeout(std::time::Duration::from_secs(60)),
        "com.example.test/rmcp",
    )
    .build()
}

/// The same store in this (the parent) process, whose environment is left
/// alone: the same key, given in memory.
pub(crate) fn parent_store(path: &Path) -> Store {
    let key: Vec<u8> = (0u8..32).collect();
    Store::builder(
        keyseal::keys::MemoryKeyProvider::given(keyseal::seal::Key::from_slice(&key).unwrap()),
        FileStore::new(path).with_lock_timeout(std::time::Duration::from_secs(60)),
        "com.example.test/rmcp",
    )
    .build()
}

/// A fresh store file whose entry for the server holds a first token
/// family, as a completed authorization leaves it; returns that family's
/// first refresh token.
pub(crate) fn seeded(server: &auth_server::AuthServer, path: &Path) -> String {
    let (refresh, token) = server.authorize();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let credentials = serde_json::json!({
        "client_id": CLIENT_ID,
        "token_response": token,
        "granted_scopes": [],
        "token_received_at": now,
        "issuer": server.base,
    });
    parent_store(path)
        .set(&server.mcp_url(), &credentials)
        .unwrap();
    refresh
}

/// The refresh token in the store's entry for `url`.
pub(crate) fn stored_refresh_token(path: &Path, url: &str) -> Option<String> {
    let entry: serde_json::Value = parent_store(path).get(url).unwrap()?;
    entry["token_response"]["refresh_token"]
        .as_str()
        .map(str::to_owned)
}
