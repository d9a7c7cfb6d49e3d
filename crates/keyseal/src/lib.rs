#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
mod error_kind;
mod paths;
mod recovery;
mod store;

#[cfg(feature = "async")]
mod async_store;

pub use keyseal_blob as blob;
pub use keyseal_keys as keys;
pub use keyseal_seal as seal;

#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use crate::async_store::AsyncStore;
pub use crate::error::{Error, JsonErrorCategory, Result, ValueOperation, VersionField};
pub use crate::error_kind::ErrorKind;
pub use crate::paths::{KEY_ITEM_NAME, STORE_FILE_NAME, config_dir, default_path, state_dir};
pub use crate::recovery::RecoveryKey;
pub use crate::store::{
    EntryInfo, Location, MAX_NAME_LEN, OnKeyringUnavailable, OnUnreadable, Problem, Quarantined,
    RollbackMarks, Rotation, Status, Store, StoreBuilder, Transaction, json_bytes, validate_name,
};
pub use keyseal_seal::{Algorithm, ExposeSecret, KeyId, SecretSlice};

// The parts a newcomer builds a store from, where they look first.
#[doc(inline)]
pub use keyseal_blob::{FileStore, MemoryBlobStore};
#[cfg(feature = "keyring")]
#[cfg_attr(docsrs, doc(cfg(feature = "keyring")))]
#[doc(inline)]
pub use keyseal_keys::KeyringProvider;
#[doc(inline)]
pub use keyseal_keys::{EnvKeyProvider, KeyFileProvider, MemoryKeyProvider};
