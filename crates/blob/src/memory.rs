//! The in-memory store, for tests of code built on keyseal.

use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::{BlobStore, Decision, Error, Result, Snapshot, Version};

#[derive(Debug, Default)]
struct State {
    blob: Option<Snapshot>,
    counter: u64,
    writes: usize,
    reads: usize,
    fail_read: Vec<usize>,
    fail_write: Vec<usize>,
    fail_after_write: Vec<usize>,
    unreadable: bool,
    quarantined: Vec<(String, Vec<u8>)>,
}

/// A blob in process memory with the same semantics as [`FileStore`](crate::FileStore)
/// (exclusive updates, versions, quarantine, refusal to replace an
/// unreadable blob), for tests. It can be told to fail a write.
///
/// It persists nothing and is never chosen by keyseal on its own.
#[derive(Debug, Default)]
pub struct MemoryBlobStore {
    state: Mutex<State>,
}

const LOCATION: &str = "memory";

impl MemoryBlobStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the `nth` write (1-based) fail before anything is stored.
    pub fn fail_write_on(&self, nth: usize) {
        self.lock().fail_write.push(nth);
    }

    /// Makes the `nth` call of [`read`](BlobStore::read) (1-based) fail.
    pub fn fail_read_on(&self, nth: usize) {
        self.lock().fail_read.push(nth);
    }

    /// Makes the `nth` write store its bytes and then report
    /// [`Error::NotDurable`], as a failed directory fsync after the rename
    /// would.
    pub fn fail_after_write_on(&self, nth: usize) {
        self.lock().fail_after_write.push(nth);
    }

    /// Marks the current blob unreadable (as a file with bad permissions or
    /// a failing disk would be) until it is quarantined.
    pub fn make_unreadable(&self) {
        self.lock().unreadable = true;
    }

    /// How many writes were attempted.
    pub fn writes(&self) -> usize {
        self.lock().writes
    }

    /// The blobs moved aside by [`quarantine`](BlobStore::quarantine), with
    /// their names.
    pub fn quarantined(&self) -> Vec<(String, Vec<u8>)> {
        self.lock().quarantined.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn injected(what: &str) -> Error {
    Error::Io {
        operation: "write",
        path: LOCATION.into(),
        source: io::Error::other(format!("injected failure: {what}")),
    }
}

impl BlobStore for MemoryBlobStore {
    fn location(&self) -> String {
        LOCATION.to_owned()
    }

    fn read(&self) -> Result<Option<Snapshot>> {
        let mut state = self.lock();
        state.reads += 1;
        if state.fail_read.contains(&state.reads) {
            return Err(Error::Io {
                operation: "read",
                path: LOCATION.into(),
                source: io::Error::other("injected failure: read refused"),
            });
        }
        if state.unreadable && state.blob.is_some() {
            return Err(unreadable());
        }
        Ok(state.blob.clone())
    }

    fn version(&self) -> Result<Option<Version>> {
        Ok(self.lock().blob.as_ref().map(Snapshot::version))
    }

    fn update(
        &self,
        decide: &mut dyn FnMut(Option<&Snapshot>) -> Decision,
    ) -> Result<Option<Version>> {
        // The mutex is the lock: held for the whole read-modify-write. A
        // panicking closure poisons it; the state is still consistent
        // because nothing was changed before the closure returned.
        let mut state = self.lock();
        if state.unreadable && state.blob.is_some() {
            return Err(unreadable());
        }
        match decide(state.blob.as_ref()) {
            // The whole blob was given: asking for it again changes nothing.
            Decision::Keep | Decision::Abort | Decision::ReadAll => {
                Ok(state.blob.as_ref().map(Snapshot::version))
            }
            Decision::Write(bytes) => {
                state.writes += 1;
                let n = state.writes;
                if state.fail_write.contains(&n) {
                    return Err(injected("write refused"));
                }
                state.counter += 1;
                let version = Version::from_parts([state.counter, 0, 0, 0, 0, 0]);
                state.blob = Some(Snapshot::new(bytes, version));
                if state.fail_after_write.contains(&n) {
                    return Err(Error::NotDurable {
                        path: LOCATION.into(),
                        source: io::Error::other(
                            "injected failure: written, durability not confirmed",
                        ),
                    });
                }
                Ok(Some(version))
            }
        }
    }

    fn quarantine(&self, reason: &str) -> Result<Option<String>> {
        let mut state = self.lock();
        let Some(blob) = state.blob.take() else {
            return Ok(None);
        };
        state.unreadable = false;
        let name = format!(
            "{LOCATION}.{}-{}-{}",
            crate::slug(reason),
            crate::utc_stamp(std::time::SystemTime::now()),
            state.quarantined.len() + 1
        );
        state.quarantined.push((name.clone(), blob.into_bytes()));
        Ok(Some(name))
    }
}

fn unreadable() -> Error {
    Error::Unreadable {
        path: LOCATION.into(),
        source: io::Error::other("marked unreadable by the test"),
    }
}
