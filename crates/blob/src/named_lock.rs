//! Named advisory locks beside a store: a lock an adapter holds across work
//! of its own (an OAuth refresh: read, one token request, write) that the
//! store's own update lock must not cover. Separate from that lock: an
//! update inside a named lock never waits for itself.

use std::collections::HashSet;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::{Error, Result};

/// A held named lock; dropping it releases the lock (so does the process
/// ending, however it ends, for the locks of [`FileStore`](crate::FileStore)).
#[must_use = "dropping the guard releases the lock"]
pub struct NamedLock {
    _held: Box<dyn Send + Sync>,
}

impl NamedLock {
    /// A lock held for as long as `held` lives (a locked file, a database
    /// session holding an advisory lock, a guard of a process-local lock).
    pub fn new(held: impl Send + Sync + 'static) -> Self {
        Self {
            _held: Box::new(held),
        }
    }
}

impl std::fmt::Debug for NamedLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NamedLock")
    }
}

/// The process-local named locks: what [`BlobStore::named_lock`]'s default
/// and [`MemoryBlobStore`](crate::MemoryBlobStore) hand out, keyed by the
/// store's location and the name.
static LOCAL: LocalLocks = LocalLocks {
    held: Mutex::new(None),
    released: Condvar::new(),
};

struct LocalLocks {
    held: Mutex<Option<HashSet<String>>>,
    released: Condvar,
}

/// A process-local lock, released when dropped.
struct LocalGuard {
    key: String,
}

impl Drop for LocalGuard {
    fn drop(&mut self) {
        let mut held = LOCAL.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(set) = held.as_mut() {
            set.remove(&self.key);
        }
        LOCAL.released.notify_all();
    }
}

/// Takes the process-local lock `name` of the store at `location`, waiting
/// at most `timeout`.
///
/// # Errors
/// [`Error::LockTimeout`] after `timeout`.
pub(crate) fn local(location: &str, name: &str, timeout: Duration) -> Result<NamedLock> {
    let key = format!("{location}\u{0}{name}");
    let started = Instant::now();
    let mut held = LOCAL.held.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let set = held.get_or_insert_with(HashSet::new);
        if set.insert(key.clone()) {
            return Ok(NamedLock::new(LocalGuard { key }));
        }
        let waited = started.elapsed();
        if waited >= timeout {
            return Err(Error::LockTimeout {
                lock_path: format!("{location} (named lock {name:?}, this process)").into(),
                waited,
            });
        }
        held = LOCAL
            .released
            .wait_timeout(held, timeout.saturating_sub(waited))
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}

/// A file name for the named lock `name`: for people, the characters of its
/// part before any `:` that are safe in a file name (so a URL's host, path,
/// query or credentials never reach the disk), and a stable 64-bit FNV-1a
/// hash of all of it, so that any name fits and two names share a file only
/// by a hash collision (which makes them wait for each other, and loses
/// nothing).
pub(crate) fn file_name(name: &str) -> String {
    let readable: String = name
        .split(':')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(48)
        .collect();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{readable}-{hash:016x}.lock")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{file_name, local};

    #[test]
    fn file_names_are_stable_safe_and_distinct() {
        // The hash is part of the on-disk contract: processes built apart
        // must agree on it.
        assert_eq!(file_name(""), "-cbf29ce484222325.lock");
        let name = file_name("rmcp-refresh/https://user:pw@mcp.example/a?key=k");
        assert!(name.starts_with("rmcp-refreshhttps-"), "{name}");
        assert_eq!(name.len(), "rmcp-refreshhttps-".len() + 16 + ".lock".len());
        assert!(!name.contains("pw") && !name.contains("example"), "{name}");
        assert_ne!(file_name("a/b"), file_name("ab"));
        assert!(file_name(&"x".repeat(5000)).len() < 80);
        assert!(!file_name("../../etc/passwd").contains('/'));
    }

    #[test]
    fn a_local_lock_excludes_the_same_name_only_and_times_out() {
        let a = local("memory", "a", Duration::ZERO).unwrap();
        let _b = local("memory", "b", Duration::ZERO).unwrap();
        assert!(local("memory", "a", Duration::from_millis(20)).is_err());
        drop(a);
        drop(local("memory", "a", Duration::ZERO).unwrap());
    }
}
