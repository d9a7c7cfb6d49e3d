#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    unreachable_pub,
    reason = "test code"
)]
//! The keyring provider against a real Secret Service (gnome-keyring, started
//! by `cargo xtask test` under `dbus-run-session`).

mod support;

use std::process::Command;

use keyseal_keys::conformance::{self, Capabilities};
use keyseal_keys::{Backend, Error, KeyLifetime, KeyProvider, KeyringProvider, ProviderKind};

/// A provider for a fresh item, or `None` (after printing why) when no Secret
/// Service answers here.
fn provider(tag: &str) -> Option<(KeyringProvider, String)> {
    let service = support::unique(tag);
    let provider = KeyringProvider::builder(&service, "store-key")
        .backend(Backend::SecretService)
        .build();
    match provider.load() {
        Err(Error::NotFound { .. }) => Some((provider, service)),
        Err(e @ Error::Unavailable { .. }) => {
            support::skip(&format!("no Secret Service answers: {e}"));
            None
        }
        other => panic!("a fresh item should be NotFound: {other:?}"),
    }
}

fn secret_tool(args: &[&str]) -> String {
    let out = Command::new("secret-tool")
        .args(args)
        .output()
        .expect("secret-tool runs");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn secret_service_passes_the_conformance_suite() {
    let Some((provider, _)) = provider("conformance") else {
        return;
    };
    conformance::run_all(&provider, Capabilities::WRITABLE);
}

#[test]
fn the_key_is_one_small_labelled_item() {
    let Some((provider, service)) = provider("item") else {
        return;
    };
    let key = provider.create().unwrap();

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
        listing.contains("attribute.username = store-key"),
        "{listing}"
    );

    let value = secret_tool(&["lookup", "service", &service, "username", "store-key"]);
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
    assert_eq!(other.load().unwrap().id(), key.id());
    provider.delete().unwrap();
    assert!(
        secret_tool(&["search", "--all", "service", &service])
            .matches("[/")
            .count()
            == 0
    );
}

#[test]
fn an_item_written_by_someone_else_is_malformed_not_a_key() {
    let Some((provider, service)) = provider("foreign") else {
        return;
    };
    let status = Command::new("sh")
        .args(["-c", "printf 'not-a-key' | secret-tool store --label=foreign service \"$1\" username store-key", "sh", &service])
        .status()
        .unwrap();
    assert!(status.success());
    match provider.load() {
        Err(Error::Malformed { reason, .. }) => assert!(!reason.contains("not-a-key"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // create never overwrites what it cannot read.
    assert!(matches!(
        provider.create(),
        Err(Error::AlreadyExists { .. })
    ));
    provider.delete().unwrap();
}

#[test]
fn auto_chooses_the_secret_service_when_it_answers() {
    let Some((_, service)) = provider("auto") else {
        return;
    };
    let auto = KeyringProvider::builder(&service, "store-key").build();
    assert_eq!(auto.info().kind, ProviderKind::Undecided);
    assert!(auto.load().unwrap_err().is_not_found());
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
        let status = Command::new("sh")
            .args(["-c", "printf '%s' \"$3\" | secret-tool store --label=legacy service \"$1\" username \"$2\"", "sh", &service, name, value])
            .status()
            .unwrap();
        assert!(status.success());
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
