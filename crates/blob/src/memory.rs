//! The in-memory store, for tests of code built on keyseal.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::{BlobStore, DEFAULT_LOCK_TIMEOUT, Decision, Error, Result, Snapshot, Version};

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
/// waits for the update. An update waits for another at most its lock
/// timeout ([`DEFAULT_LOCK_TIMEOUT`], or
/// [`with_lock_timeout`](Self::with_lock_timeout)), then fails with
/// [`Error::LockTimeout`], so an update started from inside another's
/// closure fails as it does with the file store instead of waiting forever.
/// To make a read or a write fail, wrap it (or any
/// other store) in [`FaultyBlobStore`](crate::testing::FaultyBlobStore)
/// (feature `testing`).
///
/// It persists nothing and is never chosen by keyseal on its own.
#[derive(Debug)]
pub struct MemoryBlobStore {
    /// Taken for a whole update, as the file store takes its lock file;
    /// `state` is held only to look at or replace the blob, so readers never
    /// wait for an update's closure.
    turn: Turn,
    lock_timeout: Duration,
    state: Mutex<State>,
}

impl Default for MemoryBlobStore {
    fn default() -> Self {
        Self {
            turn: Turn::default(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            state: Mutex::new(State::default()),
        }
    }
}

/// The store's update lock: taken with a timeout, as a lock file is.
#[derive(Debug, Default)]
struct Turn {
    taken: Mutex<bool>,
    freed: Condvar,
}

/// An update's hold of the [`Turn`], given back when dropped (also when
/// the closure panics).
struct Held<'a>(&'a Turn);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        *self.0.taken.lock().unwrap_or_else(PoisonError::into_inner) = false;
        self.0.freed.notify_one();
    }
}

const LOCATION: &str = "memory";

impl MemoryBlobStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long an update waits for another (default
    /// [`DEFAULT_LOCK_TIMEOUT`]).
    #[must_use]
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The blobs moved aside by [`quarantine`](BlobStore::quarantine), with
    /// their names (what a file store keeps beside its file).
    pub fn quarantined(&self) -> Vec<(String, Vec<u8>)> {
        self.state().quarantined.clone()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the update lock, waiting at most the lock timeout.
    fn updating(&self) -> Result<Held<'_>> {
        let started = Instant::now();
        let mut taken = self
            .turn
            .taken
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while *taken {
            let left = self.lock_timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(Error::LockTimeout {
                    lock_path: LOCATION.into(),
                    waited: started.elapsed(),
                });
            }
            taken = self
                .turn
                .freed
                .wait_timeout(taken, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *taken = true;
        Ok(Held(&self.turn))
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
        let _updating = self.updating()?;
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

    fn quarantine(&self, reason: &str, judged: Option<Version>) -> Result<Option<String>> {
        let _updating = self.updating()?;
        let mut state = self.state();
        let current = state.blob.as_ref().map(Snapshot::version);
        if judged.is_some_and(|judged| current != Some(judged)) {
            return Ok(None);
        }
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
