//! The one error type of this crate.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// The error of a store's client library, as the source of a remote
/// store's error (never carrying a password: see each store's docs).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result alias with this crate's [`enum@Error`] as the default error.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Why a blob could not be read, updated or quarantined.
///
/// Every variant names the path involved; callers match on variants, never
/// on text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another process held the lock for longer than the timeout.
    #[error("could not lock {} within {} ms: another process holds it", .lock_path.display(), .waited.as_millis())]
    LockTimeout {
        /// The lock file.
        lock_path: PathBuf,
        /// How long this process waited.
        waited: Duration,
    },

    /// The operating system refused access.
    #[error("permission denied: {}", .path.display())]
    PermissionDenied {
        /// The path that was refused.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The existing blob cannot be read. Nothing is written over it: every
    /// update is refused until the caller quarantines or repairs it.
    #[error("the existing blob {} cannot be read; it is left untouched and no update will replace it", .path.display())]
    Unreadable {
        /// The blob's path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// Something other than a regular file is at the store's path or its
    /// lock's path (a directory, a FIFO, a socket, a device). It is never
    /// opened for reading or writing, so nothing blocks on it, and nothing
    /// is created beside it.
    #[error("{} is {kind}, not a regular file; it is left untouched", .path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What is there: `a directory`, `a FIFO`, `a socket`, `a device`.
        kind: &'static str,
    },

    /// The store's directory or lock file could be turned against the
    /// user: other users can write to the directory, or another user owns
    /// it or the lock file (the checks OpenSSH's `StrictModes` makes).
    /// Nothing was read or written.
    #[error("refusing to use {}: {reason}", .path.display())]
    Unsafe {
        /// The directory or file.
        path: PathBuf,
        /// What is wrong, and what to do about it.
        reason: String,
    },

    /// The store's path names no file (`/`, or a path ending in `/`).
    #[error("{} does not name a file", .path.display())]
    InvalidPath {
        /// The path as given.
        path: PathBuf,
    },

    /// An update would write a blob larger than the store's limit (which it
    /// could then not read back); nothing was written.
    #[error("refusing to write {size} bytes to {}: over the {limit}-byte limit the store reads; the file is unchanged", .path.display())]
    WriteTooLarge {
        /// The blob's path.
        path: PathBuf,
        /// The size of the refused blob.
        size: u64,
        /// The store's limit.
        limit: u64,
    },

    /// The existing blob is larger than the store's limit.
    #[error("the blob {} is {size} bytes, over the {limit}-byte limit; it is left untouched", .path.display())]
    TooLarge {
        /// The blob's path.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The store's limit.
        limit: u64,
    },

    /// The file system is full; the previous blob is intact.
    #[error("no space left to write {}; the previous blob is intact", .path.display())]
    NoSpace {
        /// The path being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The new blob replaced the old one, but making that durable failed
    /// (the directory's fsync, or reading the new version back): readers
    /// see the new blob now, and a power loss could bring back the old one.
    /// The only error after which the stored blob is not the one before.
    #[error("{} was written, but the store could not confirm it is durable", .path.display())]
    NotDurable {
        /// The blob's path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The store's server could not be reached: the connection was refused
    /// or timed out, the host is unknown, or the connection broke before an
    /// update committed. Nothing was written.
    #[error("could not reach {location}: {reason}")]
    Unreachable {
        /// The store, for people (never a password).
        location: String,
        /// What happened, in words.
        reason: String,
        /// The client's own error.
        #[source]
        source: Option<BoxError>,
    },

    /// The store's server refused the credentials. Nothing was read or
    /// written.
    #[error("{location} refused the credentials")]
    AuthenticationFailed {
        /// The store, for people (never a password).
        location: String,
        /// The server's answer.
        #[source]
        source: BoxError,
    },

    /// TLS with the store's server failed: the server does not offer it, or
    /// its certificate does not verify against the trusted roots. Nothing
    /// was sent past the handshake.
    #[error("TLS with {location} failed")]
    Tls {
        /// The store, for people (never a password).
        location: String,
        /// The TLS library's or the client's error.
        #[source]
        source: BoxError,
    },

    /// The store's table is missing (and could not be created) or is not
    /// the shape the store expects. Nothing was written.
    #[error("the table of {location} {reason}")]
    Schema {
        /// The store, for people (never a password).
        location: String,
        /// What is wrong with the table.
        reason: String,
    },

    /// The connection broke (or stopped answering) while an update was
    /// committing: the new blob may or may not be stored. The one error,
    /// besides [`Error::NotDurable`], after which the stored blob may not
    /// be the one before; read again to find out.
    #[error(
        "the connection to {location} broke while an update was committing; it may or may not be stored"
    )]
    Unconfirmed {
        /// The store, for people (never a password).
        location: String,
        /// The client's own error.
        #[source]
        source: Option<BoxError>,
    },

    /// The store's server reported an error not covered above.
    #[error("{location} could not {operation}")]
    Server {
        /// The store, for people (never a password).
        location: String,
        /// What was being done.
        operation: &'static str,
        /// The server's or the client's error.
        #[source]
        source: BoxError,
    },

    /// Any other I/O failure.
    #[error("could not {operation} {}", .path.display())]
    Io {
        /// What was being done: `read`, `write`, `rename`, `sync`, ...
        operation: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// Classifies an I/O error on `path` during `operation`.
    pub(crate) fn io(operation: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        let path = path.into();
        match source.kind() {
            io::ErrorKind::PermissionDenied => Self::PermissionDenied { path, source },
            io::ErrorKind::StorageFull
            | io::ErrorKind::QuotaExceeded
            | io::ErrorKind::FileTooLarge => Self::NoSpace { path, source },
            _ => Self::Io {
                operation,
                path,
                source,
            },
        }
    }
}
