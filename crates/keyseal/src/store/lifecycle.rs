//! Key lifecycle: rotation and recovery (`docs/DESIGN.md`, "Rotation and
//! recovery").
//!
//! Every change of key follows the same crash-safe order, the first two
//! steps under the store's lock:
//!
//! 1. **create**: a new key goes to a keyring item of its own (named by its
//!    id), beside the old one;
//! 2. **rewrite**: the file is resealed for the new key and replaced
//!    atomically;
//! 3. **retire**: after the lock is released, the old key's item is
//!    deleted, and only that item, once the file on disk no longer names it
//!    (every writer reads the file under the lock and loads the key it
//!    names, so no writer can still be about to use the old key).
//!
//! A crash before 2 leaves the old file, the old key, and an unused new
//! item; after 2, the file opens with the new key, and the old item is left
//! over. Nothing is ever deleted before what replaces it is durable, and no
//! other store's item is ever touched. A rewrite that fails takes its new
//! item back when the file does not name it.

use std::sync::Arc;

use keyseal_blob::{BlobStoreExt, Decided};
use keyseal_seal::{Entries, Envelope, Key, KeyId, SealedFile, StanzaKind};

use super::write::Step;
use super::{Loaded, OpenWith, Store, lock};
use crate::recovery::RecoveryKey;
use crate::{Error, Result};

/// What [`Store::rotate_key`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rotation {
    /// The key id the file was sealed for before.
    pub previous_key_id: Option<KeyId>,
    /// The key id it is sealed for now. The data key is always new too
    /// (wrapped again to the recovery recipient, if there is one), so the
    /// old key together with an old copy of the file opens nothing written
    /// from now on.
    pub key_id: KeyId,
    /// Whether the previous key's keyring item was deleted. `false` when the
    /// provider could not delete it (it is then left over, and says where in
    /// the log); the file no longer names it either way.
    pub previous_key_retired: bool,
}

impl Store {
    /// Replaces the store's key and its data key and reseals every entry,
    /// crash-safely (see the module docs). A recovery key stays valid: the
    /// new data key is wrapped to its recipient, which needs no secret.
    ///
    /// Other processes that cached the old key notice the new key id in the
    /// file header and load the key again, once.
    ///
    /// # Errors
    /// [`Error::NoStore`] when there is no file; any error of opening the
    /// file; [`Error::RecoveryKeyOutdated`] when the file's recovery key is
    /// an old `KSR1` key (nothing changes; replace it or turn recovery off
    /// first); [`Error::Key`] with `ReadOnly` for a provider that cannot create
    /// a key (the environment provider); [`Error::LockTimeout`],
    /// [`Error::Storage`], [`Error::Seal`]. On error the file opens as before, with the old
    /// key, or with the new one when the rewrite landed but its durability
    /// was not confirmed (`NotDurable`).
    pub fn rotate_key(&self) -> Result<Rotation> {
        let inner = &self.inner;
        let mut created: Option<Arc<Key>> = None;
        let resealed = self.reseal(
            &mut |loaded: &Loaded| {
                let previous_key_id = loaded.envelope.key_id(StanzaKind::Primary);
                if loaded.envelope.key_id(StanzaKind::Recovery).is_some() {
                    // Checked before a key is made: nothing to take back.
                    return Err(Error::RecoveryKeyOutdated {
                        store: self.location(),
                    });
                }
                let new_kek = self.create_kek(&mut created)?;
                let envelope = loaded.envelope.rekey(&new_kek, &inner.context)?;
                Ok((
                    envelope,
                    Rotation {
                        previous_key_id,
                        key_id: new_kek.id(),
                        previous_key_retired: false,
                    },
                ))
            },
            None,
        );
        let mut rotation = self.settle(resealed, created)?;
        rotation.previous_key_retired = rotation
            .previous_key_id
            .is_some_and(|previous| self.retire(previous));
        Ok(rotation)
    }

    /// Adds a recovery key (replacing any earlier one) and returns it, once.
    /// The file then also opens with it. Creates the store if it has no file.
    /// The data key is replaced too, so an earlier recovery key opens
    /// nothing written from now on, even with an old copy of the file.
    ///
    /// Show [`RecoveryKey::to_text`] to the person and keep nothing: keyseal
    /// stores only its public recipient and the data key wrapped to it.
    ///
    /// # Errors
    /// [`Error::KeyMissing`], [`Error::WrongKey`],
    /// [`Error::NotAStore`], [`Error::Tampered`], [`Error::Corrupt`],
    /// [`Error::UnsupportedVersion`], [`Error::Rollback`],
    /// [`Error::KeyringUnavailable`], [`Error::Key`], [`Error::Storage`],
    /// [`Error::LockTimeout`], [`Error::Seal`] (no policy acts on it).
    pub fn enable_recovery(&self) -> Result<RecoveryKey> {
        let recovery = RecoveryKey::generate()?;
        self.enable_recovery_with(&recovery)?;
        Ok(recovery)
    }

    /// Makes the file open with `recovery` too (replacing any earlier
    /// recovery key). For callers that must deliver the key before the file
    /// names it: generate it with [`RecoveryKey::generate`], show it, then
    /// call this. Creates the store if it has no file.
    ///
    /// # Errors
    /// As [`Store::enable_recovery`]; [`Error::RecoveryKeyOutdated`] for an
    /// old `KSR1` key (only `KSR2` keys are enabled). On error the file still
    /// names the previous recovery key (or none).
    pub fn enable_recovery_with(&self, recovery: &RecoveryKey) -> Result<()> {
        let inner = &self.inner;
        let recipient = recovery
            .recipient()
            .ok_or_else(|| Error::RecoveryKeyOutdated {
                store: self.location(),
            })?;
        self.edit_envelope(true, &mut |envelope| {
            // A new data key, so an earlier recovery key (and any copy of
            // the file it opened) opens nothing written from now on.
            *envelope = self.fresh_envelope(envelope)?;
            envelope.set_recipient(&recipient, &inner.context)?;
            Ok(true)
        })?;
        Ok(())
    }

    /// An envelope with a new data key for the key that opened `envelope`,
    /// and no recovery stanza. The key is the cached one when it is the
    /// file's (it is, unless a thread holding an older file cached another
    /// since), else loaded again.
    fn fresh_envelope(&self, envelope: &Envelope) -> Result<Envelope> {
        let inner = &self.inner;
        let primary = envelope
            .key_id(StanzaKind::Primary)
            .ok_or(Error::Internal {
                reason: "a file without a primary stanza",
            })?;
        let cached = lock(&inner.kek).clone().filter(|k| k.id() == primary);
        let kek = match cached {
            Some(kek) => kek,
            None => Arc::new(inner.provider.load(&primary).map_err(Error::from_key)?),
        };
        Ok(Envelope::new(envelope.algorithm(), &kek, &inner.context)?)
    }

    /// Checks, without changing anything or touching the key provider,
    /// that `recovery` is the recovery key of the file as it is now.
    ///
    /// # Errors
    /// [`Error::NoStore`]; [`Error::WrongRecoveryKey`]; [`Error::NotAStore`],
    /// [`Error::Tampered`], [`Error::Corrupt`], [`Error::UnsupportedVersion`],
    /// [`Error::Rollback`], [`Error::Storage`].
    pub fn check_recovery_key(&self, recovery: &RecoveryKey) -> Result<()> {
        let inner = &self.inner;
        let Some(snapshot) = inner.blob.read()? else {
            return Err(Error::NoStore {
                store: self.location(),
            });
        };
        self.open_with_recovery(&snapshot, recovery).map(drop)
    }

    /// Removes the recovery stanza from the file and replaces the data key;
    /// returns whether there was one. With the new data key, the old
    /// recovery key opens nothing written after this, even together with a
    /// copy of an older version of the file.
    ///
    /// # Errors
    /// As [`Store::enable_recovery`].
    pub fn disable_recovery(&self) -> Result<bool> {
        self.edit_envelope(false, &mut |envelope| {
            if envelope.recovery_id().is_none() {
                return Ok(false);
            }
            *envelope = self.fresh_envelope(envelope)?;
            Ok(true)
        })
    }

    /// Opens the store with its recovery key when the provider's key is gone
    /// (new machine, wiped keyring, kernel keyring cleared at reboot),
    /// creates a fresh provider key and a fresh data key, and reseals. The
    /// recovery key stays valid (an old `KSR1` key is wrapped the new data
    /// key again, and the file stays format version 2); to replace it in
    /// the same step, see
    /// [`recover_and_rotate_recovery`](Self::recover_and_rotate_recovery).
    ///
    /// # Errors
    /// [`Error::WrongRecoveryKey`] when the key does not open the store
    /// (nothing changes, and the provider is not touched);
    /// [`Error::NoStore`]; the file's errors [`Error::NotAStore`],
    /// [`Error::Tampered`], [`Error::Corrupt`], [`Error::UnsupportedVersion`],
    /// [`Error::Rollback`], [`Error::Storage`]; the provider's
    /// [`Error::KeyringUnavailable`] and [`Error::Key`] (for example when it
    /// cannot take a new key); [`Error::LockTimeout`]; [`Error::Seal`].
    pub fn recover(&self, recovery: &RecoveryKey) -> Result<()> {
        self.recover_inner(recovery, None)
    }

    /// [`recover`](Self::recover), and replaces the recovery key with a new
    /// one, which it returns (show it to the user: it is the only copy).
    /// The old recovery key no longer opens the store.
    ///
    /// # Errors
    /// As [`recover`](Self::recover). On error the file still names the
    /// previous recovery key.
    pub fn recover_and_rotate_recovery(&self, recovery: &RecoveryKey) -> Result<RecoveryKey> {
        let new_recovery = RecoveryKey::generate()?;
        self.recover_inner(recovery, Some(&new_recovery))?;
        Ok(new_recovery)
    }

    /// [`recover_and_rotate_recovery`](Self::recover_and_rotate_recovery)
    /// with the replacement made by the caller, who shows it before calling
    /// this (so that a failure to show it changes nothing).
    ///
    /// # Errors
    /// As [`recover`](Self::recover); [`Error::RecoveryKeyOutdated`] when
    /// `new_recovery` is an old `KSR1` key. On error the file still names
    /// the previous recovery key.
    pub fn recover_and_rotate_recovery_to(
        &self,
        recovery: &RecoveryKey,
        new_recovery: &RecoveryKey,
    ) -> Result<()> {
        self.recover_inner(recovery, Some(new_recovery))
    }

    fn recover_inner(
        &self,
        recovery: &RecoveryKey,
        new_recovery: Option<&RecoveryKey>,
    ) -> Result<()> {
        let inner = &self.inner;
        // Checked before anything is asked of the keyring: a replacement
        // must be a new (KSR2) key.
        let new_recipient = match new_recovery {
            Some(r) => Some(r.recipient().ok_or_else(|| Error::RecoveryKeyOutdated {
                store: self.location(),
            })?),
            None => None,
        };
        let mut created: Option<Arc<Key>> = None;
        let resealed = self.reseal(
            &mut |loaded: &Loaded| {
                let previous_key_id = loaded.envelope.key_id(StanzaKind::Primary);
                // A provider whose key is given (an environment variable set
                // to a new key) takes the file as it is; others get a new key.
                let new_kek = match inner.provider.given() {
                    Some(given) => Arc::new(given.map_err(Error::from_key)?),
                    None => {
                        // Ask for the file's key first: that settles which
                        // keyring answers (on Linux "auto"), so the new key
                        // never lands in a fallback keyring because the
                        // right one was slow to answer.
                        // No service at all (a headless machine, whose only
                        // keyring is the kernel's) is an answer too; a keyring
                        // that is slow, locked or failing is not.
                        if let Some(old) = previous_key_id {
                            match inner.provider.load(&old) {
                                Ok(_)
                                | Err(
                                    keyseal_keys::Error::NotFound { .. }
                                    | keyseal_keys::Error::Unavailable {
                                        reason: keyseal_keys::UnavailableReason::NoService,
                                        ..
                                    },
                                ) => {}
                                Err(e) => return Err(Error::from_key(e)),
                            }
                        }
                        self.create_kek(&mut created)?
                    }
                };
                let algorithm = loaded.envelope.algorithm();
                // Every branch draws a new data key, so the old keyring key
                // (and, when replaced, the old recovery key) opens nothing
                // written from now on.
                let envelope = match (&new_recipient, recovery.symmetric_key()) {
                    (Some(recipient), _) => {
                        let mut envelope = Envelope::new(algorithm, &new_kek, &inner.context)?;
                        envelope.set_recipient(recipient, &inner.context)?;
                        envelope
                    }
                    // An old symmetric (KSR1) recovery key: this person holds
                    // it, so the new data key is wrapped for it again (the
                    // file stays format version 2).
                    (None, Some(symmetric)) => {
                        let mut envelope = Envelope::new(algorithm, &new_kek, &inner.context)?;
                        envelope.set_stanza(StanzaKind::Recovery, symmetric, &inner.context)?;
                        envelope
                    }
                    // The same recipient, with a fresh ephemeral share.
                    (None, None) => loaded.envelope.rekey(&new_kek, &inner.context)?,
                };
                Ok((envelope, previous_key_id))
            },
            Some(recovery),
        );
        if let Some(previous) = self.settle(resealed, created)? {
            // The key the file named before, if the keyring still has it.
            self.retire(previous);
        }
        Ok(())
    }

    /// Under the lock: a new key in an item of its own, made once per
    /// change even when the update closure runs again.
    fn create_kek(&self, created: &mut Option<Arc<Key>>) -> Result<Arc<Key>> {
        if let Some(kek) = created.as_ref() {
            return Ok(Arc::clone(kek));
        }
        let kek = Arc::new(self.inner.provider.create().map_err(Error::from_key)?);
        *created = Some(Arc::clone(&kek));
        Ok(kek)
    }

    /// After a key change's rewrite: on success the new key is the cached
    /// one; on failure, its item is deleted again unless the file names it
    /// (a write that landed although it reported an error).
    fn settle<R>(&self, resealed: Result<R>, created: Option<Arc<Key>>) -> Result<R> {
        match (resealed, created) {
            (Ok(r), Some(kek)) => {
                *lock(&self.inner.kek) = Some(kek);
                Ok(r)
            }
            (Ok(r), None) => Ok(r),
            (Err(e), Some(kek)) => {
                if !self.file_names(kek.id()) {
                    let _ = self.inner.provider.delete(&kek.id());
                }
                Err(e)
            }
            (Err(e), None) => Err(e),
        }
    }

    /// Whether the file on disk now names `key_id` in any stanza. Unsure
    /// (unreadable) counts as yes: a key is kept rather than risked.
    pub(super) fn file_names(&self, key_id: KeyId) -> bool {
        match self.inner.blob.read() {
            Ok(None) => false,
            Ok(Some(snapshot)) => SealedFile::parse(snapshot.bytes())
                .map(|f| f.header().stanzas().iter().any(|s| s.key_id() == key_id))
                .unwrap_or(true),
            Err(_) => true,
        }
    }

    /// Deletes the key `previous` from the provider once the file no longer
    /// names it; returns whether it is gone. Never touches another key.
    fn retire(&self, previous: KeyId) -> bool {
        if self.file_names(previous) {
            return false;
        }
        match self.inner.provider.delete(&previous) {
            Ok(()) | Err(keyseal_keys::Error::NotFound { .. }) => true,
            Err(e) => {
                tracing::warn!("the retired key {previous} is left in the keyring: {e}");
                false
            }
        }
    }

    /// Under the lock: opens the file (with the provider's key, or with
    /// `recovery`), lets `f` build the new envelope, and reseals the same
    /// entries under it.
    fn reseal<R>(
        &self,
        f: &mut dyn FnMut(&Loaded) -> Result<(Envelope, R)>,
        recovery: Option<&RecoveryKey>,
    ) -> Result<R> {
        let inner = &self.inner;
        let store = self.location();
        let updated = inner
            .blob
            .update_with(|current| -> Result<Decided<Step<R>>> {
                let Some(snapshot) = current else {
                    return Err(Error::NoStore {
                        store: store.clone(),
                    });
                };
                let loaded = match recovery {
                    None => self.open_snapshot(snapshot)?,
                    Some(recovery) => self.open_with_recovery(snapshot, recovery)?,
                };
                self.verify_all(&loaded)?;
                let (envelope, result) = f(&loaded)?;
                self.write_step(
                    &Arc::new(envelope),
                    &loaded.entries,
                    loaded.generation,
                    result,
                )
            })?;
        self.finish(updated)
    }

    /// Under the lock: changes the stanzas of the current file (or of a new,
    /// empty store when `create` is set) and reseals the same entries.
    fn edit_envelope(
        &self,
        create: bool,
        f: &mut dyn FnMut(&mut Envelope) -> Result<bool>,
    ) -> Result<bool> {
        let inner = &self.inner;
        let updated = inner
            .blob
            .update_with(|current| -> Result<Decided<Step<bool>>> {
                let (mut envelope, entries, generation) = match current {
                    None if !create => return Ok(Self::keep(false)),
                    None => {
                        let kek = self.kek_for_new_file()?;
                        let envelope = Envelope::new(inner.algorithm, &kek, &inner.context)?;
                        (envelope, Arc::new(Entries::new()), 0)
                    }
                    Some(snapshot) => {
                        let loaded = self.open_snapshot(snapshot)?;
                        self.verify_all(&loaded)?;
                        (
                            loaded.envelope.duplicate(),
                            Arc::clone(&loaded.entries),
                            loaded.generation,
                        )
                    }
                };
                if !f(&mut envelope)? {
                    return Ok(Self::keep(false));
                }
                self.write_step(&Arc::new(envelope), &entries, generation, true)
            });
        self.settle_new_file(updated.and_then(|u| self.finish(u)))
    }

    /// Opens a file with a recovery key instead of the provider's key; a
    /// key the file does not name is refused before any decryption.
    fn open_with_recovery(
        &self,
        snapshot: &keyseal_blob::Snapshot,
        recovery: &RecoveryKey,
    ) -> Result<Loaded> {
        let store = self.location();
        self.open_shared(snapshot.shared_bytes(), snapshot.version(), &mut |file| {
            let expected = file.header().recovery_id();
            if expected == Some(recovery.id()) {
                Ok(OpenWith::Recovery(recovery))
            } else {
                Err(Error::WrongRecoveryKey {
                    store: store.clone(),
                    expected,
                })
            }
        })
    }
}
