//! The policies for a file that cannot be used and a key provider that is
//! unavailable, and the in-memory mode one of them chooses.

use keyseal_blob::Version;
use keyseal_seal::{Entries, Envelope};

use super::lineage::Lineage;
use super::{Change, Quarantined, Store, lock};
use crate::{Error, Result};

/// What to do when the sealed file exists but cannot be used (not a keyseal
/// file, tampered, corrupt, wrong key, key missing, unreadable).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnUnreadable {
    /// Fail with the typed error and leave the file untouched (the default).
    #[default]
    Fail,
    /// Move the file aside (`<name>.<reason>-<UTC time>`, never deleted),
    /// start a new store, and report it in [`Status::quarantined`](super::Status::quarantined). A file
    /// written by a newer keyseal is never quarantined, and neither is a
    /// file another process wrote after this one judged the old one (the
    /// operation then reads the new file).
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
    /// [`Status::degraded`](super::Status::degraded). Never plaintext on disk.
    ///
    /// An existing file is left untouched and is not read: reads then see
    /// only what this process wrote, and [`Status::exists`](super::Status::exists) and
    /// [`Status::problem`](super::Status::problem) say the file is there and why it is not in use.
    MemoryOnly,
}

/// The in-memory entries of a store in memory-only mode, and why.
pub(super) struct Degraded {
    pub(super) reason: String,
    pub(super) entries: Entries,
}

impl Degraded {
    /// Applies `change` to a copy of the in-memory entries and keeps the
    /// copy only when the change says it changed something, as a write to
    /// the file would.
    pub(super) fn apply<R>(&mut self, change: &mut dyn FnMut(&mut Entries) -> Change<R>) -> R {
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

impl Store {
    /// Runs `f` on the in-memory entries when the store is degraded.
    pub(super) fn in_degraded<T>(
        &self,
        f: impl FnOnce(&mut Degraded) -> Result<T>,
    ) -> Option<Result<T>> {
        lock(&self.inner.state).degraded.as_mut().map(f)
    }

    /// Runs a read against the current entries (`None`: no file), applying
    /// the policies.
    pub(super) fn read_op<T>(
        &self,
        f: impl Fn(Option<&Entries>, Option<&Envelope>) -> Result<T>,
    ) -> Result<T> {
        let attempt = || match self.current()? {
            // A record that does not open makes this version unusable too.
            Some(loaded) => self.judging(
                loaded.version,
                f(Some(&loaded.entries), Some(&loaded.envelope)),
            ),
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
    pub(super) fn write_op<R>(
        &self,
        change: &mut dyn FnMut(&mut Entries) -> Change<R>,
    ) -> Result<R> {
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

    /// The version of a blob that cannot be read at all (a disk error, over
    /// the size limit): seen just before a fresh read that fails the same
    /// way. `None` when there is no blob or it reads now (another writer
    /// replaced it). A blob replaced between the two calls has another
    /// version, which a quarantine then leaves where it is.
    fn unreadable_version(&self) -> Result<Option<Version>> {
        let blob = &self.inner.blob;
        let Some(before) = blob.version()? else {
            return Ok(None);
        };
        match blob.read() {
            Ok(_) => Ok(None),
            Err(e) => {
                let e = Error::from(e);
                if e.is_unusable_file() {
                    Ok(Some(before))
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Applies the store's policies to an error: returns it when the policy
    /// is to fail; returns `Ok` when the operation should be tried again
    /// (in memory, or on a fresh store after a quarantine).
    pub(super) fn apply_policy(&self, error: Error) -> Result<()> {
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
            // The version this store could not open (the newest such, which
            // another thread may have judged: a version a good file never
            // has), or, for a blob it could not read at all, the version it
            // has while it still cannot be read. Never "whatever is there":
            // another process may have put a good file in its place.
            let judged = match &error {
                Error::Storage { .. } => match self.unreadable_version()? {
                    Some(judged) => judged,
                    // It reads now: try again, nothing moved.
                    None => return Ok(()),
                },
                _ => match lock(&inner.state).judged {
                    Some(judged) => judged,
                    None => return Err(error),
                },
            };
            if let Some(location) = inner.blob.quarantine(reason, Some(judged))? {
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
}
