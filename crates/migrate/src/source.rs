//! Where legacy items are read from and deleted.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use zeroize::Zeroizing;

/// A keyring as migration sees it: items named by a service and a name.
pub trait LegacySource: Send + Sync + fmt::Debug {
    /// The item's bytes, or `None` when there is none.
    ///
    /// # Errors
    /// Any [`keyseal_keys::Error`] of the keyring.
    fn read(&self, service: &str, item: &str) -> keyseal_keys::Result<Option<Zeroizing<Vec<u8>>>>;

    /// Every item name of `service`, or `None` when this keyring cannot be
    /// searched.
    ///
    /// # Errors
    /// Any [`keyseal_keys::Error`] of the keyring.
    fn search(&self, service: &str) -> keyseal_keys::Result<Option<Vec<String>>>;

    /// Deletes the item; returns whether it existed.
    ///
    /// # Errors
    /// Any [`keyseal_keys::Error`] of the keyring.
    fn delete(&self, service: &str, item: &str) -> keyseal_keys::Result<bool>;
}

/// The OS keyring (Linux: Secret Service; macOS keychain; Windows Credential
/// Manager), every call bounded by a timeout.
#[cfg(feature = "keyring")]
#[cfg_attr(docsrs, doc(cfg(feature = "keyring")))]
#[derive(Clone, Debug, Default)]
pub struct KeyringSource {
    items: keyseal_keys::KeyringItems,
}

#[cfg(feature = "keyring")]
impl KeyringSource {
    /// The platform's keyring.
    pub fn new() -> Self {
        Self::default()
    }

    /// The platform's keyring through a configured [`keyseal_keys::KeyringItems`].
    pub fn with_items(items: keyseal_keys::KeyringItems) -> Self {
        Self { items }
    }
}

#[cfg(feature = "keyring")]
impl LegacySource for KeyringSource {
    fn read(&self, service: &str, item: &str) -> keyseal_keys::Result<Option<Zeroizing<Vec<u8>>>> {
        self.items.read(service, item)
    }

    fn search(&self, service: &str) -> keyseal_keys::Result<Option<Vec<String>>> {
        self.items.search(service).map(Some)
    }

    fn delete(&self, service: &str, item: &str) -> keyseal_keys::Result<bool> {
        self.items.delete(service, item)
    }
}

#[derive(Default)]
struct MemoryState {
    items: BTreeMap<(String, String), Zeroizing<Vec<u8>>>,
    searchable: bool,
    fail_read: Vec<String>,
    fail_delete: Vec<String>,
    fail_search: bool,
}

/// Items in memory, for tests, with failure injection per item.
pub struct MemorySource {
    state: Mutex<MemoryState>,
}

impl Default for MemorySource {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemorySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("MemorySource")
            .field("items", &state.items.keys().collect::<Vec<_>>())
            .field("searchable", &state.searchable)
            .finish_non_exhaustive()
    }
}

fn injected(service: &str, item: &str, what: &str) -> keyseal_keys::Error {
    keyseal_keys::Error::Unavailable {
        location: format!(
            "memory item service=\"{service}\" item=\"{item}\" (injected {what} failure)"
        ),
        reason: keyseal_keys::UnavailableReason::Platform,
        source: None,
    }
}

impl MemorySource {
    /// An empty, searchable source.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(MemoryState {
                searchable: true,
                ..MemoryState::default()
            }),
        }
    }

    /// A source that cannot be searched (like a keyring without search).
    pub fn unsearchable() -> Self {
        let source = Self::new();
        source.lock().searchable = false;
        source
    }

    /// Stores an item.
    pub fn insert(&self, service: &str, item: &str, value: &[u8]) {
        self.lock().items.insert(
            (service.to_owned(), item.to_owned()),
            Zeroizing::new(value.to_vec()),
        );
    }

    /// The item names of `service` (for assertions).
    pub fn names(&self, service: &str) -> Vec<String> {
        self.lock()
            .items
            .keys()
            .filter(|(s, _)| s == service)
            .map(|(_, n)| n.clone())
            .collect()
    }

    /// Makes every read of `item` fail.
    pub fn fail_read(&self, item: &str) {
        self.lock().fail_read.push(item.to_owned());
    }

    /// Makes every delete of `item` fail.
    pub fn fail_delete(&self, item: &str) {
        self.lock().fail_delete.push(item.to_owned());
    }

    /// Makes search fail.
    pub fn fail_search(&self) {
        self.lock().fail_search = true;
    }

    /// Removes every injected failure.
    pub fn heal(&self) {
        let mut state = self.lock();
        state.fail_read.clear();
        state.fail_delete.clear();
        state.fail_search = false;
    }

    fn lock(&self) -> MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl LegacySource for MemorySource {
    fn read(&self, service: &str, item: &str) -> keyseal_keys::Result<Option<Zeroizing<Vec<u8>>>> {
        let state = self.lock();
        if state.fail_read.iter().any(|i| i == item) {
            return Err(injected(service, item, "read"));
        }
        Ok(state
            .items
            .get(&(service.to_owned(), item.to_owned()))
            .map(|v| Zeroizing::new(v.to_vec())))
    }

    fn search(&self, service: &str) -> keyseal_keys::Result<Option<Vec<String>>> {
        let state = self.lock();
        if state.fail_search {
            return Err(injected(service, "*", "search"));
        }
        if !state.searchable {
            return Ok(None);
        }
        Ok(Some(
            state
                .items
                .keys()
                .filter(|(s, _)| s == service)
                .map(|(_, n)| n.clone())
                .collect(),
        ))
    }

    fn delete(&self, service: &str, item: &str) -> keyseal_keys::Result<bool> {
        let mut state = self.lock();
        if state.fail_delete.iter().any(|i| i == item) {
            return Err(injected(service, item, "delete"));
        }
        Ok(state
            .items
            .remove(&(service.to_owned(), item.to_owned()))
            .is_some())
    }
}
