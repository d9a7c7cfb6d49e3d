//! The OS keyring provider: one small item per key, so one per store.
//!
//! Each key lives in its own item, `<name>.<key id>` (the key id in lower-case
//! hex, as the sealed file's header names it), holding a 59-byte record
//! (`keyseal-key-v1:` + base64 of the key), far below Windows' 2,560-byte
//! limit. Two stores under one service never share an item, and a new item's
//! name is new by construction, so creating a key never overwrites one.
//! Items of the earlier layout (`<name>` and, during a rotation,
//! `<name>.next`) are still read when they hold the key a file names, and
//! never deleted: stores of that layout shared them.
//!
//! Every call runs on a helper thread and is abandoned after the configured
//! timeout, because Secret Service activation is known to hang for minutes;
//! the caller gets [`UnavailableReason::TimedOut`] instead, and a creation
//! that lands after it gave up is deleted again by its own thread.

#[cfg(target_os = "linux")]
mod go_keyring;
mod items;
#[cfg(target_os = "linux")]
mod kernel;
mod platform;
#[cfg(target_os = "linux")]
mod secret_service;
mod session;

pub use session::SessionAlgorithm;

pub use items::KeyringItems;

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use keyseal_seal::{Key, KeyId};

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
    /// A keyring-core credential store the application gives
    /// ([`KeyringProviderBuilder::keyring_core_store`]): any of keyring-core's
    /// store crates, on any platform, used explicitly (never keyring-core's
    /// default store). One credential per key: service and user
    /// `<name>.<key id>`, the secret keyseal's key record.
    KeyringCore,
}

/// The concrete keyring a call goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Concrete {
    SecretService,
    Kernel,
    Macos,
    Windows,
    Core,
}

impl Concrete {
    fn kind(self) -> ProviderKind {
        match self {
            Self::SecretService => ProviderKind::SecretService,
            Self::Kernel => ProviderKind::KernelKeyring,
            Self::Macos => ProviderKind::MacosKeychain,
            Self::Windows => ProviderKind::WindowsCredentialManager,
            Self::Core => ProviderKind::KeyringCore,
        }
    }

    /// How long a key lasts here; a given keyring-core store says so itself.
    fn lifetime(self, stores: &platform::Stores) -> KeyLifetime {
        match self {
            Self::Kernel => KeyLifetime::UntilReboot,
            Self::SecretService | Self::Macos | Self::Windows => KeyLifetime::UntilDeleted,
            Self::Core => {
                use keyring_core::CredentialPersistence as P;
                match stores.given_persistence() {
                    Some(P::UntilDelete) => KeyLifetime::UntilDeleted,
                    Some(P::UntilReboot) => KeyLifetime::UntilReboot,
                    Some(P::ProcessOnly | P::EntryOnly) => KeyLifetime::Process,
                    _ => KeyLifetime::Unknown,
                }
            }
        }
    }
}

/// The item a call reads and writes.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub(crate) service: String,
    pub(crate) name: String,
    pub(crate) label: String,
    /// How the item is laid out (keyseal's own items: [`ItemLayout::Keyring`]).
    pub(crate) layout: ItemLayout,
}

/// How another application laid out its keyring items (what
/// [`KeyringItems`] reads, lists and deletes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ItemLayout {
    /// keyring-core's and the `keyring` crate's layout (also Python's
    /// `keyring`): on the Secret Service, items of the default collection
    /// with attributes `service` and `username`, the bytes as they are; on
    /// macOS a generic password (service, account); on Windows a generic
    /// credential `<name>.<service>`.
    #[default]
    Keyring,
    /// The layout of the Go library `github.com/99designs/keyring` (which
    /// docker-agent uses). On the Secret Service: a collection of its own,
    /// labelled after the service (its object path ends in the service's
    /// name, escaped), each item labelled with its key and carrying the
    /// attribute `profile` = key, its secret the JSON of the library's
    /// `Item` (`Key`, `Data` in standard base64, `Label`, …), unwrapped here
    /// to `Data`'s bytes. On macOS a generic password (service, account =
    /// key), raw bytes; on Windows a generic credential
    /// `keyring:<service>:<key>`, raw bytes.
    GoKeyring,
}

impl Item {
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

/// How a provider names its items: `<name>.<key id>` per key, and the two
/// items of the earlier one-item-per-service layout.
#[derive(Clone, Debug)]
struct Naming {
    service: String,
    name: String,
    label: String,
}

impl Naming {
    fn item(&self, name: String) -> Item {
        Item {
            layout: ItemLayout::Keyring,
            service: self.service.clone(),
            name,
            label: self.label.clone(),
        }
    }

    /// The item that holds the key `id`.
    fn for_key(&self, id: &KeyId) -> Item {
        self.item(format!("{}.{id}", self.name))
    }

    /// The items of the earlier layout, in the order they are looked at:
    /// the one current key of every store of the service, and the key a
    /// rotation had staged beside it.
    fn legacy(&self) -> [Item; 2] {
        [
            self.item(self.name.clone()),
            self.item(format!("{}.next", self.name)),
        ]
    }

    fn pattern(&self) -> String {
        format!("{}.<key id>", self.name)
    }
}

/// Builds a [`KeyringProvider`].
#[derive(Debug, Clone)]
pub struct KeyringProviderBuilder {
    naming: Naming,
    backend: Backend,
    timeout: Duration,
    session: SessionAlgorithm,
    core_store: Option<Arc<keyring_core::CredentialStore>>,
}

impl KeyringProviderBuilder {
    /// Chooses the keyring (default [`Backend::Auto`]).
    #[must_use]
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Keeps the keys in `store`, a keyring-core credential store (for
    /// example `zbus_secret_service_keyring_store::Store::new()?` or
    /// `db_keystore`), used explicitly: the backend becomes
    /// [`Backend::KeyringCore`], and keyring-core's default store is never
    /// consulted (so a keyseal store installed as that default never
    /// recurses into itself).
    #[must_use]
    pub fn keyring_core_store(mut self, store: Arc<keyring_core::CredentialStore>) -> Self {
        self.backend = Backend::KeyringCore;
        self.core_store = Some(store);
        self
    }

    /// Bounds every keyring call (default [`DEFAULT_TIMEOUT`], 5 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How secrets cross the session bus from the Secret Service (Linux
    /// only; default [`SessionAlgorithm::DiffieHellman`], see
    /// `docs/THREAT-MODEL.md`, "The Secret Service session"). What is stored
    /// and where does not change.
    #[must_use]
    pub fn secret_service_session(mut self, algorithm: SessionAlgorithm) -> Self {
        self.session = algorithm;
        self
    }

    /// Sets the label people see in keyring managers (Secret Service only;
    /// default `keyseal key for <service>`).
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.naming.label = label.into();
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
            Backend::KeyringCore => Some(Concrete::Core),
        };
        KeyringProvider {
            inner: Arc::new(Inner {
                naming: self.naming,
                backend: self.backend,
                timeout: self.timeout,
                chosen: Mutex::new(chosen),
                stores: platform::Stores::new(self.session, self.core_store),
            }),
        }
    }
}

/// Keys in the OS keyring: one item per key, named by a service and an item
/// name the application chooses, followed by the key's id
/// (`store-key.0123…cdef`).
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
    naming: Naming,
    backend: Backend,
    timeout: Duration,
    /// `None` until [`Backend::Auto`] on Linux has seen its first answer.
    chosen: Mutex<Option<Concrete>>,
    stores: platform::Stores,
}

#[derive(Clone, Debug)]
pub(crate) enum Op {
    Load,
    /// Store this key in the item, which must not exist yet.
    Create(Arc<Key>),
    Delete,
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

impl KeyringProvider {
    /// Starts a builder for the items `name.<key id>` of `service`.
    pub fn builder(service: impl Into<String>, name: impl Into<String>) -> KeyringProviderBuilder {
        let service = service.into();
        KeyringProviderBuilder {
            naming: Naming {
                label: format!("keyseal key for {service}"),
                service,
                name: name.into(),
            },
            backend: Backend::Auto,
            timeout: DEFAULT_TIMEOUT,
            session: SessionAlgorithm::default(),
            core_store: None,
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

    /// Runs `task` on the chosen keyring. On Linux "auto", before the first
    /// answer: the Secret Service first, and the kernel keyring where the
    /// key may also be:
    ///
    /// - the Secret Service does not answer (no service, a timeout): a key
    ///   found in (or, for a new key, stored in) the kernel keyring chooses
    ///   it; anything else is the Secret Service's unavailability, because
    ///   the key may well be in the Secret Service that did not answer;
    /// - the Secret Service answers that it does not have the key: a key made
    ///   while it did not answer lives in the kernel keyring, so that is
    ///   asked too before the key is reported missing.
    fn run(&self, task: Task) -> Result<Outcome> {
        if let Some(concrete) = self.chosen() {
            return self.run_on(concrete, task);
        }
        let first = self.run_on(Concrete::SecretService, task.clone());
        match &first {
            Err(Error::Unavailable {
                reason: UnavailableReason::NoService | UnavailableReason::TimedOut(_),
                ..
            }) => match self.run_on(Concrete::Kernel, task) {
                Ok(outcome) => {
                    self.choose(Concrete::Kernel);
                    Ok(outcome)
                }
                Err(_) => first,
            },
            Err(Error::NotFound { .. }) if !matches!(task, Task::Create) => {
                match self.run_on(Concrete::Kernel, task) {
                    Ok(outcome) => {
                        self.choose(Concrete::Kernel);
                        Ok(outcome)
                    }
                    Err(_) => {
                        self.choose(Concrete::SecretService);
                        first
                    }
                }
            }
            _ => {
                self.choose(Concrete::SecretService);
                first
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

    fn run_on(&self, concrete: Concrete, task: Task) -> Result<Outcome> {
        let inner = Arc::clone(&self.inner);
        let location = inner.location_of(&task, concrete);
        let undo_inner = Arc::clone(&self.inner);
        let creates = matches!(task, Task::Create);
        with_timeout_undo(
            self.inner.timeout,
            &location,
            move || inner.run_task(concrete, &task),
            // A creation that lands after the caller gave up: no file will
            // ever name it, so take it back.
            move |late: Outcome| {
                if let (true, Outcome::Key(key)) = (creates, late) {
                    let item = undo_inner.naming.for_key(&key.id());
                    let _ = platform::call(&undo_inner.stores, concrete, &item, &Op::Delete);
                }
            },
        )
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

/// One provider operation, as the helper thread runs it.
#[derive(Clone, Debug)]
enum Task {
    Load(KeyId),
    Create,
    Delete(KeyId),
}

impl Inner {
    fn location_of(&self, task: &Task, concrete: Concrete) -> String {
        match task {
            Task::Load(id) | Task::Delete(id) => self.naming.for_key(id).location(concrete),
            Task::Create => self.naming.item(self.naming.pattern()).location(concrete),
        }
    }

    /// Runs `task` on one keyring, on the helper thread.
    fn run_task(&self, concrete: Concrete, task: &Task) -> Result<Outcome> {
        let call = |item: &Item, op: &Op| platform::call(&self.stores, concrete, item, op);
        match task {
            Task::Create => {
                let key = Key::generate()?;
                let item = self.naming.for_key(&key.id());
                call(&item, &Op::Create(Arc::new(key.duplicate())))?;
                Ok(Outcome::Key(key))
            }
            Task::Load(id) => {
                let item = self.naming.for_key(id);
                match call(&item, &Op::Load) {
                    Err(Error::NotFound { .. }) => {}
                    other => return other,
                }
                // The earlier layout: the item that holds the key the file
                // names, if one does. Any other key there is not this
                // store's: the key is missing.
                for legacy in self.naming.legacy() {
                    match call(&legacy, &Op::Load) {
                        Ok(Outcome::Key(key)) if key.id() == *id => return Ok(Outcome::Key(key)),
                        Ok(_) | Err(Error::NotFound { .. } | Error::Malformed { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
                Err(Error::NotFound {
                    location: item.location(concrete),
                })
            }
            // Only the key's own item. An item of the earlier layout is
            // never deleted: stores of that layout under one service shared
            // it (the second store reused the first one's key), so another
            // store may still need it.
            Task::Delete(id) => call(&self.naming.for_key(id), &Op::Delete),
        }
    }
}

impl KeyProvider for KeyringProvider {
    fn info(&self) -> ProviderInfo {
        let naming = &self.inner.naming;
        let pattern = naming.item(naming.pattern());
        match self.chosen() {
            Some(concrete) => ProviderInfo::new(
                concrete.kind(),
                concrete.lifetime(&self.inner.stores),
                pattern.location(concrete),
            ),
            None => ProviderInfo::new(
                ProviderKind::Undecided,
                KeyLifetime::Unknown,
                format!(
                    "{}, else {}",
                    pattern.location(Concrete::SecretService),
                    pattern.location(Concrete::Kernel)
                ),
            ),
        }
    }

    /// Reads the item `<name>.<id>`; for a store of the earlier layout, the
    /// item `<name>` (or `<name>.next`) when it holds that very key.
    fn load(&self, id: &KeyId) -> Result<Key> {
        self.run(Task::Load(*id)).and_then(|o| self.key_from(o))
    }

    /// Creates the item `<name>.<id of a new key>`, which no other key can
    /// be named.
    fn create(&self) -> Result<Key> {
        self.run(Task::Create).and_then(|o| self.key_from(o))
    }

    /// Deletes the item `<name>.<id>`, and nothing else: an item of the
    /// earlier layout holding this key is left in place (`NotFound`), since
    /// stores of that layout under one service shared their key.
    fn delete(&self, id: &KeyId) -> Result<()> {
        self.run(Task::Delete(*id)).map(drop)
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
    with_timeout_undo(timeout, location, f, drop)
}

/// [`with_timeout`], and `undo` runs on the helper thread with a success
/// that arrives after the caller gave up, so a late write can be taken back.
///
/// The caller and the thread decide who owns the result under one mutex, so
/// a result is either returned to the caller or handed to `undo`, never
/// neither.
pub(crate) fn with_timeout_undo<T: Send + 'static>(
    timeout: Duration,
    location: &str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
    undo: impl FnOnce(T) + Send + 'static,
) -> Result<T> {
    let (tx, rx) = mpsc::sync_channel(1);
    let abandoned = Arc::new(Mutex::new(false));
    let thread_abandoned = Arc::clone(&abandoned);
    let spawned = thread::Builder::new()
        .name("keyseal-keyring".to_owned())
        .spawn(move || {
            let result = f();
            let gave_up = thread_abandoned
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if *gave_up {
                drop(gave_up);
                if let Ok(late) = result {
                    undo(late);
                }
            } else {
                let _ = tx.send(result);
            }
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
        Err(RecvTimeoutError::Timeout) => {
            let mut gave_up = abandoned.lock().unwrap_or_else(PoisonError::into_inner);
            // The thread may have sent just after the wait ended.
            if let Ok(result) = rx.try_recv() {
                return result;
            }
            *gave_up = true;
            Err(Error::Unavailable {
                location: location.to_owned(),
                reason: UnavailableReason::TimedOut(timeout),
                source: None,
            })
        }
        Err(RecvTimeoutError::Disconnected) => Err(Error::Unavailable {
            location: location.to_owned(),
            reason: UnavailableReason::Platform,
            source: Some(crate::PlatformError("the keyring call panicked".to_owned())),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn a_result_that_arrives_after_the_timeout_is_handed_to_undo() {
        let undone = Arc::new(AtomicBool::new(false));
        let seen = Arc::clone(&undone);
        let (done_tx, done_rx) = mpsc::channel();
        let result = with_timeout_undo(
            Duration::from_millis(20),
            "here",
            || {
                thread::sleep(Duration::from_millis(200));
                Ok(7)
            },
            move |late: i32| {
                seen.store(late == 7, Ordering::SeqCst);
                let _ = done_tx.send(());
            },
        );
        assert!(matches!(
            result,
            Err(Error::Unavailable {
                reason: UnavailableReason::TimedOut(_),
                ..
            })
        ));
        done_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the late result reaches undo");
        assert!(undone.load(Ordering::SeqCst));
    }

    #[test]
    fn a_result_in_time_is_returned_and_never_undone() {
        let undone = Arc::new(AtomicBool::new(false));
        let seen = Arc::clone(&undone);
        let result = with_timeout_undo(
            Duration::from_secs(10),
            "here",
            || Ok(7),
            move |_: i32| seen.store(true, Ordering::SeqCst),
        );
        assert_eq!(result.ok(), Some(7));
        thread::sleep(Duration::from_millis(50));
        assert!(!undone.load(Ordering::SeqCst));
    }
}
