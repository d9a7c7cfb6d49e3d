#![doc = include_str!("../README.md")]

mod credential_store;
mod error;

pub use crate::credential_store::{
    DEFAULT_REFRESH_TIMEOUT, KeysealCredentialStore, REFRESH_LOCK_PREFIX,
};
