//! [`Store::transaction`]: every entry, changed as one locked
//! read-modify-write.

use keyseal_seal::{Entries, Entry, SecretSlice};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Change, Store, check_name, now_secs, to_json, validate_name};
use crate::{Error, Result};

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

/// What a [`Transaction`] answers, as [`Store`] answers it: the same names,
/// arguments and return types, so code moves between the two unchanged.
impl Transaction<'_> {
    /// Whether the entry exists, as [`Store::contains`].
    ///
    /// # Errors
    /// [`Error::InvalidName`].
    pub fn contains(&self, name: &str) -> Result<bool> {
        check_name(name)?;
        Ok(self.entries.contains(name))
    }

    /// The entry's raw bytes, as [`Store::get_bytes`] reads them.
    ///
    /// # Errors
    /// [`Error::InvalidName`].
    pub fn get_bytes(&self, name: &str) -> Result<Option<SecretSlice<u8>>> {
        check_name(name)?;
        Ok(self
            .plain(name)
            .map(|bytes| SecretSlice::from(bytes.to_vec())))
    }

    /// The entry's value decoded from JSON, as [`Store::get`] reads it.
    ///
    /// # Errors
    /// [`Error::InvalidName`]; [`Error::Value`] when the stored bytes are
    /// not `T` as JSON (the error never quotes them).
    pub fn get<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        check_name(name)?;
        let Some(bytes) = self.plain(name) else {
            return Ok(None);
        };
        serde_json::from_slice(bytes)
            .map(Some)
            .map_err(|e| Error::value(name, crate::ValueOperation::Decode, &e))
    }

    /// Stores `value` as JSON under `name`, as [`Store::set`] does.
    ///
    /// # Errors
    /// [`Error::InvalidName`]; [`Error::Value`] when `value` cannot be
    /// serialized.
    pub fn set<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> Result<()> {
        validate_name(name)?;
        let json = to_json(name, value)?;
        self.set_bytes(name, &json)
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

    /// Removes the entry; returns whether it existed, as [`Store::remove`].
    ///
    /// # Errors
    /// [`Error::InvalidName`].
    pub fn remove(&mut self, name: &str) -> Result<bool> {
        check_name(name)?;
        let removed = self.entries.remove(name).is_some();
        self.changed |= removed;
        Ok(removed)
    }

    /// The entry's bytes where they are: every value was opened and verified
    /// before the transaction began.
    fn plain(&self, name: &str) -> Option<&[u8]> {
        self.entries.get(name).and_then(|e| e.value.known_plain())
    }
}

impl Store {
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
    /// # use keyseal::{ExposeSecret, Store, keys::MemoryKeyProvider, blob::MemoryBlobStore};
    /// # let store = Store::builder(MemoryKeyProvider::new(), MemoryBlobStore::new(), "doc").build();
    /// let copied = store.transaction(|tx| -> keyseal::Result<bool> {
    ///     let Some(old) = tx.get_bytes("a")? else {
    ///         return Ok(false);
    ///     };
    ///     tx.set_bytes("b", old.expose_secret())?;
    ///     Ok(true)
    /// })?;
    /// # assert!(!copied);
    /// # Ok::<(), keyseal::Error>(())
    /// ```
    ///
    /// `f` may run more than once (after a quarantine policy moved an
    /// unusable file aside), so it should not have side effects it cannot
    /// repeat. It runs under the store's lock: use the [`Transaction`] it is
    /// given. A read through the store from inside it sees the last
    /// committed version, without the transaction's changes; a write through
    /// the store waits for the lock the transaction holds, and fails with
    /// [`Error::LockTimeout`] (with either built-in blob store).
    ///
    /// # Errors
    /// `f`'s error, which carries whatever the [`Transaction`]'s methods
    /// returned to it; otherwise as [`set_bytes`](Self::set_bytes) except
    /// [`Error::InvalidName`], converted into `E`.
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
}
