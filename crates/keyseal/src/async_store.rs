//! [`AsyncStore`]: the store for tokio applications.

use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::{EntryInfo, Error, Result, SecretSlice, Status, Store};

/// A [`Store`] whose operations run on tokio's blocking threads
/// (`spawn_blocking`), so file locks, fsyncs and keyring calls never stall
/// the async worker threads. Cheap to clone; must be used inside a tokio
/// runtime.
#[derive(Clone, Debug)]
pub struct AsyncStore {
    store: Store,
}

impl From<Store> for AsyncStore {
    fn from(store: Store) -> Self {
        Self { store }
    }
}

impl AsyncStore {
    /// Wraps a store.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// The blocking store inside.
    pub fn blocking(&self) -> &Store {
        &self.store
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|_| Error::Internal {
                reason: "the blocking task panicked or was cancelled",
            })?
    }

    /// [`Store::named_lock`], waited for on a blocking thread.
    ///
    /// # Errors
    /// As [`Store::named_lock`].
    pub async fn named_lock(
        &self,
        name: &str,
        timeout: std::time::Duration,
    ) -> Result<keyseal_blob::NamedLock> {
        let name = name.to_owned();
        self.run(move |s| s.named_lock(&name, timeout)).await
    }

    /// [`Store::get`].
    ///
    /// # Errors
    /// As [`Store::get`].
    pub async fn get<T: DeserializeOwned + Send + 'static>(&self, name: &str) -> Result<Option<T>> {
        let name = name.to_owned();
        self.run(move |s| s.get(&name)).await
    }

    /// [`Store::set`]. The value is serialized before the blocking work
    /// starts, into an exactly sized zeroizing buffer (as [`Store::set`]
    /// does), so no growing buffer leaves copies of it behind.
    ///
    /// # Errors
    /// As [`Store::set`].
    pub async fn set<T: Serialize + ?Sized>(&self, name: &str, value: &T) -> Result<()> {
        let json = crate::store::to_json(name, value)?;
        self.set_bytes(name, &json).await
    }

    /// [`Store::get_bytes`].
    ///
    /// # Errors
    /// As [`Store::get_bytes`].
    pub async fn get_bytes(&self, name: &str) -> Result<Option<SecretSlice<u8>>> {
        let name = name.to_owned();
        self.run(move |s| s.get_bytes(&name)).await
    }

    /// [`Store::set_bytes`].
    ///
    /// # Errors
    /// As [`Store::set_bytes`].
    pub async fn set_bytes(&self, name: &str, value: &[u8]) -> Result<()> {
        let name = name.to_owned();
        let value = Zeroizing::new(value.to_vec());
        self.run(move |s| s.set_bytes(&name, &value)).await
    }

    /// [`Store::remove`].
    ///
    /// # Errors
    /// As [`Store::remove`].
    pub async fn remove(&self, name: &str) -> Result<bool> {
        let name = name.to_owned();
        self.run(move |s| s.remove(&name)).await
    }

    /// [`Store::list`].
    ///
    /// # Errors
    /// As [`Store::list`].
    pub async fn list(&self) -> Result<Vec<String>> {
        self.run(Store::list).await
    }

    /// [`Store::entries`].
    ///
    /// # Errors
    /// As [`Store::entries`].
    pub async fn entries(&self) -> Result<Vec<EntryInfo>> {
        self.run(Store::entries).await
    }

    /// [`Store::status`].
    pub async fn status(&self) -> Status {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.status()).await {
            Ok(status) => status,
            Err(_) => self.store.status(),
        }
    }
}
