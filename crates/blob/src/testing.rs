//! Fault injection for tests of code built on keyseal: [`FaultyBlobStore`]
//! wraps any [`BlobStore`] (the memory store, the file store, a database)
//! and makes chosen reads and writes fail; [`tamper`] damages the stored
//! blob as an attacker or a failing disk would.
//!
//! ```
//! use keyseal_blob::testing::FaultyBlobStore;
//! use keyseal_blob::{BlobStore, Decision, MemoryBlobStore};
//!
//! let store = FaultyBlobStore::new(MemoryBlobStore::new());
//! store.fail_write_on(1);
//! assert!(store.update(&mut |_| Decision::Write(b"one".to_vec())).is_err());
//! assert!(store.read().unwrap().is_none(), "the failed write stored nothing");
//! ```

use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::{BlobStore, Current, Decided, Decision, Error, NamedLock, Result, Snapshot, Version};
use crate::{BlobStoreExt as _, Updated};

#[derive(Debug, Default)]
struct Script {
    reads: usize,
    writes: usize,
    fail_read: Vec<usize>,
    unreadable_read: Vec<usize>,
    fail_write: Vec<usize>,
    fail_after_write: Vec<usize>,
    unreadable: bool,
}

/// What the wrapper does to one write, decided when the closure asks for it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Injected {
    /// Nothing: the write goes through as it is.
    Nothing,
    /// The write is refused before anything is stored.
    Refused,
    /// The write is stored, then reported as not durable.
    NotDurable,
}

/// Wraps a blob store: counts reads and writes, and makes the Nth read or
/// write fail, a write land and then report [`Error::NotDurable`], or the
/// stored blob read as unreadable until it is quarantined. Everything else
/// (the blob, its versions, the locks) is the wrapped store's.
///
/// The closure of an update runs with no lock of the wrapper's held, so it
/// may read the store, as it may with every store.
#[derive(Debug)]
pub struct FaultyBlobStore<B> {
    inner: B,
    script: Mutex<Script>,
}

impl<B: BlobStore> FaultyBlobStore<B> {
    /// `inner`, with no fault yet.
    pub fn new(inner: B) -> Self {
        Self {
            inner,
            script: Mutex::new(Script::default()),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// Makes the `nth` write (1-based, counting from the wrapper's
    /// creation) fail before anything is stored.
    pub fn fail_write_on(&self, nth: usize) {
        self.script().fail_write.push(nth);
    }

    /// Makes the `nth` call of [`read`](BlobStore::read) fail.
    pub fn fail_read_on(&self, nth: usize) {
        self.script().fail_read.push(nth);
    }

    /// Makes the `nth` call of [`read`](BlobStore::read) fail with
    /// [`Error::Unreadable`], as a passing disk error would, while the blob
    /// itself stays as it is (the next read sees it).
    pub fn unreadable_read_on(&self, nth: usize) {
        self.script().unreadable_read.push(nth);
    }

    /// Makes the `nth` write store its bytes and then report
    /// [`Error::NotDurable`], as a failed directory fsync after the rename
    /// would.
    pub fn fail_after_write_on(&self, nth: usize) {
        self.script().fail_after_write.push(nth);
    }

    /// Makes the stored blob unreadable (as a file with bad permissions or a
    /// failing disk would be) until it is quarantined: reads and updates
    /// fail with [`Error::Unreadable`] while there is a blob.
    pub fn make_unreadable(&self) {
        self.script().unreadable = true;
    }

    /// How many writes were attempted (including the ones made to fail).
    pub fn writes(&self) -> usize {
        self.script().writes
    }

    /// How many reads were attempted (including the ones made to fail).
    pub fn reads(&self) -> usize {
        self.script().reads
    }

    fn script(&self) -> MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An [`Error::Unreadable`] while the blob is marked unreadable and
    /// there is one.
    fn refuse_unreadable(&self) -> Result<()> {
        if self.script().unreadable && self.inner.version()?.is_some() {
            return Err(Error::Unreadable {
                path: self.inner.location().into(),
                source: io::Error::other("marked unreadable by the test"),
            });
        }
        Ok(())
    }

    /// Counts a write and says what happens to it.
    fn next_write(&self) -> Injected {
        let mut script = self.script();
        script.writes += 1;
        let nth = script.writes;
        if script.fail_write.contains(&nth) {
            Injected::Refused
        } else if script.fail_after_write.contains(&nth) {
            Injected::NotDurable
        } else {
            Injected::Nothing
        }
    }

    /// The update's result once the wrapped store answered `result`.
    fn finish(
        &self,
        injected: Injected,
        result: Result<Option<Version>>,
    ) -> Result<Option<Version>> {
        let path = || self.inner.location().into();
        match (injected, result) {
            (Injected::Refused, Ok(_)) => Err(Error::Io {
                operation: "write",
                path: path(),
                source: io::Error::other("injected failure: write refused"),
            }),
            (Injected::NotDurable, Ok(_)) => Err(Error::NotDurable {
                path: path(),
                source: io::Error::other("injected failure: written, durability not confirmed"),
            }),
            (_, result) => result,
        }
    }

    /// What the wrapped store's closure answers for `decision`.
    fn pass(&self, decision: Decision, injected: &mut Injected) -> Decision {
        match decision {
            Decision::Write(bytes) => {
                *injected = self.next_write();
                if *injected == Injected::Refused {
                    Decision::Abort
                } else {
                    Decision::Write(bytes)
                }
            }
            other => other,
        }
    }
}

impl<B: BlobStore> BlobStore for FaultyBlobStore<B> {
    fn location(&self) -> String {
        self.inner.location()
    }

    fn path(&self) -> Option<&std::path::Path> {
        self.inner.path()
    }

    fn read(&self) -> Result<Option<Snapshot>> {
        let (failed, unreadable) = {
            let mut script = self.script();
            script.reads += 1;
            (
                script.fail_read.contains(&script.reads),
                script.unreadable_read.contains(&script.reads),
            )
        };
        if failed {
            return Err(Error::Io {
                operation: "read",
                path: self.inner.location().into(),
                source: io::Error::other("injected failure: read refused"),
            });
        }
        if unreadable {
            return Err(Error::Unreadable {
                path: self.inner.location().into(),
                source: io::Error::other("injected failure: a disk error while reading"),
            });
        }
        self.refuse_unreadable()?;
        self.inner.read()
    }

    fn version(&self) -> Result<Option<Version>> {
        self.inner.version()
    }

    fn update(
        &self,
        decide: &mut dyn FnMut(Option<&Snapshot>) -> Decision,
    ) -> Result<Option<Version>> {
        self.refuse_unreadable()?;
        let mut injected = Injected::Nothing;
        let result = self
            .inner
            .update(&mut |current| self.pass(decide(current), &mut injected));
        self.finish(injected, result)
    }

    fn update_expecting(
        &self,
        expected: Option<Version>,
        head: usize,
        tail: usize,
        decide: &mut dyn FnMut(Current<'_>) -> Decision,
    ) -> Result<Option<Version>> {
        self.refuse_unreadable()?;
        let mut injected = Injected::Nothing;
        let result = self
            .inner
            .update_expecting(expected, head, tail, &mut |current| {
                self.pass(decide(current), &mut injected)
            });
        self.finish(injected, result)
    }

    fn quarantine(&self, reason: &str, judged: Option<Version>) -> Result<Option<String>> {
        let moved = self.inner.quarantine(reason, judged)?;
        // Only the blob moved aside stops being unreadable; one the inner
        // store kept (another version, or none) is as it was.
        if moved.is_some() {
            self.script().unreadable = false;
        }
        Ok(moved)
    }

    fn named_lock(&self, name: &str, timeout: std::time::Duration) -> Result<NamedLock> {
        self.inner.named_lock(name, timeout)
    }
}

/// Damages the stored blob as an attacker or a failing disk would: flips
/// the lowest bit of its last byte (in a keyseal file, a byte of the last
/// authentication tag), through an ordinary update, so that any store
/// (memory, file, database) holds the damaged bytes. Returns whether there
/// was a blob to damage.
///
/// # Errors
/// The store's errors for an update.
pub fn tamper(store: &dyn BlobStore) -> Result<bool> {
    let updated: Updated<bool> = store.update_with(|current| {
        let Some(mut bytes) = current.map(|s| s.bytes().to_vec()) else {
            return Ok::<_, Error>(Decided::Keep(false));
        };
        if let Some(last) = bytes.last_mut() {
            *last ^= 1;
        }
        Ok(Decided::Write { bytes, value: true })
    })?;
    Ok(updated.value)
}
