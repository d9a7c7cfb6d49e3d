//! The in-memory provider, for users' tests: counts calls and injects faults.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use keyseal_seal::Key;

use crate::{
    Error, KeyLifetime, KeyProvider, ProviderInfo, ProviderKind, Result, UnavailableReason,
};

/// A provider operation, for counting and fault injection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// [`KeyProvider::load`].
    Load,
    /// [`KeyProvider::create`].
    Create,
    /// [`KeyProvider::delete`].
    Delete,
    /// [`KeyProvider::stage`].
    Stage,
    /// [`KeyProvider::load_staged`].
    LoadStaged,
    /// [`KeyProvider::commit_staged`].
    CommitStaged,
    /// [`KeyProvider::discard_staged`].
    DiscardStaged,
}

impl Operation {
    const ALL: [Self; 7] = [
        Self::Load,
        Self::Create,
        Self::Delete,
        Self::Stage,
        Self::LoadStaged,
        Self::CommitStaged,
        Self::DiscardStaged,
    ];

    fn index(self) -> usize {
        match self {
            Self::Load => 0,
            Self::Create => 1,
            Self::Delete => 2,
            Self::Stage => 3,
            Self::LoadStaged => 4,
            Self::CommitStaged => 5,
            Self::DiscardStaged => 6,
        }
    }
}

type MakeError = Box<dyn Fn() -> Error + Send + Sync>;

struct Fault {
    op: Operation,
    nth: usize,
    error: MakeError,
}

struct Block {
    op: Operation,
    nth: usize,
    gate: Arc<Gate>,
}

#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    cv: Condvar,
}

#[derive(Default)]
struct State {
    key: Option<Key>,
    staged: Option<Key>,
    calls: [usize; 7],
    faults: Vec<Fault>,
    blocks: Vec<Block>,
}

/// Keeps the key in process memory, for tests of code built on keyseal.
///
/// It counts calls per [`Operation`] (so a test can prove "the keyring is
/// touched at most once per process"), and can be told to fail, or to block
/// until released, on the Nth call of an operation.
///
/// It is not a fallback: keyseal never chooses it on its own.
#[derive(Default)]
pub struct MemoryKeyProvider {
    state: Mutex<State>,
}

impl core::fmt::Debug for MemoryKeyProvider {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryKeyProvider")
            .field("key", &state.key.as_ref().map(Key::id))
            .field("calls", &state.calls)
            .finish_non_exhaustive()
    }
}

impl MemoryKeyProvider {
    /// An empty provider.
    pub fn new() -> Self {
        Self::default()
    }

    /// A provider that already holds `key`.
    pub fn with_key(key: Key) -> Self {
        let provider = Self::new();
        provider.lock().key = Some(key);
        provider
    }

    /// How many times `op` has been called (including calls that failed).
    pub fn calls(&self, op: Operation) -> usize {
        self.lock()
            .calls
            .get(op.index())
            .copied()
            .unwrap_or_default()
    }

    /// All calls of every operation.
    pub fn total_calls(&self) -> usize {
        let state = self.lock();
        Operation::ALL
            .iter()
            .filter_map(|op| state.calls.get(op.index()))
            .sum()
    }

    /// The id of the key held now, without counting a call.
    pub fn key_id(&self) -> Option<keyseal_seal::KeyId> {
        self.lock().key.as_ref().map(Key::id)
    }

    /// The id of the staged key, without counting a call.
    pub fn staged_key_id(&self) -> Option<keyseal_seal::KeyId> {
        self.lock().staged.as_ref().map(Key::id)
    }

    /// Makes the `nth` call (1-based, counting from the provider's creation)
    /// of `op` fail with the error `make` returns, without touching the key.
    pub fn fail_on(
        &self,
        op: Operation,
        nth: usize,
        make: impl Fn() -> Error + Send + Sync + 'static,
    ) {
        self.lock().faults.push(Fault {
            op,
            nth,
            error: Box::new(make),
        });
    }

    /// Makes the `nth` call of `op` fail as an unavailable keyring.
    pub fn fail_unavailable_on(&self, op: Operation, nth: usize, reason: UnavailableReason) {
        self.fail_on(op, nth, move || Error::Unavailable {
            location: "in-memory provider".to_owned(),
            reason,
            source: None,
        });
    }

    /// Makes the `nth` call of `op` block until the returned guard is
    /// released (or dropped).
    pub fn block_on(&self, op: Operation, nth: usize) -> BlockGuard {
        let gate = Arc::new(Gate::default());
        self.lock().blocks.push(Block {
            op,
            nth,
            gate: Arc::clone(&gate),
        });
        BlockGuard { gate }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in another test thread must not hide this provider's state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts the call, applies blocks and faults; returns the state lock.
    fn enter(&self, op: Operation) -> Result<MutexGuard<'_, State>> {
        let mut state = self.lock();
        let n = match state.calls.get_mut(op.index()) {
            Some(count) => {
                *count += 1;
                *count
            }
            None => 0,
        };
        let gate = state
            .blocks
            .iter()
            .find(|b| b.op == op && b.nth == n)
            .map(|b| Arc::clone(&b.gate));
        if let Some(gate) = gate {
            drop(state);
            gate.wait();
            state = self.lock();
        }
        if let Some(fault) = state.faults.iter().find(|f| f.op == op && f.nth == n) {
            return Err((fault.error)());
        }
        Ok(state)
    }
}

const LOCATION: &str = "in-memory provider";

impl KeyProvider for MemoryKeyProvider {
    fn info(&self) -> ProviderInfo {
        ProviderInfo::new(ProviderKind::Memory, KeyLifetime::Process, LOCATION)
    }

    fn load(&self) -> Result<Key> {
        let state = self.enter(Operation::Load)?;
        state
            .key
            .as_ref()
            .map(Key::duplicate)
            .ok_or_else(|| Error::NotFound {
                location: LOCATION.to_owned(),
            })
    }

    fn create(&self) -> Result<Key> {
        let mut state = self.enter(Operation::Create)?;
        if state.key.is_some() {
            return Err(Error::AlreadyExists {
                location: LOCATION.to_owned(),
            });
        }
        let key = Key::generate()?;
        state.key = Some(key.duplicate());
        Ok(key)
    }

    fn delete(&self) -> Result<()> {
        let mut state = self.enter(Operation::Delete)?;
        match state.key.take() {
            Some(_) => Ok(()),
            None => Err(Error::NotFound {
                location: LOCATION.to_owned(),
            }),
        }
    }

    fn stage(&self, key: &Key) -> Result<()> {
        let mut state = self.enter(Operation::Stage)?;
        state.staged = Some(key.duplicate());
        Ok(())
    }

    fn load_staged(&self) -> Result<Key> {
        let state = self.enter(Operation::LoadStaged)?;
        state
            .staged
            .as_ref()
            .map(Key::duplicate)
            .ok_or_else(|| Error::NotFound {
                location: format!("{LOCATION} (staging slot)"),
            })
    }

    fn commit_staged(&self) -> Result<()> {
        let mut state = self.enter(Operation::CommitStaged)?;
        match state.staged.take() {
            Some(key) => {
                state.key = Some(key);
                Ok(())
            }
            None => Err(Error::NotFound {
                location: format!("{LOCATION} (staging slot)"),
            }),
        }
    }

    fn discard_staged(&self) -> Result<()> {
        let mut state = self.enter(Operation::DiscardStaged)?;
        state.staged = None;
        Ok(())
    }
}

/// Holds a blocked call of a [`MemoryKeyProvider`] until released or dropped.
#[must_use = "dropping the guard releases the blocked call at once"]
#[derive(Debug)]
pub struct BlockGuard {
    gate: Arc<Gate>,
}

impl BlockGuard {
    /// Lets the blocked call (and any later one on this gate) go on.
    pub fn release(self) {
        // Drop does the work.
    }
}

impl Drop for BlockGuard {
    fn drop(&mut self) {
        *self
            .gate
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
        self.gate.cv.notify_all();
    }
}

impl Gate {
    fn wait(&self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        while !*open {
            open = self.cv.wait(open).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl core::fmt::Debug for Gate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Gate").finish_non_exhaustive()
    }
}
