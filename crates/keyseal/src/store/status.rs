//! What a store is and how it is doing: [`Status`], [`EntryInfo`],
//! [`Quarantined`].

use keyseal_keys::ProviderInfo;
use keyseal_seal::{Algorithm, KeyId, SealedFile, StanzaKind};

use std::sync::Arc;
use std::time::SystemTime;

use super::{Store, lock};
use crate::Error;

/// Where a store keeps its sealed file ([`Store::location`],
/// [`Status::location`]): as its blob store shows it (a path, `memory`, a
/// database URL without its password) and, for a file, the path itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    shown: String,
    path: Option<std::path::PathBuf>,
}

impl Location {
    pub(crate) fn of(blob: &dyn keyseal_blob::BlobStore) -> Self {
        Self {
            shown: blob.location(),
            path: blob.path().map(std::path::Path::to_path_buf),
        }
    }

    /// The file, for a store that keeps one (a [`FileStore`](keyseal_blob::FileStore)).
    pub fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }

    /// The location as people read it.
    pub fn as_str(&self) -> &str {
        &self.shown
    }
}

impl core::fmt::Display for Location {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Why a [`Status`] could not say everything ([`Status::problem`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Problem {
    /// The store runs in memory only ([`Status::degraded`] says why); its
    /// file exists, untouched, but is not in use: reads see only what this
    /// process wrote.
    FileNotInUse {
        /// The file.
        location: String,
    },
    /// Looking at the file failed with this error ([`Error::kind`] says
    /// what to do); the fields that needed it are `None`.
    Failed(Arc<Error>),
}

impl core::fmt::Display for Problem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::FileNotInUse { location } => write!(
                f,
                "{location} exists but is not in use (the store runs in memory); reads see only what this process wrote"
            ),
            Self::Failed(e) => e.fmt(f),
        }
    }
}

/// A file moved aside by the [`OnUnreadable::Quarantine`](super::OnUnreadable::Quarantine) policy.
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
    pub location: Location,
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
    /// Why some field could not be filled.
    pub problem: Option<Problem>,
}

impl Store {
    /// What the store is and how it is doing. Never fails: what cannot be
    /// found out is left `None` and explained in [`Status::problem`]. It
    /// loads the key (the process's one load) to count the entries.
    pub fn status(&self) -> Status {
        let inner = &self.inner;
        let mut status = Status {
            location: Location::of(inner.blob.as_ref()),
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
                    status.problem = Some(Problem::FileNotInUse {
                        location: inner.blob.location(),
                    });
                }
                Ok(None) => {}
                Err(e) => status.problem = Some(Problem::Failed(Arc::new(Error::from(e)))),
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
                status.problem = Some(Problem::Failed(Arc::new(e)));
            }
        }
        status
    }
}
