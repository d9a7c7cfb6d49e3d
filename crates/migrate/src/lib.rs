#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod layout;
mod migrate;
mod source;

pub use crate::layout::Layout;
pub use crate::migrate::{Convert, Error, LegacyValue, Options, Report, Result, migrate};
#[cfg(feature = "keyring")]
pub use crate::source::KeyringSource;
pub use crate::source::{LegacySource, MemorySource};
