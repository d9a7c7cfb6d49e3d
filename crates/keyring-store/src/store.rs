//! The keyring-core credential store over a keyseal store.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use keyring_core::api::{CredentialPersistence, CredentialStoreApi};
use keyring_core::{CredentialStore, Entry, Error as CoreError, Result};
use keyseal::Store;

use crate::credential::{KeysealCredential, checked};
use crate::error::too_long;
use crate::name::{entry_name, specifiers};

/// What [`vendor`](CredentialStoreApi::vendor) says.
pub const VENDOR: &str = "keyseal-keyring-store, https://crates.io/crates/keyseal-keyring-store";

/// Numbers the instances of this process, for [`id`](CredentialStoreApi::id).
static INSTANCES: AtomicU64 = AtomicU64::new(0);

/// A keyring-core credential store keeping every credential as an entry of
/// one keyseal store: one sealed file, one OS keyring item (the file's
/// key), no size limit beyond the store's.
///
/// ```no_run
/// keyring_core::set_default_store(keyseal_keyring_store::KeysealStore::new("com.example.app")?);
/// // The rest of the application is unchanged:
/// let entry = keyring_core::Entry::new("my-service", "alice")?;
/// entry.set_password("hunter2")?;
/// # Ok::<(), keyring_core::Error>(())
/// ```
///
/// The store's own key never goes through keyring-core's default store:
/// keyseal's key provider reaches the OS keyring directly (the Secret
/// Service or the kernel keyring on Linux; on macOS and Windows an explicit
/// keyring-core native store of its own), so installing this store as the
/// default never recurses.
pub struct KeysealStore {
    store: Store,
    id: String,
    /// Said by the application, or `None`: then from the key provider.
    persistence: Option<Lifetime>,
}

/// [`CredentialPersistence`] as kept here (that type is neither `Clone`
/// nor `Copy`).
#[derive(Clone, Copy, Debug)]
enum Lifetime {
    EntryOnly,
    ProcessOnly,
    UntilLogout,
    UntilReboot,
    UntilDelete,
    Unspecified,
}

impl From<CredentialPersistence> for Lifetime {
    fn from(p: CredentialPersistence) -> Self {
        match p {
            CredentialPersistence::EntryOnly => Self::EntryOnly,
            CredentialPersistence::ProcessOnly => Self::ProcessOnly,
            CredentialPersistence::UntilLogout => Self::UntilLogout,
            CredentialPersistence::UntilReboot => Self::UntilReboot,
            CredentialPersistence::UntilDelete => Self::UntilDelete,
            _ => Self::Unspecified,
        }
    }
}

impl From<Lifetime> for CredentialPersistence {
    fn from(l: Lifetime) -> Self {
        match l {
            Lifetime::EntryOnly => Self::EntryOnly,
            Lifetime::ProcessOnly => Self::ProcessOnly,
            Lifetime::UntilLogout => Self::UntilLogout,
            Lifetime::UntilReboot => Self::UntilReboot,
            Lifetime::UntilDelete => Self::UntilDelete,
            Lifetime::Unspecified => Self::Unspecified,
        }
    }
}

impl std::fmt::Debug for KeysealStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeysealStore")
            .field("id", &self.id)
            .field("store", &self.store.location())
            .finish_non_exhaustive()
    }
}

impl KeysealStore {
    /// The embedded default for `app_id`: the sealed file
    /// `<config dir>/<app_id>/store.sealed`, its key in the OS keyring under
    /// service `app_id` (see [`keyseal::Store::new`]). Any `app_id` that
    /// names one directory is taken, as it always was (give it a plain name
    /// such as `com.example.app`).
    ///
    /// # Errors
    /// `Invalid` for an `app_id` that is not one path component (empty,
    /// `.`, `..`, holding a path separator, or on Windows a drive prefix); `NoStorageAccess` when the
    /// platform names no configuration directory.
    pub fn new(app_id: &str) -> Result<Arc<Self>> {
        Self::from_store(Store::new(app_id, default_file(app_id)?))
    }

    /// As [`new`](Self::new), with the store's one key kept in `key_store`,
    /// a keyring-core store given explicitly (the platform's native store,
    /// `zbus-secret-service-keyring-store`, `db-keystore`, …) rather than
    /// keyseal's own keyring code: one credential (service `app_id`, user
    /// `store-key.<key id>`). keyring-core's default store is never
    /// consulted, so installing the returned store as the default never
    /// recurses.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_key_store(app_id: &str, key_store: Arc<CredentialStore>) -> Result<Arc<Self>> {
        let keys = keyseal::KeyringProvider::builder(app_id, keyseal::KEY_ITEM_NAME)
            .keyring_core_store(key_store)
            .build();
        Self::from_store(
            Store::builder(keys, keyseal::FileStore::new(default_file(app_id)?), app_id)
                .rollback_marks(keyseal::RollbackMarks::in_state_dir())
                .build(),
        )
    }

    /// Over an existing keyseal store (any key provider, any blob store).
    /// Its [`persistence`](CredentialStoreApi::persistence) follows its key
    /// provider: a key in the OS keyring (or given by the environment)
    /// lasts `UntilDelete`, one in the kernel keyring `UntilReboot`, one in
    /// memory `ProcessOnly`; say otherwise with
    /// [`with_persistence`](Self::with_persistence) (for a `MemoryBlobStore`,
    /// say `ProcessOnly`).
    ///
    /// With the default policies the store fails where it cannot read its
    /// file. A store built with `OnKeyringUnavailable::MemoryOnly` answers
    /// `NoStorageAccess` for every call once it has switched to memory,
    /// never `NoEntry`, and writes nothing more.
    ///
    /// # Errors
    /// `Invalid` for a store built with `OnUnreadable::Quarantine`: it
    /// would move an unusable file aside and start empty, and every
    /// keyring-core application would then read its credentials as never
    /// stored (in the next process at the latest). Keep the default
    /// `OnUnreadable::Fail`.
    pub fn from_store(store: Store) -> Result<Arc<Self>> {
        Self::with(store, None).map(Arc::new)
    }

    /// Over an existing keyseal store whose credentials last as
    /// `persistence` says.
    ///
    /// # Errors
    /// As [`from_store`](Self::from_store).
    pub fn with_persistence(store: Store, persistence: CredentialPersistence) -> Result<Arc<Self>> {
        Self::with(store, Some(Lifetime::from(persistence))).map(Arc::new)
    }

    fn with(store: Store, persistence: Option<Lifetime>) -> Result<Self> {
        if store.on_unreadable() == keyseal::OnUnreadable::Quarantine {
            return Err(CoreError::Invalid(
                "on_unreadable".to_owned(),
                "a store that moves an unusable file aside would answer every credential as never stored; build it with the default OnUnreadable::Fail".to_owned(),
            ));
        }
        let instance = INSTANCES.fetch_add(1, Ordering::Relaxed);
        Ok(Self {
            id: format!(
                "keyseal-keyring-store v{} at {}, instance {instance}",
                env!("CARGO_PKG_VERSION"),
                store.location()
            ),
            store,
            persistence,
        })
    }

    /// How long the store's key lasts. A keyring chosen at first use (on
    /// Linux: the Secret Service, else the kernel keyring) is known once the
    /// key was used: then the store's status is read first, which uses the
    /// key once when there is a file (the one call this process makes).
    fn provider_lifetime(&self) -> keyseal::keys::KeyLifetime {
        let lifetime = self.store.provider_info().lifetime;
        if lifetime != keyseal::keys::KeyLifetime::Unknown {
            return lifetime;
        }
        drop(self.store.status());
        self.store.provider_info().lifetime
    }

    /// The keyseal store underneath.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn entry(&self, service: &str, user: &str, wrapper: bool) -> Entry {
        Entry::new_with_credential(Arc::new(KeysealCredential::new(
            self.store.clone(),
            service,
            user,
            wrapper,
        )))
    }
}

impl CredentialStoreApi for KeysealStore {
    fn vendor(&self) -> String {
        VENDOR.to_owned()
    }

    fn id(&self) -> String {
        self.id.clone()
    }

    /// A specifier for `(service, user)`; nothing is written until its
    /// secret is set. This store takes no modifiers: any is `Invalid`.
    fn build(
        &self,
        service: &str,
        user: &str,
        modifiers: Option<&HashMap<&str, &str>>,
    ) -> Result<Entry> {
        if let Some(key) = modifiers.and_then(|m| m.keys().next()) {
            return Err(CoreError::Invalid(
                (*key).to_owned(),
                "keyseal-keyring-store takes no modifiers".to_owned(),
            ));
        }
        // Escaping only lengthens: a pair this long never fits.
        if crate::name::PREFIX.len() + service.len() + 1 + user.len() > keyseal::MAX_NAME_LEN
            || entry_name(service, user).len() > keyseal::MAX_NAME_LEN
        {
            return Err(too_long());
        }
        Ok(self.entry(service, user, false))
    }

    /// Wrappers of the credentials matching every key of `spec`: `service`
    /// and `username` (or `user`), each compared exactly; an empty spec
    /// matches every credential. Any other key is `Invalid`. Entries the
    /// application stored through keyseal's own API are not credentials and
    /// never match.
    fn search(&self, spec: &HashMap<&str, &str>) -> Result<Vec<Entry>> {
        let mut service = None;
        let mut user = None;
        for (key, value) in spec {
            match *key {
                "service" => service = Some(*value),
                "username" | "user" => {
                    if user.is_some_and(|earlier| earlier != *value) {
                        return Err(CoreError::Invalid(
                            (*key).to_owned(),
                            "username and user name different users".to_owned(),
                        ));
                    }
                    user = Some(*value);
                }
                other => {
                    return Err(CoreError::Invalid(
                        other.to_owned(),
                        "keyseal-keyring-store searches by service and username only".to_owned(),
                    ));
                }
            }
        }
        let names = checked(&self.store, || self.store.list())?;
        Ok(names
            .iter()
            .filter_map(|name| specifiers(name))
            .filter(|(s, u)| {
                service.is_none_or(|want| want == s) && user.is_none_or(|want| want == u)
            })
            .map(|(s, u)| self.entry(&s, &u, true))
            .collect())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn persistence(&self) -> CredentialPersistence {
        let lifetime =
            self.persistence
                .unwrap_or_else(|| match self.provider_lifetime() {
                    keyseal::keys::KeyLifetime::UntilDeleted
                    | keyseal::keys::KeyLifetime::External => Lifetime::UntilDelete,
                    keyseal::keys::KeyLifetime::UntilReboot => Lifetime::UntilReboot,
                    keyseal::keys::KeyLifetime::Process => Lifetime::ProcessOnly,
                    _ => Lifetime::Unspecified,
                });
        lifetime.into()
    }

    fn debug_fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// `<config dir>/<app_id>/store.sealed`, for an `app_id` that names one
/// directory.
fn default_file(app_id: &str) -> Result<std::path::PathBuf> {
    // Exactly one normal component on this platform: not empty, not . or
    // .., no separator, and on Windows no drive prefix ("C:x").
    let mut components = std::path::Path::new(app_id).components();
    let one_directory = matches!(
        (components.next(), components.next()),
        (Some(std::path::Component::Normal(_)), None)
    );
    if !one_directory || app_id.contains(['/', '\\']) {
        return Err(CoreError::Invalid(
            "app_id".to_owned(),
            "it must name one directory: not empty, not . or .., no / or \\, no drive".to_owned(),
        ));
    }
    keyseal::default_path(app_id).ok_or_else(|| {
        CoreError::NoStorageAccess(
            "the platform names no configuration directory (set HOME, XDG_CONFIG_HOME or APPDATA)"
                .into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::default_file;
    use keyring_core::Error as CoreError;

    #[test]
    fn an_app_id_must_name_one_directory() {
        for bad in ["", ".", "..", "a/b", "a\\b", "./a", "a/..", "/a"] {
            assert!(
                matches!(default_file(bad), Err(CoreError::Invalid(..))),
                "{bad:?}"
            );
        }
        // A drive prefix is not a directory name on Windows.
        #[cfg(windows)]
        assert!(matches!(default_file("C:x"), Err(CoreError::Invalid(..))));
        #[cfg(unix)]
        assert!(!matches!(default_file("a:b"), Err(CoreError::Invalid(..))));
        for good in ["com.example.app", "My App"] {
            assert!(
                !matches!(default_file(good), Err(CoreError::Invalid(..))),
                "{good:?}"
            );
        }
    }
}
