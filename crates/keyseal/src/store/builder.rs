//! [`StoreBuilder`]: a store from its parts and its policies.

use std::sync::{Arc, Mutex};

use keyseal_blob::BlobStore;
use keyseal_keys::KeyProvider;
use keyseal_seal::Algorithm;

use super::policy::{OnKeyringUnavailable, OnUnreadable};
use super::{Inner, RollbackMarks, State, Store};

/// Builds a [`Store`] from its parts.
#[derive(Debug)]
pub struct StoreBuilder {
    pub(super) provider: Arc<dyn KeyProvider>,
    pub(super) blob: Arc<dyn BlobStore>,
    pub(super) context: String,
    pub(super) algorithm: Algorithm,
    pub(super) on_unreadable: OnUnreadable,
    pub(super) on_unavailable: OnKeyringUnavailable,
    pub(super) marks: Option<RollbackMarks>,
}

impl StoreBuilder {
    /// Keeps the store's rollback mark in `marks` too, so that a new process
    /// notices an old copy put back (default: none, and only this process
    /// notices; [`Store::new`] uses [`RollbackMarks::in_state_dir`]).
    #[must_use]
    pub fn rollback_marks(mut self, marks: Option<RollbackMarks>) -> Self {
        self.marks = marks;
        self
    }

    /// The AEAD for new files (default AES-256-GCM). Existing files are read
    /// with whatever algorithm their header names.
    #[must_use]
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The policy for a file that cannot be used (default: fail).
    #[must_use]
    pub fn on_unreadable(mut self, policy: OnUnreadable) -> Self {
        self.on_unreadable = policy;
        self
    }

    /// The policy for an unavailable key provider (default: fail).
    #[must_use]
    pub fn on_keyring_unavailable(mut self, policy: OnKeyringUnavailable) -> Self {
        self.on_unavailable = policy;
        self
    }

    /// Builds the store. No I/O happens until the first operation.
    pub fn build(self) -> Store {
        Store {
            inner: Arc::new(Inner {
                provider: self.provider,
                blob: self.blob,
                context: self.context,
                algorithm: self.algorithm,
                on_unreadable: self.on_unreadable,
                on_unavailable: self.on_unavailable,
                marks: self.marks,
                mark_name: std::sync::OnceLock::new(),
                kek: Mutex::new(None),
                fresh: Mutex::new(None),
                state: Mutex::new(State::default()),
            }),
        }
    }
}
