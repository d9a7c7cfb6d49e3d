//! The in-memory provider, for users' tests.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use keyseal_seal::{Key, KeyId};

use crate::{Error, KeyLifetime, KeyProvider, ProviderInfo, ProviderKind, Result};

#[derive(Default)]
struct State {
    keys: BTreeMap<KeyId, Key>,
    /// Set by [`MemoryKeyProvider::given`].
    given: Option<Key>,
}

/// Keeps keys in process memory, each under its id, for tests of code
/// built on keyseal.
///
/// To count its calls or make one fail, wrap it (or any other provider) in
/// [`FaultyProvider`](crate::testing::FaultyProvider) (feature `testing`).
///
/// It is not a fallback: keyseal never chooses it on its own.
#[derive(Default)]
pub struct MemoryKeyProvider {
    state: Mutex<State>,
}

impl core::fmt::Debug for MemoryKeyProvider {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MemoryKeyProvider")
            .field("keys", &self.lock().keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl MemoryKeyProvider {
    /// An empty provider.
    pub fn new() -> Self {
        Self::default()
    }

    /// A provider whose key is *given*, as an environment variable's is:
    /// a new file is sealed with it ([`KeyProvider::given`]), and a load of
    /// any id it does not hold answers with it (so a file sealed for another
    /// key is reported as the wrong key). Keys it creates are kept beside it.
    pub fn given(key: Key) -> Self {
        let provider = Self::with_key(key.duplicate());
        provider.lock().given = Some(key);
        provider
    }

    /// A provider that already holds `key`.
    pub fn with_key(key: Key) -> Self {
        let provider = Self::new();
        provider.lock().keys.insert(key.id(), key);
        provider
    }

    /// The ids of the keys held now, sorted (not a provider call).
    pub fn key_ids(&self) -> Vec<KeyId> {
        self.lock().keys.keys().copied().collect()
    }

    /// Whether a key with this id is held (not a provider call).
    pub fn holds(&self, id: &KeyId) -> bool {
        self.lock().keys.contains_key(id)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in another test thread must not hide this provider's state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

const LOCATION: &str = "in-memory provider";

impl KeyProvider for MemoryKeyProvider {
    fn info(&self) -> ProviderInfo {
        ProviderInfo::new(ProviderKind::Memory, KeyLifetime::Process, LOCATION)
    }

    fn load(&self, id: &KeyId) -> Result<Key> {
        let state = self.lock();
        state
            .keys
            .get(id)
            .or(state.given.as_ref())
            .map(Key::duplicate)
            .ok_or_else(|| Error::NotFound {
                location: format!("{LOCATION} (key {id})"),
            })
    }

    fn create(&self) -> Result<Key> {
        let mut state = self.lock();
        let key = Key::generate()?;
        if state.keys.contains_key(&key.id()) {
            return Err(Error::AlreadyExists {
                location: format!("{LOCATION} (key {})", key.id()),
            });
        }
        state.keys.insert(key.id(), key.duplicate());
        Ok(key)
    }

    fn given(&self) -> Option<Result<Key>> {
        self.lock().given.as_ref().map(|key| Ok(key.duplicate()))
    }

    fn delete(&self, id: &KeyId) -> Result<()> {
        let mut state = self.lock();
        match state.keys.remove(id) {
            Some(_) => Ok(()),
            None => Err(Error::NotFound {
                location: format!("{LOCATION} (key {id})"),
            }),
        }
    }
}
