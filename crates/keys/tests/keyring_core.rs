//! `Backend::KeyringCore`: keys in a keyring-core credential store the
//! application gives (here keyring-core's own Secret Service store, against
//! the real Secret Service), never in keyring-core's default store.
#![cfg(test)]
#![cfg(target_os = "linux")]

mod support;

use std::sync::Arc;

use keyring_core::CredentialStore;
use keyseal_keys::conformance::{self, Capabilities};
use keyseal_keys::{Backend, KeyLifetime, KeyProvider, KeyringProvider, ProviderKind};

/// keyring-core's Secret Service store, or `None` (after saying why) when no
/// Secret Service answers here.
fn given_store() -> Option<Arc<CredentialStore>> {
    match zbus_secret_service_keyring_store::Store::new() {
        Ok(store) => Some(store),
        Err(e) => {
            support::skip(&format!("no Secret Service answers: {e}"));
            None
        }
    }
}

/// The `username` attributes of the Secret Service items of `service`.
fn users_of(service: &str) -> Vec<String> {
    let text = support::secret_tool_search(service);
    let mut users: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("attribute.username = "))
        .map(str::to_owned)
        .collect();
    users.sort();
    users
}

#[test]
fn a_given_keyring_core_store_holds_the_keys_and_passes_the_conformance_suite() {
    let Some(store) = given_store() else {
        return;
    };
    // keyring-core's default store is its mock, whose credentials vanish
    // with their entry: a provider that went to the default store would
    // fail the suite's create-then-load.
    let mock: Arc<CredentialStore> = keyring_core::mock::Store::new().unwrap();
    keyring_core::set_default_store(mock);
    let service = support::unique("keyring-core-given");
    let provider = KeyringProvider::builder(&service, "store-key")
        .keyring_core_store(store)
        .build();
    assert_eq!(provider.backend(), Backend::KeyringCore);
    let info = provider.info();
    assert_eq!(info.kind, ProviderKind::KeyringCore);
    assert_eq!(info.lifetime, KeyLifetime::UntilDeleted);
    assert!(info.location.contains(&service), "{}", info.location);

    conformance::run_all(&provider, Capabilities::WRITABLE);

    // One credential per key, in keyring-core's own layout, named by the id.
    let key = provider.create().unwrap();
    assert_eq!(users_of(&service), [format!("store-key.{}", key.id())]);
    assert_eq!(provider.load(&key.id()).unwrap().id(), key.id());
    provider.delete(&key.id()).unwrap();
    assert!(users_of(&service).is_empty());
}
