//! Section 10: a keyring-core application's `Entry::set_password` and
//! `get_password` through keyseal-keyring-store (one sealed file, one
//! keyring item) and through keyring-core's own Secret Service store
//! (`zbus-secret-service-keyring-store`, one item per entry), in the same
//! process, on the same 100 entries of 4 KiB, measured round by round.

use std::sync::Arc;

use keyring_core::{CredentialStore, Entry};
use keyseal_keyring_store::KeysealStore;
use keyseal_keys::{Backend, KeyringProvider};

use super::{Bench, Compared, compare};
use crate::common::{Result, contender, interleave, name, store_at, value};

/// One operation on every entry, through both stores.
#[derive(Debug)]
pub(crate) struct KeyringCoreRow {
    pub(crate) operation: &'static str,
    pub(crate) entries: usize,
    /// keyseal-keyring-store beside zbus-secret-service-keyring-store.
    pub(crate) compared: Compared,
}

impl Bench {
    /// The keyring service both stores use in this section.
    pub(crate) fn keyring_core_service(&self) -> String {
        format!("{}-keyring-core", self.service)
    }

    pub(crate) fn keyring_core(&self, entries: usize) -> Result<Vec<KeyringCoreRow>> {
        let service = self.keyring_core_service();
        let keys = KeyringProvider::builder(&service, crate::children::KEY_ITEM)
            .backend(Backend::SecretService)
            .build();
        let keyseal: Arc<CredentialStore> =
            KeysealStore::from_store(store_at(&self.path("keyring-core/store.sealed"), keys))?;
        let native: Arc<CredentialStore> = zbus_secret_service_keyring_store::Store::new()?;
        // The native store's entries under a service of their own, so that
        // removing them never touches the keyseal store's key.
        let native_service = format!("{service}-native");
        let users: Vec<String> = (0..entries).map(name).collect();
        let entries_of = |store: &Arc<CredentialStore>, service: &str| -> Result<Vec<Entry>> {
            users
                .iter()
                .map(|u| Ok(Entry::new_in_store(store, service, u)?))
                .collect()
        };
        let keyseal_entries = entries_of(&keyseal, &service)?;
        let native_entries = entries_of(&native, &native_service)?;
        let set_all = |list: &[Entry], round: u64| -> Result {
            for (i, e) in list.iter().enumerate() {
                e.set_password(&value(i, round))?;
            }
            Ok(())
        };
        let get_all = |list: &[Entry]| -> Result {
            for e in list {
                std::hint::black_box(e.get_password()?);
            }
            Ok(())
        };
        let rounds = self.plan.rounds(8);
        let [keyseal_sets, native_sets] = interleave(
            1,
            rounds,
            [
                contender("keyseal set", |r| set_all(&keyseal_entries, r)),
                contender("native set", |r| set_all(&native_entries, r)),
            ],
        )?;
        let set = compare(&keyseal_sets, &native_sets)?;
        let [keyseal_gets, native_gets] = interleave(
            1,
            rounds,
            [
                contender("keyseal get", |_| get_all(&keyseal_entries)),
                contender("native get", |_| get_all(&native_entries)),
            ],
        )?;
        let get = compare(&keyseal_gets, &native_gets)?;
        for e in &native_entries {
            let _ = e.delete_credential();
        }
        Ok(vec![
            KeyringCoreRow {
                operation: "set_password",
                entries,
                compared: set,
            },
            KeyringCoreRow {
                operation: "get_password",
                entries,
                compared: get,
            },
        ])
    }
}
