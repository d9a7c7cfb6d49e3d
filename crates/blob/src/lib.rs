#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

use core::fmt;
use std::sync::Arc;

mod error;
mod file;
pub mod local_file;
mod memory;
mod named_lock;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod conformance;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use crate::error::{BoxError, Error, Result};
pub use crate::file::{DEFAULT_LOCK_TIMEOUT, DEFAULT_MAX_SIZE, FileStore};
pub use crate::memory::MemoryBlobStore;
pub use crate::named_lock::NamedLock;

/// One opaque blob, shared by many processes.
///
/// # Contract
/// - A reader MUST never see a partial blob: [`read`](BlobStore::read)
///   returns either a blob some update committed in full, or none.
/// - An [`update`](BlobStore::update) that returned `Ok` MUST survive a crash
///   or power loss that happens after it returned.
/// - An update that did not return `Ok` MUST leave either the old or the new
///   blob, never a mix, and an update whose closure returns
///   [`Decision::Keep`] or [`Decision::Abort`] (or panics) MUST leave the old
///   one.
/// - Updates are exclusive across threads and processes: the closure runs
///   under a lock, sees the blob as the last committed update left it, and
///   no other update commits until it is done.
/// - An existing blob that cannot be read MUST NOT be replaced: every update
///   fails with [`Error::Unreadable`] until the caller
///   [quarantines](BlobStore::quarantine) it.
/// - [`quarantine`](BlobStore::quarantine) MUST keep the blob (moved aside,
///   never deleted).
pub trait BlobStore: Send + Sync + fmt::Debug {
    /// Where the blob lives, for people (a path, or `memory`).
    fn location(&self) -> String;

    /// The file the blob lives in, for a store that keeps it in one (the
    /// default: `None`).
    fn path(&self) -> Option<&std::path::Path> {
        None
    }

    /// Reads the current blob, or `None` when there is none.
    ///
    /// Needs no lock: blobs are replaced atomically.
    ///
    /// # Errors
    /// [`Error::Unreadable`], [`Error::PermissionDenied`],
    /// [`Error::TooLarge`], [`Error::Io`].
    fn read(&self) -> Result<Option<Snapshot>>;

    /// The current blob's version without reading it, or `None` when there
    /// is no blob. Compare with a [`Snapshot::version`] to skip re-reading
    /// (and re-decrypting) an unchanged blob.
    ///
    /// # Errors
    /// [`Error::PermissionDenied`], [`Error::Io`].
    fn version(&self) -> Result<Option<Version>>;

    /// Runs one exclusive read-modify-write: `decide` sees the current blob
    /// under the lock and says what to do. Returns the version after the
    /// update (`None` when there is no blob).
    ///
    /// [`BlobStoreExt::update_with`] is the convenient form.
    ///
    /// # Errors
    /// [`Error::LockTimeout`], [`Error::Unreadable`], [`Error::NotAFile`],
    /// [`Error::Unsafe`], [`Error::InvalidPath`], [`Error::NoSpace`],
    /// [`Error::PermissionDenied`], [`Error::TooLarge`],
    /// [`Error::WriteTooLarge`], [`Error::Io`], and a remote store's
    /// [`Error::Unreachable`], [`Error::AuthenticationFailed`],
    /// [`Error::Tls`], [`Error::Schema`], [`Error::Server`]: the stored blob
    /// is the one before the call. [`Error::NotDurable`] and
    /// [`Error::Unconfirmed`] are the exceptions: the new blob is in place
    /// but the store could not confirm that it would survive a power loss,
    /// or a remote store lost its connection while committing and cannot
    /// tell whether the new blob is in place.
    fn update(
        &self,
        decide: &mut dyn FnMut(Option<&Snapshot>) -> Decision,
    ) -> Result<Option<Version>>;

    /// [`update`](Self::update) for a caller that already holds the blob it
    /// read at version `expected`: when the blob still has that version, a
    /// store may read only its first `head` and last `tail` bytes and pass
    /// them as [`Current::Unchanged`], so the caller can confirm it is the
    /// blob it holds without reading all of it; `decide` answers
    /// [`Decision::ReadAll`] to be called again with the whole blob.
    ///
    /// The default reads the whole blob every time.
    ///
    /// # Errors
    /// As [`update`](Self::update).
    fn update_expecting(
        &self,
        expected: Option<Version>,
        head: usize,
        tail: usize,
        decide: &mut dyn FnMut(Current<'_>) -> Decision,
    ) -> Result<Option<Version>> {
        let _ = (expected, head, tail);
        self.update(&mut |current| match decide(Current::Read(current)) {
            // Nothing more to read: a closure that still asks is confused.
            Decision::ReadAll => Decision::Abort,
            other => other,
        })
    }

    /// Moves the current blob aside under a name that says when and why
    /// (`<name>.<reason>-<UTC timestamp>`), under the lock, so the store
    /// starts empty without destroying what it could not use. Returns where
    /// the blob went, or `None` when nothing was moved.
    ///
    /// `judged` is the version of the blob the caller found unusable: the
    /// blob is moved only while it still has that version, so a blob
    /// another process wrote since (a good one) is never moved aside in its
    /// place; then nothing is moved and the caller reads again. `None`
    /// moves whatever blob there is (for a blob that could not be read at
    /// all, whose version the caller never saw).
    ///
    /// `reason` is reduced to lower-case letters, digits and `-`.
    ///
    /// # Errors
    /// [`Error::LockTimeout`], [`Error::PermissionDenied`], [`Error::Io`].
    fn quarantine(&self, reason: &str, judged: Option<Version>) -> Result<Option<String>>;

    /// Takes the advisory lock `name`, waiting at most `timeout`, and holds
    /// it until the returned guard is dropped. It is separate from the lock
    /// of [`update`](Self::update): updates inside it run as usual, and two
    /// different names do not wait for each other (a store may map names to
    /// locks by a hash; two names colliding wait for each other, which loses
    /// nothing). Adapters hold it across
    /// work that must not run twice at once (an OAuth refresh: read, one
    /// token request, write).
    ///
    /// The default is process-local: it coordinates the threads of one
    /// process only, keyed by [`location`](Self::location) and name (every
    /// [`MemoryBlobStore`] is at `memory`, so memory stores of one process
    /// share their named locks). A store that several processes share MUST
    /// override it
    /// with a lock they all see ([`FileStore`] does: a `flock` on a file
    /// beside the store, which the system releases when its holder dies).
    ///
    /// # Errors
    /// [`Error::LockTimeout`] after `timeout`; a store's own errors for
    /// making the lock (for [`FileStore`]: [`Error::Unsafe`],
    /// [`Error::NotAFile`], [`Error::PermissionDenied`], [`Error::Io`]).
    fn named_lock(&self, name: &str, timeout: std::time::Duration) -> Result<NamedLock> {
        named_lock::local(&self.location(), name, timeout)
    }
}

/// What an update's closure decided.
#[derive(Debug)]
pub enum Decision {
    /// Replace the blob with these bytes.
    Write(Vec<u8>),
    /// Leave the blob as it is (nothing is written).
    Keep,
    /// The caller's logic failed: leave the blob as it is.
    Abort,
    /// In reply to [`Current::Unchanged`]: call again with the whole blob.
    ReadAll,
}

/// What an update's closure sees (see [`BlobStore::update_expecting`]).
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Current<'a> {
    /// The whole current blob (`None`: there is none).
    Read(Option<&'a Snapshot>),
    /// The blob has the version the caller expected; only its ends were read.
    Unchanged {
        /// The blob's length.
        len: u64,
        /// Its first bytes (all of them, for a blob shorter than asked).
        head: &'a [u8],
        /// Its last bytes (all of them, for a blob shorter than asked).
        tail: &'a [u8],
    },
}

/// A blob and the version it was read at.
#[derive(Clone, PartialEq, Eq)]
pub struct Snapshot {
    bytes: Arc<Vec<u8>>,
    version: Version,
}

impl Snapshot {
    /// A snapshot (for store implementations).
    pub fn new(bytes: Vec<u8>, version: Version) -> Self {
        Self {
            bytes: Arc::new(bytes),
            version,
        }
    }

    /// The blob's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The blob's bytes, shared rather than copied: a caller that keeps them
    /// (to read parts later) needs no second copy of a large blob.
    pub fn shared_bytes(&self) -> Arc<Vec<u8>> {
        Arc::clone(&self.bytes)
    }

    /// The blob's bytes, by value (copied only if they are shared).
    pub fn into_bytes(self) -> Vec<u8> {
        Arc::try_unwrap(self.bytes).unwrap_or_else(|shared| (*shared).clone())
    }

    /// The version the blob was read at.
    pub fn version(&self) -> Version {
        self.version
    }
}

impl fmt::Debug for Snapshot {
    /// Never the bytes: a blob holds sealed secrets, and the length is enough.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("len", &self.bytes.len())
            .field("version", &self.version)
            .finish()
    }
}

/// An opaque marker that changes whenever the blob is replaced.
///
/// For files it is built from the file's identity and timestamps (device,
/// inode, size, modification and change times), all of which a replacing
/// rename changes; for memory stores it is a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Version([u64; 6]);

impl Version {
    /// A version from raw parts (for store implementations).
    pub const fn from_parts(parts: [u64; 6]) -> Self {
        Self(parts)
    }

    /// The raw parts (for store implementations that keep their own
    /// numbers in a version).
    pub const fn parts(&self) -> [u64; 6] {
        self.0
    }
}

/// What an update's closure decided, with the value it returns
/// ([`BlobStoreExt`]).
#[derive(Debug)]
pub enum Decided<T> {
    /// Replace the blob with `bytes`; return `value`.
    Write {
        /// The new blob.
        bytes: Vec<u8>,
        /// What the update returns.
        value: T,
    },
    /// Leave the blob as it is; return the value.
    Keep(T),
    /// In reply to [`Current::Unchanged`]: call again with the whole blob.
    ReadAll,
}

/// What an update did: the closure's value, and the blob's version after it
/// (`None` when there is no blob).
#[derive(Debug)]
#[non_exhaustive]
pub struct Updated<T> {
    /// What the closure returned.
    pub value: T,
    /// The blob's version after the update.
    pub version: Option<Version>,
}

/// [`BlobStore::update`] with a closure that returns a value or its own
/// error type, which also carries the store's errors (`E: From<Error>`).
pub trait BlobStoreExt: BlobStore {
    /// An update whose closure sees the whole blob (`None` when there is
    /// none): [`Decided::Write`] writes, [`Decided::Keep`] keeps the blob,
    /// `Err(e)` aborts and leaves the blob as it was.
    ///
    /// # Errors
    /// The store's errors (as `E`) and the closure's own.
    fn update_with<T, E: From<Error>>(
        &self,
        mut f: impl FnMut(Option<&Snapshot>) -> core::result::Result<Decided<T>, E>,
    ) -> core::result::Result<Updated<T>, E> {
        // With no expected version every store passes the whole blob.
        self.update_expecting_with(None, 0, 0, |current| match current {
            Current::Read(snapshot) => f(snapshot),
            _ => Ok(Decided::ReadAll),
        })
    }

    /// [`BlobStore::update_expecting`] with a closure as
    /// [`update_with`](Self::update_with) has; [`Decided::ReadAll`] asks for
    /// the whole blob.
    ///
    /// # Errors
    /// The store's errors (as `E`) and the closure's own.
    fn update_expecting_with<T, E: From<Error>>(
        &self,
        expected: Option<Version>,
        head: usize,
        tail: usize,
        mut f: impl FnMut(Current<'_>) -> core::result::Result<Decided<T>, E>,
    ) -> core::result::Result<Updated<T>, E> {
        let mut outcome = None;
        let version =
            self.update_expecting(expected, head, tail, &mut |current| match f(current) {
                Ok(Decided::ReadAll) => Decision::ReadAll,
                Ok(Decided::Write { bytes, value }) => {
                    outcome = Some(Ok(value));
                    Decision::Write(bytes)
                }
                Ok(Decided::Keep(value)) => {
                    outcome = Some(Ok(value));
                    Decision::Keep
                }
                Err(e) => {
                    outcome = Some(Err(e));
                    Decision::Abort
                }
            })?;
        match outcome {
            Some(Ok(value)) => Ok(Updated { value, version }),
            Some(Err(e)) => Err(e),
            None => Err(Error::Io {
                operation: "run the update of",
                path: self.location().into(),
                source: std::io::Error::other("the store did not run the update"),
            }
            .into()),
        }
    }
}

impl<S: BlobStore + ?Sized> BlobStoreExt for S {}

impl<T: BlobStore + ?Sized> BlobStore for Arc<T> {
    fn location(&self) -> String {
        (**self).location()
    }
    fn path(&self) -> Option<&std::path::Path> {
        (**self).path()
    }
    fn read(&self) -> Result<Option<Snapshot>> {
        (**self).read()
    }
    fn version(&self) -> Result<Option<Version>> {
        (**self).version()
    }
    fn update(
        &self,
        decide: &mut dyn FnMut(Option<&Snapshot>) -> Decision,
    ) -> Result<Option<Version>> {
        (**self).update(decide)
    }
    fn update_expecting(
        &self,
        expected: Option<Version>,
        head: usize,
        tail: usize,
        decide: &mut dyn FnMut(Current<'_>) -> Decision,
    ) -> Result<Option<Version>> {
        (**self).update_expecting(expected, head, tail, decide)
    }
    fn quarantine(&self, reason: &str, judged: Option<Version>) -> Result<Option<String>> {
        (**self).quarantine(reason, judged)
    }
    fn named_lock(&self, name: &str, timeout: std::time::Duration) -> Result<NamedLock> {
        (**self).named_lock(name, timeout)
    }
}

impl<T: BlobStore + ?Sized> BlobStore for Box<T> {
    fn location(&self) -> String {
        (**self).location()
    }
    fn path(&self) -> Option<&std::path::Path> {
        (**self).path()
    }
    fn read(&self) -> Result<Option<Snapshot>> {
        (**self).read()
    }
    fn version(&self) -> Result<Option<Version>> {
        (**self).version()
    }
    fn update(
        &self,
        decide: &mut dyn FnMut(Option<&Snapshot>) -> Decision,
    ) -> Result<Option<Version>> {
        (**self).update(decide)
    }
    fn update_expecting(
        &self,
        expected: Option<Version>,
        head: usize,
        tail: usize,
        decide: &mut dyn FnMut(Current<'_>) -> Decision,
    ) -> Result<Option<Version>> {
        (**self).update_expecting(expected, head, tail, decide)
    }
    fn quarantine(&self, reason: &str, judged: Option<Version>) -> Result<Option<String>> {
        (**self).quarantine(reason, judged)
    }
    fn named_lock(&self, name: &str, timeout: std::time::Duration) -> Result<NamedLock> {
        (**self).named_lock(name, timeout)
    }
}

/// The suffix a quarantined blob's name takes: `.<reason>-<UTC timestamp>`
/// (for example `.unreadable-20261201T180000Z`), `reason` reduced to
/// `[a-z0-9-]`. For store implementations: [`BlobStore::quarantine`] names
/// what it moved aside `<name><suffix>`.
pub fn quarantine_suffix(reason: &str, time: std::time::SystemTime) -> String {
    format!(".{}-{}", slug(reason), utc_stamp(time))
}

/// `reason` reduced to `[a-z0-9-]`, never empty.
pub(crate) fn slug(reason: &str) -> String {
    let s: String = reason
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    let s = s.trim_matches('-').to_owned();
    if s.is_empty() {
        "quarantined".to_owned()
    } else {
        s
    }
}

/// `YYYYMMDDTHHMMSSZ` for a time (UTC, proleptic Gregorian calendar).
pub(crate) fn utc_stamp(time: std::time::SystemTime) -> String {
    let secs = time
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn utc_stamps_match_known_dates() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101T000000Z");
        // 2000-02-29 12:34:56 UTC (a leap day).
        assert_eq!(
            utc_stamp(UNIX_EPOCH + Duration::from_secs(951_827_696)),
            "20000229T123456Z"
        );
        // 2026-11-29 16:40:38 UTC.
        assert_eq!(
            utc_stamp(UNIX_EPOCH + Duration::from_secs(1_795_970_438)),
            "20261129T164038Z"
        );
    }

    #[test]
    fn slugs_are_safe_file_name_parts() {
        assert_eq!(slug("Unreadable"), "unreadable");
        assert_eq!(slug("wrong key / tampered"), "wrong-key---tampered");
        assert_eq!(slug("../../etc"), "etc");
        assert_eq!(slug(""), "quarantined");
    }
}
