//! Credentials an application already wrote through keyring-core's own
//! Secret Service store (`zbus-secret-service-keyring-store`, one item per
//! credential) move into a `KeysealStore` with `keyseal-migrate`: a
//! per-item layout with an empty prefix, entries named by
//! `keyseal_keyring_store::entry_name`. The application then reads them
//! through keyring-core unchanged, and the native items are gone.
#![cfg(test)]
#![cfg(target_os = "linux")]

use std::collections::HashMap;
use std::sync::Arc;

use keyring_core::{CredentialStore, Entry, Error};
use keyseal::Store;
use keyseal::blob::MemoryBlobStore;
use keyseal::keys::MemoryKeyProvider;
use keyseal_keyring_store::{KeysealStore, entry_name};
use keyseal_migrate::{KeyringSource, Layout, Options, migrate};
use keyseal_testkit::{skip, unique};

#[test]
fn credentials_written_through_the_native_secret_service_store_move_in_and_read_unchanged() {
    let native: Arc<CredentialStore> = match zbus_secret_service_keyring_store::Store::new() {
        Ok(store) => store,
        Err(e) => {
            skip(&format!("no Secret Service: {e}"));
            return;
        }
    };
    let service = unique("keyring-core-app");
    let binary: Vec<u8> = (0..=255u8).collect();
    Entry::new_in_store(&native, &service, "alice")
        .unwrap()
        .set_password("alice's token")
        .unwrap();
    Entry::new_in_store(&native, &service, "bob/with slash")
        .unwrap()
        .set_password(&"b".repeat(10 * 1024))
        .unwrap();
    Entry::new_in_store(&native, &service, "carol")
        .unwrap()
        .set_secret(&binary)
        .unwrap();

    let sealed = Store::builder(
        MemoryKeyProvider::new(),
        MemoryBlobStore::new(),
        "com.example.test/keyring-core-migration",
    )
    .build();
    // The layout, as data: every item of the service is one credential,
    // named by its user.
    let layout = Layout::new(&service).with_item_prefix("");
    let named = service.clone();
    let options = Options::raw().entry_names(move |user| entry_name(&named, user));
    let report = migrate(&sealed, &KeyringSource::new(), &layout, &options).unwrap();
    assert_eq!(report.moved.len(), 3, "{report:?}");
    assert_eq!(report.deleted.len(), 3, "{report:?}");

    // The application, now on keyseal, reads what it wrote before.
    let keyseal: Arc<CredentialStore> = KeysealStore::from_store(sealed.clone()).unwrap();
    let get = |user: &str| Entry::new_in_store(&keyseal, &service, user).unwrap();
    assert_eq!(get("alice").get_password().unwrap(), "alice's token");
    assert_eq!(
        get("bob/with slash").get_password().unwrap(),
        "b".repeat(10 * 1024)
    );
    assert_eq!(get("carol").get_secret().unwrap(), binary);
    // The native items are gone.
    let spec = HashMap::from([("service", service.as_str())]);
    assert!(
        Entry::search_in_store(&native, &spec).unwrap().is_empty(),
        "native items left"
    );
    assert!(matches!(
        Entry::new_in_store(&native, &service, "alice")
            .unwrap()
            .get_password(),
        Err(Error::NoEntry)
    ));
    // A second run has nothing to do.
    let again = migrate(&sealed, &KeyringSource::new(), &layout, &options).unwrap();
    assert!(again.is_noop(), "{again:?}");
}
