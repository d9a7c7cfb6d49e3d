//! Swapping in the in-memory backends for an application's own tests, and
//! checking that the code under test touches the keyring once.
//!
//! Run: `cargo run -p keyseal --example in_memory_tests`

#![allow(clippy::print_stdout, reason = "an example shows its results")]

use std::sync::Arc;

use keyseal::blob::MemoryBlobStore;
use keyseal::keys::{MemoryKeyProvider, Operation, UnavailableReason};
use keyseal::{Error, OnKeyringUnavailable, Store};

/// The application code under test: takes any store.
fn remember_login(store: &Store, user: &str, token: &str) -> keyseal::Result<()> {
    store.set(&format!("login/{user}"), token)
}

fn main() -> keyseal::Result<()> {
    let keys = Arc::new(MemoryKeyProvider::new());
    let store = Store::builder(Arc::clone(&keys), MemoryBlobStore::new(), "test").build();
    remember_login(&store, "ada", "t1")?;
    remember_login(&store, "grace", "t2")?;
    assert_eq!(store.list()?, ["login/ada", "login/grace"]);
    println!(
        "keyring calls: {} load, {} create",
        keys.calls(Operation::Load),
        keys.calls(Operation::Create)
    );

    // Failure paths: the keyring is locked on the first create.
    let locked = Arc::new(MemoryKeyProvider::new());
    locked.fail_unavailable_on(Operation::Create, 1, UnavailableReason::Locked);
    let store = Store::builder(Arc::clone(&locked), MemoryBlobStore::new(), "test").build();
    match remember_login(&store, "ada", "t1") {
        Err(Error::KeyringUnavailable { reason, .. }) => {
            println!("locked keyring reported: {reason}")
        }
        other => println!("unexpected: {other:?}"),
    }

    // Or let the application run in memory when that happens, visibly.
    let locked = Arc::new(MemoryKeyProvider::new());
    locked.fail_unavailable_on(Operation::Create, 1, UnavailableReason::Locked);
    let store = Store::builder(locked, MemoryBlobStore::new(), "test")
        .on_keyring_unavailable(OnKeyringUnavailable::MemoryOnly)
        .build();
    remember_login(&store, "ada", "t1")?;
    println!("degraded: {}", store.status().degraded.unwrap_or_default());
    Ok(())
}
