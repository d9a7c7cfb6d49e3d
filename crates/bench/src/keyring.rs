//! The layouts keyseal replaces, through a real Secret Service: one keyring
//! item per secret, and one bundle item holding them all. Also a key
//! provider wrapper that counts and times keyseal's own keyring calls.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use keyring_core::{CredentialStore, Entry};
use keyseal_keys::{Key, KeyId, KeyProvider, ProviderInfo};

use crate::common::Result;

/// One keyring item per secret, named by the entry, as keyring-core writes
/// it (the way applications used the `keyring` crate before keyseal).
/// Counts its keyring operations.
#[derive(Debug)]
pub(crate) struct PerItem {
    store: Arc<CredentialStore>,
    pub(crate) service: String,
    calls: AtomicUsize,
}

impl PerItem {
    pub(crate) fn connect(service: &str) -> Result<Self> {
        let store: Arc<CredentialStore> = zbus_secret_service_keyring_store::Store::new()?;
        Ok(Self {
            store,
            service: service.to_owned(),
            calls: AtomicUsize::new(0),
        })
    }

    fn entry(&self, name: &str) -> Result<Entry> {
        Ok(self.store.build(&self.service, name, None)?)
    }

    pub(crate) fn set(&self, name: &str, value: &[u8]) -> Result {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(self.entry(name)?.set_secret(value)?)
    }

    pub(crate) fn get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        match self.entry(name)?.get_secret() {
            Ok(bytes) => Ok(Some(bytes)),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) fn remove(&self, name: &str) -> Result<bool> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        match self.entry(name)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The names of every item of the service (a Secret Service search).
    pub(crate) fn list(&self) -> Result<Vec<String>> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let spec: HashMap<&str, &str> = [("service", self.service.as_str())].into();
        let mut names: Vec<String> = self
            .store
            .search(&spec)?
            .iter()
            .filter_map(Entry::get_specifiers)
            .map(|(_, name)| name)
            .collect();
        names.sort();
        Ok(names)
    }

    /// Keyring operations so far.
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    /// Removes every item of the service (not counted).
    pub(crate) fn clear(&self) -> Result {
        let spec: HashMap<&str, &str> = [("service", self.service.as_str())].into();
        for entry in self.store.search(&spec)? {
            match entry.delete_credential() {
                Ok(()) | Err(keyring_core::Error::NoEntry) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// Wraps keyseal's key provider to count its calls and time its loads.
#[derive(Debug)]
pub(crate) struct Counting<P> {
    inner: P,
    calls: AtomicUsize,
    load_nanos: AtomicU64,
}

impl<P> Counting<P> {
    pub(crate) fn new(inner: P) -> Self {
        Self {
            inner,
            calls: AtomicUsize::new(0),
            load_nanos: AtomicU64::new(0),
        }
    }

    /// Keyring operations so far.
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    /// Time spent in `load`, in nanoseconds.
    pub(crate) fn load_nanos(&self) -> u64 {
        self.load_nanos.load(Ordering::Relaxed)
    }

    fn count<T>(&self, f: impl FnOnce() -> T) -> T {
        self.calls.fetch_add(1, Ordering::Relaxed);
        f()
    }
}

impl<P: KeyProvider> KeyProvider for Counting<P> {
    fn info(&self) -> ProviderInfo {
        self.inner.info()
    }

    fn load(&self, id: &KeyId) -> keyseal_keys::Result<Key> {
        let started = Instant::now();
        let key = self.count(|| self.inner.load(id));
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.load_nanos.fetch_add(nanos, Ordering::Relaxed);
        key
    }

    fn create(&self) -> keyseal_keys::Result<Key> {
        self.count(|| self.inner.create())
    }

    fn delete(&self, id: &KeyId) -> keyseal_keys::Result<()> {
        self.count(|| self.inner.delete(id))
    }

    fn given(&self) -> Option<keyseal_keys::Result<Key>> {
        self.count(|| self.inner.given())
    }
}
