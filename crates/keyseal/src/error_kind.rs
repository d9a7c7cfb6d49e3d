//! What kind of failure an error is: the few cases a caller handles
//! differently, which the CLI's exit codes follow.

use crate::Error;

/// What kind of failure an [`enum@Error`] is ([`Error::kind`]), for a caller
/// that handles a few cases rather than every variant. Each kind is one of
/// the `keyseal` command's exit codes.
///
/// A `get` is handled in these arms:
///
/// ```
/// # fn token(store: &keyseal::Store) -> Option<String> {
/// use keyseal::ErrorKind;
/// match store.get::<String>("github") {
///     Ok(token) => token,
///     Err(e) => match e.kind() {
///         // Retry later: a lock held too long, I/O, a server away.
///         ErrorKind::Transient => None,
///         // Ask the user to fix the keyring or the key's configuration.
///         ErrorKind::Configuration => None,
///         // The key does not open the store: recovery key, or a new store.
///         ErrorKind::Key => None,
///         // The file cannot be used; it was left as it is.
///         ErrorKind::UnusableFile => None,
///         // A name or value this program got wrong, or a keyseal bug.
///         _ => None,
///     },
/// }
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// There is no store to work on (rotation and recovery need one). (CLI exit 1)
    NotFound,
    /// The caller's input cannot be used: an entry name, a recovery key's
    /// text, a value that is not the type asked for, a change that would
    /// make the store outgrow its size limit (remove entries first),
    /// a path that does not name a file, an old recovery key that must be
    /// replaced first. Nothing changed; fix the call. (CLI exit 2)
    Usage,
    /// The stored file cannot be used: not a store, tampered, corrupt, of a
    /// newer version, rolled back, too large, unreadable, unsafe (other
    /// users can write beside it); for a database store, also the login, the
    /// TLS certificate or the table. It was left as it is. (CLI exit 3)
    UnusableFile,
    /// The key does not open the store: it is missing from the provider,
    /// the provider holds another one, or the recovery key is not this
    /// store's. (CLI exit 4)
    Key,
    /// The key provider cannot be used as configured: a keyring that does
    /// not answer or is locked, a key variable unset or malformed, a key
    /// file missing, malformed or readable by others, a provider that
    /// cannot take a new key; or no configuration directory for
    /// `Store::open`. (CLI exit 5)
    Configuration,
    /// Worth trying again: a lock held too long, an I/O error, a full disk,
    /// a server that does not answer, a write or commit whose durability
    /// was not confirmed (the error says whether the change may be in
    /// place). (CLI exit 6)
    Transient,
    /// A state keyseal's own logic rules out; please report it. (CLI exit 6)
    Bug,
}

impl Error {
    /// What kind of failure this is (see [`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        use keyseal_blob::Error as B;
        match self {
            Self::NoStore { .. } => ErrorKind::NotFound,
            Self::InvalidName { .. }
            | Self::InvalidAppId { .. }
            | Self::InvalidRecoveryKey { .. }
            | Self::RecoveryKeyOutdated { .. }
            | Self::Value { .. } => ErrorKind::Usage,
            Self::NotAStore { .. }
            | Self::Tampered { .. }
            | Self::Corrupt { .. }
            | Self::UnsupportedVersion { .. }
            | Self::Rollback { .. } => ErrorKind::UnusableFile,
            Self::KeyMissing { .. } | Self::WrongKey { .. } | Self::WrongRecoveryKey { .. } => {
                ErrorKind::Key
            }
            Self::KeyringUnavailable { .. } | Self::Key { .. } | Self::NoConfigDirectory => {
                ErrorKind::Configuration
            }
            Self::LockTimeout { .. } => ErrorKind::Transient,
            Self::Internal { .. } => ErrorKind::Bug,
            Self::Storage { source } => match source {
                B::InvalidPath { .. } | B::WriteTooLarge { .. } => ErrorKind::Usage,
                B::PermissionDenied { .. }
                | B::Unreadable { .. }
                | B::NotAFile { .. }
                | B::Unsafe { .. }
                | B::TooLarge { .. }
                | B::AuthenticationFailed { .. }
                | B::Tls { .. }
                | B::Schema { .. } => ErrorKind::UnusableFile,
                _ => ErrorKind::Transient,
            },
            Self::Seal { source } => match source {
                keyseal_seal::Error::TooLarge { .. } => ErrorKind::Usage,
                keyseal_seal::Error::Random { .. } => ErrorKind::Transient,
                _ => ErrorKind::Bug,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorKind;
    use crate::Error;

    fn storage(source: keyseal_blob::Error) -> Error {
        Error::Storage { source }
    }

    #[test]
    fn each_kind_of_failure_is_told_apart() {
        let path = || crate::Location::of(&keyseal_blob::MemoryBlobStore::new());
        let io = || std::io::Error::other("x");
        let cases = [
            (Error::NoStore { store: path() }, ErrorKind::NotFound),
            (Error::InvalidName { reason: "r" }, ErrorKind::Usage),
            (
                storage(keyseal_blob::Error::WriteTooLarge {
                    path: "p".into(),
                    size: 2,
                    limit: 1,
                }),
                ErrorKind::Usage,
            ),
            (Error::Tampered { store: path() }, ErrorKind::UnusableFile),
            (
                storage(keyseal_blob::Error::Unreadable {
                    path: "p".into(),
                    source: io(),
                }),
                ErrorKind::UnusableFile,
            ),
            (
                Error::KeyMissing {
                    store: path(),
                    location: "p".to_owned(),
                },
                ErrorKind::Key,
            ),
            (
                Error::from_key(keyseal_keys::Error::Unavailable {
                    location: "p".to_owned(),
                    reason: keyseal_keys::UnavailableReason::NotConfigured,
                    source: None,
                }),
                ErrorKind::Configuration,
            ),
            (
                storage(keyseal_blob::Error::NotDurable {
                    path: "p".into(),
                    source: io(),
                }),
                ErrorKind::Transient,
            ),
            (Error::Internal { reason: "r" }, ErrorKind::Bug),
        ];
        for (error, kind) in cases {
            assert_eq!(error.kind(), kind, "{error}");
        }
    }

    #[test]
    fn a_damaged_algorithm_byte_is_an_unusable_file_not_a_newer_one() {
        let store = crate::Location::of(&keyseal_blob::MemoryBlobStore::new());
        let e = Error::from_seal(&store, keyseal_seal::Error::UnknownAlgorithm { id: 9 });
        assert!(matches!(e, Error::Corrupt { .. }), "{e}");
        assert!(!e.to_string().contains("newer"), "{e}");
        assert_eq!(e.kind(), ErrorKind::UnusableFile);
    }
}
