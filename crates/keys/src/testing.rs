//! Fault injection for tests of code built on keyseal: [`FaultyProvider`]
//! wraps any [`KeyProvider`] (the memory provider, a key file, the real OS
//! keyring), counts its calls and makes chosen calls fail or wait.
//!
//! ```
//! use keyseal_keys::testing::{FaultyProvider, Operation};
//! use keyseal_keys::{KeyProvider, MemoryKeyProvider, UnavailableReason};
//!
//! let keys = FaultyProvider::new(MemoryKeyProvider::new());
//! keys.fail_unavailable_on(Operation::Create, 1, UnavailableReason::Locked);
//! assert!(keys.create().is_err());
//! assert!(keys.create().is_ok());
//! assert_eq!(keys.calls(Operation::Create), 2);
//! ```

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use keyseal_seal::{Key, KeyId};

use crate::{Error, KeyProvider, ProviderInfo, Result, UnavailableReason};

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

/// The `nth` call of `operation` fails with what `error` makes.
struct Fault {
    operation: Operation,
    nth: usize,
    error: MakeError,
}

/// The `nth` call of `operation` waits at `gate`.
struct Block {
    operation: Operation,
    nth: usize,
    gate: Arc<Gate>,
}

#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

#[derive(Default)]
struct Script {
    calls: [usize; 3],
    faults: Vec<Fault>,
    blocks: Vec<Block>,
}

/// Wraps a provider: counts its calls per [`Operation`] (so a test can show
/// "the keyring is touched at most once per process") and makes the Nth
/// call of an operation fail, or wait until released, before it reaches the
/// wrapped provider. Everything else is the wrapped provider's.
pub struct FaultyProvider<P> {
    inner: P,
    script: Mutex<Script>,
}

impl<P: KeyProvider> core::fmt::Debug for FaultyProvider<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FaultyProvider")
            .field("inner", &self.inner)
            .field("calls", &self.script().calls)
            .finish_non_exhaustive()
    }
}

impl<P: KeyProvider> FaultyProvider<P> {
    /// `inner`, with no fault yet.
    pub fn new(inner: P) -> Self {
        Self {
            inner,
            script: Mutex::new(Script::default()),
        }
    }

    /// The wrapped provider (its own calls are not counted).
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// How many times `operation` has been called (including calls that
    /// failed).
    pub fn calls(&self, operation: Operation) -> usize {
        self.script()
            .calls
            .get(operation.index())
            .copied()
            .unwrap_or_default()
    }

    /// All calls of every operation.
    pub fn total_calls(&self) -> usize {
        let script = self.script();
        Operation::ALL
            .iter()
            .filter_map(|op| script.calls.get(op.index()))
            .sum()
    }

    /// Makes the `nth` call (1-based, counting from the wrapper's creation)
    /// of `operation` fail with the error `make` returns, without reaching
    /// the wrapped provider.
    pub fn fail_on(
        &self,
        operation: Operation,
        nth: usize,
        make: impl Fn() -> Error + Send + Sync + 'static,
    ) {
        self.script().faults.push(Fault {
            operation,
            nth,
            error: Box::new(make),
        });
    }

    /// Makes the `nth` call of `operation` fail as an unavailable keyring.
    pub fn fail_unavailable_on(&self, operation: Operation, nth: usize, reason: UnavailableReason) {
        self.fail_on(operation, nth, move || Error::Unavailable {
            location: "a fault injected by the test".to_owned(),
            reason,
            source: None,
        });
    }

    /// Makes the `nth` call of `operation` wait until the returned guard is
    /// released (or dropped), then go on.
    pub fn block_on(&self, operation: Operation, nth: usize) -> BlockGuard {
        let gate = Arc::new(Gate::default());
        self.script().blocks.push(Block {
            operation,
            nth,
            gate: Arc::clone(&gate),
        });
        BlockGuard { gate }
    }

    fn script(&self) -> MutexGuard<'_, Script> {
        // A panic in another test thread must not hide the counts.
        self.script.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts the call, waits where a block says, fails where a fault says.
    fn enter(&self, operation: Operation) -> Result<()> {
        let mut script = self.script();
        let nth = match script.calls.get_mut(operation.index()) {
            Some(count) => {
                *count += 1;
                *count
            }
            None => 0,
        };
        let gate = script
            .blocks
            .iter()
            .find(|b| b.operation == operation && b.nth == nth)
            .map(|b| Arc::clone(&b.gate));
        if let Some(gate) = gate {
            drop(script);
            gate.wait();
            script = self.script();
        }
        match script
            .faults
            .iter()
            .find(|f| f.operation == operation && f.nth == nth)
        {
            Some(fault) => Err((fault.error)()),
            None => Ok(()),
        }
    }
}

impl<P: KeyProvider> KeyProvider for FaultyProvider<P> {
    fn info(&self) -> ProviderInfo {
        self.inner.info()
    }

    fn load(&self, id: &KeyId) -> Result<Key> {
        self.enter(Operation::Load)?;
        self.inner.load(id)
    }

    fn create(&self) -> Result<Key> {
        self.enter(Operation::Create)?;
        self.inner.create()
    }

    fn given(&self) -> Option<Result<Key>> {
        self.inner.given()
    }

    fn delete(&self, id: &KeyId) -> Result<()> {
        self.enter(Operation::Delete)?;
        self.inner.delete(id)
    }
}

/// Holds a blocked call of a [`FaultyProvider`] until released or dropped.
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
        self.gate.opened.notify_all();
    }
}

impl Gate {
    fn wait(&self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        while !*open {
            open = self
                .opened
                .wait(open)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl core::fmt::Debug for Gate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Gate").finish_non_exhaustive()
    }
}
