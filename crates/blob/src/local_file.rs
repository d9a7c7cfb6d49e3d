//! Opening a local file the way [`FileStore`](crate::FileStore) does, for
//! crates that read another application's files beside the store (the
//! migration reads docker-agent's sealed file and takes its lock this way).
//!
//! - [`no_follow_options`]: never through a symbolic link, never blocking
//!   on a FIFO or device swapped in after a check, new files mode 0600.
//! - [`not_regular_kind`] and [`refused_open_kind`]: what a path that is not
//!   a regular file is, in words for an error message.

use std::fs::{FileType, OpenOptions};
use std::io;

/// Open options that refuse a symbolic link at the last component
/// (`O_NOFOLLOW`) and never block on a FIFO or device (`O_NONBLOCK`), and
/// that create files readable and writable by the owner only (mode 0600).
/// Unix only adds the flags; elsewhere these are plain options.
///
/// Set read, write and create on the result as for any [`OpenOptions`].
/// `O_NONBLOCK` has no effect on a regular file's reads and writes.
#[must_use]
pub fn no_follow_options() -> OpenOptions {
    #[allow(unused_mut, reason = "only Unix sets a mode and flags")]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;

        use rustix::fs::OFlags;
        let flags = (OFlags::NOFOLLOW | OFlags::NONBLOCK).bits();
        options.mode(0o600).custom_flags(flags.cast_signed());
    }
    options
}

/// What a path is that is neither a regular file nor a symbolic link: "a
/// directory", "a FIFO", "a socket", "a device" or "not a regular file".
/// `None` for a regular file or a symbolic link (which
/// [`no_follow_options`] refuses when it is opened).
#[must_use]
pub fn not_regular_kind(kind: &FileType) -> Option<&'static str> {
    if kind.is_file() || kind.is_symlink() {
        return None;
    }
    if kind.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if kind.is_fifo() {
            return Some("a FIFO");
        }
        if kind.is_socket() {
            return Some("a socket");
        }
        if kind.is_block_device() || kind.is_char_device() {
            return Some("a device");
        }
    }
    Some("not a regular file")
}

/// What the path is when an open with [`no_follow_options`] failed because
/// it is not a regular file: "a symbolic link" (`ELOOP`), "a socket"
/// (`ENXIO`) or "a directory" (`EISDIR`, opening for writing). `None` for
/// any other failure.
#[must_use]
pub fn refused_open_kind(e: &io::Error) -> Option<&'static str> {
    if e.kind() == io::ErrorKind::IsADirectory {
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

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_symbolic_link_and_a_fifo_are_refused_without_blocking_and_named() {
        let dir = std::env::temp_dir().join(format!("keyseal-local-file-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let target = dir.join("target");
        std::fs::write(&target, b"x").unwrap();
        let link = dir.join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = no_follow_options().read(true).open(&link).unwrap_err();
        assert_eq!(refused_open_kind(&e), Some("a symbolic link"));

        let fifo = dir.join("fifo");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from(0o600)).unwrap();
        // Opening a FIFO for reading with O_NONBLOCK returns at once.
        let file = no_follow_options().read(true).open(&fifo).unwrap();
        let kind = file.metadata().unwrap().file_type();
        assert_eq!(not_regular_kind(&kind), Some("a FIFO"));

        let created = dir.join("created");
        no_follow_options()
            .write(true)
            .create_new(true)
            .open(&created)
            .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&created).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            not_regular_kind(&std::fs::metadata(&created).unwrap().file_type()),
            None
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
