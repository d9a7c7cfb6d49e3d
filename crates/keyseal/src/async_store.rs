//! [`AsyncStore`]: the store for tokio applications.

use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::{
    EntryInfo, Error, RecoveryKey, Result, Rotation, SecretSlice, Status, Store, Transaction,
};

/// A [`Store`] whose operations run on tokio's blocking threads
/// (`spawn_blocking`), so file locks, fsyncs and keyring calls never stall
/// the async worker threads. Cheap to clone; must be used inside a tokio
/// runtime.
///
/// Every operation of [`Store`] that reads or writes is here, with the same
/// name and errors, and one more: [`Error::Internal`](crate::Error::Internal)
/// when the blocking task could not finish (it panicked, or the runtime
/// shut down and cancelled it; a panic in a transaction's closure goes on
/// as a panic, as with [`Store::transaction`]); a recovery key is taken by value, since it moves to the
/// blocking thread (and is wiped there when dropped). What only looks at
/// the store's memory (`location`, `degraded`, `detached`, `quarantined`,
/// `provider_info`, `on_unreadable`) does no I/O and is called on
/// [`blocking`](Self::blocking).
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
        crate::validate_name(name)?;
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

    /// [`Store::contains`].
    ///
    /// # Errors
    /// As [`Store::contains`].
    pub async fn contains(&self, name: &str) -> Result<bool> {
        let name = name.to_owned();
        self.run(move |s| s.contains(&name)).await
    }

    /// [`Store::reload`].
    ///
    /// # Errors
    /// As [`Store::reload`].
    pub async fn reload(&self) -> Result<()> {
        self.run(Store::reload).await
    }

    /// [`Store::transaction`]: `f` runs on a blocking thread, under the
    /// store's lock, and may run more than once (so never make a network
    /// call in it).
    ///
    /// # Errors
    /// As [`Store::transaction`].
    pub async fn transaction<R, E>(
        &self,
        f: impl FnMut(&mut Transaction<'_>) -> core::result::Result<R, E> + Send + 'static,
    ) -> core::result::Result<R, E>
    where
        R: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.transaction(f)).await {
            Ok(result) => result,
            // The caller's closure panicked: the panic goes on, as with
            // `Store::transaction`.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(E::from(Error::Internal {
                reason: "the blocking task was cancelled",
            })),
        }
    }

    /// [`Store::rotate_key`].
    ///
    /// # Errors
    /// As [`Store::rotate_key`].
    pub async fn rotate_key(&self) -> Result<Rotation> {
        self.run(Store::rotate_key).await
    }

    /// [`Store::enable_recovery`].
    ///
    /// # Errors
    /// As [`Store::enable_recovery`].
    pub async fn enable_recovery(&self) -> Result<RecoveryKey> {
        self.run(Store::enable_recovery).await
    }

    /// [`Store::enable_recovery_with`].
    ///
    /// # Errors
    /// As [`Store::enable_recovery_with`].
    pub async fn enable_recovery_with(&self, recovery: RecoveryKey) -> Result<()> {
        self.run(move |s| s.enable_recovery_with(&recovery)).await
    }

    /// [`Store::check_recovery_key`].
    ///
    /// # Errors
    /// As [`Store::check_recovery_key`].
    pub async fn check_recovery_key(&self, recovery: RecoveryKey) -> Result<()> {
        self.run(move |s| s.check_recovery_key(&recovery)).await
    }

    /// [`Store::disable_recovery`].
    ///
    /// # Errors
    /// As [`Store::disable_recovery`].
    pub async fn disable_recovery(&self) -> Result<bool> {
        self.run(Store::disable_recovery).await
    }

    /// [`Store::recover`].
    ///
    /// # Errors
    /// As [`Store::recover`].
    pub async fn recover(&self, recovery: RecoveryKey) -> Result<()> {
        self.run(move |s| s.recover(&recovery)).await
    }

    /// [`Store::recover_and_rotate_recovery`].
    ///
    /// # Errors
    /// As [`Store::recover_and_rotate_recovery`].
    pub async fn recover_and_rotate_recovery(&self, recovery: RecoveryKey) -> Result<RecoveryKey> {
        self.run(move |s| s.recover_and_rotate_recovery(&recovery))
            .await
    }

    /// [`Store::recover_and_rotate_recovery_to`].
    ///
    /// # Errors
    /// As [`Store::recover_and_rotate_recovery_to`].
    pub async fn recover_and_rotate_recovery_to(
        &self,
        recovery: RecoveryKey,
        new_recovery: RecoveryKey,
    ) -> Result<()> {
        self.run(move |s| s.recover_and_rotate_recovery_to(&recovery, &new_recovery))
            .await
    }

    /// [`Store::accept_rollback`].
    ///
    /// # Errors
    /// As [`Store::accept_rollback`].
    pub async fn accept_rollback(&self) -> Result<()> {
        self.run(Store::accept_rollback).await
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
