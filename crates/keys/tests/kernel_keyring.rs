//! The keyring provider against the real Linux kernel keyring (keyutils).
#![cfg(test)]
#![cfg(target_os = "linux")]

mod support;

use std::process::Command;

use keyseal_keys::conformance::{self, Capabilities};
use keyseal_keys::{Backend, Error, Key, KeyLifetime, KeyProvider, KeyringProvider, ProviderKind};

fn provider_for(service: &str) -> KeyringProvider {
    KeyringProvider::builder(service, "store-key")
        .backend(Backend::KernelKeyring)
        .build()
}

/// A provider for a fresh key, or `None` (after printing why) when the
/// kernel keyring is not usable here.
fn provider(tag: &str) -> Option<(KeyringProvider, String)> {
    let service = support::unique(tag);
    let provider = provider_for(&service);
    match provider.load(&Key::generate().unwrap().id()) {
        Err(Error::NotFound { .. }) => Some((provider, service)),
        Err(e @ Error::Unavailable { .. }) => {
            support::skip(&format!("the kernel keyring is not usable: {e}"));
            None
        }
        other => panic!("a fresh key should be NotFound: {other:?}"),
    }
}

#[test]
fn kernel_keyring_passes_the_conformance_suite() {
    let Some((provider, _)) = provider("kconf") else {
        return;
    };
    conformance::run_all(&provider, Capabilities::WRITABLE);
}

#[test]
fn the_key_is_a_user_key_that_keyctl_sees_and_the_lifetime_is_until_reboot() {
    let Some((provider, service)) = provider("kitem") else {
        return;
    };
    let key = provider.create().unwrap();
    let description = format!("keyseal:{service}:store-key.{}", key.id());
    let out = Command::new("keyctl")
        .args(["search", "@u", "user", &description])
        .output()
        .unwrap();
    assert!(out.status.success(), "keyctl does not find {description}");
    let info = provider.info();
    assert_eq!(info.kind, ProviderKind::KernelKeyring);
    assert_eq!(info.lifetime, KeyLifetime::UntilReboot);
    assert!(
        info.location
            .contains(&format!("keyseal:{service}:store-key.<key id>")),
        "{}",
        info.location
    );
    let loaded = provider_for(&service).load(&key.id()).unwrap();
    assert_eq!(loaded.id(), key.id());
    provider.delete(&key.id()).unwrap();
}

#[test]
#[ignore = "child process of another_process_loads_the_same_key"]
fn child_load() {
    if !support::is_child() {
        return;
    }
    let service = std::env::var("KEYSEAL_TEST_SERVICE").unwrap();
    let wanted = std::env::var("KEYSEAL_TEST_KEY_ID").unwrap();
    let wanted: keyseal_keys::KeyId = wanted.parse().unwrap();
    let id = provider_for(&service).load(&wanted).unwrap().id();
    println!("child-key-id={id}");
}

#[test]
fn another_process_loads_the_same_key() {
    let Some((provider, service)) = provider("kproc") else {
        return;
    };
    let key = provider.create().unwrap();
    let id = key.id().to_string();
    let out = support::run_child(
        "child_load",
        &[
            ("KEYSEAL_TEST_SERVICE", &service),
            ("KEYSEAL_TEST_KEY_ID", &id),
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("child-key-id={}", key.id())),
        "{stdout}"
    );
    provider.delete(&key.id()).unwrap();
}

#[test]
fn the_kernel_key_is_readable_by_its_user_only() {
    let Some((provider, service)) = provider("kperm") else {
        return;
    };
    let key = provider.create().unwrap();
    let description = format!("keyseal:{service}:store-key.{}", key.id());
    let found = Command::new("keyctl")
        .args(["search", "@u", "user", &description])
        .output()
        .unwrap();
    let serial = String::from_utf8_lossy(&found.stdout).trim().to_owned();
    let described = Command::new("keyctl")
        .args(["rdescribe", &serial])
        .output()
        .unwrap();
    // type;uid;gid;perm;description
    let text = String::from_utf8_lossy(&described.stdout).into_owned();
    let perm = text.split(';').nth(3).unwrap_or_default().to_owned();
    // Possessor: everything; user: view, read, write, search, setattr;
    // group and other: nothing.
    assert_eq!(perm, "3f2f0000", "{text}");
    if support::is_root() {
        let other = Command::new("runuser")
            .args(["-u", "nobody", "--", "keyctl", "print", &serial])
            .output()
            .unwrap();
        assert!(
            !other.status.success(),
            "another user read the key: {}",
            String::from_utf8_lossy(&other.stdout)
        );
    } else {
        support::skip("needs root to try the key as another user");
    }
    provider.delete(&key.id()).unwrap();
}
