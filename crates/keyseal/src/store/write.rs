//! The write path: one locked read-modify-write of the file, the step each
//! update's closure returns, and what is cached once the write has landed.

use std::sync::Arc;

use keyseal_blob::{BlobStoreExt, Current, Decided, Updated};
use keyseal_seal::{Entries, Envelope};

use super::{Change, Fingerprint, Loaded, Store, lock};
use crate::{Error, Result};

/// What one locked update produced: the caller's result and, when it wrote,
/// what to cache once the store reports the new version.
pub(super) struct Step<R> {
    result: R,
    written: Option<Written>,
}

/// What a write sealed: the entries as written (each value known and
/// sealed) and what tells the file apart, to cache.
pub(super) struct Written {
    sealed: Fingerprint,
    generation: u64,
    envelope: Arc<Envelope>,
    entries: Entries,
}

/// The newest version of the file this process read the base from, when it
/// read one: the entries to change, and the envelope and generation to write
/// the next version with.
struct Base {
    envelope: Arc<Envelope>,
    generation: u64,
}

impl Store {
    /// An update that writes nothing and returns `result`.
    pub(super) fn keep<R>(result: R) -> Decided<Step<R>> {
        Decided::Keep(Step {
            result,
            written: None,
        })
    }

    /// Seals `entries` under `envelope` as the generation after
    /// `generation`: the bytes to write, and `result` with what to cache.
    pub(super) fn write_step<R>(
        &self,
        envelope: &Arc<Envelope>,
        entries: &Entries,
        generation: u64,
        result: R,
    ) -> Result<Decided<Step<R>>> {
        let next = generation.checked_add(1).ok_or(Error::Internal {
            reason: "the generation counter is exhausted",
        })?;
        let sealed = entries.seal(envelope, &self.inner.context, next)?;
        let written = Written {
            sealed: Fingerprint::of(&sealed.file),
            generation: next,
            envelope: Arc::clone(envelope),
            entries: sealed.entries,
        };
        Ok(Decided::Write {
            bytes: sealed.file,
            value: Step {
                result,
                written: Some(written),
            },
        })
    }

    /// Caches what an update wrote, once the store has reported its
    /// version, and returns the caller's result.
    pub(super) fn finish<R>(&self, updated: Updated<Step<R>>) -> Result<R> {
        let Step { result, written } = updated.value;
        if let (Some(w), Some(version)) = (written, updated.version) {
            self.remember(&Arc::new(Loaded {
                version,
                sealed: w.sealed,
                format_version: w.envelope.file_version(),
                generation: w.generation,
                envelope: w.envelope,
                entries: Arc::new(w.entries),
            }));
        }
        Ok(result)
    }

    /// One locked read-modify-write of the file: `change` edits a copy of
    /// the current entries (every value verified first), and the copy is
    /// sealed as the next generation when it says it changed something.
    pub(super) fn persist<R>(
        &self,
        change: &mut dyn FnMut(&mut Entries) -> Change<R>,
    ) -> Result<R> {
        let inner = &self.inner;
        let cached = lock(&inner.state).cache.clone();
        // When the file is still the cached version, the store reads only
        // its ends, to check the fingerprint, instead of all of it.
        let expected = cached.as_ref().map(|c| c.version);
        let updated = inner.blob.update_expecting_with(
            expected,
            Fingerprint::HEAD,
            keyseal_seal::TAG_LEN,
            |current| -> Result<Decided<Step<R>>> {
                let loaded = match current {
                    Current::Unchanged { len, head, tail } => {
                        match cached
                            .as_ref()
                            .filter(|c| c.sealed.matches(len, head, tail))
                        {
                            Some(c) => Some(Arc::clone(c)),
                            // Not the cached file after all: read it all.
                            None => return Ok(Decided::ReadAll),
                        }
                    }
                    Current::Read(None) => None,
                    Current::Read(Some(snapshot)) => Some(
                        match cached.as_ref().filter(|c| {
                            c.version == snapshot.version()
                                && c.sealed == Fingerprint::of(snapshot.bytes())
                        }) {
                            Some(c) => Arc::clone(c),
                            None => Arc::new(self.open_snapshot(snapshot)?),
                        },
                    ),
                    _ => return Ok(Decided::ReadAll),
                };
                let (base, mut entries) = match loaded {
                    None => (None, Entries::new()),
                    Some(loaded) => {
                        self.verify_all(&loaded)?;
                        let base = Base {
                            envelope: Arc::clone(&loaded.envelope),
                            generation: loaded.generation,
                        };
                        (Some(base), (*loaded.entries).clone())
                    }
                };
                let result = match change(&mut entries) {
                    // Nothing to store; with no file, no key is created either.
                    Change::Unchanged(result) => return Ok(Self::keep(result)),
                    Change::Changed(result) => result,
                };
                let base = match base {
                    Some(base) => base,
                    None => {
                        // No file: create the key now, under the lock, so no
                        // other process can create a second one.
                        let kek = self.kek_for_new_file()?;
                        let envelope = Envelope::new(inner.algorithm, &kek, &inner.context)?;
                        Base {
                            envelope: Arc::new(envelope),
                            generation: 0,
                        }
                    }
                };
                self.write_step(&base.envelope, &entries, base.generation, result)
            },
        );
        self.settle_new_file(updated.and_then(|u| self.finish(u)))
    }
}
