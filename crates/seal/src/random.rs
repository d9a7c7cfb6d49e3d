//! Where the format's random bytes come from: data keys, nonces and
//! ephemeral scalars. One source per [`Envelope`](crate::Envelope), as
//! rustls gives each `CryptoProvider` one `secure_random`: the operating
//! system's CSPRNG, or, for the known-answer vectors, a fixed sequence.
//! Nothing outside this crate can choose it.

use core::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use zeroize::Zeroizing;

use crate::{Error, KEY_LEN, Key, Result};

/// A fixed source's next bytes, for the known-answer tests.
type Fixed = dyn FnMut(&mut [u8]) -> Result<()> + Send;

/// A source of random bytes: the OS CSPRNG unless a test fixed it.
#[derive(Clone, Default)]
pub(crate) struct Random(Option<Arc<Mutex<Fixed>>>);

impl Random {
    /// The operating system's CSPRNG.
    pub(crate) fn os() -> Self {
        Self(None)
    }

    /// A fixed sequence (known-answer tests).
    #[cfg(test)]
    pub(crate) fn fixed(next: impl FnMut(&mut [u8]) -> Result<()> + Send + 'static) -> Self {
        Self(Some(Arc::new(Mutex::new(next))))
    }

    /// Fills `buf`.
    ///
    /// # Errors
    /// [`Error::Random`] when the operating system's generator fails.
    pub(crate) fn fill(&self, buf: &mut [u8]) -> Result<()> {
        match &self.0 {
            None => getrandom::fill(buf).map_err(|source| Error::Random { source }),
            Some(fixed) => (fixed.lock().unwrap_or_else(PoisonError::into_inner))(buf),
        }
    }

    /// A new 32-byte key.
    ///
    /// # Errors
    /// As [`fill`](Self::fill).
    pub(crate) fn key(&self) -> Result<Key> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        self.fill(bytes.as_mut())?;
        Key::from_slice(bytes.as_ref())
    }

    /// `len` random bytes (a nonce).
    ///
    /// # Errors
    /// As [`fill`](Self::fill).
    pub(crate) fn bytes(&self, len: usize) -> Result<Vec<u8>> {
        let mut out = vec![0u8; len];
        self.fill(&mut out)?;
        Ok(out)
    }
}

impl fmt::Debug for Random {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_none() {
            "Random(os)"
        } else {
            "Random(fixed)"
        })
    }
}
