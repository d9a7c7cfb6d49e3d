//! The [`KeyProvider`] contract as plain functions, for every backend.
//!
//! Each function takes a provider that holds **no key** when it is called and
//! leaves it holding none (read-only providers excepted: see
//! [`Capabilities`]). They panic with a message on the first broken promise,
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
        load_on_empty_is_not_found_and_creates_nothing(provider);
        create_then_load_round_trips(provider);
        create_twice_is_an_error(provider);
        delete_then_load_is_not_found(provider);
        staging_then_commit_replaces_the_key(provider);
        secrets_never_appear_in_debug_output(provider);
        concurrent_loads_agree(provider);
    } else {
        read_only_refuses_create_and_delete(provider);
        secrets_never_appear_in_debug_output(provider);
        concurrent_loads_agree(provider);
    }
}

fn expect_not_found(provider: &dyn KeyProvider, when: &str) {
    match provider.load() {
        Err(Error::NotFound { .. }) => {}
        Ok(key) => panic!("{when}: load found key {} where none should be", key.id()),
        Err(other) => panic!("{when}: load should be NotFound, was: {other}"),
    }
}

/// Loading from an empty provider is `NotFound`, and creates nothing: a second
/// load is still `NotFound`.
pub fn load_on_empty_is_not_found_and_creates_nothing(provider: &dyn KeyProvider) {
    expect_not_found(provider, "first load on an empty provider");
    expect_not_found(provider, "second load on an empty provider");
}

/// `create` returns a key that `load` then returns (same id, same bytes).
pub fn create_then_load_round_trips(provider: &dyn KeyProvider) {
    let created = provider
        .create()
        .unwrap_or_else(|e| panic!("create on an empty provider failed: {e}"));
    let loaded = provider
        .load()
        .unwrap_or_else(|e| panic!("load after create failed: {e}"));
    assert_eq!(
        created.id(),
        loaded.id(),
        "load returned another key than create"
    );
    assert!(
        created.expose_secret() == loaded.expose_secret(),
        "load returned other bytes than create"
    );
    delete_or_panic(provider);
}

/// A second `create` is `AlreadyExists` and leaves the first key in place.
pub fn create_twice_is_an_error(provider: &dyn KeyProvider) {
    let first = provider
        .create()
        .unwrap_or_else(|e| panic!("create on an empty provider failed: {e}"));
    match provider.create() {
        Err(Error::AlreadyExists { .. }) => {}
        Ok(second) => panic!(
            "second create overwrote key {} with {}",
            first.id(),
            second.id()
        ),
        Err(other) => panic!("second create should be AlreadyExists, was: {other}"),
    }
    let kept = provider
        .load()
        .unwrap_or_else(|e| panic!("load after a refused create failed: {e}"));
    assert_eq!(kept.id(), first.id(), "a refused create changed the key");
    delete_or_panic(provider);
}

/// After `delete`, `load` is `NotFound`, and a second `delete` is `NotFound`.
pub fn delete_then_load_is_not_found(provider: &dyn KeyProvider) {
    provider
        .create()
        .unwrap_or_else(|e| panic!("create on an empty provider failed: {e}"));
    delete_or_panic(provider);
    expect_not_found(provider, "load after delete");
    match provider.delete() {
        Err(Error::NotFound { .. }) => {}
        other => panic!("delete of a missing key should be NotFound, was: {other:?}"),
    }
}

/// A staged key sits beside the current one until `commit_staged` makes it
/// current; `discard_staged` drops it; neither touches the other slot.
pub fn staging_then_commit_replaces_the_key(provider: &dyn KeyProvider) {
    let first = provider
        .create()
        .unwrap_or_else(|e| panic!("create on an empty provider failed: {e}"));
    assert!(
        matches!(provider.load_staged(), Err(Error::NotFound { .. })),
        "a fresh provider has a staged key"
    );
    let next = crate::Key::generate().unwrap_or_else(|e| panic!("generate failed: {e}"));
    provider
        .stage(&next)
        .unwrap_or_else(|e| panic!("stage failed: {e}"));
    let current = provider
        .load()
        .unwrap_or_else(|e| panic!("load failed: {e}"));
    assert_eq!(current.id(), first.id(), "staging changed the current key");
    let staged = provider
        .load_staged()
        .unwrap_or_else(|e| panic!("load_staged failed: {e}"));
    assert_eq!(staged.id(), next.id(), "load_staged returned another key");

    provider
        .commit_staged()
        .unwrap_or_else(|e| panic!("commit_staged failed: {e}"));
    let current = provider
        .load()
        .unwrap_or_else(|e| panic!("load failed: {e}"));
    assert_eq!(
        current.id(),
        next.id(),
        "commit did not make the staged key current"
    );
    assert!(
        matches!(provider.load_staged(), Err(Error::NotFound { .. })),
        "commit left the staged copy"
    );

    let abandoned = crate::Key::generate().unwrap_or_else(|e| panic!("generate failed: {e}"));
    provider
        .stage(&abandoned)
        .unwrap_or_else(|e| panic!("stage failed: {e}"));
    provider
        .discard_staged()
        .unwrap_or_else(|e| panic!("discard_staged failed: {e}"));
    provider
        .discard_staged()
        .unwrap_or_else(|e| panic!("discard_staged of nothing failed: {e}"));
    assert!(matches!(
        provider.load_staged(),
        Err(Error::NotFound { .. })
    ));
    assert!(
        matches!(provider.commit_staged(), Err(Error::NotFound { .. })),
        "commit of nothing"
    );
    let current = provider
        .load()
        .unwrap_or_else(|e| panic!("load failed: {e}"));
    assert_eq!(current.id(), next.id(), "discard changed the current key");
    delete_or_panic(provider);
}

/// No `Debug` or `Display` output of the provider, its key, its info or its
/// errors contains the key's bytes (raw, hex or base64).
pub fn secrets_never_appear_in_debug_output(provider: &dyn KeyProvider) {
    let created = if provider.info().kind == crate::ProviderKind::Environment {
        None
    } else {
        Some(
            provider
                .create()
                .unwrap_or_else(|e| panic!("create on an empty provider failed: {e}")),
        )
    };
    let key = provider
        .load()
        .unwrap_or_else(|e| panic!("load failed: {e}"));
    let mut shown = format!(
        "{provider:?} {key:?} {:?} {}",
        provider.info(),
        provider.info().location
    );
    if let Err(e) = provider.create() {
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
    if created.is_some() {
        delete_or_panic(provider);
    }
}

/// Eight threads loading at once all get the same key.
pub fn concurrent_loads_agree(provider: &dyn KeyProvider) {
    let created = (provider.info().kind != crate::ProviderKind::Environment).then(|| {
        provider
            .create()
            .unwrap_or_else(|e| panic!("create on an empty provider failed: {e}"))
            .id()
    });
    let ids: BTreeSet<KeyId> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| provider.load().map(|k| k.id())))
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
        ids.len(),
        1,
        "concurrent loads returned different keys: {ids:?}"
    );
    if let Some(id) = created {
        assert!(
            ids.contains(&id),
            "concurrent loads returned another key than create"
        );
        delete_or_panic(provider);
    }
}

/// A read-only provider refuses `create` and `delete` with `ReadOnly` and
/// still loads its key afterwards.
pub fn read_only_refuses_create_and_delete(provider: &dyn KeyProvider) {
    let before = provider
        .load()
        .unwrap_or_else(|e| panic!("a read-only provider must hold a key for the suite: {e}"));
    assert!(matches!(
        provider.create(),
        Err(Error::ReadOnly {
            operation: "create",
            ..
        })
    ));
    assert!(matches!(
        provider.delete(),
        Err(Error::ReadOnly {
            operation: "delete",
            ..
        })
    ));
    let after = provider
        .load()
        .unwrap_or_else(|e| panic!("load failed: {e}"));
    assert_eq!(before.id(), after.id());
}

fn delete_or_panic(provider: &dyn KeyProvider) {
    provider
        .delete()
        .unwrap_or_else(|e| panic!("delete of an existing key failed: {e}"));
}
