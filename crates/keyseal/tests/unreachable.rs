//! A store whose key is in the Secret Service, opened where no Secret
//! Service answers (cron, ssh, a systemd unit): the key is unreachable, not
//! missing. No policy touches the file, no key is made in the kernel
//! keyring, and the store opens again once the bus is back.
#![cfg(test)]

mod support;

use std::path::Path;

use keyseal::blob::FileStore;
use keyseal::keys::{KeyProvider, KeyringProvider};
use keyseal::{Error, OnKeyringUnavailable, OnUnreadable, Store};
use support::TempDir;

const CONTEXT: &str = "com.example.test/unreachable";

fn open(service: &str, path: &Path, policy: &str) -> Store {
    let provider = KeyringProvider::builder(service, "store-key")
        .timeout(std::time::Duration::from_secs(3))
        .build();
    let builder = Store::builder(provider, FileStore::new(path), CONTEXT);
    match policy {
        "quarantine" => builder.on_unreadable(OnUnreadable::Quarantine),
        "memory" => builder.on_keyring_unavailable(OnKeyringUnavailable::MemoryOnly),
        _ => builder,
    }
    .build()
}

#[test]
#[ignore = "child process of an_unreachable_secret_service_is_unavailable_under_every_policy"]
fn child_unreachable() {
    if !support::is_child() {
        return;
    }
    let service = std::env::var("KEYSEAL_TEST_SERVICE").unwrap();
    let path = std::env::var("KEYSEAL_TEST_PATH").unwrap();
    let policy = std::env::var("KEYSEAL_TEST_POLICY").unwrap();
    let store = open(&service, Path::new(&path), &policy);
    match policy.as_str() {
        "memory" => {
            // In memory: the file is not read, and status says it is there.
            assert_eq!(store.get::<String>("token").unwrap(), None);
            store.set("in-memory", "x").unwrap();
            let status = store.status();
            assert!(status.exists, "{status:?}");
            assert!(status.degraded.is_some(), "{status:?}");
            let problem = status.problem.unwrap();
            assert!(
                matches!(problem, keyseal::Problem::FileNotInUse { .. }),
                "{problem:?}"
            );
            assert!(
                problem.to_string().contains("exists but is not in use"),
                "{problem}"
            );
        }
        _ => {
            for result in [
                store.get::<String>("token").map(drop),
                store.set("token", "overwrite"),
                store.list().map(drop),
            ] {
                match result {
                    Err(Error::KeyringUnavailable { .. }) => {}
                    other => panic!("{policy}: expected KeyringUnavailable, got {other:?}"),
                }
            }
            assert!(store.status().quarantined.is_empty());
        }
    }
    println!("child ok");
}

#[test]
fn an_unreachable_secret_service_is_unavailable_under_every_policy() {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        support::skip("no D-Bus session: the store must first be made in a Secret Service");
        return;
    }
    let service = support::unique("unreachable");
    let dir = TempDir::new("unreachable");
    let path = dir.file();
    let store = open(&service, &path, "fail");
    store.set("token", "refresh-token").unwrap();
    if store.status().provider.kind != keyseal::keys::ProviderKind::SecretService {
        support::skip("no Secret Service answers on this bus");
        return;
    }
    let key_id = store.status().key_id.unwrap();
    let before = std::fs::read(&path).unwrap();
    let names = || {
        let mut n: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        n.sort();
        n
    };
    let listing = names();
    let path_text = path.display().to_string();
    for policy in ["fail", "quarantine", "memory"] {
        for bus in [None, Some("unix:path=/nonexistent/keyseal-test-bus")] {
            let mut envs = vec![
                ("KEYSEAL_TEST_SERVICE", service.as_str()),
                ("KEYSEAL_TEST_PATH", path_text.as_str()),
                ("KEYSEAL_TEST_POLICY", policy),
            ];
            let removed: &[&str] = match bus {
                Some(address) => {
                    envs.push(("DBUS_SESSION_BUS_ADDRESS", address));
                    &[]
                }
                None => &["DBUS_SESSION_BUS_ADDRESS"],
            };
            let out = support::run_child("child_unreachable", &envs, removed);
            assert!(String::from_utf8_lossy(&out.stdout).contains("child ok"));
            assert_eq!(
                std::fs::read(&path).unwrap(),
                before,
                "{policy} {bus:?}: the file changed"
            );
            assert_eq!(
                names(),
                listing,
                "{policy} {bus:?}: files appeared or moved"
            );
        }
    }
    // No key was made in the kernel keyring for this store.
    let kernel = KeyringProvider::builder(&service, "store-key")
        .backend(keyseal::keys::Backend::KernelKeyring)
        .build();
    assert!(kernel.load(&key_id).unwrap_err().is_not_found());
    // With the bus back, the store opens as before.
    let again = open(&service, &path, "fail");
    assert_eq!(
        again.get::<String>("token").unwrap().as_deref(),
        Some("refresh-token")
    );
    KeyringProvider::builder(&service, "store-key")
        .build()
        .delete(&key_id)
        .unwrap();
}

#[test]
#[ignore = "child process of a_headless_store_whose_kernel_key_is_gone_recovers_into_the_kernel_keyring"]
fn child_headless_recover() {
    if !support::is_child() {
        return;
    }
    let service = support::unique("headless");
    let dir = TempDir::new("headless");
    let store = open(&service, &dir.file(), "fail");
    store.set("token", "refresh-token").unwrap();
    assert_eq!(
        store.status().provider.kind,
        keyseal::keys::ProviderKind::KernelKeyring
    );
    let recovery = store.enable_recovery().unwrap();
    // A reboot: the kernel keyring forgets the key.
    let key_id = store.status().key_id.unwrap();
    KeyringProvider::builder(&service, "store-key")
        .backend(keyseal::keys::Backend::KernelKeyring)
        .build()
        .delete(&key_id)
        .unwrap();
    let after_reboot = open(&service, &dir.file(), "fail");
    assert!(matches!(
        after_reboot.get::<String>("token"),
        Err(Error::KeyringUnavailable { .. })
    ));
    // The recovery key brings it back, with a new kernel key.
    open(&service, &dir.file(), "fail")
        .recover(&recovery)
        .unwrap();
    assert_eq!(
        open(&service, &dir.file(), "fail")
            .get::<String>("token")
            .unwrap()
            .as_deref(),
        Some("refresh-token")
    );
    support::remove_kernel_keys(&service);
    println!("child ok");
}

#[test]
fn a_headless_store_whose_kernel_key_is_gone_recovers_into_the_kernel_keyring() {
    let out = support::run_child("child_headless_recover", &[], &["DBUS_SESSION_BUS_ADDRESS"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("child ok"));
}
