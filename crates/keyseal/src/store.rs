//! The sealed store: composition, policies and the cache.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use keyseal_blob::{BlobStore, Snapshot, Version};
use keyseal_keys::{KeyProvider, ProviderInfo};
use keyseal_seal::{
    Algorithm, Entries, Entry, Envelope, ExposeSecret, Key, KeyId, SealedFile, SecretSlice,
    StanzaKind, Unlock,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::{Error, Result};

mod keys;
mod lifecycle;
mod lineage;
mod rollback;
mod write;

pub use lifecycle::Rotation;
use lineage::Lineage;
pub use lineage::RollbackMarks;

/// The longest entry name, in bytes.
pub const MAX_NAME_LEN: usize = 4096;

/// What to do when the sealed file exists but cannot be used (not a keyseal
/// file, tampered, corrupt, wrong key, key missing, unreadable).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnUnreadable {
    /// Fail with the typed error and leave the file untouched (the default).
    #[default]
    Fail,
    /// Move the file aside (`<name>.<reason>-<UTC time>`, never deleted),
    /// start a new store, and report it in [`Status::quarantined`]. A file
    /// written by a newer keyseal is never quarantined.
    Quarantine,
}

/// What to do when the key provider is unavailable (no keyring service,
/// locked, denied, timed out).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnKeyringUnavailable {
    /// Fail with [`Error::KeyringUnavailable`] (the default).
    #[default]
    Fail,
    /// Keep entries in process memory only, persist nothing, and say so in
    /// [`Status::degraded`]. Never plaintext on disk.
    ///
    /// An existing file is left untouched and is not read: reads then see
    /// only what this process wrote, and [`Status::exists`] and
    /// [`Status::problem`] say the file is there and why it is not in use.
    MemoryOnly,
}

/// A file moved aside by the [`OnUnreadable::Quarantine`] policy.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Quarantined {
    /// Where the file went.
    pub location: String,
    /// Why it was moved.
    pub reason: String,
}

/// An entry's name and metadata (never its value).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntryInfo {
    /// The entry's name.
    pub name: String,
    /// When it was last set.
    pub updated: SystemTime,
    /// The size of its stored value, in bytes.
    pub size: usize,
}

/// What a store is and how it is doing, for `doctor` screens and logs.
/// Never contains a secret.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Status {
    /// The sealed file.
    pub location: String,
    /// The key provider: kind, where the key lives, how long it survives.
    pub provider: ProviderInfo,
    /// Whether the sealed file exists.
    pub exists: bool,
    /// The file's format version.
    pub format_version: Option<u16>,
    /// The file's AEAD.
    pub algorithm: Option<Algorithm>,
    /// The id of the key that seals the file (primary stanza).
    pub key_id: Option<KeyId>,
    /// The id of the recovery key, when the file has one.
    pub recovery_key_id: Option<KeyId>,
    /// The file's generation counter.
    pub generation: Option<u64>,
    /// The number of entries (needs the key).
    pub entries: Option<usize>,
    /// Set when the store runs in memory only, with the reason.
    pub degraded: Option<String>,
    /// Files this process moved aside.
    pub quarantined: Vec<Quarantined>,
    /// Why some field could not be filled, in plain words.
    pub problem: Option<String>,
}

/// Every entry of the store, inside one [`Store::transaction`].
pub struct Transaction<'a> {
    entries: &'a mut Entries,
    changed: bool,
    now: u64,
}

impl core::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Transaction")
            .field("entries", &self.entries.len())
            .field("changed", &self.changed)
            .finish()
    }
}

impl Transaction<'_> {
    /// Whether the entry exists.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains(name)
    }

    /// The entry's raw bytes.
    pub fn get_bytes(&self, name: &str) -> Option<&[u8]> {
        // Every value was opened and verified before the transaction began.
        self.entries.get(name).and_then(|e| e.value.known_plain())
    }

    /// The entry names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.names()
    }

    /// Sets the entry's raw bytes.
    ///
    /// # Errors
    /// [`Error::InvalidName`] (see [`validate_name`]).
    pub fn set_bytes(&mut self, name: &str, value: &[u8]) -> Result<()> {
        validate_name(name)?;
        self.entries
            .insert(name.to_owned(), Entry::new(value, self.now));
        self.changed = true;
        Ok(())
    }

    /// Removes the entry; returns whether it existed.
    pub fn remove(&mut self, name: &str) -> bool {
        let removed = self.entries.remove(name).is_some();
        self.changed |= removed;
        removed
    }
}

/// The decrypted state of one version of the file.
struct Loaded {
    version: Version,
    /// Which bytes this was opened from: the write path compares it with
    /// what it reads under the lock, so it never writes over a change that a
    /// coincidentally equal version hid.
    sealed: Fingerprint,
    /// The file's format version (a write makes the newest, or version 2
    /// while a symmetric recovery stanza is kept).
    format_version: u16,
    generation: u64,
    envelope: Arc<Envelope>,
    entries: Arc<Entries>,
}

struct Degraded {
    reason: String,
    entries: Entries,
}

impl Degraded {
    /// Applies `change` to a copy of the in-memory entries and keeps the
    /// copy only when the change says it changed something, as a write to
    /// the file would.
    fn apply<R>(&mut self, change: &mut dyn FnMut(&mut Entries) -> Change<R>) -> R {
        let mut copy = self.entries.clone();
        match change(&mut copy) {
            Change::Changed(r) => {
                self.entries = copy;
                r
            }
            Change::Unchanged(r) => r,
        }
    }
}

#[derive(Default)]
struct State {
    cache: Option<Arc<Loaded>>,
    /// The newest version seen, for rollback detection.
    lineage: Lineage,
    /// Whether the rollback mark (if any) has been read into `lineage`.
    mark_loaded: bool,
    degraded: Option<Degraded>,
    quarantined: Vec<Quarantined>,
}

struct Inner {
    provider: Arc<dyn KeyProvider>,
    blob: Arc<dyn BlobStore>,
    context: String,
    algorithm: Algorithm,
    on_unreadable: OnUnreadable,
    on_unavailable: OnKeyringUnavailable,
    marks: Option<RollbackMarks>,
    /// What the store's rollback mark is named by: its location with the
    /// directory's path made canonical, found at the first use.
    mark_name: std::sync::OnceLock<String>,
    /// The key-encryption key, loaded or created at most once per process
    /// (again only if another process rotated it). The mutex is held during
    /// the provider call so concurrent first uses make one call.
    kek: Mutex<Option<Arc<Key>>>,
    /// A key made for a new file whose write has not yet succeeded: taken
    /// back if the write fails (see [`Store::settle_new_file`]).
    fresh: Mutex<Option<KeyId>>,
    state: Mutex<State>,
}

/// The sealed store. Cheap to clone (clones share the cache and the key);
/// `Send + Sync`.
///
/// See the crate docs for an example and `docs/DESIGN.md` for how one `set`
/// reaches the disk.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl core::fmt::Debug for Store {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.inner.blob.location())
            .field("provider", &self.inner.provider)
            .field("context", &self.inner.context)
            .field("algorithm", &self.inner.algorithm)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Store`] from its parts.
#[derive(Debug)]
pub struct StoreBuilder {
    provider: Arc<dyn KeyProvider>,
    blob: Arc<dyn BlobStore>,
    context: String,
    algorithm: Algorithm,
    on_unreadable: OnUnreadable,
    on_unavailable: OnKeyringUnavailable,
    marks: Option<RollbackMarks>,
}

impl StoreBuilder {
    /// Keeps the store's rollback mark in `marks` too, so that a new process
    /// notices an old copy put back (default: none, and only this process
    /// notices; [`Store::new`] uses [`RollbackMarks::in_state_dir`]).
    #[must_use]
    pub fn rollback_marks(mut self, marks: Option<RollbackMarks>) -> Self {
        self.marks = marks;
        self
    }

    /// The AEAD for new files (default AES-256-GCM). Existing files are read
    /// with whatever algorithm their header names.
    #[must_use]
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The policy for a file that cannot be used (default: fail).
    #[must_use]
    pub fn on_unreadable(mut self, policy: OnUnreadable) -> Self {
        self.on_unreadable = policy;
        self
    }

    /// The policy for an unavailable key provider (default: fail).
    #[must_use]
    pub fn on_keyring_unavailable(mut self, policy: OnKeyringUnavailable) -> Self {
        self.on_unavailable = policy;
        self
    }

    /// Builds the store. No I/O happens until the first operation.
    pub fn build(self) -> Store {
        Store {
            inner: Arc::new(Inner {
                provider: self.provider,
                blob: self.blob,
                context: self.context,
                algorithm: self.algorithm,
                on_unreadable: self.on_unreadable,
                on_unavailable: self.on_unavailable,
                marks: self.marks,
                mark_name: std::sync::OnceLock::new(),
                kek: Mutex::new(None),
                fresh: Mutex::new(None),
                state: Mutex::new(State::default()),
            }),
        }
    }
}

/// How a version reached the store, for its lineage.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Read; the rollback mark may be raised.
    Read,
    /// Read by an operation that only looks: nothing is written anywhere.
    Looked,
    /// Written by this store.
    Written,
}

/// What a mutation did to the entries.
enum Change<R> {
    Unchanged(R),
    Changed(R),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether `name` can be looked up: not empty, at most [`MAX_NAME_LEN`]
/// bytes.
fn check_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::InvalidName {
            reason: "it is empty",
        });
    }
    if name.len() > MAX_NAME_LEN {
        return Err(Error::InvalidName {
            reason: "it is longer than 4096 bytes",
        });
    }
    Ok(())
}

/// Whether `name` can be written: not empty, at most [`MAX_NAME_LEN`]
/// bytes, and no control character (so that no listing can be made to move
/// a terminal's cursor or hide another name). Entries written before this rule still read.
///
/// # Errors
/// [`Error::InvalidName`] saying what is wrong (never the name).
pub fn validate_name(name: &str) -> Result<()> {
    check_name(name)?;
    if name.chars().any(char::is_control) {
        return Err(Error::InvalidName {
            reason: "it contains a control character",
        });
    }
    Ok(())
}

/// Serializes `value` as JSON into an exactly sized, zeroizing buffer.
pub(crate) fn to_json<T: Serialize + ?Sized>(name: &str, value: &T) -> Result<Zeroizing<Vec<u8>>> {
    json_bytes(value).map_err(|e| Error::value(name, "encoded", &e))
}

/// Serializes `value` as compact JSON into a buffer of exactly its size that
/// is zeroized on drop: the text is measured first, so the buffer never
/// grows and no freed copy of a secret is left behind (`serde_json::to_vec`
/// reallocates as it goes).
///
/// # Errors
/// `serde_json`'s error when `value` cannot be serialized (its message can
/// quote the value: show its category only).
pub fn json_bytes<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Zeroizing<Vec<u8>>> {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value)?;
    let mut out = Zeroizing::new(Vec::with_capacity(count.0));
    serde_json::to_writer(&mut *out, value)?;
    Ok(out)
}

impl Store {
    /// The common case: the key in the OS keyring (Linux: Secret Service if
    /// it answers, else the kernel keyring; macOS keychain; Windows
    /// Credential Manager) under `service`, in the item `store-key.<key id>`,
    /// the sealed file at `path`, `service` as the context string, and
    /// rollback marks in the user's state directory
    /// ([`RollbackMarks::in_state_dir`]).
    ///
    /// On Linux without a Secret Service (a headless server, a container, an
    /// ssh session without a desktop) a new store's key goes to the kernel
    /// keyring, which forgets it at reboot: the store then opens only with a
    /// recovery key ([`Store::enable_recovery`], kept off the machine). A
    /// headless service should rather be given its key from outside (an
    /// environment variable from the service manager's credentials or a
    /// mounted secret: [`EnvKeyProvider`](keyseal_keys::EnvKeyProvider) with
    /// [`Store::builder`]).
    ///
    /// Nothing is touched until the first operation. See
    /// [`default_path`](crate::default_path) for a per-application path.
    #[cfg(feature = "keyring")]
    #[cfg_attr(docsrs, doc(cfg(feature = "keyring")))]
    pub fn new(service: &str, path: impl Into<std::path::PathBuf>) -> Self {
        let provider = keyseal_keys::KeyringProvider::builder(service, "store-key").build();
        Self::builder(provider, keyseal_blob::FileStore::new(path), service)
            .rollback_marks(RollbackMarks::in_state_dir())
            .build()
    }

    /// A builder from a key provider, a blob store and the store's context
    /// string (for example `com.example.app/mcp-oauth`; a file sealed under
    /// one context does not open under another).
    pub fn builder(
        provider: impl KeyProvider + 'static,
        blob: impl BlobStore + 'static,
        context: impl Into<String>,
    ) -> StoreBuilder {
        StoreBuilder {
            provider: Arc::new(provider),
            blob: Arc::new(blob),
            context: context.into(),
            algorithm: Algorithm::default(),
            on_unreadable: OnUnreadable::default(),
            on_unavailable: OnKeyringUnavailable::default(),
            marks: None,
        }
    }

    /// Where the sealed file is.
    pub fn location(&self) -> String {
        self.inner.blob.location()
    }

    // ----- typed API -----

    /// Reads the entry `name` as a `T` (stored as JSON).
    ///
    /// # Errors
    /// [`Error::Value`] when the stored value is not a `T`; any error of
    /// [`get_bytes`](Self::get_bytes).
    pub fn get<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        let Some(bytes) = self.get_bytes(name)? else {
            return Ok(None);
        };
        serde_json::from_slice(bytes.expose_secret())
            .map(Some)
            .map_err(|e| Error::value(name, "decoded", &e))
    }

    /// Stores `value` (as JSON) under `name`.
    ///
    /// # Errors
    /// [`Error::Value`] when `value` cannot be serialized; any error of
    /// [`set_bytes`](Self::set_bytes).
    pub fn set<T: Serialize + ?Sized>(&self, name: &str, value: &T) -> Result<()> {
        validate_name(name)?;
        let json = to_json(name, value)?;
        self.set_bytes(name, &json)
    }

    // ----- raw API -----

    /// Reads the raw bytes of entry `name`, or `None`.
    ///
    /// On a store whose file does not exist this returns `None` without
    /// touching the key provider.
    ///
    /// # Errors
    /// [`Error::KeyMissing`], [`Error::WrongKey`], [`Error::NotAStore`],
    /// [`Error::Tampered`], [`Error::Corrupt`], [`Error::UnsupportedVersion`],
    /// [`Error::Rollback`], [`Error::KeyringUnavailable`], [`Error::Key`],
    /// [`Error::Storage`], [`Error::InvalidName`].
    pub fn get_bytes(&self, name: &str) -> Result<Option<SecretSlice<u8>>> {
        check_name(name)?;
        let context = &self.inner.context;
        self.read_op(|entries, envelope| {
            let Some(entry) = entries.and_then(|b| b.get(name)) else {
                return Ok(None);
            };
            let plain = match (entry.value.known_plain(), envelope) {
                (Some(plain), _) => plain,
                // Opened here, the first time it is read: a version-2 file
                // decrypts only the entries that are asked for.
                (None, Some(envelope)) => entry
                    .value
                    .open(envelope, context, name)
                    .map_err(|e| Error::from_seal(&self.inner.blob.location(), e))?,
                (None, None) => {
                    return Err(Error::Internal {
                        reason: "a sealed value without its envelope",
                    });
                }
            };
            Ok(Some(SecretSlice::from(Box::<[u8]>::from(plain))))
        })
    }

    /// Stores `value` under `name`, creating the store (and its key) on the
    /// first write.
    ///
    /// The write reloads the file under the lock, changes this one entry,
    /// and writes the result back, so concurrent writers of other entries
    /// lose nothing.
    ///
    /// # Errors
    /// As [`get_bytes`](Self::get_bytes), and [`Error::LockTimeout`],
    /// [`Error::Seal`]; [`Error::InvalidName`] for a name
    /// [`validate_name`] refuses.
    pub fn set_bytes(&self, name: &str, value: &[u8]) -> Result<()> {
        validate_name(name)?;
        let updated = now_secs();
        self.write_op(&mut |entries: &mut Entries| {
            entries.insert(name.to_owned(), Entry::new(value, updated));
            Change::Changed(())
        })
    }

    /// Removes `name`; returns whether it existed. A store with no file stays
    /// without one, and the key provider is not touched.
    ///
    /// # Errors
    /// As [`set_bytes`](Self::set_bytes).
    pub fn remove(&self, name: &str) -> Result<bool> {
        check_name(name)?;
        let degraded = lock(&self.inner.state).degraded.is_some();
        if !degraded && self.inner.blob.version()?.is_none() {
            // No file: nothing to remove, and no reason to take the lock.
            return Ok(false);
        }
        self.write_op(&mut |entries: &mut Entries| match entries.remove(name) {
            Some(_) => Change::Changed(true),
            None => Change::Unchanged(false),
        })
    }

    /// Runs `f` on every entry as one locked read-modify-write: `f` sees the
    /// file as it is now, and whatever it changes is written back as one new
    /// version (or nothing, when it changes nothing: then a store with no file
    /// stays without one and no key is created).
    ///
    /// When `f` returns `Err`, nothing is written, whatever it changed before
    /// failing, and its error reaches the caller unchanged. The store's own
    /// errors reach the caller through `E: From<Error>`:
    ///
    /// ```
    /// # use keyseal::{Store, keys::MemoryKeyProvider, blob::MemoryBlobStore};
    /// # let store = Store::builder(MemoryKeyProvider::new(), MemoryBlobStore::new(), "doc").build();
    /// let copied = store.transaction(|tx| -> keyseal::Result<bool> {
    ///     let Some(old) = tx.get_bytes("a").map(<[u8]>::to_vec) else {
    ///         return Ok(false);
    ///     };
    ///     tx.set_bytes("b", &old)?;
    ///     Ok(true)
    /// })?;
    /// # assert!(!copied);
    /// # Ok::<(), keyseal::Error>(())
    /// ```
    ///
    /// `f` may run more than once (after a quarantine policy moved an
    /// unusable file aside), so it should not have side effects it cannot
    /// repeat. It runs under the store's lock: it must not call this store
    /// (use the [`Transaction`] it is given instead).
    ///
    /// # Errors
    /// `f`'s error; as [`set_bytes`](Self::set_bytes), converted into `E`.
    pub fn transaction<R, E: From<Error>>(
        &self,
        mut f: impl FnMut(&mut Transaction<'_>) -> core::result::Result<R, E>,
    ) -> core::result::Result<R, E> {
        let now = now_secs();
        let mut failed: Option<E> = None;
        let done = self.write_op(&mut |entries: &mut Entries| {
            let mut tx = Transaction {
                entries,
                changed: false,
                now,
            };
            match f(&mut tx) {
                Ok(r) if tx.changed => Change::Changed(Some(r)),
                Ok(r) => Change::Unchanged(Some(r)),
                Err(e) => {
                    failed = Some(e);
                    Change::Unchanged(None)
                }
            }
        })?;
        match (done, failed) {
            (Some(r), _) => Ok(r),
            (None, Some(e)) => Err(e),
            (None, None) => Err(E::from(Error::Internal {
                reason: "a transaction ended with neither a result nor an error",
            })),
        }
    }

    /// Whether the entry `name` exists, reading only the index: no value of a
    /// version-2 file is decrypted (a version-1 file is opened whole). A store with no file has none, and the key provider is
    /// not touched. Like [`status`](Self::status), it only looks: no policy
    /// acts on an error (nothing is quarantined, nothing switches to memory)
    /// and no rollback mark is written, so a dry run can use it.
    ///
    /// # Errors
    /// As [`get_bytes`](Self::get_bytes).
    pub fn contains(&self, name: &str) -> Result<bool> {
        check_name(name)?;
        if let Some(found) = self.in_degraded(|d| Ok(d.entries.contains(name))) {
            return found;
        }
        Ok(self
            .current_with(false)?
            .is_some_and(|loaded| loaded.entries.contains(name)))
    }

    /// Why the store keeps entries in memory only
    /// ([`OnKeyringUnavailable::MemoryOnly`] took effect), or `None` while
    /// it persists to its file. Touches nothing.
    pub fn degraded(&self) -> Option<String> {
        lock(&self.inner.state)
            .degraded
            .as_ref()
            .map(|d| d.reason.clone())
    }

    /// Drops the cached copy of the file and reads it again from disk, so the
    /// next answers come from what is durably stored (migration verifies its
    /// writes this way).
    ///
    /// # Errors
    /// As [`get_bytes`](Self::get_bytes).
    pub fn reload(&self) -> Result<()> {
        lock(&self.inner.state).cache = None;
        self.read_op(|_, _| Ok(()))
    }

    /// The entry names, sorted. A store with no file has none, and the key
    /// provider is not touched.
    ///
    /// # Errors
    /// As [`get_bytes`](Self::get_bytes).
    pub fn list(&self) -> Result<Vec<String>> {
        self.read_op(|entries, envelope| {
            Ok(self
                .verified(entries, envelope)?
                .map(|b| b.names().map(str::to_owned).collect())
                .unwrap_or_default())
        })
    }

    /// The entries' names and metadata, sorted by name.
    ///
    /// # Errors
    /// As [`get_bytes`](Self::get_bytes).
    pub fn entries(&self) -> Result<Vec<EntryInfo>> {
        self.read_op(|entries, envelope| {
            Ok(self
                .verified(entries, envelope)?
                .map(|b| {
                    b.iter()
                        .map(|(name, e)| EntryInfo {
                            name: name.to_owned(),
                            updated: UNIX_EPOCH + std::time::Duration::from_secs(e.updated),
                            size: e.value.len(),
                        })
                        .collect()
                })
                .unwrap_or_default())
        })
    }

    /// What the store is and how it is doing. Never fails: what cannot be
    /// found out is left `None` and explained in [`Status::problem`]. It
    /// loads the key (the process's one load) to count the entries.
    pub fn status(&self) -> Status {
        let inner = &self.inner;
        let mut status = Status {
            location: inner.blob.location(),
            provider: inner.provider.info(),
            exists: false,
            format_version: None,
            algorithm: None,
            key_id: None,
            recovery_key_id: None,
            generation: None,
            entries: None,
            degraded: None,
            quarantined: lock(&inner.state).quarantined.clone(),
            problem: None,
        };
        let degraded = lock(&inner.state)
            .degraded
            .as_ref()
            .map(|d| (d.reason.clone(), d.entries.len()));
        if let Some((reason, entries)) = degraded {
            status.entries = Some(entries);
            // The file is still there, untouched: say so, and why it is
            // not in use, so an application does not take it for gone.
            match inner.blob.version() {
                Ok(Some(_)) => {
                    status.exists = true;
                    status.problem = Some(format!(
                        "{} exists but is not in use: {reason}; reads see only what this process wrote",
                        inner.blob.location()
                    ));
                }
                Ok(None) => {}
                Err(e) => status.problem = Some(Error::from(e).to_string()),
            }
            status.degraded = Some(reason);
            return status;
        }
        // One read of the file: straight to it, not through the policies,
        // since looking at a store must not quarantine it, switch it to
        // memory, or write its rollback mark.
        match self.current_with(false) {
            Ok(None) => status.entries = Some(0),
            Ok(Some(loaded)) => {
                status.exists = true;
                status.format_version = Some(loaded.format_version);
                status.algorithm = Some(loaded.envelope.algorithm());
                status.key_id = loaded.envelope.key_id(StanzaKind::Primary);
                status.recovery_key_id = loaded.envelope.recovery_id();
                status.generation = Some(loaded.generation);
                status.entries = Some(loaded.entries.len());
            }
            Err(e) => {
                // What the header says without a key, when it can be read.
                status.exists = true;
                if let Ok(Some(snapshot)) = inner.blob.read()
                    && let Ok(file) = SealedFile::parse(snapshot.bytes())
                {
                    let header = file.header();
                    status.format_version = Some(header.version());
                    status.algorithm = Some(header.algorithm());
                    status.key_id = header.key_id(StanzaKind::Primary);
                    status.recovery_key_id = header.recovery_id();
                    status.generation = Some(header.generation());
                }
                status.problem = Some(e.to_string());
            }
        }
        status
    }

    // ----- the machinery -----

    /// Runs `f` on the in-memory entries when the store is degraded.
    fn in_degraded<T>(&self, f: impl FnOnce(&mut Degraded) -> Result<T>) -> Option<Result<T>> {
        lock(&self.inner.state).degraded.as_mut().map(f)
    }

    /// Runs a read against the current entries (`None`: no file), applying
    /// the policies.
    fn read_op<T>(
        &self,
        f: impl Fn(Option<&Entries>, Option<&Envelope>) -> Result<T>,
    ) -> Result<T> {
        let attempt = || match self.current()? {
            Some(loaded) => f(Some(&loaded.entries), Some(&loaded.envelope)),
            None => f(None, None),
        };
        if let Some(r) = self.in_degraded(|d| f(Some(&d.entries), None)) {
            return r;
        }
        match attempt() {
            Err(e) => {
                self.apply_policy(e)?;
                if let Some(r) = self.in_degraded(|d| f(Some(&d.entries), None)) {
                    return r;
                }
                attempt()
            }
            ok => ok,
        }
    }

    /// Runs a change as one locked read-modify-write, applying the policies.
    fn write_op<R>(&self, change: &mut dyn FnMut(&mut Entries) -> Change<R>) -> Result<R> {
        if let Some(r) = self.in_degraded(|d| Ok(d.apply(change))) {
            return r;
        }
        match self.persist(change) {
            Err(e) => {
                self.apply_policy(e)?;
                if let Some(r) = self.in_degraded(|d| Ok(d.apply(change))) {
                    return r;
                }
                self.persist(change)
            }
            ok => ok,
        }
    }

    /// Applies the store's policies to an error: returns it when the policy
    /// is to fail; returns `Ok` when the operation should be tried again
    /// (in memory, or on a fresh store after a quarantine).
    fn apply_policy(&self, error: Error) -> Result<()> {
        let inner = &self.inner;
        if matches!(error, Error::KeyringUnavailable { .. })
            && inner.on_unavailable == OnKeyringUnavailable::MemoryOnly
        {
            tracing::warn!(
                "the key provider is unavailable; keeping entries in memory only: {error}"
            );
            let mut state = lock(&inner.state);
            state.cache = None;
            state.degraded.get_or_insert_with(|| Degraded {
                reason: format!("in memory only, nothing is saved: {error}"),
                entries: Entries::new(),
            });
            return Ok(());
        }
        if error.is_unusable_file() && inner.on_unreadable == OnUnreadable::Quarantine {
            let reason = match &error {
                Error::KeyMissing { .. } => "key-missing",
                Error::WrongKey { .. } => "wrong-key",
                Error::NotAStore { .. } => "not-a-store",
                Error::Tampered { .. } => "tampered",
                Error::Corrupt { .. } => "corrupt",
                _ => "unreadable",
            };
            if let Some(location) = inner.blob.quarantine(reason)? {
                let mut state = lock(&inner.state);
                state.cache = None;
                // The next file is a new store, whatever its generation.
                state.lineage = Lineage::default();
                state.mark_loaded = true;
                state.quarantined.push(Quarantined {
                    location,
                    reason: error.to_string(),
                });
            }
            return Ok(());
        }
        Err(error)
    }

    /// The current file, decrypted, from the cache when it is unchanged.
    /// `None` when there is no file; the key provider is not touched then.
    fn current(&self) -> Result<Option<Arc<Loaded>>> {
        self.current_with(true)
    }

    /// [`current`](Self::current); `record_mark`: whether a newer version
    /// seen here may update the rollback mark on disk.
    fn current_with(&self, record_mark: bool) -> Result<Option<Arc<Loaded>>> {
        let inner = &self.inner;
        let Some(version) = inner.blob.version()? else {
            return Ok(None);
        };
        if let Some(cached) = lock(&inner.state)
            .cache
            .as_ref()
            .filter(|c| c.version == version)
        {
            return Ok(Some(Arc::clone(cached)));
        }
        // Reads take no lock: by the time this snapshot is opened, another
        // process may have rotated the key it names out of the keyring. A key
        // error on a file that has changed since is retried on the new file.
        let mut attempt = 0;
        let loaded = loop {
            attempt += 1;
            let Some(snapshot) = inner.blob.read()? else {
                return Ok(None);
            };
            let version = snapshot.version();
            match self.open_bytes(snapshot.shared_bytes(), version) {
                Ok(loaded) => break Arc::new(loaded),
                // A snapshot that another writer replaced since it was read
                // can name a key just retired, or be older than a version
                // this process saw meanwhile: read the new file.
                Err(
                    e
                    @ (Error::WrongKey { .. } | Error::KeyMissing { .. } | Error::Rollback { .. }),
                ) if attempt < 4 => {
                    if inner.blob.version()? == Some(version) {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        };
        tracing::debug!(
            "reloaded {} from disk (generation {})",
            inner.blob.location(),
            loaded.generation
        );
        self.remember_with(
            &loaded,
            if record_mark {
                Seen::Read
            } else {
                Seen::Looked
            },
        );
        Ok(Some(loaded))
    }

    /// Opens one version of the file.
    fn open(&self, snapshot: &Snapshot) -> Result<Loaded> {
        self.open_bytes(snapshot.shared_bytes(), snapshot.version())
    }

    fn open_bytes(&self, bytes: Arc<Vec<u8>>, version: Version) -> Result<Loaded> {
        self.open_shared(bytes, version, &mut |file| {
            let kek = self.kek_for(file, &self.inner.blob.location())?;
            Ok(OpenWith::Key(kek))
        })
    }

    /// The one open path, for the provider's key and for a recovery key:
    /// parse, check for a rollback, let `unlock` choose the key from the
    /// header (loading the provider's key, or checking the recovery key's
    /// id), open the entries (values stay sealed until read), and take
    /// what another process carried over unchanged from the cache.
    fn open_shared<'r>(
        &self,
        bytes: Arc<Vec<u8>>,
        version: Version,
        unlock: &mut dyn FnMut(&SealedFile<'_>) -> Result<OpenWith<'r>>,
    ) -> Result<Loaded> {
        let inner = &self.inner;
        let path = inner.blob.location();
        let file = SealedFile::parse(&bytes).map_err(|e| Error::from_seal(&path, e))?;
        let generation = file.header().generation();
        self.check_rollback(&path, generation, file.header().key_id(StanzaKind::Primary))?;
        let with = unlock(&file)?;
        let unlock = match &with {
            OpenWith::Key(kek) => Unlock::Key(kek.as_ref()),
            OpenWith::Recovery(recovery) => recovery.unlock(),
        };
        let opened = file
            .open_entries(&bytes, unlock, &inner.context)
            .map_err(|e| Error::from_seal(&path, e))?;
        // Records another process carried over unchanged need no second
        // decryption.
        if let Some(previous) = lock(&inner.state).cache.clone() {
            opened.entries.inherit(&previous.entries);
        }
        Ok(Loaded {
            version,
            sealed: Fingerprint::of(&bytes),
            format_version: opened.version,
            generation,
            envelope: Arc::new(opened.envelope),
            entries: Arc::new(opened.entries),
        })
    }

    /// `entries` once every entry in it is verified: operations on the whole
    /// store (list, entries, every write) report a damaged entry, while a
    /// read of one entry opens only that one.
    fn verified<'b>(
        &self,
        entries: Option<&'b Entries>,
        envelope: Option<&Envelope>,
    ) -> Result<Option<&'b Entries>> {
        if let (Some(entries), Some(envelope)) = (entries, envelope) {
            entries
                .verify_all(envelope, &self.inner.context)
                .map_err(|_| Error::Tampered {
                    path: self.inner.blob.location(),
                })?;
        }
        Ok(entries)
    }

    /// Opens and verifies every entry of `loaded` that is not yet known:
    /// a write never carries a record it has not verified into a new file
    /// (so a damaged file is never written over).
    fn verify_all(&self, loaded: &Loaded) -> Result<()> {
        self.verified(Some(&loaded.entries), Some(&loaded.envelope))
            .map(|_| ())
    }
}

/// What tells two sealed files apart without keeping or comparing all of
/// their bytes: the length, the header (which holds the body's nonce, drawn
/// at random for every write, and the generation) and the body's tag.
/// Two different writes differ in the nonce; a file changed by anyone else
/// fails authentication when it is opened, and is never cached.
#[derive(Clone, PartialEq, Eq)]
struct Fingerprint {
    len: usize,
    head: Box<[u8]>,
    tail: Box<[u8]>,
}

impl Fingerprint {
    /// Whether a file of `len` bytes with these ends is this one.
    fn matches(&self, len: u64, head: &[u8], tail: &[u8]) -> bool {
        self.len as u64 == len && *self.head == *head && *self.tail == *tail
    }

    /// Covers any header keyseal writes (two stanzas and the body nonce take
    /// well under this).
    const HEAD: usize = 512;

    fn of(bytes: &[u8]) -> Self {
        let head = bytes.get(..Self::HEAD.min(bytes.len())).unwrap_or_default();
        let tail = bytes
            .get(bytes.len().saturating_sub(keyseal_seal::TAG_LEN)..)
            .unwrap_or_default();
        Self {
            len: bytes.len(),
            head: head.into(),
            tail: tail.into(),
        }
    }
}

/// What opens a file in [`Store::open_shared`].
enum OpenWith<'a> {
    /// The provider's key for the file's primary stanza.
    Key(Arc<Key>),
    /// The person's recovery key.
    Recovery(&'a crate::RecoveryKey),
}
