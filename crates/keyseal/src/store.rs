//! The sealed store: composition, policies and the cache.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use keyseal_blob::{BlobStore, Version};
use keyseal_keys::KeyProvider;
use keyseal_seal::{Algorithm, Entries, Entry, Envelope, ExposeSecret, Key, KeyId, SecretSlice};
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::{Error, Result, ValueOperation};

mod builder;
mod keys;
mod lifecycle;
mod lineage;
mod open;
mod policy;
mod rollback;
mod status;
mod transaction;
mod write;

pub use builder::StoreBuilder;
pub use lifecycle::Rotation;
use lineage::Lineage;
pub use lineage::RollbackMarks;
use open::{Fingerprint, OpenWith};
use policy::Degraded;
pub use policy::{OnKeyringUnavailable, OnUnreadable};
pub use status::{EntryInfo, Location, Problem, Quarantined, Status};
pub use transaction::Transaction;

/// The longest entry name, in bytes.
pub const MAX_NAME_LEN: usize = 4096;

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

#[derive(Default)]
struct State {
    cache: Option<Arc<Loaded>>,
    /// The newest version seen, for rollback detection.
    lineage: Lineage,
    /// Whether the rollback mark (if any) has been read into `lineage`.
    mark_loaded: bool,
    degraded: Option<Degraded>,
    quarantined: Vec<Quarantined>,
    /// The version of the file last found unusable, for the quarantine
    /// policy ([`BlobStore::quarantine`] moves only that version).
    judged: Option<Version>,
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

/// Whether `app_id` can name the application's directory (see
/// [`Store::open`]).
fn check_app_id(app_id: &str) -> Result<()> {
    let reason = if app_id.is_empty() {
        "it is empty"
    } else if app_id.len() > 255 {
        "it is longer than 255 bytes"
    } else if app_id.starts_with('.') {
        "it starts with a dot"
    } else if !app_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        "it holds a character other than ASCII letters, digits, '.', '-' and '_'"
    } else {
        return Ok(());
    };
    Err(Error::InvalidAppId { reason })
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
    json_bytes(value).map_err(|e| Error::value(name, ValueOperation::Encode, &e))
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
    /// The store of the application `app_id`, a reverse-DNS name such as
    /// `com.example.app`, with everything derived from it: the sealed file at
    /// [`default_path(app_id)`](crate::default_path)
    /// (`<config dir>/<app_id>/store.sealed`), the key in the OS keyring
    /// under service `app_id`, and `app_id` as the context string: what
    /// [`Store::new`] does with that path.
    ///
    /// Nothing is touched until the first operation.
    ///
    /// ```no_run
    /// let store = keyseal::Store::open("com.example.app")?;
    /// store.set("github", "gho_…")?;
    /// # Ok::<(), keyseal::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidAppId`] for an id that cannot name a directory
    /// (empty, over 255 bytes, starting with `.`, or holding anything but
    /// ASCII letters, digits, `.`, `-` and `_`); [`Error::NoConfigDirectory`]
    /// when the environment names no configuration directory (no `HOME`).
    #[cfg(feature = "keyring")]
    #[cfg_attr(docsrs, doc(cfg(feature = "keyring")))]
    pub fn open(app_id: &str) -> Result<Self> {
        check_app_id(app_id)?;
        let path = crate::default_path(app_id).ok_or(Error::NoConfigDirectory)?;
        Ok(Self::new(app_id, path))
    }

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
    /// `service` is also the context string: the file opens only for a
    /// store made with the same `service`. Nothing is touched until the
    /// first operation. [`Store::open`] derives the path from the service
    /// as well.
    #[cfg(feature = "keyring")]
    #[cfg_attr(docsrs, doc(cfg(feature = "keyring")))]
    pub fn new(service: &str, path: impl Into<std::path::PathBuf>) -> Self {
        let provider =
            keyseal_keys::KeyringProvider::builder(service, crate::KEY_ITEM_NAME).build();
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

    /// What the key provider is, where it keeps the key and how long the key
    /// lasts, without calling it (a keyring chosen at first use, as on
    /// Linux, says [`KeyLifetime::Unknown`](keyseal_keys::KeyLifetime::Unknown)
    /// until then).
    pub fn provider_info(&self) -> keyseal_keys::ProviderInfo {
        self.inner.provider.info()
    }

    /// What the store does with a file it cannot use (the builder's
    /// [`on_unreadable`](StoreBuilder::on_unreadable)).
    pub fn on_unreadable(&self) -> OnUnreadable {
        self.inner.on_unreadable
    }

    /// Where the sealed file is.
    pub fn location(&self) -> Location {
        Location::of(self.inner.blob.as_ref())
    }

    /// Takes the store's advisory lock `name`, waiting at most `timeout`,
    /// and holds it until the returned guard is dropped: a lock for work
    /// that must not run twice at once across threads and processes, such
    /// as an OAuth refresh (take the lock, read, call the token endpoint
    /// once, write, release). It is separate from the store's own write
    /// lock: reads and writes inside it run as usual, and locks of
    /// different names never wait for each other. Once it is held, the
    /// store's cached copy is dropped, so the first read inside it comes from
    /// the store (what the previous holder wrote). For a file store it is a
    /// `flock` on a file in `<file>.locks/` beside the sealed file, which
    /// the system releases when its holder exits, however it exits (see
    /// [`BlobStore::named_lock`](keyseal_blob::BlobStore::named_lock)).
    ///
    /// # Errors
    /// [`Error::LockTimeout`] after `timeout`; [`Error::Storage`] when the
    /// lock cannot be made (an unsafe directory, a lock file that is not a
    /// regular file, no permission).
    pub fn named_lock(
        &self,
        name: &str,
        timeout: std::time::Duration,
    ) -> Result<keyseal_blob::NamedLock> {
        let held = self.inner.blob.named_lock(name, timeout)?;
        // Whoever held it before may just have written: the next read comes
        // from the store, never from a copy this process cached earlier.
        lock(&self.inner.state).cache = None;
        Ok(held)
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
            .map_err(|e| Error::value(name, ValueOperation::Decode, &e))
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
    /// [`Error::Storage`], [`Error::InvalidName`]; [`Error::LockTimeout`]
    /// under [`OnUnreadable::Quarantine`], which takes the store's lock to
    /// move an unusable file aside. [`Error::kind`] sorts them.
    ///
    /// The policies change which of these reach the caller: under
    /// [`OnKeyringUnavailable::MemoryOnly`], [`Error::KeyringUnavailable`]
    /// turns the store to memory only and the read goes on there; under
    /// [`OnUnreadable::Quarantine`], an unusable file (the key and file
    /// errors above) is moved aside and the read sees no file, and the
    /// error is returned only when the move fails.
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
                    .map_err(|e| Error::from_seal(&self.location(), e))?,
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
    /// [`validate_name`] refuses; [`Error::Internal`] for a file whose
    /// generation counter is exhausted (2^64 − 1 writes).
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

    /// Whether the entry `name` exists, reading only the index: no value of a
    /// version-2 file is decrypted (a version-1 file is opened whole). A store with no file has none, and the key provider is
    /// not touched. Like [`status`](Self::status), it only looks: no policy
    /// acts on an error (nothing is quarantined, nothing switches to memory)
    /// and no rollback mark is written, so a dry run can use it.
    ///
    /// # Errors
    /// As [`get_bytes`](Self::get_bytes), except [`Error::LockTimeout`]: no
    /// policy acts on a lookup, so [`Error::KeyringUnavailable`] and the
    /// unusable-file errors always reach the caller.
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

    /// Why the store no longer shows what is on disk, if it does not: it
    /// runs in memory only ([`OnKeyringUnavailable::MemoryOnly`] took
    /// effect: answers come from an empty copy and writes do not last), or
    /// it moved its unreadable file aside in this process
    /// ([`OnUnreadable::Quarantine`]: the entries that file held read as
    /// missing). Adapters whose callers read "missing" as "log in again"
    /// refuse to answer then. Cheap: it loads nothing.
    pub fn detached(&self) -> Option<String> {
        let state = lock(&self.inner.state);
        if let Some(d) = &state.degraded {
            return Some(format!("it runs in memory only: {}", d.reason));
        }
        state
            .quarantined
            .first()
            .map(|q| format!("its unreadable file was moved aside to {}", q.location))
    }

    /// The files this process moved aside under
    /// [`OnUnreadable::Quarantine`] (the same list as
    /// [`Status::quarantined`], without loading anything).
    pub fn quarantined(&self) -> Vec<Quarantined> {
        lock(&self.inner.state).quarantined.clone()
    }

    /// Drops the cached copy of the file and reads it again from disk, so the
    /// next answers come from what is durably stored (migration verifies its
    /// writes this way).
    ///
    /// # Errors
    /// As [`get_bytes`](Self::get_bytes), except [`Error::InvalidName`].
    pub fn reload(&self) -> Result<()> {
        lock(&self.inner.state).cache = None;
        self.read_op(|_, _| Ok(()))
    }

    /// The entry names, sorted. A store with no file has none, and the key
    /// provider is not touched.
    ///
    /// # Errors
    /// As [`get_bytes`](Self::get_bytes), except [`Error::InvalidName`].
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
    /// As [`get_bytes`](Self::get_bytes), except [`Error::InvalidName`].
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

    // ----- the machinery -----
}
