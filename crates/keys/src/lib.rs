#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

use core::fmt;
use std::sync::Arc;

pub use keyseal_seal::{Key, KeyId};

mod env;
mod error;
mod file;
mod given;
mod memory;
mod record;

#[cfg(feature = "keyring")]
mod keyring;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod conformance;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use crate::env::EnvKeyProvider;
pub use crate::error::{Error, PlatformError, Result, UnavailableReason};
pub use crate::file::KeyFileProvider;
#[cfg(feature = "keyring")]
pub use crate::keyring::{
    Backend, DEFAULT_TIMEOUT, ItemLayout, KeyringItems, KeyringProvider, KeyringProviderBuilder,
    SessionAlgorithm,
};
pub use crate::memory::MemoryKeyProvider;

/// Where a store's keys live: load one by id, create one, delete one.
///
/// A provider that stores keys keeps each key in a slot of its own, named by
/// the key's id ([`KeyId`], which a sealed file's header names). Two stores
/// sharing one provider (one keyring service) therefore never share a slot:
/// rotating, recovering or deleting one store's key never touches another's.
///
/// # Contract
/// - [`load`](KeyProvider::load) MUST NOT create anything: a provider that
///   holds no key of that id returns [`Error::NotFound`] and leaves the
///   keyring as it was. A provider whose one key is *given* from outside (an
///   environment variable) returns that key whatever the id; the caller
///   compares ids and reports a wrong key.
/// - [`create`](KeyProvider::create) MUST NOT overwrite: it generates a new
///   random key and stores it in a new slot named by its id; if that slot is
///   somehow taken it returns [`Error::AlreadyExists`] and leaves it.
/// - [`delete`](KeyProvider::delete) removes only the key with that id.
/// - A provider that cannot store keys (an environment variable) returns
///   [`Error::ReadOnly`] from `create` and `delete`, and its key from
///   [`given`](KeyProvider::given).
/// - Every call that can block on a service MUST be bounded by a timeout and
///   report [`UnavailableReason::TimedOut`] instead of hanging; a call that
///   gave up MUST NOT leave a key behind later (a creation that lands after
///   its timeout is undone).
/// - Key material MUST NOT appear in `Debug`, `Display`, errors or logs, and
///   every buffer that held it is zeroized.
/// - Implementations are `Send + Sync`; one provider may be shared by every
///   thread of a process.
pub trait KeyProvider: Send + Sync + fmt::Debug {
    /// What the provider is, where its keys live and how long they survive.
    fn info(&self) -> ProviderInfo;

    /// Loads the key whose id is `id`.
    ///
    /// # Errors
    /// [`Error::NotFound`] when there is none; [`Error::Unavailable`] when the
    /// key source does not answer; [`Error::Malformed`] when what is stored is
    /// not a keyseal key.
    fn load(&self, id: &KeyId) -> Result<Key>;

    /// Generates a new random key, stores it in a slot of its own, and
    /// returns it.
    ///
    /// # Errors
    /// [`Error::AlreadyExists`] when the key's slot is taken (it is left as
    /// it is); [`Error::ReadOnly`]; [`Error::Unavailable`].
    fn create(&self) -> Result<Key>;

    /// Deletes the key whose id is `id`, and nothing else.
    ///
    /// # Errors
    /// [`Error::NotFound`] when there is none; [`Error::ReadOnly`];
    /// [`Error::Unavailable`].
    fn delete(&self, id: &KeyId) -> Result<()>;

    /// The key given from outside, for a provider that cannot create keys
    /// (an environment variable): what a new file is sealed with. `None`
    /// (the default) for providers that create their keys.
    ///
    /// # Errors
    /// As [`load`](KeyProvider::load).
    fn given(&self) -> Option<Result<Key>> {
        None
    }
}

impl<T: KeyProvider + ?Sized> KeyProvider for Arc<T> {
    fn info(&self) -> ProviderInfo {
        (**self).info()
    }
    fn load(&self, id: &KeyId) -> Result<Key> {
        (**self).load(id)
    }
    fn create(&self) -> Result<Key> {
        (**self).create()
    }
    fn delete(&self, id: &KeyId) -> Result<()> {
        (**self).delete(id)
    }
    fn given(&self) -> Option<Result<Key>> {
        (**self).given()
    }
}

impl<T: KeyProvider + ?Sized> KeyProvider for Box<T> {
    fn info(&self) -> ProviderInfo {
        (**self).info()
    }
    fn load(&self, id: &KeyId) -> Result<Key> {
        (**self).load(id)
    }
    fn create(&self) -> Result<Key> {
        (**self).create()
    }
    fn delete(&self, id: &KeyId) -> Result<()> {
        (**self).delete(id)
    }
    fn given(&self) -> Option<Result<Key>> {
        (**self).given()
    }
}

/// What a provider reports about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderInfo {
    /// The kind of key source.
    pub kind: ProviderKind,
    /// How long a key stored there survives.
    pub lifetime: KeyLifetime,
    /// Where the key lives, for people.
    pub location: String,
}

impl ProviderInfo {
    /// Builds an info record (for provider implementations outside this crate).
    pub fn new(kind: ProviderKind, lifetime: KeyLifetime, location: impl Into<String>) -> Self {
        Self {
            kind,
            lifetime,
            location: location.into(),
        }
    }
}

/// The kind of key source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProviderKind {
    /// The freedesktop Secret Service (gnome-keyring, KWallet, KeePassXC).
    SecretService,
    /// The Linux kernel keyring (keyutils), the user keyring.
    KernelKeyring,
    /// The macOS login keychain.
    MacosKeychain,
    /// The Windows Credential Manager.
    WindowsCredentialManager,
    /// The Linux "auto" choice before its first call decides (Secret Service
    /// when it answers, else the kernel keyring).
    Undecided,
    /// An environment variable.
    Environment,
    /// A key file (a mounted secret).
    KeyFile,
    /// Process memory (tests).
    Memory,
    /// A keyring-core credential store the application gave.
    KeyringCore,
    /// A provider outside this crate.
    Other,
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SecretService => "Secret Service",
            Self::KernelKeyring => "kernel keyring",
            Self::MacosKeychain => "macOS keychain",
            Self::WindowsCredentialManager => "Windows Credential Manager",
            Self::Undecided => "OS keyring (not yet chosen)",
            Self::KeyringCore => "keyring-core store",
            Self::KeyFile => "key file",
            Self::Environment => "environment variable",
            Self::Memory => "memory",
            Self::Other => "other",
        })
    }
}

/// How long a key survives where the provider keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyLifetime {
    /// Until it is deleted: the OS keyring keeps it on disk.
    UntilDeleted,
    /// In kernel memory: gone at reboot, and when the user's last process
    /// exits. Keep a recovery key.
    UntilReboot,
    /// As long as the environment provides it: the key is not stored by
    /// keyseal at all.
    External,
    /// For this process only.
    Process,
    /// Not known until the provider's first call.
    Unknown,
}

impl fmt::Display for KeyLifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UntilDeleted => "until deleted",
            Self::UntilReboot => "until reboot (or the user's last logout)",
            Self::External => "as long as the environment provides it",
            Self::Process => "for this process only",
            Self::Unknown => "not known yet",
        })
    }
}
