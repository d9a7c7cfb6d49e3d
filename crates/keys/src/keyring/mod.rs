//! The OS keyring provider: one small item per store.
//!
//! The item holds a 59-byte record (`keyseal-key-v1:` + base64 of the key),
//! far below Windows' 2,560-byte limit. Every call runs on a helper thread
//! and is abandoned after the configured timeout, because Secret Service
//! activation is known to hang for minutes; the caller gets
//! [`UnavailableReason::TimedOut`] instead.

mod items;
#[cfg(target_os = "linux")]
mod kernel;
mod platform;

pub use items::KeyringItems;

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use keyseal_seal::Key;

use crate::{
    Error, KeyLifetime, KeyProvider, ProviderInfo, ProviderKind, Result, UnavailableReason,
};

/// The default bound on one keyring call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Which OS keyring a [`KeyringProvider`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Backend {
    /// The platform's natural choice. On Linux: the Secret Service when it
    /// answers, else the kernel keyring (whose shorter lifetime
    /// [`KeyProvider::info`] then reports). On macOS the login keychain; on
    /// Windows the Credential Manager.
    #[default]
    Auto,
    /// The freedesktop Secret Service over D-Bus (Linux).
    SecretService,
    /// The Linux kernel's user keyring (keyutils); never the persistent
    /// keyring, which containers often refuse.
    KernelKeyring,
    /// The macOS login keychain.
    MacosKeychain,
    /// The Windows Credential Manager.
    WindowsCredentialManager,
}

/// The concrete keyring a call goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Concrete {
    SecretService,
    Kernel,
    Macos,
    Windows,
}

impl Concrete {
    fn kind(self) -> ProviderKind {
        match self {
            Self::SecretService => ProviderKind::SecretService,
            Self::Kernel => ProviderKind::KernelKeyring,
            Self::Macos => ProviderKind::MacosKeychain,
            Self::Windows => ProviderKind::WindowsCredentialManager,
        }
    }

    fn lifetime(self) -> KeyLifetime {
        match self {
            Self::Kernel => KeyLifetime::UntilReboot,
            Self::SecretService | Self::Macos | Self::Windows => KeyLifetime::UntilDeleted,
        }
    }
}

/// The item a provider reads and writes.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub(crate) service: String,
    pub(crate) name: String,
    pub(crate) label: String,
}

impl Item {
    /// The staging item: the same service, the name with `.next`.
    fn staged(&self) -> Self {
        Self {
            service: self.service.clone(),
            name: format!("{}.next", self.name),
            label: format!("{} (rotation in progress)", self.label),
        }
    }

    pub(crate) fn location(&self, concrete: Concrete) -> String {
        match concrete {
            Concrete::Kernel => format!(
                "kernel keyring key \"{}\" in the user keyring",
                self.kernel_description()
            ),
            other => format!(
                "{} item service=\"{}\" item=\"{}\"",
                other.kind(),
                self.service,
                self.name
            ),
        }
    }

    #[cfg_attr(
        not(target_os = "linux"),
        allow(dead_code, reason = "used by the Linux kernel keyring only")
    )]
    pub(crate) fn kernel_description(&self) -> String {
        format!("keyseal:{}:{}", self.service, self.name)
    }
}

/// Builds a [`KeyringProvider`].
#[derive(Debug, Clone)]
pub struct KeyringProviderBuilder {
    item: Item,
    backend: Backend,
    timeout: Duration,
}

impl KeyringProviderBuilder {
    /// Chooses the keyring (default [`Backend::Auto`]).
    #[must_use]
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Bounds every keyring call (default [`DEFAULT_TIMEOUT`], 5 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the label people see in keyring managers (Secret Service only;
    /// default `keyseal key for <service>`).
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.item.label = label.into();
        self
    }

    /// Builds the provider. Nothing is contacted until the first call.
    pub fn build(self) -> KeyringProvider {
        let chosen = match self.backend {
            Backend::Auto => platform::auto_default(),
            Backend::SecretService => Some(Concrete::SecretService),
            Backend::KernelKeyring => Some(Concrete::Kernel),
            Backend::MacosKeychain => Some(Concrete::Macos),
            Backend::WindowsCredentialManager => Some(Concrete::Windows),
        };
        KeyringProvider {
            inner: Arc::new(Inner {
                staged: self.item.staged(),
                item: self.item,
                backend: self.backend,
                timeout: self.timeout,
                chosen: Mutex::new(chosen),
                stores: platform::Stores::default(),
            }),
        }
    }
}

/// The key in the OS keyring: one item, named by a service and an item name
/// the application chooses.
///
/// ```no_run
/// use keyseal_keys::{Backend, KeyProvider, KeyringProvider};
///
/// let provider = KeyringProvider::builder("com.example.app", "store-key")
///     .backend(Backend::Auto)
///     .build();
/// let info = provider.info();
/// println!("{} keeps the key {}", info.kind, info.lifetime);
/// ```
///
/// Cheap to clone; clones share the chosen backend and the keyring
/// connection.
#[derive(Clone, Debug)]
pub struct KeyringProvider {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    item: Item,
    staged: Item,
    backend: Backend,
    timeout: Duration,
    /// `None` until [`Backend::Auto`] on Linux has seen its first answer.
    chosen: Mutex<Option<Concrete>>,
    stores: platform::Stores,
}

#[derive(Clone, Debug)]
pub(crate) enum Op {
    Load,
    Create,
    Delete,
    /// Write this key, replacing whatever the item holds.
    Put(Arc<Key>),
    /// Read the item's bytes as they are (legacy items).
    ReadRaw,
    /// List the item names of the service (legacy items).
    Search,
}

pub(crate) enum Outcome {
    Key(Key),
    Done,
    Raw(zeroize::Zeroizing<Vec<u8>>),
    Names(Vec<String>),
}

/// Which of the provider's two items a call is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Current,
    Staged,
}

impl KeyringProvider {
    /// Starts a builder for the item `name` of `service`.
    pub fn builder(service: impl Into<String>, name: impl Into<String>) -> KeyringProviderBuilder {
        let service = service.into();
        KeyringProviderBuilder {
            item: Item {
                label: format!("keyseal key for {service}"),
                service,
                name: name.into(),
            },
            backend: Backend::Auto,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The backend this provider was built with.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    fn chosen(&self) -> Option<Concrete> {
        *self
            .inner
            .chosen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn call(&self, op: Op) -> Result<Outcome> {
        self.call_slot(Slot::Current, op)
    }

    fn call_slot(&self, slot: Slot, op: Op) -> Result<Outcome> {
        if let Some(concrete) = self.chosen() {
            return self.call_on(concrete, slot, op);
        }
        // Linux auto: the Secret Service when it answers at all (found, not
        // found, malformed, locked), else the kernel keyring.
        let first = self.call_on(Concrete::SecretService, slot, op.clone());
        let fall_back = matches!(
            &first,
            Err(Error::Unavailable {
                reason: UnavailableReason::NoService | UnavailableReason::TimedOut(_),
                ..
            })
        );
        if !fall_back {
            self.choose(Concrete::SecretService);
            return first;
        }
        let second = self.call_on(Concrete::Kernel, slot, op);
        match second {
            Err(Error::Unavailable { .. }) => first,
            Err(Error::NotFound { location }) => {
                self.choose(Concrete::Kernel);
                let why = first.err().map(|e| e.to_string()).unwrap_or_default();
                Err(Error::NotFound {
                    location: format!("{location} (chosen because {why})"),
                })
            }
            other => {
                self.choose(Concrete::Kernel);
                other
            }
        }
    }

    fn choose(&self, concrete: Concrete) {
        *self
            .inner
            .chosen
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(concrete);
    }

    fn call_on(&self, concrete: Concrete, slot: Slot, op: Op) -> Result<Outcome> {
        let inner = Arc::clone(&self.inner);
        let location = inner.slot(slot).location(concrete);
        with_timeout(self.inner.timeout, &location, move || {
            platform::call(&inner.stores, concrete, inner.slot(slot), &op)
        })
    }

    fn key_from(&self, outcome: Outcome) -> Result<Key> {
        match outcome {
            Outcome::Key(key) => Ok(key),
            Outcome::Done | Outcome::Raw(_) | Outcome::Names(_) => {
                Err(unexpected(&self.info().location))
            }
        }
    }
}

impl Inner {
    fn slot(&self, slot: Slot) -> &Item {
        match slot {
            Slot::Current => &self.item,
            Slot::Staged => &self.staged,
        }
    }
}

impl KeyProvider for KeyringProvider {
    fn info(&self) -> ProviderInfo {
        match self.chosen() {
            Some(concrete) => ProviderInfo::new(
                concrete.kind(),
                concrete.lifetime(),
                self.inner.item.location(concrete),
            ),
            None => ProviderInfo::new(
                ProviderKind::Undecided,
                KeyLifetime::Unknown,
                format!(
                    "Secret Service item service=\"{}\" item=\"{}\", else {}",
                    self.inner.item.service,
                    self.inner.item.name,
                    self.inner.item.location(Concrete::Kernel)
                ),
            ),
        }
    }

    fn load(&self) -> Result<Key> {
        self.call(Op::Load).and_then(|o| self.key_from(o))
    }

    fn create(&self) -> Result<Key> {
        self.call(Op::Create).and_then(|o| self.key_from(o))
    }

    fn delete(&self) -> Result<()> {
        self.call(Op::Delete).map(drop)
    }

    /// Writes `key` to the item `<name>.next` of the same service.
    fn stage(&self, key: &Key) -> Result<()> {
        self.call_slot(Slot::Staged, Op::Put(Arc::new(key.duplicate())))
            .map(drop)
    }

    fn load_staged(&self) -> Result<Key> {
        self.call_slot(Slot::Staged, Op::Load)
            .and_then(|o| self.key_from(o))
    }

    /// Writes the staged key over the current item (an update in place on
    /// every platform), then deletes the staged item.
    fn commit_staged(&self) -> Result<()> {
        let staged = self.load_staged()?;
        self.call(Op::Put(Arc::new(staged))).map(drop)?;
        self.discard_staged()
    }

    fn discard_staged(&self) -> Result<()> {
        match self.call_slot(Slot::Staged, Op::Delete) {
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
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

/// Runs `f` on a helper thread and waits at most `timeout` for it.
///
/// A call that does not answer in time is abandoned: its thread finishes (or
/// hangs) on its own, and whatever it returns later is dropped.
pub(crate) fn with_timeout<T: Send + 'static>(
    timeout: Duration,
    location: &str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let (tx, rx) = mpsc::sync_channel(1);
    let spawned = thread::Builder::new()
        .name("keyseal-keyring".to_owned())
        .spawn(move || {
            let _ = tx.send(f());
        });
    if let Err(e) = spawned {
        return Err(Error::Unavailable {
            location: location.to_owned(),
            reason: UnavailableReason::Platform,
            source: Some(crate::PlatformError(format!(
                "could not start a keyring thread: {e}"
            ))),
        });
    }
    match rx.recv_timeout(timeout) {
        Ok(result) => result,
        Err(RecvTimeoutError::Timeout) => Err(Error::Unavailable {
            location: location.to_owned(),
            reason: UnavailableReason::TimedOut(timeout),
            source: None,
        }),
        Err(RecvTimeoutError::Disconnected) => Err(Error::Unavailable {
            location: location.to_owned(),
            reason: UnavailableReason::Platform,
            source: Some(crate::PlatformError("the keyring call panicked".to_owned())),
        }),
    }
}
