//! The in-memory store, for tests of code built on keyseal.

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::{BlobStore, Decision, Result, Snapshot, Version};

#[derive(Debug, Default)]
struct State {
    blob: Option<Snapshot>,
    counter: u64,
    quarantined: Vec<(String, Vec<u8>)>,
}

/// A blob in process memory with the same semantics as [`FileStore`](crate::FileStore)
/// (exclusive updates, versions, quarantine), for tests.
///
/// As with the file store, a read from inside an update's closure (a
/// `get` inside a `transaction`) returns the last committed blob; it never
/// waits for the update. To make a read or a write fail, wrap it (or any
/// other store) in [`FaultyBlobStore`](crate::testing::FaultyBlobStore)
/// (feature `testing`).
///
/// It persists nothing and is never chosen by keyseal on its own.
#[derive(Debug, Default)]
pub struct MemoryBlobStore {
    /// Held for a whole update, as the file store holds its lock file;
    /// `state` is held only to look at or replace the blob, so readers never
    /// wait for an update's closure.
    updating: Mutex<()>,
    state: Mutex<State>,
}

const LOCATION: &str = "memory";

impl MemoryBlobStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The blobs moved aside by [`quarantine`](BlobStore::quarantine), with
    /// their names (what a file store keeps beside its file).
    pub fn quarantined(&self) -> Vec<(String, Vec<u8>)> {
        self.state().quarantined.clone()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn updating(&self) -> MutexGuard<'_, ()> {
        // A closure that panicked poisons the lock; nothing was changed
        // before it returned, so the store is consistent.
        self.updating.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl BlobStore for MemoryBlobStore {
    fn location(&self) -> String {
        LOCATION.to_owned()
    }

    fn read(&self) -> Result<Option<Snapshot>> {
        Ok(self.state().blob.clone())
    }

    fn version(&self) -> Result<Option<Version>> {
        Ok(self.state().blob.as_ref().map(Snapshot::version))
    }

    fn update(
        &self,
        decide: &mut dyn FnMut(Option<&Snapshot>) -> Decision,
    ) -> Result<Option<Version>> {
        let _updating = self.updating();
        // Only this update replaces the blob until it returns: the copy is
        // the current blob throughout.
        let current = self.state().blob.clone();
        match decide(current.as_ref()) {
            // The whole blob was given: asking for it again changes nothing.
            Decision::Keep | Decision::Abort | Decision::ReadAll => {
                Ok(current.as_ref().map(Snapshot::version))
            }
            Decision::Write(bytes) => {
                let mut state = self.state();
                state.counter += 1;
                let version = Version::from_parts([state.counter, 0, 0, 0, 0, 0]);
                state.blob = Some(Snapshot::new(bytes, version));
                Ok(Some(version))
            }
        }
    }

    fn quarantine(&self, reason: &str) -> Result<Option<String>> {
        let _updating = self.updating();
        let mut state = self.state();
        let Some(blob) = state.blob.take() else {
            return Ok(None);
        };
        let name = format!(
            "{LOCATION}{}-{}",
            crate::quarantine_suffix(reason, std::time::SystemTime::now()),
            state.quarantined.len() + 1
        );
        state.quarantined.push((name.clone(), blob.into_bytes()));
        Ok(Some(name))
    }
}
