//! Which key opens a file, and the key of a new file: one load of the key a
//! file names, a new key in an item of its own for a new file, and that key
//! taken back when the file's first write fails.

use std::sync::Arc;

use keyseal_seal::{Key, SealedFile, StanzaKind};

use super::{Store, lock};
use crate::{Error, Result};

impl Store {
    /// The key-encryption key for an existing file: the cached key when the
    /// file names it, else one load of the key the file's primary stanza
    /// names. A provider that answers with another key (an environment
    /// variable, or the one item of the earlier keyring layout) gets that
    /// key back, and opening reports [`Error::WrongKey`].
    pub(super) fn kek_for(
        &self,
        file: &SealedFile<'_>,
        store: &crate::Location,
    ) -> Result<Arc<Key>> {
        let header = file.header();
        let names = |key: &Key| header.stanzas().iter().any(|s| s.key_id() == key.id());
        let mut cached = lock(&self.inner.kek);
        if let Some(kek) = cached.as_ref()
            && names(kek)
        {
            return Ok(Arc::clone(kek));
        }
        let provider = &self.inner.provider;
        let Some(wanted) = header.key_id(StanzaKind::Primary) else {
            return Err(Error::Corrupt {
                store: store.clone(),
                reason: "the header names no primary key".to_owned(),
            });
        };
        let loaded = provider.load(&wanted);
        tracing::debug!("loaded the store's key from {}", provider.info().location);
        match loaded {
            Ok(kek) => {
                let kek = Arc::new(kek);
                if names(&kek) {
                    *cached = Some(Arc::clone(&kek));
                }
                Ok(kek)
            }
            Err(keyseal_keys::Error::NotFound { location }) => Err(Error::KeyMissing {
                store: store.clone(),
                location,
            }),
            Err(e) => Err(Error::from_key(e)),
        }
    }

    /// The key for a new file, called under the blob lock when no file
    /// exists: a provider's given key, else a new key in a keyring item of
    /// its own (never a key cached for an earlier file, whose item another
    /// process may have retired since).
    pub(super) fn kek_for_new_file(&self) -> Result<Arc<Key>> {
        let provider = &self.inner.provider;
        let kek = match provider.given() {
            Some(given) => given.map_err(Error::from_key)?,
            None => {
                let kek = provider.create().map_err(Error::from_key)?;
                tracing::debug!("created the store's key in {}", provider.info().location);
                *lock(&self.inner.fresh) = Some(kek.id());
                kek
            }
        };
        let kek = Arc::new(kek);
        *lock(&self.inner.kek) = Some(Arc::clone(&kek));
        Ok(kek)
    }

    /// After a write that may have made a new file: when it failed, the key
    /// made for that file is deleted again, unless a file names it after all
    /// (a write that landed although it reported an error), so a failed
    /// first write leaves no keyring item behind.
    pub(super) fn settle_new_file<R>(&self, result: Result<R>) -> Result<R> {
        let fresh = lock(&self.inner.fresh).take();
        if let (Err(_), Some(id)) = (&result, fresh)
            && !self.file_names(id)
        {
            if let Err(e) = self.inner.provider.delete(&id) {
                tracing::warn!("the unused key {id} is left in the keyring: {e}");
            }
            let mut cached = lock(&self.inner.kek);
            if cached.as_ref().is_some_and(|k| k.id() == id) {
                *cached = None;
            }
        }
        result
    }
}
