#![doc = include_str!("../README.md")]

mod credential;
mod error;
mod name;
mod store;

pub use crate::credential::KeysealCredential;
pub use crate::name::{PREFIX, entry_name, specifiers};
pub use crate::store::{KeysealStore, VENDOR};
