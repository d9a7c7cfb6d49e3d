//! What an application's own tests do with keyseal: swap in the in-memory
//! backends, count the keyring's calls, make the keyring fail, and damage
//! the stored file. (These were `examples/in_memory_tests.rs`; as tests they
//! cannot drift from the API.)
#![cfg(test)]

use std::sync::Arc;

use keyseal::blob::MemoryBlobStore;
use keyseal::blob::testing::tamper;
use keyseal::keys::testing::{FaultyProvider, Operation};
use keyseal::keys::{MemoryKeyProvider, UnavailableReason};
use keyseal::{Error, OnKeyringUnavailable, Store};

/// The application code under test: takes any store.
fn remember_login(store: &Store, user: &str, token: &str) -> keyseal::Result<()> {
    store.set(&format!("login/{user}"), token)
}

fn counted() -> Arc<FaultyProvider<MemoryKeyProvider>> {
    Arc::new(FaultyProvider::new(MemoryKeyProvider::new()))
}

#[test]
fn the_code_under_test_stores_its_logins_and_touches_the_keyring_once() {
    let keys = counted();
    let store = Store::builder(Arc::clone(&keys), MemoryBlobStore::new(), "test").build();
    remember_login(&store, "ada", "t1").unwrap();
    remember_login(&store, "grace", "t2").unwrap();
    assert_eq!(store.list().unwrap(), ["login/ada", "login/grace"]);
    assert_eq!(
        store.get::<String>("login/ada").unwrap().as_deref(),
        Some("t1")
    );
    assert_eq!(keys.calls(Operation::Create), 1);
    assert_eq!(keys.calls(Operation::Load), 0, "the created key is kept");
    // A store in memory has no file to point at.
    assert_eq!(store.location().as_str(), "memory");
    assert_eq!(store.location().path(), None);
}

#[test]
fn a_locked_keyring_is_reported_and_nothing_is_stored() {
    let keys = counted();
    keys.fail_unavailable_on(Operation::Create, 1, UnavailableReason::Locked);
    let blob = Arc::new(MemoryBlobStore::new());
    let store = Store::builder(Arc::clone(&keys), Arc::clone(&blob), "test").build();
    match remember_login(&store, "ada", "t1") {
        Err(Error::KeyringUnavailable {
            reason: UnavailableReason::Locked,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    assert!(
        keyseal::blob::BlobStore::read(&blob).unwrap().is_none(),
        "something was stored"
    );
}

#[test]
fn memory_only_goes_on_visibly_when_the_keyring_is_locked() {
    let keys = counted();
    keys.fail_unavailable_on(Operation::Create, 1, UnavailableReason::Locked);
    let store = Store::builder(keys, MemoryBlobStore::new(), "test")
        .on_keyring_unavailable(OnKeyringUnavailable::MemoryOnly)
        .build();
    remember_login(&store, "ada", "t1").unwrap();
    let degraded = store.status().degraded.expect("degraded");
    assert!(degraded.contains("locked"), "{degraded}");
    assert!(store.degraded().is_some());
}

#[test]
fn a_tampered_file_is_reported_as_tampered_and_kept() {
    let keys = counted();
    let blob = Arc::new(MemoryBlobStore::new());
    let store = Store::builder(Arc::clone(&keys), Arc::clone(&blob), "test").build();
    remember_login(&store, "ada", "t1").unwrap();
    assert!(tamper(&blob).unwrap());
    let damaged = keyseal::blob::BlobStore::read(&blob).unwrap().unwrap();
    // A fresh handle, as the next run of the application would open it.
    let again = Store::builder(keys, Arc::clone(&blob), "test").build();
    assert!(matches!(
        again.get::<String>("login/ada"),
        Err(Error::Tampered { .. })
    ));
    assert!(matches!(
        remember_login(&again, "grace", "t2"),
        Err(Error::Tampered { .. })
    ));
    assert_eq!(
        keyseal::blob::BlobStore::read(&blob)
            .unwrap()
            .unwrap()
            .bytes(),
        damaged.bytes(),
        "the damaged file was written over"
    );
}
