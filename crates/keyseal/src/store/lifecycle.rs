//! Key lifecycle: rotation and recovery (`docs/DESIGN.md`, "Rotation and
//! recovery").
//!
//! Every change of key follows the same crash-safe order:
//!
//! 1. **stage**: the new key goes to the provider's staging slot, beside the
//!    current one;
//! 2. **rewrite**: under the lock, the file is resealed for the new key and
//!    replaced atomically;
//! 3. **commit**: under the lock again, and only if the file names the staged
//!    key, the staged key becomes the current one;
//! 4. **clean up**: the staged copy is removed (part of the commit).
//!
//! A crash before 2 leaves the old file and the old key; after 2, the file
//! opens with the staged key, and the next write finishes step 3. Nothing is
//! ever deleted before what replaces it is durable.

use std::sync::Arc;

use keyseal_blob::BlobStoreExt;
use keyseal_seal::{Envelope, Key, KeyId, SealedFile, StanzaKind};

use super::{Loaded, Store, Written, lock};
use crate::bundle::Bundle;
use crate::recovery::RecoveryKey;
use crate::{Error, Result};

/// What [`Store::rotate_key`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rotation {
    /// The key id the file was sealed for before.
    pub previous_key_id: Option<KeyId>,
    /// The key id it is sealed for now.
    pub key_id: KeyId,
    /// Whether the data key was replaced too. It is kept when the file has a
    /// recovery stanza, so the recovery key stays valid.
    pub data_key_rotated: bool,
}

/// The update closure's output for an envelope change.
type EnvelopeStep<R> = (Option<Vec<u8>>, (R, Option<Written>));

/// An update's outcome: the closure's result and what to cache, and the
/// store's version after it.
pub(super) type Finished<R> = Result<((R, Option<Written>), Option<keyseal_blob::Version>)>;

impl Store {
    /// Replaces the store's key (and its data key, unless recovery is
    /// enabled) and reseals the file, crash-safely (see the module docs).
    ///
    /// Other processes that cached the old key notice the new key id in the
    /// file header and load the key again, once.
    ///
    /// # Errors
    /// [`Error::NoStore`] when there is no file; any error of opening the
    /// file; [`Error::Key`] with `ReadOnly` for a provider that cannot hold a
    /// second key (the environment provider); [`Error::LockTimeout`],
    /// [`Error::Storage`]. On error the file opens as before (with the old or,
    /// if the rewrite landed, the staged key).
    pub fn rotate_key(&self) -> Result<Rotation> {
        let inner = &self.inner;
        let new_kek = Arc::new(Key::generate().map_err(|source| Error::Seal { source })?);
        let rotation = self.reseal(
            &mut |loaded: &Loaded| {
                let previous_key_id = loaded.envelope.key_id(StanzaKind::Primary);
                self.settle_staged(&loaded.envelope)?;
                inner.provider.stage(&new_kek).map_err(Error::from_key)?;
                let keep_data_key = loaded.envelope.key_id(StanzaKind::Recovery).is_some();
                let envelope = if keep_data_key {
                    let mut envelope = loaded.envelope.duplicate();
                    envelope
                        .set_stanza(StanzaKind::Primary, &new_kek, &inner.context)
                        .map_err(|source| Error::Seal { source })?;
                    envelope
                } else {
                    Envelope::new(inner.algorithm, &new_kek, &inner.context)
                        .map_err(|source| Error::Seal { source })?
                };
                Ok((
                    envelope,
                    Rotation {
                        previous_key_id,
                        key_id: new_kek.id(),
                        data_key_rotated: !keep_data_key,
                    },
                ))
            },
            None,
        )?;
        *lock(&inner.kek) = Some(Arc::clone(&new_kek));
        self.commit_rotation(new_kek.id())?;
        Ok(rotation)
    }

    /// Adds a recovery key (replacing any earlier one) and returns it, once.
    /// The file then also opens with it. Creates the store if it has no file.
    ///
    /// Show [`RecoveryKey::to_text`] to the person and keep nothing: keyseal
    /// stores only its wrapped copy of the data key.
    ///
    /// # Errors
    /// As [`Store::set_bytes`].
    pub fn enable_recovery(&self) -> Result<RecoveryKey> {
        let recovery = RecoveryKey::generate()?;
        let context = self.inner.context.clone();
        self.edit_envelope(true, &mut |envelope| {
            envelope
                .set_stanza(StanzaKind::Recovery, recovery.key(), &context)
                .map_err(|source| Error::Seal { source })?;
            Ok(true)
        })?;
        Ok(recovery)
    }

    /// Removes the recovery stanza from the file; returns whether there was
    /// one. The old recovery key opens nothing written after this.
    ///
    /// # Errors
    /// As [`Store::set_bytes`].
    pub fn disable_recovery(&self) -> Result<bool> {
        self.edit_envelope(false, &mut |envelope| {
            envelope
                .remove_stanza(StanzaKind::Recovery)
                .map_err(|source| Error::Seal { source })
        })
    }

    /// Opens the store with its recovery key when the provider's key is gone
    /// (new machine, wiped keyring, kernel keyring cleared at reboot),
    /// creates a fresh provider key, and reseals. The recovery key stays
    /// valid, or, with `rotate_recovery`, is replaced by the one returned.
    ///
    /// # Errors
    /// [`Error::WrongRecoveryKey`] when the key does not open the store
    /// (nothing changes, and the provider is not touched);
    /// [`Error::NoStore`]; [`Error::Tampered`] and the other file errors;
    /// [`Error::Key`] when the provider cannot take a new key.
    pub fn recover(
        &self,
        recovery: &RecoveryKey,
        rotate_recovery: bool,
    ) -> Result<Option<RecoveryKey>> {
        let inner = &self.inner;
        let new_kek = Arc::new(Key::generate().map_err(|source| Error::Seal { source })?);
        let new_recovery = if rotate_recovery {
            Some(RecoveryKey::generate()?)
        } else {
            None
        };
        self.reseal(
            &mut |loaded: &Loaded| {
                self.settle_staged(&loaded.envelope)?;
                inner.provider.stage(&new_kek).map_err(Error::from_key)?;
                let mut envelope = loaded.envelope.duplicate();
                envelope
                    .set_stanza(StanzaKind::Primary, &new_kek, &inner.context)
                    .map_err(|source| Error::Seal { source })?;
                if let Some(r) = &new_recovery {
                    envelope
                        .set_stanza(StanzaKind::Recovery, r.key(), &inner.context)
                        .map_err(|source| Error::Seal { source })?;
                }
                Ok((envelope, ()))
            },
            Some(recovery),
        )?;
        *lock(&inner.kek) = Some(Arc::clone(&new_kek));
        self.commit_rotation(new_kek.id())?;
        Ok(new_recovery)
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
        let path = inner.blob.location();
        let outcome = inner
            .blob
            .update_with(|current| -> Result<EnvelopeStep<R>> {
                let Some(snapshot) = current else {
                    return Err(Error::NoStore { path: path.clone() });
                };
                let loaded = match recovery {
                    None => self.open(snapshot)?,
                    Some(recovery) => self.open_with_recovery(snapshot, recovery)?,
                };
                self.verify_all(&loaded)?;
                let (envelope, r) = f(&loaded)?;
                let envelope = Arc::new(envelope);
                let bundle = (*loaded.bundle).clone();
                let (bytes, written) = self.seal_written(&envelope, bundle, loaded.generation)?;
                Ok((Some(bytes), (r, Some(written))))
            })
            .map_err(Error::from_blob)?;
        self.finish(outcome)
    }

    /// Under the lock: changes the stanzas of the current file (or of a new,
    /// empty store when `create` is set) and reseals the same entries.
    fn edit_envelope(
        &self,
        create: bool,
        f: &mut dyn FnMut(&mut Envelope) -> Result<bool>,
    ) -> Result<bool> {
        let inner = &self.inner;
        let outcome = inner
            .blob
            .update_with(|current| -> Result<EnvelopeStep<bool>> {
                let (mut envelope, bundle, generation) = match current {
                    None if !create => return Ok((None, (false, None))),
                    None => {
                        let kek = self.kek_for_new_file()?;
                        let envelope = Envelope::new(inner.algorithm, &kek, &inner.context)
                            .map_err(|source| Error::Seal { source })?;
                        (envelope, Bundle::default(), 0)
                    }
                    Some(snapshot) => {
                        let loaded = self.open(snapshot)?;
                        self.verify_all(&loaded)?;
                        (
                            loaded.envelope.duplicate(),
                            (*loaded.bundle).clone(),
                            loaded.generation,
                        )
                    }
                };
                if !f(&mut envelope)? {
                    return Ok((None, (false, None)));
                }
                let (bytes, written) =
                    self.seal_written(&Arc::new(envelope), bundle, generation)?;
                Ok((Some(bytes), (true, Some(written))))
            })
            .map_err(Error::from_blob)?;
        self.finish(outcome)
    }

    /// Seals `bundle` under `envelope` as the generation after `generation`.
    pub(super) fn seal_written(
        &self,
        envelope: &Arc<Envelope>,
        bundle: Bundle,
        generation: u64,
    ) -> Result<(Vec<u8>, Written)> {
        let next = generation.checked_add(1).ok_or(Error::Internal {
            reason: "the generation counter is exhausted",
        })?;
        let sealed = bundle
            .seal_indexed(envelope, &self.inner.context, next)
            .map_err(|source| Error::Seal { source })?;
        let bytes = sealed.file;
        let written = Written {
            sealed: super::Fingerprint::of(&bytes),
            generation: next,
            envelope: Arc::clone(envelope),
            bundle: sealed.bundle,
        };
        Ok((bytes, written))
    }

    /// Caches what an update wrote, once the store has reported its version.
    pub(super) fn finish<R>(&self, outcome: Finished<R>) -> Result<R> {
        let ((r, written), version) = outcome?;
        if let (Some(w), Some(version)) = (written, version) {
            self.remember(&Arc::new(Loaded {
                version,
                sealed: w.sealed,
                format_version: keyseal_seal::FORMAT_VERSION,
                generation: w.generation,
                envelope: w.envelope,
                bundle: Arc::new(w.bundle),
                needs_commit: false,
            }));
        }
        Ok(r)
    }

    /// Opens a file with a recovery key instead of the provider's key.
    fn open_with_recovery(
        &self,
        snapshot: &keyseal_blob::Snapshot,
        recovery: &RecoveryKey,
    ) -> Result<Loaded> {
        let inner = &self.inner;
        let path = inner.blob.location();
        let file = SealedFile::parse(snapshot.bytes()).map_err(|e| Error::from_seal(&path, e))?;
        let expected = file.header().key_id(StanzaKind::Recovery);
        if expected != Some(recovery.id()) {
            return Err(Error::WrongRecoveryKey { path, expected });
        }
        let seen = lock(&inner.state).seen_generation;
        let generation = file.header().generation();
        if generation < seen {
            return Err(Error::Rollback {
                path,
                found: generation,
                seen,
            });
        }
        let opened = file
            .open(recovery.key(), &inner.context)
            .map_err(|e| Error::from_seal(&path, e))?;
        let bytes = snapshot.shared_bytes();
        let bundle = super::decode_opened(&path, &opened, &bytes)?;
        Ok(Loaded {
            version: snapshot.version(),
            sealed: super::Fingerprint::of(snapshot.bytes()),
            format_version: opened.version,
            generation,
            envelope: Arc::new(opened.envelope),
            bundle: Arc::new(bundle),
            needs_commit: false,
        })
    }

    /// Step 3 under the lock: if the file names `key_id` and that key is the
    /// staged one, make it current. Already current is success.
    fn commit_rotation(&self, key_id: KeyId) -> Result<()> {
        let inner = &self.inner;
        let path = inner.blob.location();
        let outcome = inner
            .blob
            .update_with(|current| -> Result<(Option<Vec<u8>>, ())> {
                let named = current
                    .and_then(|s| SealedFile::parse(s.bytes()).ok())
                    .is_some_and(|f| f.header().key_id(StanzaKind::Primary) == Some(key_id));
                if !named {
                    // Another rotation overtook this one; it commits its own key.
                    return Ok((None, ()));
                }
                let provider = &inner.provider;
                match provider.load_staged() {
                    Ok(staged) if staged.id() == key_id => {
                        provider.commit_staged().map_err(Error::from_key)?;
                    }
                    _ => match provider.load() {
                        Ok(current) if current.id() == key_id => {}
                        Ok(_) | Err(keyseal_keys::Error::NotFound { .. }) => {
                            return Err(Error::KeyMissing {
                                path: path.clone(),
                                location: provider.info().location,
                            });
                        }
                        Err(e) => return Err(Error::from_key(e)),
                    },
                }
                Ok((None, ()))
            })
            .map_err(Error::from_blob)?;
        outcome.map(|((), _)| ())
    }
}

impl Store {
    /// Under the lock, before staging a new key: if the staged slot holds a
    /// key the file needs (an interrupted rotation), commit it first, so
    /// staging never overwrites the only key that opens the file.
    fn settle_staged(&self, envelope: &Envelope) -> Result<()> {
        let provider = &self.inner.provider;
        match provider.load_staged() {
            Ok(staged) if envelope.stanzas().iter().any(|s| s.key_id() == staged.id()) => {
                tracing::debug!("finishing an interrupted rotation before starting another");
                provider.commit_staged().map_err(Error::from_key)
            }
            Ok(_)
            | Err(keyseal_keys::Error::NotFound { .. } | keyseal_keys::Error::ReadOnly { .. }) => {
                Ok(())
            }
            Err(e) => Err(Error::from_key(e)),
        }
    }

    /// Called under the lock by a write that opened the file with the staged
    /// key: finishes the interrupted rotation. Best effort: on failure the
    /// staged key still opens the file, and the next write tries again.
    pub(super) fn commit_staged_if_named(&self, file_key: Option<KeyId>) {
        let provider = &self.inner.provider;
        if let (Ok(staged), Some(file_key)) = (provider.load_staged(), file_key)
            && staged.id() == file_key
        {
            let _ = provider.commit_staged();
        }
    }
}
