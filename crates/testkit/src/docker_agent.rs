//! docker-agent's sealed file as docker-agent writes it (`pkg/tools/mcp`):
//! `nonce (12) ‖ AES-256-GCM ciphertext ‖ tag`, no associated data, the
//! plaintext a JSON object resource URL -> token object, written with mode
//! 0600 by a rename, under an exclusive `flock` of `<file>.lock`.
//!
//! Sealed here with the `aes-gcm` crate directly, not through keyseal's
//! sealer; `crates/migrate/tests/data` also holds a file sealed by Python's
//! `cryptography` (OpenSSL).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc,
    reason = "test set-up: a failure is the test's failure"
)]

use std::path::Path;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Nonce};

/// `json` sealed with `key` as docker-agent seals its file, under a fresh
/// random nonce.
pub fn seal(key: &[u8; 32], json: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).unwrap();
    let cipher = Aes256Gcm::new_from_slice(key).unwrap();
    let ciphertext = cipher
        .encrypt(&Nonce::<Aes256Gcm>::from(nonce), json)
        .unwrap();
    [&nonce[..], &ciphertext].concat()
}

/// Writes `json` sealed with `key` to `path` as docker-agent does: a
/// temporary file of mode 0600 beside it, renamed into place.
pub fn write(path: &Path, key: &[u8; 32], json: &[u8]) {
    write_bytes(path, &seal(key, json));
}

/// Writes `bytes` to `path` by a rename, mode 0600.
pub fn write_bytes(path: &Path, bytes: &[u8]) {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, bytes).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    std::fs::rename(&temporary, path).unwrap();
}
