//! A legacy application's own sealed file: docker-agent's
//! `mcp-oauth-tokens.enc`, `nonce (12) ‖ AES-256-GCM ciphertext ‖ tag` with
//! no associated data, sealed with the 32 raw bytes of a keyring item, and
//! written under an exclusive `flock` of `<file>.lock`.
//!
//! This file knows where such a file is, how it is read under the
//! application's own lock, how it is opened, and how it is removed only if
//! it is still the file that was imported.

use std::ffi::OsString;
use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keyseal::SecretSlice;
use keyseal::seal::{Aes256GcmSealer, Key, Sealer as _};

use crate::file_lock::{FileLock, LockFailure};

/// The GCM nonce docker-agent puts in front of the ciphertext.
const NONCE_LEN: usize = 12;

/// The GCM tag at the end.
const TAG_LEN: usize = 16;

/// The largest sealed file read (docker-agent's files hold a few tokens:
/// kilobytes). Anything larger is refused, never read into memory.
pub const MAX_SEALED_FILE: u64 = 64 * 1024 * 1024;

/// How long docker-agent's lock is waited for by default. docker-agent
/// holds it only while it reads or writes its file (milliseconds).
pub const DEFAULT_SEALED_FILE_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// A legacy application's own sealed file, opened with the 32 raw bytes of
/// one of its keyring items (docker-agent's `mcp-oauth-tokens.enc` and
/// `oauth:encryption-key`).
///
/// The file holds a JSON object `name -> value`, like a bundle item; it is
/// the application's newest truth, so its values win over the bundle's and
/// the per-item entries'. It and its key item are left in place unless
/// [`Options::remove_sealed_file`](crate::Options::remove_sealed_file) asks
/// to remove them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SealedFile {
    /// The file.
    pub path: PathBuf,
    /// The keyring item (in the layout's service) holding its key.
    pub key_item: String,
}

impl SealedFile {
    /// A sealed file at `path` whose key is the keyring item `key_item`.
    pub fn new(path: impl Into<PathBuf>, key_item: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            key_item: key_item.into(),
        }
    }

    /// docker-agent's file, `mcp-oauth-tokens.enc` in docker-agent's
    /// configuration directory, with key item `oauth:encryption-key`. The
    /// directory is found as docker-agent's `paths.GetConfigDir` finds it:
    /// `$XDG_CONFIG_HOME/cagent` on every platform, else the platform's
    /// (`~/.config/cagent` on Linux, `~/Library/Application
    /// Support/cagent` on macOS, `%APPDATA%\cagent` on Windows), except that
    /// while that does not exist and the older `~/.config/cagent` does, the
    /// older one. Environment values that are not absolute paths are
    /// ignored. `None` when no directory can be named.
    pub fn docker_agent() -> Option<Self> {
        let dir = docker_agent_config_dir(&|name| std::env::var_os(name))?;
        Some(Self::docker_agent_at(
            dir.join(crate::docker_agent::SEALED_FILE),
        ))
    }

    /// docker-agent's file at `path` (another configuration directory),
    /// with key item `oauth:encryption-key`.
    pub fn docker_agent_at(path: impl Into<PathBuf>) -> Self {
        Self::new(path, crate::docker_agent::KEY_ITEM)
    }

    /// The application's lock file, `<file>.lock`.
    pub fn lock_path(&self) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(".lock");
        PathBuf::from(name)
    }
}

/// Why a legacy sealed file was not imported. Nothing is imported from it
/// and nothing is deleted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealedFileProblem {
    /// The file exists but its key item does not.
    #[error("its key item {key_item:?} is not in the legacy keyring")]
    KeyMissing {
        /// The key item.
        key_item: String,
    },

    /// The file exists but the legacy keyring did not answer for its key
    /// item (no Secret Service, or it timed out). A locked collection is
    /// `Error::Read` with `UnavailableReason::Locked`.
    #[error("the legacy keyring did not answer for its key item {key_item:?} ({reason})")]
    KeyUnavailable {
        /// The key item.
        key_item: String,
        /// Why, as the keyring said (never a secret).
        reason: String,
    },

    /// The key item does not hold a 32-byte key.
    #[error("its key item {key_item:?} holds {length} bytes, not a 32-byte key")]
    KeyMalformed {
        /// The key item.
        key_item: String,
        /// How many bytes it holds.
        length: usize,
    },

    /// The file does not authenticate under the key: another key sealed it,
    /// or it was altered.
    #[error("it does not open with its key item's key (a different key, or the file was altered)")]
    NotAuthentic,

    /// The file is not the layout's.
    #[error("it is not {expected}")]
    Malformed {
        /// What it should be.
        expected: &'static str,
    },

    /// The path is not a regular file.
    #[error("it is {kind}, not a regular file")]
    NotRegularFile {
        /// What it is.
        kind: &'static str,
    },

    /// The file is larger than any such file could be.
    #[error("it is {length} bytes, more than the {limit} bytes such a file can be")]
    TooLarge {
        /// Its size.
        length: u64,
        /// The limit ([`MAX_SEALED_FILE`]).
        limit: u64,
    },

    /// The file does not exist but its key item does: docker-agent made its
    /// file somewhere else (another configuration directory). Importing the
    /// keyring items alone would put older values in the store.
    #[error(
        "it does not exist, but its key item {key_item:?} does: the application keeps its file elsewhere"
    )]
    FileMissing {
        /// The key item.
        key_item: String,
    },

    /// The lock file is not a regular file.
    #[error("its lock file {} is {kind}, not a regular file", lock.display())]
    LockFile {
        /// The lock file.
        lock: PathBuf,
        /// What it is.
        kind: &'static str,
    },

    /// The application holds its lock longer than the timeout.
    #[error(
        "its lock file {} was held by another process (a running docker-agent?) for more than {waited:?}",
        lock.display()
    )]
    LockTimeout {
        /// The lock file.
        lock: PathBuf,
        /// How long it was waited for.
        waited: Duration,
    },

    /// Reading the file or its lock failed.
    #[error("it could not be read")]
    Io(#[source] std::io::Error),
}

/// A sealed file as read under its lock: the bytes (to tell later whether
/// it changed) and what they opened to.
pub(crate) struct OpenedFile {
    /// The file's bytes as read.
    pub(crate) sealed: Vec<u8>,
    /// The JSON object they hold.
    pub(crate) plaintext: SecretSlice<u8>,
}

/// What removing a sealed file found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Removal {
    /// The file was the one imported, and is gone.
    Removed,
    /// The application wrote it again since it was imported: kept.
    Changed,
    /// It was gone already (another migration removed it).
    Gone,
}

impl SealedFile {
    /// The file's bytes, read under the application's lock; `None` when
    /// there is no file.
    ///
    /// # Errors
    /// Every [`SealedFileProblem`] about the file and its lock.
    ///
    /// The lock is held only while the file is read, never across a
    /// keyring call (which may prompt): docker-agent waits for it with a
    /// timeout of its own.
    pub(crate) fn read(
        &self,
        lock_timeout: Duration,
    ) -> Result<Option<Vec<u8>>, SealedFileProblem> {
        // No file: no lock taken, no lock file made.
        match std::fs::symlink_metadata(&self.path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(SealedFileProblem::Io(e)),
            Ok(_) => {}
        }
        let _lock = self.lock(lock_timeout)?;
        read_file(&self.path)
    }

    /// Opens `sealed` (the file's bytes) with `key` (the key item's bytes).
    ///
    /// # Errors
    /// [`SealedFileProblem::KeyMalformed`], [`SealedFileProblem::Malformed`]
    /// for a file too short to hold a nonce and a tag,
    /// [`SealedFileProblem::NotAuthentic`].
    pub(crate) fn open(
        &self,
        sealed: Vec<u8>,
        key: &[u8],
    ) -> Result<OpenedFile, SealedFileProblem> {
        let key = Key::from_slice(key).map_err(|_| SealedFileProblem::KeyMalformed {
            key_item: self.key_item.clone(),
            length: key.len(),
        })?;
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(SealedFileProblem::Malformed {
                expected: "a 12-byte nonce, an AES-256-GCM ciphertext and a 16-byte tag",
            });
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let plaintext = Aes256GcmSealer
            .open(&key, nonce, &[], ciphertext)
            .map_err(|_| SealedFileProblem::NotAuthentic)?;
        Ok(OpenedFile { sealed, plaintext })
    }

    /// Under the application's lock, removes the file if it still holds
    /// `imported`: a token the application wrote since is never removed.
    /// The lock file stays (the application keeps it on purpose: removing
    /// it would let two processes lock different files).
    ///
    /// # Errors
    /// Every [`SealedFileProblem`] about the file and its lock.
    pub(crate) fn remove_if_unchanged(
        &self,
        imported: &[u8],
        lock_timeout: Duration,
    ) -> Result<Removal, SealedFileProblem> {
        let _lock = self.lock(lock_timeout)?;
        match read_file(&self.path)? {
            None => Ok(Removal::Gone),
            Some(now) if now == imported => {
                std::fs::remove_file(&self.path).map_err(SealedFileProblem::Io)?;
                // Removed; a directory that did not confirm it durably may
                // bring the file back after a crash, which loses nothing.
                if let Err(e) = sync_parent(&self.path) {
                    tracing::warn!(
                        "removed {} but its directory did not confirm it: {e}",
                        self.path.display()
                    );
                }
                Ok(Removal::Removed)
            }
            Some(_) => Ok(Removal::Changed),
        }
    }

    fn lock(&self, timeout: Duration) -> Result<FileLock, SealedFileProblem> {
        let lock = self.lock_path();
        let started = Instant::now();
        FileLock::exclusive(&lock, timeout).map_err(|failure| match failure {
            LockFailure::TimedOut => SealedFileProblem::LockTimeout {
                lock: lock.clone(),
                waited: started.elapsed(),
            },
            LockFailure::NotRegularFile { kind } => SealedFileProblem::LockFile {
                lock: lock.clone(),
                kind,
            },
            LockFailure::Io(e) => SealedFileProblem::Io(e),
        })
    }
}

/// docker-agent's configuration directory (see [`SealedFile::docker_agent`]),
/// with the environment read through `var`.
fn docker_agent_config_dir(var: &dyn Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let absolute = |name: &str| var(name).map(PathBuf::from).filter(|p| p.is_absolute());
    let home = absolute(if cfg!(windows) { "USERPROFILE" } else { "HOME" });
    let platform = if cfg!(windows) {
        absolute("APPDATA")
    } else if cfg!(target_os = "macos") {
        home.as_ref()
            .map(|h| h.join("Library").join("Application Support"))
    } else {
        home.as_ref().map(|h| h.join(".config"))
    };
    let current = absolute("XDG_CONFIG_HOME")
        .or(platform)
        .map(|dir| dir.join(crate::docker_agent::CONFIG_DIR));
    let older = home.map(|h| h.join(".config").join(crate::docker_agent::CONFIG_DIR));
    match (current, older) {
        (Some(current), Some(older))
            if current != older
                && std::fs::symlink_metadata(&current).is_err()
                && older.is_dir() =>
        {
            Some(older)
        }
        (Some(current), _) => Some(current),
        (None, older) => older,
    }
}

/// The file's bytes (never through a symbolic link, never blocking on a
/// FIFO), or `None` when it is gone.
fn read_file(path: &Path) -> Result<Option<Vec<u8>>, SealedFileProblem> {
    let mut file = match crate::file_lock::open_no_follow(path, false) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(match keyseal::blob::local_file::refused_open_kind(&e) {
                Some(kind) => SealedFileProblem::NotRegularFile { kind },
                None => SealedFileProblem::Io(e),
            });
        }
    };
    let metadata = file.metadata().map_err(SealedFileProblem::Io)?;
    if !metadata.is_file() {
        return Err(SealedFileProblem::NotRegularFile {
            kind: keyseal::blob::local_file::not_regular_kind(&metadata.file_type())
                .unwrap_or("not a regular file"),
        });
    }
    if metadata.len() > MAX_SEALED_FILE {
        return Err(SealedFileProblem::TooLarge {
            length: metadata.len(),
            limit: MAX_SEALED_FILE,
        });
    }
    let mut bytes = Vec::new();
    (&mut file)
        .take(MAX_SEALED_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(SealedFileProblem::Io)?;
    let length = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if length > MAX_SEALED_FILE {
        return Err(SealedFileProblem::TooLarge {
            length,
            limit: MAX_SEALED_FILE,
        });
    }
    Ok(Some(bytes))
}

/// Makes a removal in the file's directory durable (Unix).
fn sync_parent(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::path::Path;

    use super::docker_agent_config_dir;

    fn resolve(home: &Path, xdg: Option<&Path>) -> std::path::PathBuf {
        let var = |name: &str| -> Option<OsString> {
            match name {
                "HOME" | "USERPROFILE" => Some(home.into()),
                "APPDATA" => Some(home.join("AppData").join("Roaming").into()),
                "XDG_CONFIG_HOME" => xdg.map(Into::into),
                _ => None,
            }
        };
        docker_agent_config_dir(&var).unwrap()
    }

    #[test]
    fn docker_agents_configuration_directory_is_found_as_docker_agent_finds_it() {
        let home = keyseal_testkit::TempDir::new("cagent-home");
        let home = home.path();
        let xdg = home.join("xdg");
        let older = home.join(".config").join("cagent");

        // $XDG_CONFIG_HOME wins on every platform while it has cagent/ or
        // the older directory does not exist.
        assert_eq!(resolve(home, Some(&xdg)), xdg.join("cagent"));
        // The older ~/.config/cagent, while the new one does not exist.
        std::fs::create_dir_all(&older).unwrap();
        assert_eq!(resolve(home, Some(&xdg)), older);
        std::fs::create_dir_all(xdg.join("cagent")).unwrap();
        assert_eq!(resolve(home, Some(&xdg)), xdg.join("cagent"));
        // A relative XDG_CONFIG_HOME is ignored.
        assert!(resolve(home, Some(Path::new("relative"))).is_absolute());
        // Without XDG_CONFIG_HOME: the platform's directory.
        let platform = if cfg!(windows) {
            home.join("AppData").join("Roaming").join("cagent")
        } else if cfg!(target_os = "macos") {
            home.join("Library")
                .join("Application Support")
                .join("cagent")
        } else {
            older.clone()
        };
        std::fs::create_dir_all(&platform).unwrap();
        assert_eq!(resolve(home, None), platform);
    }
}
