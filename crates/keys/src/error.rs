//! The one error type of this crate.

use core::fmt;
use std::time::Duration;

/// Result alias with this crate's [`enum@Error`] as the default error.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Why a key provider could not load, create or delete the key.
///
/// `location` fields say where the key lives, for people (for example
/// `Secret Service item service="keyseal" item="store-key"`, or
/// `environment variable KEYSEAL_KEY`); callers match on variants, never on
/// text. No variant ever carries key material or a stored value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// There is no key at the location.
    #[error("no key found in {location}")]
    NotFound {
        /// Where the key was looked for.
        location: String,
    },

    /// `create` found a key already there and left it untouched.
    #[error("a key already exists in {location}; keyseal never overwrites one")]
    AlreadyExists {
        /// Where the key is.
        location: String,
    },

    /// The keyring (or other key source) did not answer usefully.
    #[error("{location} is unavailable: {reason}")]
    Unavailable {
        /// Where the key was looked for.
        location: String,
        /// Why it is unavailable.
        reason: UnavailableReason,
        /// The platform's own description, when there is one.
        #[source]
        source: Option<PlatformError>,
    },

    /// Something is stored at the location, but it is not a keyseal key.
    #[error("the key stored in {location} is malformed: {reason}")]
    Malformed {
        /// Where the malformed value is.
        location: String,
        /// What is wrong with it (never the value itself).
        reason: String,
    },

    /// The key source could be read or changed by other users (a key file
    /// its group or others can read), so it is refused, not used.
    #[error("refusing the key in {location}: {reason}")]
    Unsafe {
        /// Where the key is.
        location: String,
        /// What is wrong, and how to fix it.
        reason: String,
    },

    /// The provider cannot change its key (for example an environment variable).
    #[error("{location} is read-only: keyseal cannot {operation} a key there")]
    ReadOnly {
        /// Where the key lives.
        location: String,
        /// The refused operation: `create` or `delete` (the store's rotation
        /// says `create` too: a read-only provider cannot rotate).
        operation: &'static str,
    },

    /// Generating a new key failed.
    #[error("could not generate a key: {source}")]
    Generate {
        /// The underlying error.
        #[from]
        source: keyseal_seal::Error,
    },
}

impl Error {
    /// Whether this is [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// The reason, when this is [`Error::Unavailable`].
    pub fn unavailable_reason(&self) -> Option<UnavailableReason> {
        match self {
            Self::Unavailable { reason, .. } => Some(*reason),
            _ => None,
        }
    }
}

/// Why a key source is unavailable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnavailableReason {
    /// No keyring service is running or reachable (no D-Bus session, no
    /// Secret Service, no kernel keyring support).
    NoService,
    /// The keyring is locked and was not unlocked.
    Locked,
    /// The platform refused access.
    AccessDenied,
    /// The keyring did not answer within the configured timeout.
    TimedOut(Duration),
    /// The provider is not configured (for example its environment variable
    /// is not set).
    NotConfigured,
    /// Any other platform failure; see the error's source.
    Platform,
}

impl fmt::Display for UnavailableReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoService => f.write_str("no keyring service answers"),
            Self::Locked => f.write_str("the keyring is locked"),
            Self::AccessDenied => f.write_str("access was denied"),
            Self::TimedOut(after) => write!(f, "no answer within {} ms", after.as_millis()),
            Self::NotConfigured => f.write_str("it is not configured"),
            Self::Platform => f.write_str("the platform reported an error"),
        }
    }
}

/// A platform error, kept as text.
///
/// Keyring crates put stored values into some of their error variants; keyseal
/// keeps only the description of errors that cannot carry one, so a source
/// chain never leaks a secret.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct PlatformError(pub(crate) String);
