//! The one error type of this crate.

use crate::{Algorithm, KeyId};

/// Result alias with this crate's [`enum@Error`] as the default error.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Why a sealed file could not be sealed or opened.
///
/// Each variant is a different situation that a caller handles differently,
/// so callers match on variants, never on the message text. No variant ever
/// carries key material or plaintext.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes do not start with the keyseal magic: this is not a keyseal file.
    #[error("not a keyseal file (the first bytes are not the keyseal magic)")]
    NotKeyseal,

    /// The file was written by a newer format version than this build reads.
    #[error(
        "keyseal format version {found} is not supported (this build reads version {supported})"
    )]
    UnsupportedVersion {
        /// The version the file declares.
        found: u16,
        /// The newest version this build reads.
        supported: u16,
    },

    /// The entries inside the file (its version-1 bundle, or its index)
    /// have a version this build does not know.
    #[error("keyseal {what} {found} is not supported (this build reads version {supported})")]
    UnsupportedEntries {
        /// Which: the bundle's or the index's version.
        what: EntriesPart,
        /// The version found.
        found: u8,
        /// The newest version this build reads.
        supported: u8,
    },

    /// The file names an AEAD algorithm this build does not know.
    #[error("unknown algorithm id {id} in the file header")]
    UnknownAlgorithm {
        /// The algorithm id found in the header.
        id: u8,
    },

    /// The file's content is truncated or structurally invalid (never used
    /// for misuse of the API: that is [`Error::Misuse`]).
    #[error("malformed keyseal file: {reason}")]
    Malformed {
        /// What is wrong, for people; callers must not match on it.
        reason: &'static str,
    },

    /// No key stanza in the file was sealed for the offered key.
    #[error("wrong key: the file is not sealed for key {offered} (it is sealed for {})", display_ids(.present))]
    WrongKey {
        /// The id of the key that was offered.
        offered: KeyId,
        /// The ids of the keys the file is sealed for.
        present: Vec<KeyId>,
    },

    /// The AEAD rejected the ciphertext: the file was tampered with or is corrupt.
    ///
    /// Deliberately opaque: it never says which check failed or why.
    #[error("authentication failed")]
    Authentication,

    /// Key material of the wrong length was offered.
    #[error("invalid key length: expected 32 bytes, got {len}")]
    InvalidKeyLength {
        /// The length that was offered.
        len: usize,
    },

    /// A nonce of the wrong length was offered to a [`Sealer`](crate::Sealer).
    #[error("invalid nonce length for {algorithm}: expected {expected} bytes, got {len}")]
    InvalidNonceLength {
        /// The algorithm the nonce was meant for.
        algorithm: Algorithm,
        /// The length it needs.
        expected: usize,
        /// The length that was offered.
        len: usize,
    },

    /// The plaintext is larger than the format can hold.
    #[error("plaintext of {len} bytes is too large (at most {max} bytes)")]
    TooLarge {
        /// The plaintext length.
        len: usize,
        /// The largest plaintext the format holds.
        max: usize,
    },

    /// A writer API was used in a way no file allows (for example a key
    /// wrapping two stanzas); a bug in the caller, never file content.
    #[error("keyseal writer misuse: {reason}")]
    Misuse {
        /// What was wrong, for people; callers must not match on it.
        reason: &'static str,
    },

    /// A new data key cannot be wrapped for the file's recovery stanza: it
    /// is the symmetric stanza of format version 2, which only the recovery
    /// key itself could write. Replace the recovery key (or remove it) first.
    #[error(
        "the recovery stanza is of format version 2 and cannot follow a new data key without the recovery key"
    )]
    LegacyRecovery,

    /// Removing this stanza would leave the file with no key that opens it.
    #[error("cannot remove the last key stanza: the file would no longer open")]
    LastStanza,

    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {source}")]
    Random {
        /// The underlying error.
        source: getrandom::Error,
    },
}

fn display_ids(ids: &[KeyId]) -> String {
    let parts: Vec<String> = ids.iter().map(ToString::to_string).collect();
    if parts.is_empty() {
        "no key".to_owned()
    } else {
        parts.join(", ")
    }
}

/// Which part of a file's entries carries a version of its own
/// ([`Error::UnsupportedEntries`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntriesPart {
    /// The version-1 file's bundle of entries.
    Bundle,
    /// The version-2 and later file's index of entries.
    Index,
}

impl core::fmt::Display for EntriesPart {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Bundle => "bundle version",
            Self::Index => "index version",
        })
    }
}
