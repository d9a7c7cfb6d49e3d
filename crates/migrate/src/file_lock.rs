//! Another application's advisory file lock (an exclusive `flock` on Unix,
//! `LockFileEx` on Windows: what `std::fs::File::lock` takes, and what Go's
//! `syscall.Flock` takes), waited for with a bound.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::time::{Duration, Instant};

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
        let file = open_no_follow(path, true).map_err(|e| match refused_kind(&e) {
            Some(kind) => LockFailure::NotRegularFile { kind },
            None => LockFailure::Io(e),
        })?;
        let metadata = file.metadata().map_err(LockFailure::Io)?;
        if !metadata.is_file() {
            return Err(LockFailure::NotRegularFile {
                kind: kind_of(&metadata),
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
/// FIFO (Unix: `O_NOFOLLOW | O_NONBLOCK`).
pub(crate) fn open_no_follow(path: &Path, create: bool) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    if create {
        options.write(true).create(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;

        use rustix::fs::OFlags;
        let flags = (OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC).bits();
        options.mode(0o600).custom_flags(flags.cast_signed());
    }
    options.open(path)
}

/// What the path is when an open failed because it is not a regular file:
/// a symbolic link (`O_NOFOLLOW`'s `ELOOP`), a socket (`ENXIO`), a
/// directory (`EISDIR`, opening for writing).
pub(crate) fn refused_kind(e: &std::io::Error) -> Option<&'static str> {
    if e.kind() == std::io::ErrorKind::IsADirectory {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use rustix::io::Errno;
        let code = e.raw_os_error()?;
        if code == Errno::LOOP.raw_os_error() {
            return Some("a symbolic link");
        }
        if code == Errno::NXIO.raw_os_error() {
            return Some("a socket");
        }
    }
    None
}

/// What a path that is not a regular file is, in words.
pub(crate) fn kind_of(metadata: &std::fs::Metadata) -> &'static str {
    let kind = metadata.file_type();
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    "not a regular file"
}
