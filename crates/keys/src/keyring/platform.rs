//! The platform keyrings behind [`Concrete`]: keyring-core stores for the
//! Secret Service, the macOS keychain and the Windows Credential Manager, and
//! keyutils for the Linux kernel keyring.
//!
//! Everything here runs on the helper thread of one timed call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use keyring_core::{CredentialStore, Entry};
use zeroize::Zeroizing;

use super::{Concrete, Item, Op, Outcome};
use crate::{Error, Result, UnavailableReason};

/// What [`Backend::Auto`](super::Backend::Auto) means here; `None` is the
/// Linux choice made at the first call.
pub(super) fn auto_default() -> Option<Concrete> {
    if cfg!(target_os = "linux") {
        None
    } else if cfg!(target_os = "macos") {
        Some(Concrete::Macos)
    } else if cfg!(windows) {
        Some(Concrete::Windows)
    } else {
        Some(Concrete::SecretService)
    }
}

/// The keyrings' connections, made on first use and shared by later calls:
/// a keyring-core store (macOS, Windows, or the one given with
/// [`Backend::KeyringCore`](super::Backend::KeyringCore)) or the Secret
/// Service connection and its session algorithm (Linux).
#[derive(Default, Debug)]
pub(super) struct Stores {
    native: Mutex<Option<Arc<CredentialStore>>>,
    #[cfg(target_os = "linux")]
    secret_service: super::secret_service::Connection,
    session: super::SessionAlgorithm,
}

impl Stores {
    pub(super) fn new(
        session: super::SessionAlgorithm,
        given: Option<Arc<CredentialStore>>,
    ) -> Self {
        Self {
            session,
            native: Mutex::new(given),
            ..Self::default()
        }
    }

    /// How long the given keyring-core store keeps what it stores.
    pub(super) fn given_persistence(&self) -> Option<keyring_core::CredentialPersistence> {
        self.native
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|store| store.persistence())
    }
}

/// The store of [`Backend::KeyringCore`](super::Backend::KeyringCore) is
/// given when the provider is built; there is none to make.
fn no_given_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Err(keyring_core::Error::NoStorageAccess(
        "Backend::KeyringCore needs a store: KeyringProviderBuilder::keyring_core_store".into(),
    ))
}

pub(super) fn call(stores: &Stores, concrete: Concrete, item: &Item, op: &Op) -> Result<Outcome> {
    match concrete {
        #[cfg(target_os = "linux")]
        Concrete::SecretService => {
            super::secret_service::call(&stores.secret_service, stores.session, item, op)
        }
        #[cfg(target_os = "linux")]
        Concrete::Kernel => super::kernel::call(item, op),
        Concrete::Core => core_call(stores, no_given_store, concrete, item, None, op),
        // github.com/99designs/keyring's keychain items are generic
        // passwords (service, account = key) with the raw bytes: keyring-core's
        // layout, so both layouts read the same way here.
        #[cfg(target_os = "macos")]
        Concrete::Macos => core_call(stores, make_macos, concrete, item, None, op),
        #[cfg(windows)]
        Concrete::Windows => {
            // github.com/99designs/keyring names its credentials
            // `keyring:<service>:<key>`; keyring-core's default target is
            // `<user>.<service>`.
            let target = format!("keyring:{}:{}", item.service, item.name);
            let modifiers: HashMap<&str, &str> =
                [("target", target.as_str())].into_iter().collect();
            let modifiers = (item.layout == super::ItemLayout::GoKeyring).then_some(&modifiers);
            core_call(stores, make_windows, concrete, item, modifiers, op)
        }
        #[allow(
            unreachable_patterns,
            reason = "reachable on every platform but one per arm"
        )]
        other => {
            let _ = (stores, item, op);
            Err(Error::Unavailable {
                location: item.location(other),
                reason: UnavailableReason::NoService,
                source: Some(crate::PlatformError(format!(
                    "the {} is not available on this platform",
                    other.kind()
                ))),
            })
        }
    }
}

#[cfg(target_os = "macos")]
fn make_macos() -> keyring_core::Result<Arc<CredentialStore>> {
    let store: Arc<CredentialStore> = apple_native_keyring_store::keychain::Store::new()?;
    Ok(store)
}

#[cfg(windows)]
fn make_windows() -> keyring_core::Result<Arc<CredentialStore>> {
    let store: Arc<CredentialStore> = windows_native_keyring_store::Store::new()?;
    Ok(store)
}

fn core_call(
    stores: &Stores,
    make: fn() -> keyring_core::Result<Arc<CredentialStore>>,
    concrete: Concrete,
    item: &Item,
    modifiers: Option<&HashMap<&str, &str>>,
    op: &Op,
) -> Result<Outcome> {
    let location = item.location(concrete);
    let map = |e| map_core_error(e, &location);
    let store = {
        let mut cached = stores.native.lock().unwrap_or_else(PoisonError::into_inner);
        match cached.as_ref() {
            Some(store) => Arc::clone(store),
            None => {
                let store = make().map_err(map)?;
                *cached = Some(Arc::clone(&store));
                store
            }
        }
    };
    let entry: Entry = store
        .build(&item.service, &item.name, modifiers)
        .map_err(map)?;
    match op {
        Op::Load => {
            let bytes = Zeroizing::new(entry.get_secret().map_err(map)?);
            crate::record::decode(&bytes, &location).map(Outcome::Key)
        }
        Op::Create(key) => {
            // The item is named by a new key's id, so it cannot exist; the
            // check keeps the contract even if it somehow did.
            match entry.get_secret() {
                Ok(existing) => {
                    drop(Zeroizing::new(existing));
                    return Err(Error::AlreadyExists { location });
                }
                Err(keyring_core::Error::NoEntry) => {}
                Err(e) => return Err(map(e)),
            }
            entry
                .set_secret(&crate::record::encode(key))
                .map(|()| Outcome::Done)
                .map_err(map)
        }
        Op::Delete => entry
            .delete_credential()
            .map(|()| Outcome::Done)
            .map_err(map),
        Op::ReadRaw => entry
            .get_secret()
            .map(|bytes| Outcome::Raw(Zeroizing::new(bytes)))
            .map_err(map),
        Op::Search => {
            let spec = [("service", item.service.as_str())].into_iter().collect();
            let entries = store.search(&spec).map_err(map)?;
            let mut names: Vec<String> = entries
                .iter()
                .filter_map(Entry::get_specifiers)
                .filter(|(service, _)| *service == item.service)
                .map(|(_, name)| name)
                .collect();
            names.sort();
            names.dedup();
            Ok(Outcome::Names(names))
        }
    }
}

/// Maps a keyring-core error to ours, never keeping a stored value:
/// `BadEncoding` and `BadDataFormat` carry the item's bytes.
fn map_core_error(error: keyring_core::Error, location: &str) -> Error {
    use keyring_core::Error as E;
    let unavailable = |reason, detail: String| Error::Unavailable {
        location: location.to_owned(),
        reason,
        source: Some(crate::PlatformError(detail)),
    };
    match error {
        E::NoEntry => Error::NotFound {
            location: location.to_owned(),
        },
        E::BadEncoding(bytes) | E::BadDataFormat(bytes, _) => {
            drop(Zeroizing::new(bytes));
            Error::Malformed {
                location: location.to_owned(),
                reason: "the keyring returned data that is not a keyseal key record".to_owned(),
            }
        }
        E::Ambiguous(entries) => Error::Malformed {
            location: location.to_owned(),
            reason: format!("{} keyring items match it; keep one", entries.len()),
        },
        E::NoStorageAccess(platform) => {
            let reason = classify(platform.as_ref()).unwrap_or(UnavailableReason::NoService);
            unavailable(reason, platform.to_string())
        }
        E::PlatformFailure(platform) => {
            let reason = classify(platform.as_ref()).unwrap_or(UnavailableReason::Platform);
            unavailable(reason, platform.to_string())
        }
        other => unavailable(UnavailableReason::Platform, other.to_string()),
    }
}

/// The reason behind a platform error, when it can be told.
#[cfg(any(target_os = "linux", target_os = "macos", windows))]
pub(super) fn classify(
    error: &(dyn std::error::Error + Send + Sync + 'static),
) -> Option<UnavailableReason> {
    #[cfg(target_os = "linux")]
    if let Some(ss) = error.downcast_ref::<secret_service::Error>() {
        use secret_service::Error as S;
        return match ss {
            S::Locked => Some(UnavailableReason::Locked),
            S::Prompt | S::PromptDisconnected => Some(UnavailableReason::AccessDenied),
            S::Unavailable => Some(UnavailableReason::NoService),
            // No session bus, or no Secret Service on it; D-Bus method
            // errors carry their meaning in their names.
            S::Zbus(_) | S::ZbusFdo(_) => {
                let text = ss.to_string();
                if text.contains("IsLocked") || text.contains("locked") {
                    Some(UnavailableReason::Locked)
                } else if [
                    "ServiceUnknown",
                    "NameHasNoOwner",
                    "Failed to connect",
                    "Connection refused",
                ]
                .iter()
                .any(|t| text.contains(t))
                {
                    Some(UnavailableReason::NoService)
                } else if text.contains("AccessDenied") {
                    Some(UnavailableReason::AccessDenied)
                } else {
                    None
                }
            }
            _ => None,
        };
    }
    let _ = error;
    None
}
