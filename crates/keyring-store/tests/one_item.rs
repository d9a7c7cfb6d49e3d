//! `examples/keyring_core_app.rs`, run as it is in a process of its own
//! (a fresh configuration directory), leaves exactly one Secret Service
//! item however many credentials it stored: the sealed file's key.
#![cfg(test)]

#[path = "../examples/keyring_core_app.rs"]
mod app;

use std::process::Command;

use keyseal_testkit::{TempDir, is_child, run_child, skip};

/// The example's service, which names its keyring item too.
const SERVICE: &str = "com.example.keyring-core-app";

/// Secret Service items with attribute `service` = `SERVICE`.
fn items() -> Option<usize> {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS")?;
    Some(
        keyseal_testkit::secret_tool_search(SERVICE)
            .matches("[/")
            .count(),
    )
}

fn clear() {
    let _ = Command::new("secret-tool")
        .args(["clear", "service", SERVICE])
        .status();
}

#[test]
#[ignore = "child process of the_example_app_leaves_one_keyring_item_for_101_credentials"]
fn child_run_the_example() {
    if is_child() {
        app::main().unwrap();
    }
}

/// Runs the child test `child` in a home of its own (configuration and
/// state directories inside it) against a Secret Service with no item of
/// [`SERVICE`], and checks that it printed `said` and left exactly one
/// keyring item and the sealed file where `KeysealStore::new` puts it.
fn stores_with_one_item(child: &str, said: &str) {
    if items().is_none() {
        skip("no Secret Service to count items in");
        return;
    }
    // Every test here counts the items of one service.
    let _one_at_a_time = keyseal_testkit::secret_service_lock();
    clear();
    assert_eq!(items(), Some(0));
    let home = TempDir::new("keyring-core-app");
    let config = home.path().join("config");
    let out = run_child(
        child,
        &[
            ("XDG_CONFIG_HOME", config.to_str().unwrap()),
            ("HOME", home.path().to_str().unwrap()),
            (
                "XDG_STATE_HOME",
                home.path().join("state").to_str().unwrap(),
            ),
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(said), "{stdout}");
    let count = items();
    clear();
    assert_eq!(count, Some(1), "one keyring item for the whole store");
    assert!(config.join(SERVICE).join("store.sealed").is_file());
}

#[test]
fn the_example_app_leaves_one_keyring_item_for_101_credentials() {
    stores_with_one_item("child_run_the_example", "stored 101 credentials");
}

#[cfg(target_os = "linux")]
#[test]
#[ignore = "child process of a_key_store_given_explicitly_holds_the_one_item"]
fn child_store_through_a_given_key_store() {
    if !is_child() {
        return;
    }
    use keyring_core::Entry;
    let key_store = zbus_secret_service_keyring_store::Store::new().unwrap();
    let store = keyseal_keyring_store::KeysealStore::with_key_store(SERVICE, key_store).unwrap();
    // Installed as the default: the key still goes to the given store.
    keyring_core::set_default_store(store);
    for i in 0..20 {
        Entry::new(SERVICE, &format!("user-{i}"))
            .unwrap()
            .set_password(&format!("secret {i}"))
            .unwrap();
    }
    assert_eq!(
        Entry::new(SERVICE, "user-7")
            .unwrap()
            .get_password()
            .unwrap(),
        "secret 7"
    );
    println!("stored 20 credentials through the given key store");
}

#[cfg(target_os = "linux")]
#[test]
fn a_key_store_given_explicitly_holds_the_one_item() {
    stores_with_one_item(
        "child_store_through_a_given_key_store",
        "stored 20 credentials",
    );
}
