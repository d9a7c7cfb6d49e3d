#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod aead;
mod entries;
mod error;
mod format;
mod key;
mod random;
mod recipient;
mod sealer;

/// Entry points for the fuzz targets in `fuzz/`. Not a stable API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

#[cfg(test)]
mod tests_errors;
#[cfg(test)]
mod tests_properties;
#[cfg(test)]
mod tests_vectors_bundle;
#[cfg(test)]
mod tests_vectors_index;
#[cfg(test)]
mod tests_vectors_recipient;

pub use crate::aead::{Aes256GcmSealer, XChaCha20Poly1305Sealer};
pub use crate::entries::{
    BUNDLE_VERSION, Entries, Entry, INDEX_VERSION, OpenedEntries, SealedEntries, Unlock, Value,
};
pub use crate::error::{EntriesPart, Error, Result};
pub use crate::format::{
    Envelope, FORMAT_VERSION, Header, MAGIC, MAX_STANZAS, SealedFile, Stanza, StanzaKind,
    WRAPPED_KEY_LEN,
};
pub use crate::key::{KEY_ID_LEN, KEY_LEN, Key, KeyId, ParseKeyIdError};
pub use crate::recipient::{RecoveryIdentity, RecoveryRecipient, X25519_LEN};
pub use crate::sealer::{Algorithm, Sealer, TAG_LEN};

pub use secrecy::{ExposeSecret, SecretSlice};
