//! Another application's advisory file lock (an exclusive `flock` on Unix,
//! `LockFileEx` on Windows: what `std::fs::File::lock` takes, and what Go's
//! `syscall.Flock` takes), waited for with a bound.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use keyseal::blob::local_file::{no_follow_options, not_regular_kind, refused_open_kind};

/// How often a held lock is tried again.
const RETRY_EVERY: Duration = Duration::from_millis(20);

/// An exclusive lock on a file, released when dropped (closing the file
/// releases it; so does the process ending, however it ends).
pub(crate) struct FileLock {
    _file: File,
}

/// Why a lock was not taken.
pub(crate) enum LockFailure {
    /// Another process held it for the whole timeout.
    TimedOut,
    /// The lock path is not a regular file.
    NotRegularFile { kind: &'static str },
    /// Opening or locking failed.
    Io(std::io::Error),
}

impl FileLock {
    /// Takes the exclusive lock on `path`, creating the file (mode 0600) as
    /// the application itself does when it is missing; never through a
    /// symbolic link, never blocking on a FIFO.
    pub(crate) fn exclusive(path: &Path, timeout: Duration) -> Result<Self, LockFailure> {
        let file = open_no_follow(path, true).map_err(|e| match refused_open_kind(&e) {
            Some(kind) => LockFailure::NotRegularFile { kind },
            None => LockFailure::Io(e),
        })?;
        let metadata = file.metadata().map_err(LockFailure::Io)?;
        if !metadata.is_file() {
            return Err(LockFailure::NotRegularFile {
                kind: not_regular_kind(&metadata.file_type()).unwrap_or("not a regular file"),
            });
        }
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Self { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => return Err(LockFailure::Io(e)),
            }
            // Elapsed time, never a deadline: any timeout, however large.
            let waited = started.elapsed();
            if waited >= timeout {
                return Err(LockFailure::TimedOut);
            }
            std::thread::sleep(RETRY_EVERY.min(timeout - waited));
        }
    }
}

/// Opens `path` for reading (and, with `create`, writing, created with mode
/// 0600 when missing), refusing a symbolic link and never blocking on a
/// FIFO: [`keyseal::blob::local_file`], as the store opens its own files.
pub(crate) fn open_no_follow(path: &Path, create: bool) -> std::io::Result<File> {
    let mut options = no_follow_options();
    options.read(true);
    if create {
        options.write(true).create(true).truncate(false);
    }
    options.open(path)
}
