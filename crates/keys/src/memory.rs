//! The in-memory provider, for users' tests: counts calls and injects faults.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use std::collections::BTreeMap;

use keyseal_seal::{Key, KeyId};

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
}

impl Operation {
    const ALL: [Self; 3] = [Self::Load, Self::Create, Self::Delete];

    fn index(self) -> usize {
        match self {
            Self::Load => 0,
            Self::Create => 1,
            Self::Delete => 2,
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
    keys: BTreeMap<KeyId, Key>,
    /// Set by [`MemoryKeyProvider::given`].
    given: Option<Key>,
    calls: [usize; 3],
    faults: Vec<Fault>,
    blocks: Vec<Block>,
}

/// Keeps keys in process memory, each under its id, for tests of code
/// built on keyseal.
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
            .field("keys", &state.keys.keys().collect::<Vec<_>>())
            .field("calls", &state.calls)
            .finish_non_exhaustive()
    }
}

impl MemoryKeyProvider {
    /// An empty provider.
    pub fn new() -> Self {
        Self::default()
    }

    /// A provider whose key is *given*, as an environment variable's is:
    /// a new file is sealed with it ([`KeyProvider::given`]), and a load of
    /// any id it does not hold answers with it (so a file sealed for another
    /// key is reported as the wrong key). Keys it creates are kept beside it.
    pub fn given(key: Key) -> Self {
        let provider = Self::with_key(key.duplicate());
        provider.lock().given = Some(key);
        provider
    }

    /// A provider that already holds `key`.
    pub fn with_key(key: Key) -> Self {
        let provider = Self::new();
        provider.lock().keys.insert(key.id(), key);
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

    /// The ids of the keys held now, sorted, without counting a call.
    pub fn key_ids(&self) -> Vec<KeyId> {
        self.lock().keys.keys().copied().collect()
    }

    /// Whether a key with this id is held, without counting a call.
    pub fn holds(&self, id: &KeyId) -> bool {
        self.lock().keys.contains_key(id)
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

    fn load(&self, id: &KeyId) -> Result<Key> {
        let state = self.enter(Operation::Load)?;
        state
            .keys
            .get(id)
            .or(state.given.as_ref())
            .map(Key::duplicate)
            .ok_or_else(|| Error::NotFound {
                location: format!("{LOCATION} (key {id})"),
            })
    }

    fn create(&self) -> Result<Key> {
        let mut state = self.enter(Operation::Create)?;
        let key = Key::generate()?;
        if state.keys.contains_key(&key.id()) {
            return Err(Error::AlreadyExists {
                location: format!("{LOCATION} (key {})", key.id()),
            });
        }
        state.keys.insert(key.id(), key.duplicate());
        Ok(key)
    }

    fn given(&self) -> Option<Result<Key>> {
        self.lock().given.as_ref().map(|key| Ok(key.duplicate()))
    }

    fn delete(&self, id: &KeyId) -> Result<()> {
        let mut state = self.enter(Operation::Delete)?;
        match state.keys.remove(id) {
            Some(_) => Ok(()),
            None => Err(Error::NotFound {
                location: format!("{LOCATION} (key {id})"),
            }),
        }
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
