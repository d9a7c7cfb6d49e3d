//! The key-file provider: the key is a file an orchestrator mounted, never
//! written by keyseal.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use keyseal_seal::{KEY_LEN, Key};
use zeroize::Zeroizing;

use crate::{Error, Result, UnavailableReason};

/// The most a key file may hold: base64 of a key with generous whitespace.
/// A larger file is not a key file, and is not read past this.
const MAX_KEY_FILE: u64 = 4096;

/// Reads the key from a file: exactly 32 raw bytes, or standard base64 of 32
/// bytes (the [`EnvKeyProvider`](crate::EnvKeyProvider)'s form; surrounding
/// whitespace ignored). A file of exactly 32 bytes is raw; anything else is
/// read as base64, so the two forms never overlap.
///
/// This is the form orchestrators give secrets: a Kubernetes Secret mounted
/// as a volume, a Docker secret in `/run/secrets/`, a systemd credential in
/// `$CREDENTIALS_DIRECTORY`. Symbolic links are followed (Kubernetes mounts
/// each key as a link into a timestamped directory), and the file opened is
/// the one checked:
/// - it must be a regular file (a FIFO or a device is refused without
///   blocking on it);
/// - on Unix, it belongs to this process's user (or to root), and no one
///   but its owner may read or write it (mode `0600` or `0400`; `chmod
///   go-rwx FILE`): a key other users can read or replace is refused, not
///   used. Where the orchestrator can only give the file to a group (a
///   Kubernetes secret volume with `fsGroup` makes it `0440`; systemd
///   credentials shown through an ACL look like `0440` too),
///   [`allow_group_read`](Self::allow_group_read) accepts group read, never
///   group write or any bit for others;
/// - it holds at most 4,096 bytes;
/// - a file of exactly 32 bytes that are all printable text is refused as
///   ambiguous (32 hex digits, or a line of base64 that decodes to fewer
///   bytes): a random key is text by chance with odds of about 2⁻⁴⁴.
///
/// The provider is read-only, like the environment provider:
/// [`create`](crate::KeyProvider::create) and [`delete`](crate::KeyProvider::delete)
/// return [`Error::ReadOnly`], and [`given`](crate::KeyProvider::given) is the key a
/// new store is sealed with. The file is read on every
/// [`load`](crate::KeyProvider::load) (keyseal loads once per process) into a
/// zeroizing buffer; errors name the file and what is wrong, never its
/// contents.
#[derive(Clone, Debug)]
pub struct KeyFileProvider {
    path: PathBuf,
    group_read: bool,
}

impl KeyFileProvider {
    /// A provider reading the key file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            group_read: false,
        }
    }

    /// Accepts a key file its group may read (mode `0440` or `0640`), for
    /// orchestrators that give secrets to a group; group write and every
    /// permission for others stay refused.
    #[must_use]
    pub fn allow_group_read(mut self, allow: bool) -> Self {
        self.group_read = allow;
        self
    }

    /// A provider reading the file named by the environment variable `var`
    /// (for example `KEYSEAL_KEY_FILE`).
    ///
    /// # Errors
    /// [`Error::Unavailable`] with [`UnavailableReason::NotConfigured`] when
    /// the variable is not set or is empty.
    pub fn from_env(var: &str) -> Result<Self> {
        match std::env::var_os(var) {
            Some(path) if !path.is_empty() => Ok(Self::new(path)),
            _ => Err(Error::Unavailable {
                location: format!("environment variable {var} (the key file's path)"),
                reason: UnavailableReason::NotConfigured,
                source: None,
            }),
        }
    }

    /// The key file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn location(&self) -> String {
        format!("key file {}", self.path.display())
    }

    /// The file's key, checked and decoded.
    fn read(&self) -> Result<Key> {
        let mut file = open(&self.path).map_err(|e| self.io_error(&e))?;
        let metadata = file.metadata().map_err(|e| self.io_error(&e))?;
        if !metadata.is_file() {
            return Err(self.malformed("it is not a regular file".to_owned()));
        }
        check_mode(&metadata, self.group_read).map_err(|reason| Error::Unsafe {
            location: self.location(),
            reason,
        })?;
        if metadata.len() > MAX_KEY_FILE {
            return Err(self.malformed(format!(
                "it is {} bytes; a key file holds {KEY_LEN} raw bytes or their base64",
                metadata.len()
            )));
        }
        let mut bytes = Zeroizing::new(Vec::with_capacity(64));
        (&mut file)
            .take(MAX_KEY_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| self.io_error(&e))?;
        decode(&bytes).map_err(|reason| self.malformed(reason))
    }

    fn malformed(&self, reason: String) -> Error {
        Error::Malformed {
            location: self.location(),
            reason,
        }
    }

    fn io_error(&self, e: &io::Error) -> Error {
        let reason = match e.kind() {
            io::ErrorKind::NotFound => UnavailableReason::NotConfigured,
            io::ErrorKind::PermissionDenied => UnavailableReason::AccessDenied,
            _ => UnavailableReason::Platform,
        };
        Error::Unavailable {
            location: self.location(),
            reason,
            source: Some(crate::PlatformError(e.to_string())),
        }
    }
}

/// The key in a key file's bytes: exactly 32 raw bytes, or base64 of 32.
fn decode(bytes: &[u8]) -> Result<Key, String> {
    if bytes.len() == KEY_LEN {
        if bytes
            .iter()
            .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
        {
            return Err(format!(
                "it is {KEY_LEN} bytes of text (hex digits or short base64?): a raw key is \
                 {KEY_LEN} random bytes, and the base64 of one is 44 characters"
            ));
        }
        return Key::from_slice(bytes).map_err(|_| format!("a key is exactly {KEY_LEN} bytes"));
    }
    if bytes.trim_ascii().is_empty() {
        return Err("it is empty".to_owned());
    }
    crate::record::decode_base64_key(bytes).map_err(|reason| {
        format!("{reason} (a key file holds exactly {KEY_LEN} raw bytes, or their standard base64)")
    })
}

#[cfg(unix)]
fn open(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // Non-blocking: opening a FIFO for reading would otherwise wait for a
    // writer. Regular files ignore the flag.
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(
            (rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY)
                .bits()
                .cast_signed(),
        )
        .open(path)
}

#[cfg(not(unix))]
fn open(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// Refuses a file another user owns, or one its group (unless allowed to
/// read) or other users can read or write.
#[cfg(unix)]
fn check_mode(metadata: &std::fs::Metadata, group_read: bool) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let owner = metadata.uid();
    let me = rustix::process::geteuid().as_raw();
    if owner != me && owner != 0 {
        return Err(format!(
            "it belongs to user {owner}, who could replace it; give it to this user ({me}) \
             or to root"
        ));
    }
    let mode = metadata.permissions().mode() & 0o777;
    let allowed = if group_read { 0o040 } else { 0 };
    if mode & 0o077 & !allowed == 0 {
        Ok(())
    } else {
        Err(format!(
            "its mode is {mode:04o}, so other users can read or change it; \
             make it readable by its owner only (chmod 600, or defaultMode: 0400 \
             on a Kubernetes secret volume){}",
            if group_read {
                ""
            } else {
                ", or allow group read where the orchestrator gives it to a group \
                 (--key-file-group-readable)"
            }
        ))
    }
}

#[cfg(not(unix))]
fn check_mode(_metadata: &std::fs::Metadata, _group_read: bool) -> Result<(), String> {
    // Windows files carry ACLs, not modes; the directory's ACL decides.
    Ok(())
}

crate::given::given_key_provider!(KeyFileProvider, crate::ProviderKind::KeyFile);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_two_bytes_are_raw_and_anything_else_is_base64() {
        let raw = [7u8; KEY_LEN];
        assert!(decode(&raw).is_ok());
        // 32 bytes of text are refused as ambiguous, however they look.
        for text in [[b'A'; KEY_LEN], [b'7'; KEY_LEN], [b' '; KEY_LEN]] {
            assert!(decode(&text).is_err());
        }
        let mut almost = [b'a'; KEY_LEN];
        almost[5] = 0x80;
        assert!(decode(&almost).is_ok());
        let b64 = b"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n";
        assert_eq!(
            decode(b64).map(|k| k.id()).ok(),
            decode(&raw).map(|k| k.id()).ok()
        );
        for bad in [
            &b""[..],
            b"\n\n",
            &[7u8; 31],
            &[7u8; 33],
            b"hunter2-not-base64",
        ] {
            let reason = decode(bad).err().unwrap_or_default();
            assert!(!reason.is_empty(), "{bad:?} was accepted");
            assert!(!reason.contains("hunter2"), "{reason}");
        }
    }
}
