//! The facade's error type.

use std::path::PathBuf;
use std::time::Duration;

use keyseal_keys::{KeyId, UnavailableReason};

/// Result alias with this crate's [`enum@Error`] as the default error.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Why a store operation failed.
///
/// Each situation a caller handles differently is its own variant; match on
/// variants, never on text. No variant carries a secret: values, keys and
/// decoded plaintext never appear in errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The sealed file exists but its key is gone from the key provider (for
    /// example the keyring was reset, or the kernel keyring was cleared by a
    /// reboot). The file is untouched; a recovery key can open it.
    #[error("the key for {store} is missing from {location}; the file is kept untouched")]
    KeyMissing {
        /// The sealed file.
        store: crate::Location,
        /// Where the key was looked for.
        location: String,
    },

    /// The key provider's key is not the one that sealed the file.
    #[error("{store} is sealed for key {}, not for this store's key {offered}; the file is kept untouched", display_ids(.sealed_for))]
    WrongKey {
        /// The sealed file.
        store: crate::Location,
        /// The provider's key id.
        offered: KeyId,
        /// The key ids the file is sealed for.
        sealed_for: Vec<KeyId>,
    },

    /// The file is not a keyseal store (its first bytes are not the magic).
    #[error("{store} is not a keyseal store; it is left untouched")]
    NotAStore {
        /// The file.
        store: crate::Location,
    },

    /// The file failed authentication: it was changed outside keyseal,
    /// damaged, or belongs to a store with another context.
    #[error(
        "{store} failed authentication (tampered, corrupt, or another store's file); it is left untouched"
    )]
    Tampered {
        /// The file.
        store: crate::Location,
    },

    /// The file is truncated or structurally invalid.
    #[error("{store} is corrupt ({reason}); it is left untouched")]
    Corrupt {
        /// The file.
        store: crate::Location,
        /// What is wrong, for people.
        reason: String,
    },

    /// The file says it was written by a newer keyseal (or its version field
    /// is damaged: the version cannot be authenticated before it is
    /// understood). It is left untouched.
    #[error(
        "{store} uses {what} {found}, newer than this build supports ({supported}); upgrade keyseal (if no newer keyseal wrote it, the file is damaged); it is left untouched"
    )]
    UnsupportedVersion {
        /// The file.
        store: crate::Location,
        /// Which version field.
        what: VersionField,
        /// The version found.
        found: u16,
        /// The newest version this build reads.
        supported: u16,
    },

    /// The file's generation is older than one seen before of the same store
    /// (by this process, or by any process when the store keeps rollback
    /// marks): it was rolled back (restored from a backup, or replaced by an
    /// old copy). Nothing is written over it until it is accepted
    /// ([`Store::accept_rollback`](crate::Store::accept_rollback)).
    #[error(
        "{store} was rolled back to generation {found} after generation {seen} of it was seen; refusing to write over it"
    )]
    Rollback {
        /// The file.
        store: crate::Location,
        /// The generation in the file.
        found: u64,
        /// The newest generation this process saw.
        seen: u64,
    },

    /// The key provider did not answer.
    #[error("the key provider is unavailable: {source}")]
    KeyringUnavailable {
        /// Why (also available as the source's reason).
        reason: UnavailableReason,
        /// The provider's error.
        #[source]
        source: keyseal_keys::Error,
    },

    /// Any other key provider failure (malformed item, read-only provider).
    #[error("the key provider failed: {source}")]
    Key {
        /// The provider's error.
        #[source]
        source: keyseal_keys::Error,
    },

    /// Another process held the store's lock for longer than the timeout.
    #[error("could not lock {} within {} ms: another process holds it", .lock_path.display(), .waited.as_millis())]
    LockTimeout {
        /// The lock file.
        lock_path: PathBuf,
        /// How long this process waited.
        waited: Duration,
    },

    /// Reading or writing the file failed (permissions, no space, I/O).
    #[error("storage failed: {source}")]
    Storage {
        /// The blob store's error.
        #[source]
        source: keyseal_blob::Error,
    },

    /// Sealing failed (for example the bundle is too large).
    #[error("could not seal the store: {source}")]
    Seal {
        /// The seal layer's error.
        #[source]
        source: keyseal_seal::Error,
    },

    /// There is no sealed file (rotation and recovery need one).
    #[error("there is no store at {store}")]
    NoStore {
        /// The file that does not exist.
        store: crate::Location,
    },

    /// The recovery key text is not a recovery key (a typo, or truncated).
    /// Nothing was decrypted and nothing changed.
    #[error("this is not a valid recovery key: {reason}")]
    InvalidRecoveryKey {
        /// What is wrong with the text (never the text).
        reason: &'static str,
    },

    /// The recovery key is well formed but does not open this store.
    /// Nothing changed.
    #[error("this recovery key does not open {store} (it is sealed for recovery key {}); nothing was changed", .expected.map_or_else(|| "none".to_owned(), |id| id.to_string()))]
    WrongRecoveryKey {
        /// The file.
        store: crate::Location,
        /// The recovery key id the file names, if it has one.
        expected: Option<KeyId>,
    },

    /// The store's recovery key is an old symmetric one (`KSR1`, format
    /// version 2), which cannot be given a new data key without itself, so
    /// the operation that needs a new data key (a key rotation) was refused.
    /// Replace the recovery key first (`Store::enable_recovery`, `keyseal
    /// recovery enable`, which makes a `KSR2` key) or turn recovery off.
    /// Nothing changed.
    #[error(
        "{store} has an old recovery key (KSR1) that cannot follow a new data key; replace it first (keyseal recovery enable prints a new one) or turn recovery off; nothing was changed"
    )]
    RecoveryKeyOutdated {
        /// The file.
        store: crate::Location,
    },

    /// A state keyseal's own logic rules out; please report it.
    #[error("internal error: {reason}")]
    Internal {
        /// What happened.
        reason: &'static str,
    },

    /// An application id given to `Store::open`
    /// cannot name a directory.
    #[error("invalid application id ({reason}); use a reverse-DNS name such as com.example.app")]
    InvalidAppId {
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The environment names no per-user configuration directory (no
    /// `HOME`, `XDG_CONFIG_HOME` or `APPDATA`), so
    /// `Store::open` has nowhere to put the file.
    #[error(
        "the environment names no configuration directory (set HOME, or XDG_CONFIG_HOME or APPDATA); give the store a path with Store::new"
    )]
    NoConfigDirectory,

    /// An entry name is empty or longer than 4096 bytes.
    #[error("invalid entry name ({reason})")]
    InvalidName {
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A typed value could not be encoded or decoded as JSON.
    ///
    /// Only the category, the position and the name of a missing or unknown
    /// field are kept: serde's messages can quote the value.
    #[error(
        "the value of entry {name:?} could not be {operation} as JSON ({category} error at line {line}, column {column}{})",
        .field.as_ref().map_or_else(String::new, |f| format!(", field `{f}`"))
    )]
    Value {
        /// The entry.
        name: String,
        /// Encoding or decoding.
        operation: ValueOperation,
        /// What kind of JSON error.
        category: JsonErrorCategory,
        /// Line of the error in the JSON text.
        line: usize,
        /// Column of the error in the JSON text.
        column: usize,
        /// The field that was missing, unknown or repeated (a name from the
        /// type or a key of the JSON object, never a value), when serde
        /// named one.
        field: Option<String>,
    },
}

/// Which version field of a file is newer than this build reads
/// ([`Error::UnsupportedVersion`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VersionField {
    /// The file format's version, in the header.
    Format,
    /// The version of the index of entries (format version 2 and later).
    Index,
    /// The version of the bundle of entries (format version 1).
    Bundle,
}

impl core::fmt::Display for VersionField {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Format => "format version",
            Self::Index => "index version",
            Self::Bundle => "bundle version",
        })
    }
}

/// What was done to a typed value when it failed ([`Error::Value`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValueOperation {
    /// Turning the value into JSON (a `set`).
    Encode,
    /// Reading the stored JSON as the type asked for (a `get`).
    Decode,
}

impl core::fmt::Display for ValueOperation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Encode => "encoded",
            Self::Decode => "decoded",
        })
    }
}

/// What kind of JSON error a typed value met ([`Error::Value`]), as
/// `serde_json` classifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JsonErrorCategory {
    /// Not JSON at all.
    Syntax,
    /// JSON, but not of the type asked for (a missing field, a string
    /// where a number belongs).
    Data,
    /// The JSON text ends too early.
    Eof,
    /// Reading or writing failed.
    Io,
}

impl core::fmt::Display for JsonErrorCategory {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Syntax => "syntax",
            Self::Data => "data",
            Self::Eof => "eof",
            Self::Io => "io",
        })
    }
}

/// The field serde's message names (`missing field `x``, `unknown field
/// `x`, expected …`, `duplicate field `x``): a name from the type or a key
/// of the object, never a value. Long names are not kept.
fn named_field(message: &str) -> Option<String> {
    const MAX_FIELD: usize = 128;
    let rest = ["missing field `", "unknown field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))?;
    let field = rest.split('`').next()?;
    (field.len() <= MAX_FIELD && !field.chars().any(char::is_control)).then(|| field.to_owned())
}

impl Error {
    pub(crate) fn value(name: &str, operation: ValueOperation, e: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        let category = match e.classify() {
            Category::Io => JsonErrorCategory::Io,
            Category::Syntax => JsonErrorCategory::Syntax,
            Category::Data => JsonErrorCategory::Data,
            Category::Eof => JsonErrorCategory::Eof,
        };
        Self::Value {
            name: name.to_owned(),
            operation,
            category,
            line: e.line(),
            column: e.column(),
            field: (category == JsonErrorCategory::Data)
                .then(|| named_field(&e.to_string()))
                .flatten(),
        }
    }

    pub(crate) fn from_key(e: keyseal_keys::Error) -> Self {
        match e.unavailable_reason() {
            Some(reason) => Self::KeyringUnavailable { reason, source: e },
            None => Self::Key { source: e },
        }
    }

    /// Maps an error from opening the file at `store` with the seal layer.
    pub(crate) fn from_seal(store: &crate::Location, e: keyseal_seal::Error) -> Self {
        use keyseal_seal::Error as S;
        let store = store.clone();
        match e {
            S::NotKeyseal => Self::NotAStore { store },
            S::UnsupportedVersion { found, supported } => Self::UnsupportedVersion {
                store,
                what: VersionField::Format,
                found,
                supported,
            },
            S::UnsupportedEntries {
                what,
                found,
                supported,
            } => Self::UnsupportedVersion {
                store,
                what: match what {
                    keyseal_seal::EntriesPart::Bundle => VersionField::Bundle,
                    _ => VersionField::Index,
                },
                found: u16::from(found),
                supported: u16::from(supported),
            },
            // Every format version names its algorithms; an id the version
            // does not know is damage, not a newer file.
            S::UnknownAlgorithm { id } => Self::Corrupt {
                store,
                reason: format!(
                    "its header names algorithm {id}, which no keyseal format version defines"
                ),
            },
            S::Malformed { reason } => Self::Corrupt {
                store,
                reason: reason.to_owned(),
            },
            S::WrongKey { offered, present } => Self::WrongKey {
                store,
                offered,
                sealed_for: present,
            },
            S::Authentication => Self::Tampered { store },
            source => Self::Seal { source },
        }
    }

    /// Whether the file itself could not be used (as opposed to the key
    /// provider, the lock or the disk), so a quarantine policy applies.
    pub(crate) fn is_unusable_file(&self) -> bool {
        matches!(
            self,
            Self::KeyMissing { .. }
                | Self::WrongKey { .. }
                | Self::NotAStore { .. }
                | Self::Tampered { .. }
                | Self::Corrupt { .. }
                | Self::Storage {
                    source: keyseal_blob::Error::Unreadable { .. }
                        | keyseal_blob::Error::TooLarge { .. },
                }
        )
    }
}

impl From<keyseal_blob::Error> for Error {
    /// The blob store's error: a lock timeout as [`Error::LockTimeout`],
    /// every other as [`Error::Storage`].
    fn from(e: keyseal_blob::Error) -> Self {
        match e {
            keyseal_blob::Error::LockTimeout { lock_path, waited } => {
                Self::LockTimeout { lock_path, waited }
            }
            source => Self::Storage { source },
        }
    }
}

impl From<keyseal_seal::Error> for Error {
    /// A seal-layer error while sealing (opening a file maps through
    /// `Error::from_seal`, which names the file).
    fn from(source: keyseal_seal::Error) -> Self {
        Self::Seal { source }
    }
}

fn display_ids(ids: &[KeyId]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
