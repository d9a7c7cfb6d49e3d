//! Arbitrary items of an OS keyring, as bytes: what migration reads from
//! the layouts applications used before keyseal.

use std::sync::Arc;
use std::time::Duration;

use zeroize::Zeroizing;

use super::{Concrete, DEFAULT_TIMEOUT, Item, ItemLayout, Op, Outcome, platform, with_timeout};
use crate::{Error, Result, UnavailableReason};

/// Reads, lists and deletes any items of one OS keyring (not keyseal key
/// records: the bytes as they are), each call bounded by a timeout.
///
/// On Linux this is the Secret Service (legacy applications wrote there);
/// on macOS the login keychain; on Windows the Credential Manager.
#[derive(Clone, Debug)]
pub struct KeyringItems {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    concrete: Concrete,
    timeout: Duration,
    layout: ItemLayout,
    stores: platform::Stores,
}

impl Default for KeyringItems {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyringItems {
    /// The platform's keyring with the default timeout.
    pub fn new() -> Self {
        let concrete = if cfg!(target_os = "macos") {
            Concrete::Macos
        } else if cfg!(windows) {
            Concrete::Windows
        } else {
            Concrete::SecretService
        };
        Self {
            inner: Arc::new(Inner {
                concrete,
                timeout: DEFAULT_TIMEOUT,
                layout: ItemLayout::Keyring,
                stores: platform::Stores::default(),
            }),
        }
    }

    /// Bounds every call (default 5 s).
    #[must_use]
    pub fn with_timeout(self, timeout: Duration) -> Self {
        self.rebuilt(timeout, self.inner.layout)
    }

    /// Reads items laid out as `layout` says (default
    /// [`ItemLayout::Keyring`]).
    #[must_use]
    pub fn with_layout(self, layout: ItemLayout) -> Self {
        self.rebuilt(self.inner.timeout, layout)
    }

    fn rebuilt(&self, timeout: Duration, layout: ItemLayout) -> Self {
        Self {
            inner: Arc::new(Inner {
                concrete: self.inner.concrete,
                timeout,
                layout,
                stores: platform::Stores::default(),
            }),
        }
    }

    fn call(&self, service: &str, name: &str, op: Op) -> Result<Outcome> {
        let inner = Arc::clone(&self.inner);
        let item = Item {
            service: service.to_owned(),
            name: name.to_owned(),
            label: format!("{name}@{service}"),
            layout: inner.layout,
        };
        let location = item.location(inner.concrete);
        with_timeout(inner.timeout, &location, move || {
            platform::call(&inner.stores, inner.concrete, &item, &op)
        })
    }

    /// Where an item is, for people.
    pub fn location(&self, service: &str, name: &str) -> String {
        Item {
            service: service.to_owned(),
            name: name.to_owned(),
            label: String::new(),
            layout: self.inner.layout,
        }
        .location(self.inner.concrete)
    }

    /// The bytes of item `name` of `service`, or `None` when there is none.
    ///
    /// # Errors
    /// [`Error::Unavailable`] (with `Locked` when the item's collection is
    /// locked and was not unlocked); [`Error::Malformed`] when several items
    /// match, or a [`ItemLayout::GoKeyring`] item's secret is not that
    /// library's JSON `Item`.
    pub fn read(&self, service: &str, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
        match self.call(service, name, Op::ReadRaw) {
            Ok(Outcome::Raw(bytes)) => Ok(Some(bytes)),
            Ok(_) => Err(unexpected(&self.location(service, name))),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The names of every item of `service`, sorted.
    ///
    /// # Errors
    /// [`Error::Unavailable`], also when the keyring cannot be searched.
    pub fn search(&self, service: &str) -> Result<Vec<String>> {
        match self.call(service, "", Op::Search)? {
            Outcome::Names(names) => Ok(names),
            _ => Err(unexpected(&self.location(service, "*"))),
        }
    }

    /// Deletes item `name` of `service`; returns whether it existed. Every
    /// item that matches is deleted (on the Secret Service, items of other
    /// writers with more attributes, such as Python keyring's `application`,
    /// match too).
    ///
    /// # Errors
    /// [`Error::Unavailable`].
    pub fn delete(&self, service: &str, name: &str) -> Result<bool> {
        match self.call(service, name, Op::Delete) {
            Ok(_) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn unexpected(location: &str) -> Error {
    Error::Unavailable {
        location: location.to_owned(),
        reason: UnavailableReason::Platform,
        source: Some(crate::PlatformError(
            "the keyring gave an unexpected answer".to_owned(),
        )),
    }
}
