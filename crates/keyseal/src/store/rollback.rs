//! The store's side of rollback detection: what it remembers of each version
//! it opens or writes, the check on every open, and accepting an old copy
//! (the lineage and its marks on disk are `lineage.rs`).

use std::sync::{Arc, MutexGuard};

use keyseal_seal::{KeyId, SealedFile, StanzaKind};

use super::{Lineage, Loaded, Seen, State, Store, lock};
use crate::{Error, Result};

impl Store {
    /// Caches a version this store wrote, and records it in the lineage: a
    /// new file (generation 1) starts a new one, on disk too.
    pub(super) fn remember(&self, loaded: &Arc<Loaded>) {
        self.remember_with(loaded, Seen::Written);
    }

    /// Caches a version, and records it in the lineage (and, unless `how`
    /// says not to, in the rollback mark).
    pub(super) fn remember_with(&self, loaded: &Arc<Loaded>, how: Seen) {
        let key_id = loaded.envelope.key_id(StanzaKind::Primary);
        let mut reset = false;
        let changed = {
            let mut state = self.state_with_mark();
            state.cache = Some(Arc::clone(loaded));
            key_id
                .is_some_and(|id| {
                    if how == Seen::Written && loaded.generation == 1 {
                        // This store made a new file: a new store starts here.
                        reset = true;
                        state.lineage = Lineage::starting(1, id);
                        true
                    } else {
                        state.lineage.observe(loaded.generation, id)
                    }
                })
                .then(|| state.lineage.clone())
        };
        let (Some(lineage), Some(marks)) = (changed, &self.inner.marks) else {
            return;
        };
        match how {
            Seen::Written if reset => {
                if let Err(e) = marks.replace(self.mark_name(), &lineage) {
                    tracing::warn!("could not record the new store's rollback mark: {e}");
                }
            }
            Seen::Written | Seen::Read => marks.save(self.mark_name(), &lineage),
            Seen::Looked => {}
        }
    }

    /// The name of the store's rollback mark: the location, with the
    /// directory made canonical when it is a path that exists, so that
    /// `store.sealed` seen from two working directories, or through a
    /// symbolic link, are told apart or found the same as they are.
    pub(super) fn mark_name(&self) -> &str {
        self.inner.mark_name.get_or_init(|| {
            let location = self.inner.blob.location();
            let path = std::path::Path::new(&location);
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => std::path::Path::new("."),
            };
            match (std::fs::canonicalize(dir), path.file_name()) {
                (Ok(dir), Some(name)) => dir.join(name).display().to_string(),
                _ => location,
            }
        })
    }

    /// The state, with the rollback mark read into the lineage the first
    /// time.
    pub(super) fn state_with_mark(&self) -> MutexGuard<'_, State> {
        let mut state = lock(&self.inner.state);
        if !state.mark_loaded {
            state.mark_loaded = true;
            if let Some(marks) = &self.inner.marks {
                state.lineage = marks.load(self.mark_name());
            }
        }
        state
    }

    /// [`Error::Rollback`] when the version of `generation` sealed by
    /// `key_id` is older than one seen of this store. Before saying so, the
    /// mark is read again: another process may have started a new store
    /// here, or accepted this version, since.
    pub(super) fn check_rollback(
        &self,
        store: &crate::Location,
        generation: u64,
        key_id: Option<KeyId>,
    ) -> Result<()> {
        let Some(key_id) = key_id else {
            return Ok(());
        };
        let mut state = self.state_with_mark();
        let Some(seen) = state.lineage.rolled_back(generation, key_id) else {
            return Ok(());
        };
        if let Some(marks) = &self.inner.marks {
            let recorded = marks.load(self.mark_name());
            if recorded.rolled_back(generation, key_id).is_none() && recorded != Lineage::default()
            {
                state.lineage = recorded;
                return Ok(());
            }
        }
        Err(Error::Rollback {
            store: store.clone(),
            found: generation,
            seen,
        })
    }

    /// Accepts the file as it is now as the newest version of the store,
    /// after [`Error::Rollback`] reported it older than one seen before (an
    /// old copy put back on purpose). Every later version must be newer.
    ///
    /// # Errors
    /// [`Error::NoStore`]; [`Error::NotAStore`], [`Error::Corrupt`],
    /// [`Error::UnsupportedVersion`] for a header that does not read; then,
    /// since the file is accepted only once it opens with the store's key,
    /// [`Error::KeyMissing`], [`Error::WrongKey`], [`Error::Tampered`],
    /// [`Error::KeyringUnavailable`], [`Error::Key`], and [`Error::Rollback`]
    /// when another writer replaced the file meanwhile; [`Error::Storage`].
    /// On error nothing is accepted.
    pub fn accept_rollback(&self) -> Result<()> {
        let inner = &self.inner;
        let store = self.location();
        let Some(snapshot) = inner.blob.read()? else {
            return Err(Error::NoStore { store });
        };
        let file = SealedFile::parse(snapshot.bytes()).map_err(|e| Error::from_seal(&store, e))?;
        let header = file.header();
        let Some(key_id) = header.key_id(StanzaKind::Primary) else {
            return Err(Error::Corrupt {
                store,
                reason: "the header names no primary key".to_owned(),
            });
        };
        let previous = {
            let mut state = self.state_with_mark();
            let previous = state.lineage.clone();
            state.lineage = previous.accepting(header.generation(), key_id);
            state.cache = None;
            previous
        };
        // Accepted only once it opens with the store's key: a damaged or
        // foreign file is not accepted as a version of this store.
        if let Err(e) = self.current_with(false) {
            self.state_with_mark().lineage = previous;
            return Err(e);
        }
        if let Some(marks) = &inner.marks {
            let accepted = self.state_with_mark().lineage.clone();
            marks
                .replace(self.mark_name(), &accepted)
                .map_err(|source| Error::Storage {
                    source: keyseal_blob::Error::Io {
                        operation: "record the accepted version in the rollback mark",
                        path: marks.dir().to_path_buf(),
                        source,
                    },
                })?;
        }
        Ok(())
    }
}
