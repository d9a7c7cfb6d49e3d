//! The environment-variable provider: the key is given, never stored.

use std::ffi::OsString;

use keyseal_seal::Key;
use zeroize::Zeroizing;

use crate::{Error, Result, UnavailableReason};

/// Reads the key from an environment variable: standard base64 of exactly
/// 32 bytes (surrounding whitespace ignored).
///
/// For CI and containers, where a secret manager injects the variable. The
/// provider is read-only: [`create`](crate::KeyProvider::create) and
/// [`delete`](crate::KeyProvider::delete) return [`Error::ReadOnly`], and
/// [`given`](crate::KeyProvider::given) is the key a new file is sealed with. Give
/// every store its own variable (or its own value): one key sealing two
/// stores is the application's choice, not keyseal's. Generate a key with,
/// for example, `head -c 32 /dev/urandom | base64`.
///
/// The variable is read on every [`load`](crate::KeyProvider::load) (keyseal loads
/// once per process), copied into a zeroizing buffer, and never echoed: the
/// errors say which variable and what is wrong, never its value. `load`
/// returns the variable's key whatever id it is asked for; the store
/// compares the ids and reports a wrong key.
#[derive(Clone, Debug)]
pub struct EnvKeyProvider {
    var: String,
}

impl EnvKeyProvider {
    /// A provider reading `var`.
    pub fn new(var: impl Into<String>) -> Self {
        Self { var: var.into() }
    }

    /// The variable's name.
    pub fn var(&self) -> &str {
        &self.var
    }

    fn location(&self) -> String {
        format!("environment variable {}", self.var)
    }
}

crate::given::given_key_provider!(EnvKeyProvider, crate::ProviderKind::Environment);

impl EnvKeyProvider {
    /// The variable's key, decoded.
    fn read(&self) -> Result<Key> {
        let Some(value) = std::env::var_os(&self.var) else {
            return Err(Error::Unavailable {
                location: self.location(),
                reason: UnavailableReason::NotConfigured,
                source: None,
            });
        };
        let value: Zeroizing<Vec<u8>> = Zeroizing::new(into_bytes(value));
        if value.trim_ascii().is_empty() {
            return Err(Error::Malformed {
                location: self.location(),
                reason: "it is empty".to_owned(),
            });
        }
        crate::record::decode_base64_key(&value).map_err(|reason| Error::Malformed {
            location: self.location(),
            reason,
        })
    }
}

#[cfg(unix)]
fn into_bytes(value: OsString) -> Vec<u8> {
    use std::os::unix::ffi::OsStringExt;
    value.into_vec()
}

#[cfg(not(unix))]
fn into_bytes(value: OsString) -> Vec<u8> {
    // Not valid UTF-8 cannot be base64 either; keep it non-empty so it is
    // reported as "not valid base64" rather than "empty".
    value
        .into_string()
        .map_or_else(|_| vec![0xff], String::into_bytes)
}
