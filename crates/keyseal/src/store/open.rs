//! Reading the file: the current version (from the cache when it has not
//! changed), the one open path for a key and a recovery key, and what tells
//! two sealed files apart.

use std::sync::Arc;

use keyseal_blob::{Snapshot, Version};
use keyseal_seal::{Entries, Envelope, Key, SealedFile, StanzaKind, Unlock};

use super::{Loaded, Seen, Store, lock};
use crate::{Error, Result};

/// How many times a lock-free read opens the file before a key or rollback
/// error stands. A retry happens only when another process replaced the
/// file between the read and the error (a rotation retires a key, or a
/// newer version was seen meanwhile); each replacement is a whole write
/// under the store's lock, so a few reads see a settled file, and the bound
/// keeps a store that is rewritten without pause from spinning.
const READ_ATTEMPTS: u32 = 4;

impl Store {
    /// The current file, decrypted, from the cache when it is unchanged.
    /// `None` when there is no file; the key provider is not touched then.
    pub(super) fn current(&self) -> Result<Option<Arc<Loaded>>> {
        self.current_with(true)
    }

    /// [`current`](Self::current); `record_mark`: whether a newer version
    /// seen here may update the rollback mark on disk.
    pub(super) fn current_with(&self, record_mark: bool) -> Result<Option<Arc<Loaded>>> {
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
        // error on a file that has changed since is retried on the new file,
        // at most READ_ATTEMPTS times in all.
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
                ) if attempt < READ_ATTEMPTS => {
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
    pub(super) fn open_snapshot(&self, snapshot: &Snapshot) -> Result<Loaded> {
        self.open_bytes(snapshot.shared_bytes(), snapshot.version())
    }

    pub(super) fn open_bytes(&self, bytes: Arc<Vec<u8>>, version: Version) -> Result<Loaded> {
        let opened = self.open_shared(bytes, version, &mut |file| {
            let kek = self.kek_for(file, &self.location())?;
            Ok(OpenWith::Key(kek))
        });
        self.judging(version, opened)
    }

    /// `result` of using the file at `version`; when it says the file is
    /// unusable, `version` is what a quarantine policy may move aside, and
    /// no other file a writer puts in its place meanwhile.
    pub(super) fn judging<T>(&self, version: Version, result: Result<T>) -> Result<T> {
        if let Err(e) = &result
            && e.is_unusable_file()
        {
            lock(&self.inner.state).judged = Some(version);
        }
        result
    }

    /// The one open path, for the provider's key and for a recovery key:
    /// parse, check for a rollback, let `unlock` choose the key from the
    /// header (loading the provider's key, or checking the recovery key's
    /// id), open the entries (values stay sealed until read), and take
    /// what another process carried over unchanged from the cache.
    pub(super) fn open_shared<'r>(
        &self,
        bytes: Arc<Vec<u8>>,
        version: Version,
        unlock: &mut dyn FnMut(&SealedFile<'_>) -> Result<OpenWith<'r>>,
    ) -> Result<Loaded> {
        let inner = &self.inner;
        let store = self.location();
        let file = SealedFile::parse(&bytes).map_err(|e| Error::from_seal(&store, e))?;
        let generation = file.header().generation();
        self.check_rollback(
            &store,
            generation,
            file.header().key_id(StanzaKind::Primary),
        )?;
        let with = unlock(&file)?;
        let unlock = match &with {
            OpenWith::Key(kek) => Unlock::Key(kek.as_ref()),
            OpenWith::Recovery(recovery) => recovery.unlock(),
        };
        let opened = file
            .open_entries(&bytes, unlock, &inner.context)
            .map_err(|e| Error::from_seal(&store, e))?;
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
    pub(super) fn verified<'b>(
        &self,
        entries: Option<&'b Entries>,
        envelope: Option<&Envelope>,
    ) -> Result<Option<&'b Entries>> {
        if let (Some(entries), Some(envelope)) = (entries, envelope) {
            entries
                .verify_all(envelope, &self.inner.context)
                .map_err(|_| Error::Tampered {
                    store: self.location(),
                })?;
        }
        Ok(entries)
    }

    /// Opens and verifies every entry of `loaded` that is not yet known:
    /// a write never carries a record it has not verified into a new file
    /// (so a damaged file is never written over).
    pub(super) fn verify_all(&self, loaded: &Loaded) -> Result<()> {
        let verified = self
            .verified(Some(&loaded.entries), Some(&loaded.envelope))
            .map(|_| ());
        self.judging(loaded.version, verified)
    }
}

/// What tells two sealed files apart without keeping or comparing all of
/// their bytes: the length, the header (which holds the body's nonce, drawn
/// at random for every write, and the generation) and the body's tag.
/// Two different writes differ in the nonce; a file changed by anyone else
/// fails authentication when it is opened, and is never cached.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Fingerprint {
    len: usize,
    head: Box<[u8]>,
    tail: Box<[u8]>,
}

impl Fingerprint {
    /// Whether a file of `len` bytes with these ends is this one.
    pub(super) fn matches(&self, len: u64, head: &[u8], tail: &[u8]) -> bool {
        self.len as u64 == len && *self.head == *head && *self.tail == *tail
    }

    /// Covers any header keyseal writes (two stanzas and the body nonce take
    /// well under this).
    pub(super) const HEAD: usize = 512;

    pub(super) fn of(bytes: &[u8]) -> Self {
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
pub(super) enum OpenWith<'a> {
    /// The provider's key for the file's primary stanza.
    Key(Arc<Key>),
    /// The person's recovery key.
    Recovery(&'a crate::RecoveryKey),
}
