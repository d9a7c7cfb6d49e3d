//! The keyring provider against a real Secret Service (gnome-keyring, started
//! by `cargo xtask test` under `dbus-run-session`).
#![cfg(test)]

mod support;

use std::process::Command;

use base64ct::{Base64, Encoding};
use keyseal_keys::conformance::{self, Capabilities};
use keyseal_keys::{
    Backend, Error, Key, KeyId, KeyLifetime, KeyProvider, KeyringProvider, ProviderKind,
    SessionAlgorithm,
};
use keyseal_testkit::secret_tool_store;

/// A provider for a fresh item, or `None` (after printing why) when no Secret
/// Service answers here.
fn provider(tag: &str) -> Option<(KeyringProvider, String)> {
    provider_with(tag, SessionAlgorithm::default())
}

/// [`provider`] with a session algorithm.
fn provider_with(tag: &str, algorithm: SessionAlgorithm) -> Option<(KeyringProvider, String)> {
    let service = support::unique(tag);
    let provider = KeyringProvider::builder(&service, "store-key")
        .backend(Backend::SecretService)
        .secret_service_session(algorithm)
        .build();
    match provider.load(&random_id()) {
        Err(Error::NotFound { .. }) => Some((provider, service)),
        Err(e @ Error::Unavailable { .. }) => {
            support::skip(&format!("no Secret Service answers: {e}"));
            None
        }
        other => panic!("a fresh item should be NotFound: {other:?}"),
    }
}

fn random_id() -> KeyId {
    Key::generate().unwrap().id()
}

fn record(key: &Key) -> String {
    format!(
        "keyseal-key-v1:{}",
        Base64::encode_string(key.expose_secret())
    )
}

fn secret_tool(args: &[&str]) -> String {
    let out = Command::new("secret-tool")
        .args(args)
        .output()
        .expect("secret-tool runs");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn secret_service_passes_the_conformance_suite_with_each_session_algorithm() {
    for algorithm in SessionAlgorithm::ALL {
        let Some((provider, _)) = provider_with("conformance", algorithm) else {
            return;
        };
        conformance::run_all(&provider, Capabilities::WRITABLE);
    }
}

#[test]
fn a_key_made_with_one_session_algorithm_loads_with_the_other_and_with_secret_tool() {
    let Some((plain, service)) = provider_with("sessions", SessionAlgorithm::Plain) else {
        return;
    };
    let dh = KeyringProvider::builder(&service, "store-key")
        .backend(Backend::SecretService)
        .secret_service_session(SessionAlgorithm::DiffieHellman)
        .build();
    let key = plain.create().unwrap();
    assert_eq!(dh.load(&key.id()).unwrap().id(), key.id());
    let other = dh.create().unwrap();
    assert_eq!(plain.load(&other.id()).unwrap().id(), other.id());
    // The same item, as libsecret (which asks for the Diffie-Hellman
    // session) and keyring-core's layout see it: attributes service and
    // username.
    let name = format!("store-key.{}", key.id());
    assert_eq!(
        secret_tool(&["lookup", "service", &service, "username", &name]),
        record(&key)
    );
    plain.delete(&key.id()).unwrap();
    dh.delete(&other.id()).unwrap();
}

#[test]
fn session_algorithms_parse_from_their_names() {
    assert_eq!(
        "plain".parse::<SessionAlgorithm>(),
        Ok(SessionAlgorithm::Plain)
    );
    assert_eq!(
        "dh".parse::<SessionAlgorithm>(),
        Ok(SessionAlgorithm::DiffieHellman)
    );
    assert_eq!(
        "dh-ietf1024-sha256-aes128-cbc-pkcs7".parse::<SessionAlgorithm>(),
        Ok(SessionAlgorithm::DiffieHellman)
    );
    assert!("aes".parse::<SessionAlgorithm>().is_err());
    assert_eq!(SessionAlgorithm::default(), SessionAlgorithm::DiffieHellman);
}

#[test]
fn each_key_is_one_small_labelled_item_named_by_its_id() {
    let Some((provider, service)) = provider("item") else {
        return;
    };
    let key = provider.create().unwrap();
    let name = format!("store-key.{}", key.id());

    let listing = secret_tool(&["search", "--all", "service", &service]);
    assert_eq!(
        listing.matches("[/").count(),
        1,
        "exactly one item: {listing}"
    );
    assert!(
        listing.contains(&format!("label = keyseal key for {service}")),
        "{listing}"
    );
    assert!(
        listing.contains(&format!("attribute.username = {name}")),
        "{listing}"
    );

    let value = secret_tool(&["lookup", "service", &service, "username", &name]);
    assert!(value.starts_with("keyseal-key-v1:"), "not a keyseal record");
    assert!(value.len() < 100, "the item is {} bytes", value.len());

    let info = provider.info();
    assert_eq!(info.kind, ProviderKind::SecretService);
    assert_eq!(info.lifetime, KeyLifetime::UntilDeleted);
    assert!(info.location.contains(&service));

    // Another provider (another process would do the same) reads the same key.
    let other = KeyringProvider::builder(&service, "store-key")
        .backend(Backend::SecretService)
        .build();
    assert_eq!(other.load(&key.id()).unwrap().id(), key.id());
    provider.delete(&key.id()).unwrap();
    assert!(
        secret_tool(&["search", "--all", "service", &service])
            .matches("[/")
            .count()
            == 0
    );
}

#[test]
fn two_stores_of_one_service_have_two_items_and_deleting_one_keeps_the_other() {
    let Some((provider, service)) = provider("two") else {
        return;
    };
    let a = provider.create().unwrap();
    let b = KeyringProvider::builder(&service, "store-key")
        .backend(Backend::SecretService)
        .build()
        .create()
        .unwrap();
    assert_ne!(a.id(), b.id());
    let listing = secret_tool(&["search", "--all", "service", &service]);
    assert_eq!(listing.matches("[/").count(), 2, "{listing}");
    provider.delete(&a.id()).unwrap();
    assert_eq!(provider.load(&b.id()).unwrap().id(), b.id());
    assert!(provider.load(&a.id()).unwrap_err().is_not_found());
    provider.delete(&b.id()).unwrap();
}

#[test]
fn a_key_of_the_earlier_one_item_layout_still_loads_and_is_never_deleted() {
    let Some((provider, service)) = provider("legacy") else {
        return;
    };
    let old = Key::generate().unwrap();
    secret_tool_store(&service, "store-key", &record(&old));
    let count = || {
        secret_tool(&["search", "--all", "service", &service])
            .matches("[/")
            .count()
    };
    // The store whose file names that key opens it with no change.
    assert_eq!(provider.load(&old.id()).unwrap().id(), old.id());
    // A store whose key is not there finds it missing: the service's one
    // item of the earlier layout holds another store's key.
    assert!(provider.load(&random_id()).unwrap_err().is_not_found());
    // A key a rotation of the earlier layout had staged loads by its id.
    let staged = Key::generate().unwrap();
    secret_tool_store(&service, "store-key.next", &record(&staged));
    assert_eq!(provider.load(&staged.id()).unwrap().id(), staged.id());
    // Retiring either key leaves the items of the earlier layout: stores of
    // that layout under one service shared their key.
    assert!(provider.delete(&old.id()).unwrap_err().is_not_found());
    assert!(provider.delete(&staged.id()).unwrap_err().is_not_found());
    assert_eq!(count(), 2, "an item of the earlier layout was deleted");
    assert_eq!(provider.load(&old.id()).unwrap().id(), old.id());
    let items = keyseal_keys::KeyringItems::new();
    assert!(items.delete(&service, "store-key").unwrap());
    assert!(items.delete(&service, "store-key.next").unwrap());
}

#[test]
fn an_item_written_by_someone_else_is_malformed_not_a_key() {
    let Some((provider, service)) = provider("foreign") else {
        return;
    };
    let id = random_id();
    secret_tool_store(&service, &format!("store-key.{id}"), "not-a-key");
    match provider.load(&id) {
        Err(Error::Malformed { reason, .. }) => assert!(!reason.contains("not-a-key"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // Under the earlier layout's name it is not taken for a key either, and
    // deleting a key never removes it.
    secret_tool_store(&service, "store-key", "not-a-key");
    assert!(provider.load(&random_id()).unwrap_err().is_not_found());
    assert!(provider.delete(&random_id()).unwrap_err().is_not_found());
    assert_eq!(
        secret_tool(&["lookup", "service", &service, "username", "store-key"]),
        "not-a-key"
    );
    provider.delete(&id).unwrap();
    let items = keyseal_keys::KeyringItems::new();
    assert!(items.delete(&service, "store-key").unwrap());
}

#[test]
fn auto_chooses_the_secret_service_when_it_answers() {
    let Some((_, service)) = provider("auto") else {
        return;
    };
    let auto = KeyringProvider::builder(&service, "store-key").build();
    assert_eq!(auto.info().kind, ProviderKind::Undecided);
    assert!(auto.load(&random_id()).unwrap_err().is_not_found());
    assert_eq!(auto.info().kind, ProviderKind::SecretService);
    assert_eq!(auto.info().lifetime, KeyLifetime::UntilDeleted);
}

#[test]
fn keyring_items_read_search_and_delete_what_another_client_wrote() {
    let Some((_, service)) = provider("items") else {
        return;
    };
    for (name, value) in [
        ("oauth:a", "{\"t\":1}"),
        ("oauth:b", "plain"),
        ("other", "x"),
    ] {
        secret_tool_store(&service, name, value);
    }
    let items = keyseal_keys::KeyringItems::new();
    assert_eq!(
        items.search(&service).unwrap(),
        ["oauth:a", "oauth:b", "other"]
    );
    assert_eq!(
        items
            .read(&service, "oauth:a")
            .unwrap()
            .as_deref()
            .map(Vec::as_slice),
        Some(&b"{\"t\":1}"[..])
    );
    assert!(items.read(&service, "missing").unwrap().is_none());
    assert!(items.delete(&service, "oauth:b").unwrap());
    assert!(!items.delete(&service, "oauth:b").unwrap());
    assert_eq!(items.search(&service).unwrap(), ["oauth:a", "other"]);
    for name in ["oauth:a", "other"] {
        items.delete(&service, name).unwrap();
    }
    assert!(items.search(&service).unwrap().is_empty());
}

#[test]
fn auto_finds_a_key_made_in_the_kernel_keyring_while_the_secret_service_was_silent() {
    let Some((_, service)) = provider("auto-kernel") else {
        return;
    };
    let kernel = KeyringProvider::builder(&service, "store-key")
        .backend(Backend::KernelKeyring)
        .build();
    let key = match kernel.create() {
        Ok(key) => key,
        Err(e) => {
            support::skip(&format!("the kernel keyring is not usable: {e}"));
            return;
        }
    };
    // The Secret Service answers that it does not have it; the kernel
    // keyring does: found, not missing.
    let auto = KeyringProvider::builder(&service, "store-key").build();
    assert_eq!(auto.load(&key.id()).unwrap().id(), key.id());
    assert_eq!(auto.info().kind, ProviderKind::KernelKeyring);
    // A key neither holds is missing, and the Secret Service is chosen.
    let fresh = KeyringProvider::builder(&service, "store-key").build();
    assert!(fresh.load(&random_id()).unwrap_err().is_not_found());
    assert_eq!(fresh.info().kind, ProviderKind::SecretService);
    kernel.delete(&key.id()).unwrap();
}
