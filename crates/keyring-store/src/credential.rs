//! One keyring-core credential: a `(service, user)` pair's entry in the
//! sealed store.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use keyring_core::api::CredentialApi;
use keyring_core::{Credential, Error as CoreError, Result};
use keyseal::{ExposeSecret, Store};

use crate::error::{NotTheStoredCredentials, core_error};
use crate::name::entry_name;

/// The attributes every credential has: its specifiers.
const SERVICE: &str = "service";
const USERNAME: &str = "username";

/// A credential of a [`KeysealStore`](crate::KeysealStore): the entry
/// [`entry_name`]`(service, user)` of its sealed store.
///
/// Built by [`KeysealStore`](crate::KeysealStore)'s `build` it is a
/// *specifier* (it names a credential that may not exist yet);
/// `get_credential` and `search` return *wrappers* of existing ones. Both
/// behave alike here: setting a deleted wrapper's secret writes it again,
/// as keyring-core allows.
pub struct KeysealCredential {
    store: Store,
    service: String,
    user: String,
    name: String,
    wrapper: bool,
}

impl std::fmt::Debug for KeysealCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeysealCredential")
            .field("service", &self.service)
            .field("user", &self.user)
            .field("wrapper", &self.wrapper)
            .field("store", &self.store.location())
            .finish_non_exhaustive()
    }
}

impl KeysealCredential {
    pub(crate) fn new(store: Store, service: &str, user: &str, wrapper: bool) -> Self {
        Self {
            store,
            service: service.to_owned(),
            user: user.to_owned(),
            name: entry_name(service, user),
            wrapper,
        }
    }

    /// The keyseal entry holding this credential's secret.
    pub fn entry_name(&self) -> &str {
        &self.name
    }

    /// The entry's secret, read as `get_secret` reads it (so every method
    /// fails where `get_secret` fails); `NoEntry` when there is none.
    fn read(&self) -> Result<keyseal::SecretSlice<u8>> {
        match checked(&self.store, || self.store.get_bytes(&self.name))? {
            Some(secret) => Ok(secret),
            None => Err(CoreError::NoEntry),
        }
    }
}

/// Runs `operation`, unless the store no longer shows what is on disk (it
/// switched to memory under `OnKeyringUnavailable::MemoryOnly`): then
/// `NoStorageAccess`, before the operation (so nothing is written that would
/// not last) and after it (the operation itself may have made the switch),
/// so that no credential reads as missing and no write seems to last.
pub(crate) fn checked<T>(
    store: &Store,
    operation: impl FnOnce() -> keyseal::Result<T>,
) -> Result<T> {
    attached(store)?;
    let result = operation();
    attached(store)?;
    result.map_err(core_error)
}

fn attached(store: &Store) -> Result<()> {
    match store.detached() {
        None => Ok(()),
        Some(why) => Err(CoreError::NoStorageAccess(Box::new(
            NotTheStoredCredentials { why },
        ))),
    }
}

impl CredentialApi for KeysealCredential {
    fn set_secret(&self, secret: &[u8]) -> Result<()> {
        checked(&self.store, || self.store.set_bytes(&self.name, secret))
    }

    fn get_secret(&self) -> Result<Vec<u8>> {
        // keyring-core's API hands out a plain `Vec`; the store's copy is
        // zeroized when dropped.
        Ok(self.read()?.expose_secret().to_vec())
    }

    /// `service` and `username`, the only attributes this store keeps.
    fn get_attributes(&self) -> Result<HashMap<String, String>> {
        self.read()?;
        Ok(HashMap::from([
            (SERVICE.to_owned(), self.service.clone()),
            (USERNAME.to_owned(), self.user.clone()),
        ]))
    }

    /// No attribute can be updated: `service` and `username` are fixed (they
    /// name the entry) and no other is kept. Each one given is `Invalid`;
    /// an empty map changes nothing.
    fn update_attributes(&self, attributes: &HashMap<&str, &str>) -> Result<()> {
        // The keys first, as keyring-core's stores check them: `Invalid`
        // whether or not the entry exists.
        if let Some(key) = attributes.keys().next() {
            return Err(CoreError::Invalid(
                (*key).to_owned(),
                "keyseal-keyring-store keeps only service and username, which name the entry and cannot change".to_owned(),
            ));
        }
        self.read().map(drop)
    }

    fn delete_credential(&self) -> Result<()> {
        if checked(&self.store, || self.store.remove(&self.name))? {
            Ok(())
        } else {
            Err(CoreError::NoEntry)
        }
    }

    fn get_credential(&self) -> Result<Option<Arc<Credential>>> {
        self.read()?;
        if self.wrapper {
            return Ok(None);
        }
        Ok(Some(Arc::new(Self::new(
            self.store.clone(),
            &self.service,
            &self.user,
            true,
        ))))
    }

    fn get_specifiers(&self) -> Option<(String, String)> {
        Some((self.service.clone(), self.user.clone()))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn debug_fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}
