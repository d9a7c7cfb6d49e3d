//! The [`KeyProvider`] contract as plain functions, for every backend.
//!
//! Each function takes a provider, creates the keys it needs and deletes them
//! again, so it leaves the provider as it found it (read-only providers hold
//! their given key throughout: see [`Capabilities`]). They panic with a message on the first broken promise,
//! so they read like assertions in a test:
//!
//! ```
//! use keyseal_keys::{MemoryKeyProvider, conformance};
//!
//! conformance::run_all(&MemoryKeyProvider::new(), conformance::Capabilities::WRITABLE);
//! ```

#![allow(clippy::panic, reason = "conformance checks are assertions for tests")]

use std::collections::BTreeSet;

use crate::{Error, KeyId, KeyProvider};

/// What a provider can do, so the suite checks what applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// `create` and `delete` work (false for a read-only provider, which
    /// must hold a key when the suite runs).
    pub writable: bool,
}

impl Capabilities {
    /// A provider that can create and delete its key.
    pub const WRITABLE: Self = Self { writable: true };
    /// A read-only provider that already holds a key.
    pub const READ_ONLY: Self = Self { writable: false };
}

/// Runs every check that applies to `caps`.
pub fn run_all(provider: &dyn KeyProvider, caps: Capabilities) {
    if caps.writable {
        load_of_an_unknown_id_is_not_found_and_creates_nothing(provider);
        create_then_load_round_trips(provider);
        creates_never_share_or_overwrite_a_slot(provider);
        delete_removes_only_that_key(provider);
        concurrent_creates_make_distinct_keys(provider);
        secrets_never_appear_in_debug_output(provider);
        concurrent_loads_agree(provider);
    } else {
        read_only_refuses_create_and_delete(provider);
        secrets_never_appear_in_debug_output(provider);
        concurrent_loads_agree(provider);
    }
}

fn unknown_id() -> KeyId {
    crate::Key::generate()
        .unwrap_or_else(|e| panic!("generate failed: {e}"))
        .id()
}

fn expect_not_found(provider: &dyn KeyProvider, id: &KeyId, when: &str) {
    match provider.load(id) {
        Err(Error::NotFound { .. }) => {}
        Ok(key) => panic!("{when}: load found key {} where none should be", key.id()),
        Err(other) => panic!("{when}: load should be NotFound, was: {other}"),
    }
}

fn create_or_panic(provider: &dyn KeyProvider) -> crate::Key {
    provider
        .create()
        .unwrap_or_else(|e| panic!("create failed: {e}"))
}

fn load_or_panic(provider: &dyn KeyProvider, id: &KeyId, when: &str) -> crate::Key {
    let key = provider
        .load(id)
        .unwrap_or_else(|e| panic!("{when}: load failed: {e}"));
    assert_eq!(key.id(), *id, "{when}: load returned another key");
    key
}

fn delete_or_panic(provider: &dyn KeyProvider, id: &KeyId) {
    provider
        .delete(id)
        .unwrap_or_else(|e| panic!("delete of an existing key failed: {e}"));
}

/// Loading an id the provider does not hold is `NotFound`, and creates
/// nothing: a second load is still `NotFound`.
pub fn load_of_an_unknown_id_is_not_found_and_creates_nothing(provider: &dyn KeyProvider) {
    let id = unknown_id();
    expect_not_found(provider, &id, "first load of an unknown id");
    expect_not_found(provider, &id, "second load of an unknown id");
}

/// `create` returns a key that `load` of its id then returns (same bytes).
pub fn create_then_load_round_trips(provider: &dyn KeyProvider) {
    let created = create_or_panic(provider);
    let loaded = load_or_panic(provider, &created.id(), "after create");
    assert!(
        created.expose_secret() == loaded.expose_secret(),
        "load returned other bytes than create"
    );
    delete_or_panic(provider, &created.id());
}

/// Two creates make two keys, each in its own slot: the second does not
/// replace the first (two stores of one service keep their own keys).
pub fn creates_never_share_or_overwrite_a_slot(provider: &dyn KeyProvider) {
    let first = create_or_panic(provider);
    let second = create_or_panic(provider);
    assert_ne!(first.id(), second.id(), "two creates made the same key");
    let kept = load_or_panic(provider, &first.id(), "the first key after a second create");
    assert!(
        kept.expose_secret() == first.expose_secret(),
        "a second create changed the first key"
    );
    load_or_panic(provider, &second.id(), "the second key");
    delete_or_panic(provider, &first.id());
    delete_or_panic(provider, &second.id());
}

/// `delete` removes the key with that id and no other; a second `delete` of
/// it is `NotFound`.
pub fn delete_removes_only_that_key(provider: &dyn KeyProvider) {
    let gone = create_or_panic(provider);
    let kept = create_or_panic(provider);
    delete_or_panic(provider, &gone.id());
    expect_not_found(provider, &gone.id(), "load after delete");
    load_or_panic(provider, &kept.id(), "another key after a delete");
    match provider.delete(&gone.id()) {
        Err(Error::NotFound { .. }) => {}
        other => panic!("delete of a missing key should be NotFound, was: {other:?}"),
    }
    match provider.delete(&unknown_id()) {
        Err(Error::NotFound { .. }) => {}
        other => panic!("delete of an unknown id should be NotFound, was: {other:?}"),
    }
    load_or_panic(
        provider,
        &kept.id(),
        "another key after deletes of missing ones",
    );
    delete_or_panic(provider, &kept.id());
}

/// Eight threads creating at once (eight new stores at one instant) get
/// eight different keys, and every one of them loads afterwards.
pub fn concurrent_creates_make_distinct_keys(provider: &dyn KeyProvider) {
    let ids: Vec<KeyId> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| provider.create().map(|k| k.id())))
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(Ok(id)) => id,
                Ok(Err(e)) => panic!("a concurrent create failed: {e}"),
                Err(_) => panic!("a concurrent create panicked"),
            })
            .collect()
    });
    let distinct: BTreeSet<KeyId> = ids.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        8,
        "concurrent creates shared a key: {ids:?}"
    );
    for id in &ids {
        load_or_panic(provider, id, "a key created concurrently");
    }
    for id in &ids {
        delete_or_panic(provider, id);
    }
}

/// No `Debug` or `Display` output of the provider, its key, its info or its
/// errors contains the key's bytes (raw, hex or base64).
pub fn secrets_never_appear_in_debug_output(provider: &dyn KeyProvider) {
    let (key, created) = match provider.given() {
        Some(given) => (
            given.unwrap_or_else(|e| panic!("the given key does not load: {e}")),
            false,
        ),
        None => (create_or_panic(provider), true),
    };
    let key = provider
        .load(&key.id())
        .unwrap_or_else(|e| panic!("load failed: {e}"));
    let mut shown = format!(
        "{provider:?} {key:?} {:?} {}",
        provider.info(),
        provider.info().location
    );
    if let Err(e) = provider.load(&unknown_id()) {
        shown.push_str(&format!(" {e} {e:?}"));
    }
    if let Err(e) = provider.delete(&unknown_id()) {
        shown.push_str(&format!(" {e} {e:?}"));
    }
    let bytes = key.expose_secret();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let decimal = format!("{:?}", &bytes[..]);
    use base64ct::{Base64, Encoding};
    let b64 = Base64::encode_string(bytes);
    for (form, needle) in [
        ("hex", &hex[..16]),
        ("decimal", &decimal[1..decimal.len().min(24)]),
        ("base64", &b64[..16]),
    ] {
        assert!(
            !shown.contains(needle),
            "key bytes ({form}) appear in debug output: {shown}"
        );
    }
    if created {
        delete_or_panic(provider, &key.id());
    }
}

/// Eight threads loading at once all get the same key.
pub fn concurrent_loads_agree(provider: &dyn KeyProvider) {
    let (id, created) = match provider.given() {
        Some(given) => (
            given
                .unwrap_or_else(|e| panic!("the given key does not load: {e}"))
                .id(),
            false,
        ),
        None => (create_or_panic(provider).id(), true),
    };
    let ids: BTreeSet<KeyId> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| provider.load(&id).map(|k| k.id())))
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(Ok(id)) => id,
                Ok(Err(e)) => panic!("a concurrent load failed: {e}"),
                Err(_) => panic!("a concurrent load panicked"),
            })
            .collect()
    });
    assert_eq!(
        ids.into_iter().collect::<Vec<_>>(),
        vec![id],
        "concurrent loads returned other keys"
    );
    if created {
        delete_or_panic(provider, &id);
    }
}

/// A read-only provider refuses `create` and `delete` with `ReadOnly`, gives
/// its key through `given`, and loads it afterwards whatever id is asked.
pub fn read_only_refuses_create_and_delete(provider: &dyn KeyProvider) {
    let before = match provider.given() {
        Some(Ok(key)) => key,
        Some(Err(e)) => panic!("a read-only provider must hold a key for the suite: {e}"),
        None => panic!("a read-only provider must give its key through `given`"),
    };
    assert!(matches!(
        provider.create(),
        Err(Error::ReadOnly {
            operation: "create",
            ..
        })
    ));
    assert!(matches!(
        provider.delete(&before.id()),
        Err(Error::ReadOnly {
            operation: "delete",
            ..
        })
    ));
    let after = provider
        .load(&unknown_id())
        .unwrap_or_else(|e| panic!("load failed: {e}"));
    assert_eq!(before.id(), after.id());
}
