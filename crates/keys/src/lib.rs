#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

use core::fmt;
use std::sync::Arc;

pub use keyseal_seal::{Key, KeyId};

mod env;
mod error;
mod memory;
mod record;

#[cfg(feature = "keyring")]
mod keyring;

#[cfg(feature = "testing")]
pub mod conformance;

pub use crate::env::EnvKeyProvider;
pub use crate::error::{Error, PlatformError, Result, UnavailableReason};
#[cfg(feature = "keyring")]
pub use crate::keyring::{
    Backend, DEFAULT_TIMEOUT, KeyringItems, KeyringProvider, KeyringProviderBuilder,
};
pub use crate::memory::{BlockGuard, MemoryKeyProvider, Operation};

/// Where a store's key lives: load it, create it, delete it.
///
/// # Contract
/// - [`load`](KeyProvider::load) MUST NOT create anything: on a provider
///   that holds no key it returns [`Error::NotFound`] and leaves the keyring
///   as it was.
/// - [`create`](KeyProvider::create) MUST NOT overwrite: when a key is
///   already there it returns [`Error::AlreadyExists`] and leaves it. keyseal
///   calls it only under the store's file lock, and only when no sealed file
///   exists, so two processes never create two keys.
/// - A provider that cannot change its key (an environment variable) returns
///   [`Error::ReadOnly`] from `create` and `delete`.
/// - Every call that can block on a service MUST be bounded by a timeout and
///   report [`UnavailableReason::TimedOut`] instead of hanging.
/// - Key material MUST NOT appear in `Debug`, `Display`, errors or logs, and
///   every buffer that held it is zeroized.
/// - Implementations are `Send + Sync`; one provider may be shared by every
///   thread of a process.
pub trait KeyProvider: Send + Sync + fmt::Debug {
    /// What the provider is, where its key lives and how long it survives.
    fn info(&self) -> ProviderInfo;

    /// Loads the key.
    ///
    /// # Errors
    /// [`Error::NotFound`] when there is none; [`Error::Unavailable`] when the
    /// key source does not answer; [`Error::Malformed`] when what is stored is
    /// not a keyseal key.
    fn load(&self) -> Result<Key>;

    /// Generates a new random key, stores it, and returns it.
    ///
    /// # Errors
    /// [`Error::AlreadyExists`] when a key is already stored (it is left as
    /// it is); [`Error::ReadOnly`]; [`Error::Unavailable`].
    fn create(&self) -> Result<Key>;

    /// Deletes the key.
    ///
    /// # Errors
    /// [`Error::NotFound`] when there is none; [`Error::ReadOnly`];
    /// [`Error::Unavailable`].
    fn delete(&self) -> Result<()>;

    /// Stores `key` in the provider's *staging* slot, beside the current key,
    /// replacing any key staged before. The first step of a rotation: until
    /// [`commit_staged`](KeyProvider::commit_staged), both keys are there,
    /// so a crash at any step leaves a key that opens the file.
    ///
    /// The default refuses with [`Error::ReadOnly`]: providers that cannot
    /// hold a second key cannot rotate.
    ///
    /// # Errors
    /// [`Error::ReadOnly`]; [`Error::Unavailable`].
    fn stage(&self, key: &Key) -> Result<()> {
        let _ = key;
        Err(Error::ReadOnly {
            location: self.info().location,
            operation: "stage",
        })
    }

    /// Loads the staged key.
    ///
    /// # Errors
    /// [`Error::NotFound`] when none is staged (the default);
    /// [`Error::Unavailable`]; [`Error::Malformed`].
    fn load_staged(&self) -> Result<Key> {
        Err(Error::NotFound {
            location: format!("{} (staging slot)", self.info().location),
        })
    }

    /// Makes the staged key the current key (replacing the current key in one
    /// step where the platform allows, else write-then-delete, so a crash
    /// leaves the key in one slot or the other), then removes the staged copy.
    ///
    /// # Errors
    /// [`Error::NotFound`] when nothing is staged; [`Error::ReadOnly`] (the
    /// default); [`Error::Unavailable`].
    fn commit_staged(&self) -> Result<()> {
        Err(Error::ReadOnly {
            location: self.info().location,
            operation: "commit",
        })
    }

    /// Removes the staged key, if any (a rotation that did not happen).
    ///
    /// # Errors
    /// [`Error::Unavailable`]. Having nothing staged is not an error.
    fn discard_staged(&self) -> Result<()> {
        Ok(())
    }
}

impl<T: KeyProvider + ?Sized> KeyProvider for Arc<T> {
    fn info(&self) -> ProviderInfo {
        (**self).info()
    }
    fn load(&self) -> Result<Key> {
        (**self).load()
    }
    fn create(&self) -> Result<Key> {
        (**self).create()
    }
    fn delete(&self) -> Result<()> {
        (**self).delete()
    }
    fn stage(&self, key: &Key) -> Result<()> {
        (**self).stage(key)
    }
    fn load_staged(&self) -> Result<Key> {
        (**self).load_staged()
    }
    fn commit_staged(&self) -> Result<()> {
        (**self).commit_staged()
    }
    fn discard_staged(&self) -> Result<()> {
        (**self).discard_staged()
    }
}

impl<T: KeyProvider + ?Sized> KeyProvider for Box<T> {
    fn info(&self) -> ProviderInfo {
        (**self).info()
    }
    fn load(&self) -> Result<Key> {
        (**self).load()
    }
    fn create(&self) -> Result<Key> {
        (**self).create()
    }
    fn delete(&self) -> Result<()> {
        (**self).delete()
    }
    fn stage(&self, key: &Key) -> Result<()> {
        (**self).stage(key)
    }
    fn load_staged(&self) -> Result<Key> {
        (**self).load_staged()
    }
    fn commit_staged(&self) -> Result<()> {
        (**self).commit_staged()
    }
    fn discard_staged(&self) -> Result<()> {
        (**self).discard_staged()
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
    /// Process memory (tests).
    Memory,
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
