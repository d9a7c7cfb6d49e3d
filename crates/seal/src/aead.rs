//! The two built-in [`Sealer`]s, both thin wrappers over RustCrypto AEADs.

use aes_gcm::aead::{AeadInOut, KeyInit, Nonce};
use secrecy::SecretSlice;
use zeroize::Zeroize;

use crate::{Algorithm, Error, KEY_LEN, Key, Result, Sealer, TAG_LEN};

/// The largest message either AEAD is asked to seal: the format stores the
/// body length as a `u32` that includes the tag.
pub(crate) const MAX_PLAINTEXT: usize = u32::MAX as usize - TAG_LEN;

/// AES-256-GCM (NIST SP 800-38D), the default [`Sealer`].
///
/// # Security notes
/// - Nonces are 96 bits and drawn at random for every message. NIST limits a
///   key to 2^32 messages with random 96-bit nonces. A version-2 write seals
///   two messages or more under the store's data key (the index, and a
///   record for each value it writes; unchanged records are copied, not
///   sealed again), and one per key wrap under a key-encryption key; so a
///   store whose writes change one entry each reaches the limit after about
///   two billion writes. A rotation without a recovery key, disabling or
///   replacing the recovery key draw a new data key.
/// - GCM is not key-committing: a ciphertext can in principle be crafted to
///   open under two chosen keys. keyseal does not rely on it: the file names
///   its key by a [`KeyId`](crate::KeyId) derived with HKDF, and each key
///   only ever unwraps the data key that was wrapped for it.
/// - Uses AES-NI and CLMUL when the CPU has them; otherwise the constant-time
///   software fallback of the `aes` and `ghash` crates.
#[derive(Clone, Copy, Debug, Default)]
pub struct Aes256GcmSealer;

/// XChaCha20-Poly1305, the alternative [`Sealer`].
///
/// # Security notes
/// - Nonces are 192 bits and drawn at random for every message; at that size
///   random nonces have no practical collision bound.
/// - Constant-time in software on every CPU, which makes it the better choice
///   where AES hardware is missing.
/// - Like GCM, not key-committing; see [`Aes256GcmSealer`].
#[derive(Clone, Copy, Debug, Default)]
pub struct XChaCha20Poly1305Sealer;

fn seal_with<A: AeadInOut + KeyInit>(
    algorithm: Algorithm,
    key: &Key,
    nonce: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    check_len(plaintext.len())?;
    let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    out.extend_from_slice(plaintext);
    match seal_in_place_with::<A>(algorithm, key, nonce, aad, &mut out) {
        Ok(tag) => {
            out.extend_from_slice(&tag);
            Ok(out)
        }
        Err(e) => {
            out.zeroize();
            Err(e)
        }
    }
}

fn check_len(len: usize) -> Result<()> {
    if len > MAX_PLAINTEXT {
        Err(Error::TooLarge {
            len,
            max: MAX_PLAINTEXT,
        })
    } else {
        Ok(())
    }
}

fn seal_in_place_with<A: AeadInOut + KeyInit>(
    algorithm: Algorithm,
    key: &Key,
    nonce: &[u8],
    aad: &[u8],
    buffer: &mut [u8],
) -> Result<[u8; TAG_LEN]> {
    check_len(buffer.len())?;
    let nonce = nonce_for::<A>(algorithm, nonce)?;
    let cipher = cipher::<A>(key)?;
    let len = buffer.len();
    let too_large = || Error::TooLarge {
        len,
        max: MAX_PLAINTEXT,
    };
    let tag = cipher
        .encrypt_inout_detached(&nonce, aad, buffer.into())
        .map_err(|_| too_large())?;
    tag.as_slice().try_into().map_err(|_| too_large())
}

fn open_with<A: AeadInOut + KeyInit>(
    algorithm: Algorithm,
    key: &Key,
    nonce: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<SecretSlice<u8>> {
    let nonce = nonce_for::<A>(algorithm, nonce)?;
    let cipher = cipher::<A>(key)?;
    let (body, tag) = ciphertext
        .split_at_checked(ciphertext.len().saturating_sub(TAG_LEN))
        .filter(|(_, tag)| tag.len() == TAG_LEN)
        .ok_or(Error::Authentication)?;
    let tag = aes_gcm::aead::Tag::<A>::try_from(tag).map_err(|_| Error::Authentication)?;
    // Decrypt in place in an exactly sized allocation, which becomes the
    // returned secret: no second copy of the plaintext, and nothing left
    // behind in freed memory.
    let mut buffer = Box::<[u8]>::from(body);
    match cipher.decrypt_inout_detached(&nonce, aad, (&mut *buffer).into(), &tag) {
        Ok(()) => Ok(SecretSlice::from(buffer)),
        Err(_) => {
            buffer.zeroize();
            Err(Error::Authentication)
        }
    }
}

fn cipher<A: KeyInit>(key: &Key) -> Result<A> {
    // Both AEADs take exactly KEY_LEN bytes, which `Key` guarantees, so this
    // error is unreachable; it is mapped rather than unwrapped all the same.
    A::new_from_slice(key.expose_secret()).map_err(|_| Error::InvalidKeyLength { len: KEY_LEN })
}

fn nonce_for<A: aes_gcm::aead::AeadCore>(algorithm: Algorithm, nonce: &[u8]) -> Result<Nonce<A>> {
    Nonce::<A>::try_from(nonce).map_err(|_| Error::InvalidNonceLength {
        algorithm,
        expected: algorithm.nonce_len(),
        len: nonce.len(),
    })
}

impl Sealer for Aes256GcmSealer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Aes256Gcm
    }
    fn seal(&self, key: &Key, nonce: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        seal_with::<aes_gcm::Aes256Gcm>(self.algorithm(), key, nonce, aad, plaintext)
    }
    fn seal_in_place(
        &self,
        key: &Key,
        nonce: &[u8],
        aad: &[u8],
        buffer: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        seal_in_place_with::<aes_gcm::Aes256Gcm>(self.algorithm(), key, nonce, aad, buffer)
    }
    fn open(
        &self,
        key: &Key,
        nonce: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<SecretSlice<u8>> {
        open_with::<aes_gcm::Aes256Gcm>(self.algorithm(), key, nonce, aad, ciphertext)
    }
}

impl Sealer for XChaCha20Poly1305Sealer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::XChaCha20Poly1305
    }
    fn seal(&self, key: &Key, nonce: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        seal_with::<chacha20poly1305::XChaCha20Poly1305>(
            self.algorithm(),
            key,
            nonce,
            aad,
            plaintext,
        )
    }
    fn seal_in_place(
        &self,
        key: &Key,
        nonce: &[u8],
        aad: &[u8],
        buffer: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        seal_in_place_with::<chacha20poly1305::XChaCha20Poly1305>(
            self.algorithm(),
            key,
            nonce,
            aad,
            buffer,
        )
    }
    fn open(
        &self,
        key: &Key,
        nonce: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<SecretSlice<u8>> {
        open_with::<chacha20poly1305::XChaCha20Poly1305>(
            self.algorithm(),
            key,
            nonce,
            aad,
            ciphertext,
        )
    }
}
