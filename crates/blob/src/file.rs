//! The file store: a data file replaced atomically, guarded by a lock file.
//!
//! ```text
//! <dir>/              created 0700 when missing
//!   store.sealed      the blob, 0600, only ever replaced by rename
//!   store.sealed.lock 0600, never deleted; held with an exclusive OS lock
//!   .store.sealed.tmp-<pid>-<random>   a write in progress (or a crash's leftover)
//! ```
//!
//! Before anything is opened, the store checks what is at its paths: a
//! directory, FIFO, socket or device at the data or lock path is refused
//! at once ([`Error::NotAFile`]), never opened (so nothing blocks on it), and
//! files are opened with `O_NOFOLLOW | O_NONBLOCK` and checked again on the
//! open handle. The directory must not be writable by other users nor owned
//! by another user, and the lock file must be the user's own, as OpenSSH's
//! `StrictModes` requires ([`Error::Unsafe`]; opt out with
//! [`FileStore::with_shared_directory`]).
//!
//! An update takes the lock (polling `File::try_lock` until the timeout),
//! removes leftover temporary files at a handle's first update and every
//! 64th (nobody else can be writing: we hold the lock), reads the current
//! blob (only its ends, when the caller expects its version), runs the caller's closure, and, to write,
//! creates a new temporary file 0600 in the same directory, writes it,
//! fsyncs it, renames it over the data file and fsyncs the directory. A crash
//! at any point leaves the old file or the new one, and a reader (who takes
//! no lock) opens one or the other, never a mix.

use std::ffi::OsString;
use std::fs::{self, File, TryLockError};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::local_file::{no_follow_options, not_regular_kind, refused_open_kind};
use crate::{BlobStore, Current, Decision, Error, Result, Snapshot, Version};

/// The default bound on waiting for the lock.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// The default largest blob the store reads (16 MiB): a bound on what a
/// damaged or hostile file can make the process allocate.
pub const DEFAULT_MAX_SIZE: u64 = 16 * 1024 * 1024;

/// A blob kept in one file, shared by every process that opens the same path.
///
/// See the module docs for the layout and the write procedure. Creating a
/// `FileStore` does no I/O; the directory is created by the first update.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
    dir: PathBuf,
    file_name: OsString,
    lock_path: PathBuf,
    lock_timeout: Duration,
    max_size: u64,
    /// Set by [`FileStore::with_shared_directory`].
    shared_directory: bool,
    /// Updates made through this handle: leftover temporary files are looked
    /// for at the first and then at every [`CLEANUP_EVERY`]th.
    updates: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// How often (in updates of one handle) the directory is searched for the
/// temporary files of crashed writers. Leftovers only waste space, and a
/// directory listing on every update costs more than its share of a write.
const CLEANUP_EVERY: u64 = 64;

impl FileStore {
    /// A store whose blob is the file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let file_name = path
            .file_name()
            .map_or_else(|| OsString::from("blob"), ToOwned::to_owned);
        let mut lock_name = file_name.clone();
        lock_name.push(".lock");
        Self {
            lock_path: dir.join(lock_name),
            path,
            dir,
            file_name,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            max_size: DEFAULT_MAX_SIZE,
            shared_directory: false,
            updates: std::sync::Arc::default(),
        }
    }

    /// How long an update waits for the lock (default 10 s).
    #[must_use]
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The largest blob the store reads or writes (default 16 MiB): an
    /// update that would write more fails with [`Error::WriteTooLarge`].
    #[must_use]
    pub fn with_max_size(mut self, bytes: u64) -> Self {
        self.max_size = bytes;
        self
    }

    /// Allows a store directory that other users can write to or that
    /// another user owns, and a lock file another user owns (default: both
    /// refused with [`Error::Unsafe`]). Only for the rare shared set-up where
    /// every user with access is trusted: such a user can replace, delete or
    /// roll back the store, or block its lock.
    #[must_use]
    pub fn with_shared_directory(mut self, allow: bool) -> Self {
        self.shared_directory = allow;
        self
    }

    /// The data file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file beside it.
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    fn temp_prefix(&self) -> OsString {
        let mut prefix = OsString::from(".");
        prefix.push(&self.file_name);
        prefix.push(".tmp-");
        prefix
    }

    /// The store's path must name a file: not `/`, not `dir/`.
    fn check_path(&self) -> Result<()> {
        let names_file = self.path.file_name().is_some()
            && !self
                .path
                .as_os_str()
                .as_encoded_bytes()
                .ends_with(std::path::MAIN_SEPARATOR_STR.as_bytes())
            && !self.path.as_os_str().as_encoded_bytes().ends_with(b"/");
        if names_file {
            Ok(())
        } else {
            Err(Error::InvalidPath {
                path: self.path.clone(),
            })
        }
    }

    /// Refuses at once what is not a regular file at `path` (a directory,
    /// FIFO, socket or device), before anything opens it. A missing path or
    /// a symbolic link passes here; the open that follows handles them.
    fn check_kind(path: &Path) -> Result<()> {
        match fs::symlink_metadata(path) {
            Ok(meta) => match not_regular_kind(&meta.file_type()) {
                Some(kind) => Err(Error::NotAFile {
                    path: path.to_path_buf(),
                    kind,
                }),
                None => Ok(()),
            },
            Err(_) => Ok(()),
        }
    }

    /// The directory must be the user's (or root's) and not writable by
    /// others, unless [`with_shared_directory`](Self::with_shared_directory).
    fn check_dir(&self, meta: &fs::Metadata) -> Result<()> {
        if self.shared_directory {
            return Ok(());
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let me = rustix::process::geteuid().as_raw();
            if meta.uid() != me && meta.uid() != 0 {
                return Err(Error::Unsafe {
                    path: self.dir.clone(),
                    reason: format!(
                        "the directory belongs to user {}, not to this user ({me}); another user could replace the store (FileStore::with_shared_directory, or the CLI's --shared-directory, allows it)",
                        meta.uid()
                    ),
                });
            }
            if meta.mode() & 0o022 != 0 {
                return Err(Error::Unsafe {
                    path: self.dir.clone(),
                    reason: format!(
                        "other users can write to the directory (mode {:04o}); they could replace the store or its lock. Run chmod go-w on it, keep the store in a directory of your own, or allow it with FileStore::with_shared_directory (the CLI's --shared-directory)",
                        meta.mode() & 0o7777
                    ),
                });
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        Ok(())
    }

    /// Every directory above the store's must be safe too, as OpenSSH's
    /// `StrictModes` requires: each symbolic link on the way belongs to the
    /// user or root, and each directory (with links resolved) belongs to the
    /// user or root and is not writable by others, unless it is sticky (as
    /// `/tmp` is: others cannot move or delete what is not theirs there).
    fn check_ancestors(&self) -> Result<()> {
        if self.shared_directory {
            return Ok(());
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let me = rustix::process::geteuid().as_raw();
            let literal = std::path::absolute(&self.dir)
                .map_err(|e| Error::io("inspect the directory", &self.dir, e))?;
            for at in literal.ancestors() {
                match fs::symlink_metadata(at) {
                    Ok(meta)
                        if meta.file_type().is_symlink() && meta.uid() != me && meta.uid() != 0 =>
                    {
                        return Err(Error::Unsafe {
                            path: at.to_path_buf(),
                            reason: format!(
                                "it is a symbolic link of user {}, who could point it elsewhere",
                                meta.uid()
                            ),
                        });
                    }
                    _ => {}
                }
            }
            let Ok(resolved) = fs::canonicalize(&self.dir) else {
                // Not there yet: the parts that are there are checked as
                // they are created.
                return Ok(());
            };
            for at in resolved.ancestors().skip(1) {
                let meta =
                    fs::metadata(at).map_err(|e| Error::io("inspect the directory", at, e))?;
                let sticky = meta.mode() & 0o1000 != 0;
                if (meta.uid() != me && meta.uid() != 0) || (meta.mode() & 0o022 != 0 && !sticky) {
                    return Err(Error::Unsafe {
                        path: at.to_path_buf(),
                        reason: format!(
                            "a directory above the store belongs to user {} with mode {:04o}; another user could replace the store's directory (FileStore::with_shared_directory, or the CLI's --shared-directory, allows it)",
                            meta.uid(),
                            meta.mode() & 0o7777
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    fn ensure_dir(&self) -> Result<()> {
        self.check_ancestors()?;
        match fs::metadata(&self.dir) {
            Ok(meta) if meta.is_dir() => self.check_dir(&meta),
            Ok(_) => Err(Error::Io {
                operation: "use as a directory",
                path: self.dir.clone(),
                source: io::Error::other("not a directory"),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.create_dirs()?;
                self.check_ancestors()?;
                let meta = fs::metadata(&self.dir)
                    .map_err(|e| Error::io("inspect the directory", &self.dir, e))?;
                self.check_dir(&meta)
            }
            Err(e) => Err(Error::io("inspect the directory", &self.dir, e)),
        }
    }

    /// Creates the store's directory and every missing one above it, each
    /// 0700, and fsyncs each one's parent, so that the first file in them
    /// survives a power loss (an entry in a directory that was never synced
    /// can vanish with it).
    fn create_dirs(&self) -> Result<()> {
        let absolute = std::path::absolute(&self.dir)
            .map_err(|e| Error::io("create the directory", &self.dir, e))?;
        let mut missing = Vec::new();
        for at in absolute.ancestors() {
            match fs::symlink_metadata(at) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => missing.push(at.to_path_buf()),
                _ => break,
            }
        }
        for dir in missing.iter().rev() {
            let mut builder = fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            match builder.create(dir) {
                Ok(()) => {}
                // Another process made it first.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => continue,
                Err(e) => return Err(Error::io("create the directory", dir, e)),
            }
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
        }
        Ok(())
    }

    /// Opens (creating 0600) and exclusively locks the lock file, polling
    /// until the timeout. The lock is released when the file is dropped,
    /// also on panic, and by the OS when the process dies.
    fn lock(&self) -> Result<File> {
        self.check_path()?;
        Self::check_kind(&self.path)?;
        self.ensure_dir()?;
        self.lock_at(&self.lock_path, self.lock_timeout)
    }

    /// Opens (creating 0600) and exclusively locks the lock file at
    /// `lock_path`, polling until `timeout`: the store's own lock, or a
    /// named lock.
    fn lock_at(&self, lock_path: &Path, timeout: Duration) -> Result<File> {
        Self::check_kind(lock_path)?;
        let file = no_follow_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(lock_path)
            .map_err(|e| match refused_open_kind(&e) {
                Some("a symbolic link") => Error::Unsafe {
                    path: lock_path.to_path_buf(),
                    reason: "the lock file is a symbolic link; keyseal does not follow links for its lock".to_owned(),
                },
                _ => Error::io("open the lock file", lock_path, e),
            })?;
        self.check_lock_file(&file, lock_path)?;
        let started = Instant::now();
        let mut pause = LOCK_POLL_FIRST;
        loop {
            match file.try_lock() {
                Ok(()) => {
                    let waited = started.elapsed();
                    if waited >= Duration::from_millis(1) {
                        tracing::debug!(
                            "waited {} ms for the lock {}",
                            waited.as_millis(),
                            lock_path.display()
                        );
                    }
                    return Ok(file);
                }
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(Error::io("lock", lock_path, e)),
            }
            let waited = started.elapsed();
            if waited >= timeout {
                return Err(Error::LockTimeout {
                    lock_path: lock_path.to_path_buf(),
                    waited,
                });
            }
            thread::sleep(pause.min(timeout.saturating_sub(waited)));
            pause = next_pause(pause, waited);
        }
    }

    /// The lock file just opened must be a regular file of this user's.
    fn check_lock_file(&self, file: &File, lock_path: &Path) -> Result<()> {
        let meta = file
            .metadata()
            .map_err(|e| Error::io("inspect the lock file", lock_path, e))?;
        if let Some(kind) = not_regular_kind(&meta.file_type()) {
            return Err(Error::NotAFile {
                path: lock_path.to_path_buf(),
                kind,
            });
        }
        #[cfg(unix)]
        if !self.shared_directory {
            use std::os::unix::fs::MetadataExt;
            let me = rustix::process::geteuid().as_raw();
            if meta.uid() != me {
                return Err(Error::Unsafe {
                    path: lock_path.to_path_buf(),
                    reason: format!(
                        "the lock file belongs to user {}, not to this user ({me}); another user could hold it forever",
                        meta.uid()
                    ),
                });
            }
        }
        Ok(())
    }

    /// The directory of the named locks, `<file>.locks` beside the store:
    /// made 0700 when missing, and refused when it is not a directory of
    /// this user's (a symbolic link included).
    fn named_locks_dir(&self) -> Result<PathBuf> {
        self.check_path()?;
        self.ensure_dir()?;
        let mut name = self.file_name.clone();
        name.push(".locks");
        let dir = self.dir.join(name);
        let mut builder = fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        match builder.create(&dir) {
            Ok(()) => sync_dir(&self.dir)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io("create the named-lock directory", &dir, e)),
        }
        let meta = fs::symlink_metadata(&dir)
            .map_err(|e| Error::io("inspect the named-lock directory", &dir, e))?;
        if !meta.is_dir() {
            return Err(Error::Unsafe {
                path: dir,
                reason: "it is not a directory (a symbolic link is not followed)".to_owned(),
            });
        }
        #[cfg(unix)]
        if !self.shared_directory {
            use std::os::unix::fs::MetadataExt;
            let me = rustix::process::geteuid().as_raw();
            if meta.uid() != me || meta.mode() & 0o022 != 0 {
                return Err(Error::Unsafe {
                    path: dir,
                    reason: format!(
                        "the named-lock directory belongs to user {} or other users can write to it; another user could hold its locks forever",
                        meta.uid()
                    ),
                });
            }
        }
        Ok(dir)
    }

    /// Reads the data file, or `None` when it does not exist.
    fn read_current(&self) -> Result<Option<Snapshot>> {
        self.check_path()?;
        // The store manages this path itself: a symbolic link there is not
        // followed (nor replaced by the next write).
        if fs::symlink_metadata(&self.path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(self.unreadable(io::Error::other(
                "it is a symbolic link; keyseal does not follow links for its store",
            )));
        }
        Self::check_kind(&self.path)?;
        if let Ok(meta) = fs::metadata(&self.dir) {
            self.check_ancestors()?;
            self.check_dir(&meta)?;
        }
        // Opened without following a link and without blocking, in case
        // something was swapped in since the checks.
        let mut file = match no_follow_options().read(true).open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.unreadable(e)),
        };
        let meta = file.metadata().map_err(|e| self.unreadable(e))?;
        if let Some(kind) = not_regular_kind(&meta.file_type()) {
            return Err(Error::NotAFile {
                path: self.path.clone(),
                kind,
            });
        }
        if meta.len() > self.max_size {
            return Err(Error::TooLarge {
                path: self.path.clone(),
                size: meta.len(),
                limit: self.max_size,
            });
        }
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        (&mut file)
            .take(self.max_size.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| self.unreadable(e))?;
        if bytes.len() as u64 > self.max_size {
            return Err(Error::TooLarge {
                path: self.path.clone(),
                size: bytes.len() as u64,
                limit: self.max_size,
            });
        }
        Ok(Some(Snapshot::new(bytes, version_of(&meta))))
    }

    /// Under the lock: the data file's length and its first `head` and last
    /// `tail` bytes, when its version is still `expected`; `None` when it is
    /// not (or is gone, or is not a regular file: the full read reports it).
    fn read_ends(&self, expected: Version, head: usize, tail: usize) -> Result<Option<Ends>> {
        if fs::symlink_metadata(&self.path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Ok(None);
        }
        let Ok(file) = no_follow_options().read(true).open(&self.path) else {
            return Ok(None);
        };
        let meta = file.metadata().map_err(|e| self.unreadable(e))?;
        if !meta.is_file() || version_of(&meta) != expected || meta.len() > self.max_size {
            return Ok(None);
        }
        let len = meta.len();
        let read_at = |offset: u64, n: usize| -> Result<Vec<u8>> {
            let mut buf = vec![0u8; n];
            read_exact_at(&file, &mut buf, offset).map_err(|e| self.unreadable(e))?;
            Ok(buf)
        };
        let clamp = |n: usize| usize::try_from(len).map_or(n, |len| n.min(len));
        let head = read_at(0, clamp(head))?;
        let tail_len = clamp(tail);
        let tail = read_at(len - tail_len as u64, tail_len)?;
        Ok(Some((len, head, tail)))
    }

    /// Carries out an update's decision on the blob at `current`.
    fn apply(&self, decision: Decision, current: Option<Version>) -> Result<Option<Version>> {
        match decision {
            Decision::Keep | Decision::Abort | Decision::ReadAll => Ok(current),
            Decision::Write(bytes) => {
                // A blob this store could not read back is never written.
                if bytes.len() as u64 > self.max_size {
                    return Err(Error::WriteTooLarge {
                        path: self.path.clone(),
                        size: bytes.len() as u64,
                        limit: self.max_size,
                    });
                }
                self.replace(&bytes)?;
                // From here on the new blob is in place: a failure is
                // "written, durability not confirmed", never "unchanged".
                let meta = fs::metadata(&self.path).map_err(|source| Error::NotDurable {
                    path: self.path.clone(),
                    source,
                })?;
                Ok(Some(version_of(&meta)))
            }
        }
    }

    fn unreadable(&self, source: io::Error) -> Error {
        match source.kind() {
            io::ErrorKind::PermissionDenied => Error::PermissionDenied {
                path: self.path.clone(),
                source,
            },
            _ => Error::Unreadable {
                path: self.path.clone(),
                source,
            },
        }
    }

    /// Removes temporary files left by crashed writers. Called under the
    /// lock, so no live writer owns one. Best effort: a leftover that cannot
    /// be removed is tried again next time.
    fn remove_stale_temps(&self) {
        let prefix = self.temp_prefix();
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry
                .file_name()
                .as_encoded_bytes()
                .starts_with(prefix.as_encoded_bytes())
            {
                tracing::debug!(
                    "removing {}, left by a writer that crashed",
                    entry.path().display()
                );
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Writes `bytes` to a new temporary file and renames it over the data
    /// file, durably. On error the temporary file is removed and the data
    /// file is untouched.
    fn replace(&self, bytes: &[u8]) -> Result<()> {
        let mut name = self.temp_prefix();
        name.push(format!("{}-{:016x}", std::process::id(), random_u64()));
        let temp = self.dir.join(name);
        let result = self.write_temp(&temp, bytes).and_then(|()| {
            fs::rename(&temp, &self.path).map_err(|e| Error::io("rename over", &self.path, e))
        });
        if let Err(e) = result {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        tracing::debug!(
            "replaced {} atomically ({} bytes)",
            self.path.display(),
            bytes.len()
        );
        sync_dir(&self.dir).map_err(|e| match e {
            Error::Io { source, .. }
            | Error::PermissionDenied { source, .. }
            | Error::NoSpace { source, .. } => Error::NotDurable {
                path: self.path.clone(),
                source,
            },
            other => other,
        })
    }

    fn write_temp(&self, temp: &Path, bytes: &[u8]) -> Result<()> {
        let mut file = no_follow_options()
            .write(true)
            .create_new(true)
            .open(temp)
            .map_err(|e| Error::io("create", temp, e))?;
        file.write_all(bytes)
            .map_err(|e| Error::io("write", temp, e))?;
        // File timestamps come from a coarse clock (a few milliseconds), and
        // inode numbers are reused: two quick writes of the same size could
        // look identical to `stat`. A modification time with random
        // nanoseconds makes every write's version distinct.
        let _ = file.set_modified(unique_now());
        file.sync_all().map_err(|e| Error::io("sync", temp, e))
    }
}

impl BlobStore for FileStore {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn path(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn read(&self) -> Result<Option<Snapshot>> {
        self.read_current()
    }

    fn version(&self) -> Result<Option<Version>> {
        self.check_path()?;
        match fs::metadata(&self.path) {
            Ok(meta) if not_regular_kind(&meta.file_type()).is_some() => Err(Error::NotAFile {
                path: self.path.clone(),
                kind: not_regular_kind(&meta.file_type()).unwrap_or("not a regular file"),
            }),
            Ok(meta) => Ok(Some(version_of(&meta))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("inspect", &self.path, e)),
        }
    }

    fn update(
        &self,
        decide: &mut dyn FnMut(Option<&Snapshot>) -> Decision,
    ) -> Result<Option<Version>> {
        self.update_expecting(None, 0, 0, &mut |current| match current {
            Current::Read(snapshot) => decide(snapshot),
            _ => Decision::ReadAll,
        })
    }

    fn update_expecting(
        &self,
        expected: Option<Version>,
        head: usize,
        tail: usize,
        decide: &mut dyn FnMut(Current<'_>) -> Decision,
    ) -> Result<Option<Version>> {
        let _lock = self.lock()?;
        let n = self
            .updates
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n.is_multiple_of(CLEANUP_EVERY) {
            self.remove_stale_temps();
        }
        if let Some(expected) = expected
            && let Some((len, head, tail)) = self.read_ends(expected, head, tail)?
        {
            match decide(Current::Unchanged {
                len,
                head: &head,
                tail: &tail,
            }) {
                Decision::ReadAll => {}
                other => return self.apply(other, Some(expected)),
            }
        }
        let current = self.read_current()?;
        let version = current.as_ref().map(Snapshot::version);
        let decision = decide(Current::Read(current.as_ref()));
        self.apply(decision, version)
    }

    /// A `flock` on `<file>.locks/<name's file name>` beside the store
    /// (0600, in a 0700 directory; the lock files stay, so that two
    /// processes never lock different files of one name). The system
    /// releases it when its holder exits, however it exits.
    fn named_lock(&self, name: &str, timeout: Duration) -> Result<crate::NamedLock> {
        let dir = self.named_locks_dir()?;
        let file = self.lock_at(&dir.join(crate::named_lock::file_name(name)), timeout)?;
        Ok(crate::NamedLock::new(file))
    }

    fn quarantine(&self, reason: &str, judged: Option<Version>) -> Result<Option<String>> {
        let _lock = self.lock()?;
        match fs::symlink_metadata(&self.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("inspect", &self.path, e)),
            // Replaced since it was judged: the new file is not the one the
            // caller could not use.
            Ok(meta) if judged.is_some_and(|judged| version_of(&meta) != judged) => {
                return Ok(None);
            }
            Ok(_) => {}
        }
        let base = format!(
            "{}{}",
            self.file_name.to_string_lossy(),
            crate::quarantine_suffix(reason, SystemTime::now())
        );
        // Never overwrite an earlier quarantined file from the same second.
        let mut target = self.dir.join(&base);
        let mut n = 1;
        while fs::symlink_metadata(&target).is_ok() {
            n += 1;
            target = self.dir.join(format!("{base}-{n}"));
        }
        fs::rename(&self.path, &target).map_err(|e| Error::io("move aside", &self.path, e))?;
        tracing::warn!(
            "moved {} aside to {}",
            self.path.display(),
            target.display()
        );
        // The move has happened: report it as done, whatever the sync says.
        if let Err(e) = sync_dir(&self.dir) {
            tracing::warn!("the move aside is done but not confirmed durable: {e}");
        }
        Ok(Some(target.display().to_string()))
    }
}

/// The first pause between two tries of the lock.
const LOCK_POLL_FIRST: Duration = Duration::from_micros(50);

/// The longest pause while the wait is short: a holder's update takes about a
/// millisecond, and every moment the lock sits free while all waiters sleep
/// is lost throughput (8 writers kept 62% of one writer's throughput with
/// pauses that grew to 50 ms, in an earlier run of `cargo xtask bench`'s
/// section 7).
const LOCK_POLL_SHORT_CAP: Duration = Duration::from_millis(1);

/// How long a wait counts as short.
const LOCK_SHORT_WAIT: Duration = Duration::from_millis(250);

/// The longest pause in a long wait (a holder that is stuck or stopped),
/// where tries every millisecond would only burn CPU.
const LOCK_POLL_LONG_CAP: Duration = Duration::from_millis(25);

/// The pause after `pause`, having waited `waited` so far.
fn next_pause(pause: Duration, waited: Duration) -> Duration {
    let cap = if waited < LOCK_SHORT_WAIT {
        LOCK_POLL_SHORT_CAP
    } else {
        LOCK_POLL_LONG_CAP
    };
    (pause * 2).min(cap)
}

/// A file's length, first bytes and last bytes.
type Ends = (u64, Vec<u8>, Vec<u8>);

/// Reads exactly `buf.len()` bytes at `offset` without moving a cursor.
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(not(unix))]
    {
        use std::io::Seek as _;
        let mut file = file;
        file.seek(io::SeekFrom::Start(offset))?;
        file.read_exact(buf)
    }
}

/// Makes a rename in `dir` durable (Unix; Windows has no directory handle
/// to sync and commits the rename's metadata itself).
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io("sync the directory", dir, e))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

fn version_of(meta: &fs::Metadata) -> Version {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let signed = |v: i64| u64::from_ne_bytes(v.to_ne_bytes());
        Version::from_parts([
            meta.dev(),
            meta.ino(),
            meta.len(),
            signed(meta.mtime()),
            signed(meta.mtime_nsec()),
            signed(meta.ctime()) ^ signed(meta.ctime_nsec()).rotate_left(32),
        ])
    }
    #[cfg(not(unix))]
    {
        let nanos = |t: io::Result<SystemTime>| {
            t.ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        };
        Version::from_parts([
            meta.len(),
            nanos(meta.modified()),
            nanos(meta.created()),
            0,
            0,
            0,
        ])
    }
}

/// Now, less a random part of a second: distinct for every write, and never
/// in the future.
fn unique_now() -> SystemTime {
    let now = SystemTime::now();
    let back = Duration::from_nanos(random_u64() % 1_000_000_000);
    now.checked_sub(back).unwrap_or(now)
}

fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    // A temporary name only needs to be unlikely to collide; the pid is part
    // of it too, and `create_new` refuses a collision instead of clobbering.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        return u64::from(nanos);
    }
    u64::from_ne_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_pauses_stay_short_while_the_wait_is_short_and_grow_after() {
        let mut pause = LOCK_POLL_FIRST;
        let mut waited = Duration::ZERO;
        while waited < LOCK_SHORT_WAIT {
            assert!(pause <= LOCK_POLL_SHORT_CAP, "{pause:?} after {waited:?}");
            waited += pause;
            pause = next_pause(pause, waited);
        }
        for _ in 0..10 {
            pause = next_pause(pause, waited);
        }
        assert_eq!(pause, LOCK_POLL_LONG_CAP);
    }
}
