#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod docker_agent;
mod file_lock;
mod layout;
mod migrate;
mod sealed_file;
mod source;

pub use crate::layout::Layout;
pub use crate::migrate::{
    Convert, EntryName, Error, LegacyValue, Options, Origin, Progress, ProgressFn, Report, Result,
    SealedFileReport, Step, migrate,
};
pub use crate::sealed_file::{
    DEFAULT_SEALED_FILE_LOCK_TIMEOUT, MAX_SEALED_FILE, SealedFile, SealedFileProblem,
};
#[cfg(feature = "keyring")]
pub use crate::source::KeyringSource;
pub use crate::source::{LegacySource, MemorySource};
