//! Items as the Go library `github.com/99designs/keyring` (v1.2.2, which
//! docker-agent uses) writes them on the Secret Service: in a collection of
//! its own labelled after the service, each item labelled with its key,
//! attribute `profile` = key, the secret the JSON of its `Item` with `Data`
//! in standard base64, content type `application/json`.
//!
//! The library creates its collection with `CreateCollection`, which needs
//! a GUI prompt on gnome-keyring; a test has none, so the collection is made
//! the way a desktop's first run would have made it after its prompt:
//! gnome-keyring's prompt-free
//! `InternalUnsupportedGuiltRiddenInterface.CreateWithMasterPassword`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc,
    reason = "test set-up: a failure is the test's failure"
)]

use std::collections::HashMap;

use secret_service::EncryptionType;
use secret_service::blocking::SecretService;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

const SERVICE: &str = "org.freedesktop.secrets";
const PATH: &str = "/org/freedesktop/secrets";

/// Creates the collection `label` (password `password`) without a prompt,
/// unlocked, unless one with that label exists.
pub fn create_collection(label: &str, password: &str) {
    let ss = SecretService::connect(EncryptionType::Plain).unwrap();
    if ss
        .get_all_collections()
        .unwrap()
        .iter()
        .any(|c| c.get_label().is_ok_and(|l| l == label))
    {
        return;
    }
    let conn = zbus::blocking::Connection::session().unwrap();
    let reply = conn
        .call_method(
            Some(SERVICE),
            PATH,
            Some("org.freedesktop.Secret.Service"),
            "OpenSession",
            &("plain", Value::from("")),
        )
        .unwrap();
    let (_, session): (OwnedValue, OwnedObjectPath) = reply.body().deserialize().unwrap();
    let properties: HashMap<&str, Value<'_>> = [(
        "org.freedesktop.Secret.Collection.Label",
        Value::from(label),
    )]
    .into();
    let master = (
        session,
        Vec::<u8>::new(),
        password.as_bytes().to_vec(),
        "text/plain",
    );
    conn.call_method(
        Some(SERVICE),
        PATH,
        Some("org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface"),
        "CreateWithMasterPassword",
        &(properties, master),
    )
    .unwrap();
}

/// The JSON the library stores for an item `key` holding `data`.
pub fn item_json(key: &str, data: &[u8]) -> Vec<u8> {
    format!(
        r#"{{"Key":{},"Data":"{}","Label":"","Description":"","KeychainNotTrustApplication":false,"KeychainNotSynchronizable":false}}"#,
        json_string(key),
        base64(data)
    )
    .into_bytes()
}

/// Stores `secret` as item `key` of the collection `label`, as the library
/// does (`secret` is normally [`item_json`]).
pub fn store_item(label: &str, key: &str, secret: &[u8]) {
    store_item_with(label, key, &[], secret);
}

/// [`store_item`] with more attributes beside `profile` (gnome-keyring adds
/// `xdg:schema` when an item is rewritten); an item whose attributes differ
/// from an existing one's is a second item with the same `profile`.
pub fn store_item_with(label: &str, key: &str, extra: &[(&str, &str)], secret: &[u8]) {
    let ss = SecretService::connect(EncryptionType::Plain).unwrap();
    let collection = ss
        .get_all_collections()
        .unwrap()
        .into_iter()
        .find(|c| c.get_label().is_ok_and(|l| l == label))
        .expect("the collection exists");
    collection.ensure_unlocked().unwrap();
    collection
        .create_item(
            key,
            std::iter::once(("profile", key))
                .chain(extra.iter().copied())
                .collect(),
            secret,
            true,
            "application/json",
        )
        .unwrap();
}

/// The keys of the collection `label` (its items' `profile` attributes).
pub fn keys(label: &str) -> Vec<String> {
    let ss = SecretService::connect(EncryptionType::Plain).unwrap();
    let Some(collection) = ss
        .get_all_collections()
        .unwrap()
        .into_iter()
        .find(|c| c.get_label().is_ok_and(|l| l == label))
    else {
        return Vec::new();
    };
    let mut keys: Vec<String> = collection
        .get_all_items()
        .unwrap()
        .iter()
        .filter_map(|i| i.get_attributes().ok()?.remove("profile"))
        .collect();
    keys.sort();
    keys
}

/// Locks the collection `label` (as a session's screen lock or a logout
/// would).
pub fn lock_collection(label: &str) {
    let ss = SecretService::connect(EncryptionType::Plain).unwrap();
    for c in ss.get_all_collections().unwrap() {
        if c.get_label().is_ok_and(|l| l == label) {
            c.lock().unwrap();
            assert!(c.is_locked().unwrap(), "the collection did not lock");
        }
    }
}

/// Deletes the collection `label`, if there is one.
pub fn delete_collection(label: &str) {
    let ss = SecretService::connect(EncryptionType::Plain).unwrap();
    for c in ss.get_all_collections().unwrap() {
        if c.get_label().is_ok_and(|l| l == label) {
            let _ = c.delete();
        }
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let index = ((n >> (18 - 6 * i)) & 63) as usize;
                out.push(char::from(ALPHABET.get(index).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}
