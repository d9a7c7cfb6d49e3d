//! The [`Sealer`] trait and the [`Algorithm`] ids the file format knows.

use core::fmt;
use std::sync::Arc;

use secrecy::SecretSlice;

use crate::{Aes256GcmSealer, Key, Result, XChaCha20Poly1305Sealer};

/// The length of every AEAD tag used by keyseal, in bytes.
pub const TAG_LEN: usize = 16;

/// An AEAD with a 256-bit key, as the sealed-file format uses it.
///
/// The trait is deliberately thin: it seals and opens one message under a key,
/// a nonce and associated data. Nonce generation and the file layout belong
/// to [`Envelope`](crate::Envelope) and [`SealedFile`](crate::SealedFile).
///
/// # Contract
/// - Implementations MUST be a real AEAD: [`open`](Sealer::open) MUST return
///   [`Error::Authentication`](crate::Error::Authentication) for any change to
///   the ciphertext, the tag, the nonce or the associated data.
/// - Callers MUST never seal two messages under the same key and nonce; the
///   format layer draws every nonce from the operating system's CSPRNG.
/// - [`open`](Sealer::open) MUST NOT release any plaintext when authentication
///   fails, and the plaintext it returns is zeroized on drop.
/// - Errors MUST NOT reveal why authentication failed.
pub trait Sealer: Send + Sync + fmt::Debug {
    /// The algorithm id this sealer writes into file headers.
    fn algorithm(&self) -> Algorithm;

    /// Encrypts `plaintext` and returns `ciphertext || tag`.
    ///
    /// # Errors
    /// [`Error::InvalidNonceLength`](crate::Error::InvalidNonceLength) for a
    /// nonce of the wrong length; [`Error::TooLarge`](crate::Error::TooLarge)
    /// when the AEAD cannot take a message that long.
    fn seal(&self, key: &Key, nonce: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>>;

    /// Encrypts `buffer` in place (plaintext in, ciphertext of the same
    /// length out) and returns the tag: the same message as
    /// [`seal`](Sealer::seal) without a second buffer, so a large file is
    /// sealed where it is assembled.
    ///
    /// The provided method goes through [`seal`](Sealer::seal); the built-in
    /// sealers encrypt in place.
    ///
    /// # Errors
    /// As [`seal`](Sealer::seal). On error `buffer` may hold the plaintext
    /// or part of the ciphertext; callers treat it as secret.
    fn seal_in_place(
        &self,
        key: &Key,
        nonce: &[u8],
        aad: &[u8],
        buffer: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let sealed = self.seal(key, nonce, aad, buffer)?;
        let malformed = || crate::Error::Malformed {
            reason: "the sealer returned a message of the wrong length",
        };
        let (ciphertext, tag) = sealed
            .split_at_checked(buffer.len())
            .ok_or_else(malformed)?;
        let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| malformed())?;
        buffer.copy_from_slice(ciphertext);
        Ok(tag)
    }

    /// Verifies and decrypts `ciphertext || tag`.
    ///
    /// # Errors
    /// [`Error::Authentication`](crate::Error::Authentication) when the
    /// message is not authentic under this key, nonce and associated data;
    /// [`Error::InvalidNonceLength`](crate::Error::InvalidNonceLength) for a
    /// nonce of the wrong length.
    fn open(
        &self,
        key: &Key,
        nonce: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<SecretSlice<u8>>;
}

impl<T: Sealer + ?Sized> Sealer for Arc<T> {
    fn algorithm(&self) -> Algorithm {
        (**self).algorithm()
    }
    fn seal(&self, key: &Key, nonce: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        (**self).seal(key, nonce, aad, plaintext)
    }
    fn seal_in_place(
        &self,
        key: &Key,
        nonce: &[u8],
        aad: &[u8],
        buffer: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        (**self).seal_in_place(key, nonce, aad, buffer)
    }
    fn open(
        &self,
        key: &Key,
        nonce: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<SecretSlice<u8>> {
        (**self).open(key, nonce, aad, ciphertext)
    }
}

impl<T: Sealer + ?Sized> Sealer for Box<T> {
    fn algorithm(&self) -> Algorithm {
        (**self).algorithm()
    }
    fn seal(&self, key: &Key, nonce: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        (**self).seal(key, nonce, aad, plaintext)
    }
    fn seal_in_place(
        &self,
        key: &Key,
        nonce: &[u8],
        aad: &[u8],
        buffer: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        (**self).seal_in_place(key, nonce, aad, buffer)
    }
    fn open(
        &self,
        key: &Key,
        nonce: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<SecretSlice<u8>> {
        (**self).open(key, nonce, aad, ciphertext)
    }
}

/// The AEAD algorithms the file format knows, with their on-disk ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// AES-256-GCM with 96-bit random nonces (id 1). The default: hardware
    /// accelerated almost everywhere.
    #[default]
    Aes256Gcm,
    /// XChaCha20-Poly1305 with 192-bit random nonces (id 2): constant-time
    /// without AES hardware, and no practical limit on random nonces.
    XChaCha20Poly1305,
}

impl Algorithm {
    /// Every algorithm, in id order.
    pub const ALL: [Self; 2] = [Self::Aes256Gcm, Self::XChaCha20Poly1305];

    /// The algorithm's id byte in the file header.
    pub const fn id(self) -> u8 {
        match self {
            Self::Aes256Gcm => 1,
            Self::XChaCha20Poly1305 => 2,
        }
    }

    /// The algorithm for an id byte, if this build knows it.
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(Self::Aes256Gcm),
            2 => Some(Self::XChaCha20Poly1305),
            _ => None,
        }
    }

    /// The nonce length, in bytes.
    pub const fn nonce_len(self) -> usize {
        match self {
            Self::Aes256Gcm => 12,
            Self::XChaCha20Poly1305 => 24,
        }
    }

    /// The algorithm's conventional name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Aes256Gcm => "AES-256-GCM",
            Self::XChaCha20Poly1305 => "XChaCha20-Poly1305",
        }
    }

    /// The built-in [`Sealer`] for this algorithm.
    pub fn sealer(self) -> &'static dyn Sealer {
        match self {
            Self::Aes256Gcm => &Aes256GcmSealer,
            Self::XChaCha20Poly1305 => &XChaCha20Poly1305Sealer,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
