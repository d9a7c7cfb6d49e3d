#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod bundle;
mod error;
mod paths;
mod recovery;
mod store;

#[cfg(feature = "async")]
mod async_store;

/// Entry points for the fuzz targets in `fuzz/`. Not a stable API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    /// Decodes a body plaintext as the store does; returns the entry count.
    pub fn decode_bundle(plaintext: &[u8]) -> Option<usize> {
        crate::bundle::Bundle::decode(plaintext).ok().map(|b| {
            // Encoding what was decoded must succeed and decode to the same.
            let again = b
                .encode()
                .ok()
                .and_then(|bytes| crate::bundle::Bundle::decode(&bytes).ok());
            assert_eq!(
                again.map(|a| a.entries.len()),
                Some(b.entries.len()),
                "re-encoding changed the bundle"
            );
            b.entries.len()
        })
    }

    /// Decodes a version-2 index as the store does: the first two bytes
    /// give the length of a records region of zeros, the rest is the index
    /// plaintext. Returns the entry count.
    pub fn decode_index(data: &[u8]) -> Option<usize> {
        let (len, index) = data.split_first_chunk::<2>()?;
        let records = usize::from(u16::from_be_bytes(*len));
        let file = std::sync::Arc::new(vec![0u8; records]);
        crate::bundle::Bundle::decode_index(
            index,
            &file,
            0..records,
            12,
            keyseal_seal::KeyId::from_bytes([0; keyseal_seal::KEY_ID_LEN]),
        )
        .ok()
        .map(|b| {
            // Every value's length is the record the index gave it.
            let total: usize = b.entries.values().map(|e| e.value.len()).sum();
            assert_eq!(total, records, "the records do not fill their region");
            b.entries.len()
        })
    }
}

pub use keyseal_blob as blob;
pub use keyseal_keys as keys;
pub use keyseal_seal as seal;

#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use crate::async_store::AsyncStore;
pub use crate::error::{Error, Result};
pub use crate::paths::{config_dir, default_path, state_dir};
pub use crate::recovery::RecoveryKey;
pub use crate::store::{
    EntryInfo, MAX_NAME_LEN, OnKeyringUnavailable, OnUnreadable, Quarantined, RollbackMarks,
    Rotation, Status, Store, StoreBuilder, Transaction, json_bytes, validate_name,
};
pub use keyseal_seal::{Algorithm, ExposeSecret, KeyId, SecretSlice};
