//! Key material and key ids.
//!
//! There is exactly one key type in keyseal: [`Key`], 32 bytes that are
//! zeroized on drop and never printed. It serves as the key-encryption key
//! (the one kept in the OS keyring, or a recovery key) and as the data key
//! that seals a file's body.

use core::fmt;

use hkdf::Hkdf;
use secrecy::{ExposeSecret, SecretBox};
use sha2::Sha256;

use crate::{Error, Result};

/// The length of every key, in bytes.
pub const KEY_LEN: usize = 32;

/// The length of a [`KeyId`], in bytes.
pub const KEY_ID_LEN: usize = 16;

/// The HKDF-SHA256 salt of the key-id derivation (see `docs/FORMAT.md`).
const KEY_ID_SALT: &[u8] = b"keyseal";
/// The HKDF-SHA256 info of the key-id derivation (see `docs/FORMAT.md`).
const KEY_ID_INFO: &[u8] = b"keyseal/v1/key-id";

/// A 256-bit key.
///
/// # Security notes
/// - The bytes live in one heap allocation that is zeroized on drop
///   ([`secrecy::SecretBox`]); the type is not `Clone`, `Copy` or `PartialEq`
///   (comparing keys is done through their [`KeyId`]).
/// - `Debug` prints only the key id; there is no `Display`.
/// - [`Key::expose_secret`] is the one way to reach the bytes, named so that
///   every use is easy to find in review.
pub struct Key {
    bytes: SecretBox<[u8; KEY_LEN]>,
    id: KeyId,
}

impl Key {
    /// Generates a fresh random key from the operating system's CSPRNG.
    ///
    /// # Errors
    /// [`Error::Random`] when the operating system's generator fails.
    pub fn generate() -> Result<Self> {
        let mut failure = None;
        let bytes = SecretBox::init_with_mut(|buf: &mut [u8; KEY_LEN]| {
            if let Err(source) = getrandom::fill(buf) {
                failure = Some(source);
            }
        });
        match failure {
            Some(source) => Err(Error::Random { source }),
            None => Ok(Self::from_secret_box(bytes)),
        }
    }

    /// Copies a key from a slice of exactly [`KEY_LEN`] bytes.
    ///
    /// The caller keeps ownership of (and responsibility for zeroizing) `bytes`.
    ///
    /// # Errors
    /// [`Error::InvalidKeyLength`] when `bytes` is not 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != KEY_LEN {
            return Err(Error::InvalidKeyLength { len: bytes.len() });
        }
        let secret = SecretBox::init_with_mut(|buf: &mut [u8; KEY_LEN]| {
            buf.copy_from_slice(bytes);
        });
        Ok(Self::from_secret_box(secret))
    }

    fn from_secret_box(bytes: SecretBox<[u8; KEY_LEN]>) -> Self {
        let id = KeyId::derive(bytes.expose_secret());
        Self { bytes, id }
    }

    /// The key's public identifier.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The raw key bytes.
    ///
    /// Every call site is a place where key material leaves this type; keep
    /// them few and never log what they return.
    pub fn expose_secret(&self) -> &[u8; KEY_LEN] {
        self.bytes.expose_secret()
    }

    /// Makes an independent copy of the key (a second zeroizing allocation).
    ///
    /// Deliberately not `Clone`, so that copies are explicit.
    #[must_use]
    pub fn duplicate(&self) -> Self {
        let secret = SecretBox::init_with_mut(|buf: &mut [u8; KEY_LEN]| {
            buf.copy_from_slice(self.expose_secret());
        });
        Self {
            bytes: secret,
            id: self.id,
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A public, stable identifier of a [`Key`].
///
/// `HKDF-SHA256(salt = "keyseal", ikm = key, info = "keyseal/v1/key-id")`,
/// truncated to 16 bytes. It tells which key sealed a file without revealing
/// anything about the key (HKDF output is a PRF of the key).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl KeyId {
    fn derive(key: &[u8; KEY_LEN]) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(KEY_ID_SALT), key);
        let mut id = [0u8; KEY_ID_LEN];
        // 16 bytes is far below HKDF-SHA256's 8160-byte output limit, so
        // `expand` cannot fail; keep the zero id rather than panic if it did.
        let _ = hk.expand(KEY_ID_INFO, &mut id);
        Self(id)
    }

    /// Builds a key id from its 16 bytes (as read from a file header).
    pub const fn from_bytes(bytes: [u8; KEY_ID_LEN]) -> Self {
        Self(bytes)
    }

    /// The id's 16 bytes.
    pub const fn as_bytes(&self) -> &[u8; KEY_ID_LEN] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    /// Lower-case hex of all 16 bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A string that is not a key id: 32 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseKeyIdError;

impl fmt::Display for ParseKeyIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key id is 32 hex digits")
    }
}

impl std::error::Error for ParseKeyIdError {}

impl core::str::FromStr for KeyId {
    type Err = ParseKeyIdError;

    /// Parses the 32 hex digits [`Display`](fmt::Display) writes (either case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.as_bytes();
        if digits.len() != 2 * KEY_ID_LEN {
            return Err(ParseKeyIdError);
        }
        let mut id = [0u8; KEY_ID_LEN];
        for (byte, pair) in id.iter_mut().zip(digits.chunks_exact(2)) {
            let text = core::str::from_utf8(pair).map_err(|_| ParseKeyIdError)?;
            if !pair.iter().all(u8::is_ascii_hexdigit) {
                return Err(ParseKeyIdError);
            }
            *byte = u8::from_str_radix(text, 16).map_err(|_| ParseKeyIdError)?;
        }
        Ok(Self(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_id_and_never_the_bytes() {
        let key = Key::from_slice(&[0xAB; KEY_LEN]).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains(&key.id().to_string()), "{shown}");
        assert!(!shown.to_lowercase().contains("abab"), "{shown}");
        assert!(!shown.contains("171"), "{shown}");
    }

    #[test]
    fn key_id_text_round_trips_and_rejects_what_is_not_one() {
        let id = Key::generate().unwrap().id();
        assert_eq!(id.to_string().parse::<KeyId>(), Ok(id));
        assert_eq!(id.to_string().to_uppercase().parse::<KeyId>(), Ok(id));
        for bad in [
            "",
            "00",
            &"0".repeat(31),
            &"0".repeat(33),
            &"g".repeat(32),
            "+0000000000000000000000000000000",
            "é000000000000000000000000000000",
        ] {
            assert_eq!(bad.parse::<KeyId>(), Err(ParseKeyIdError), "{bad:?}");
        }
    }

    #[test]
    fn key_id_is_deterministic_and_distinguishes_keys() {
        let a = Key::from_slice(&[1; KEY_LEN]).unwrap();
        let a2 = Key::from_slice(&[1; KEY_LEN]).unwrap();
        let b = Key::from_slice(&[2; KEY_LEN]).unwrap();
        assert_eq!(a.id(), a2.id());
        assert_ne!(a.id(), b.id());
        assert_eq!(a.duplicate().id(), a.id());
        assert_eq!(a.duplicate().expose_secret(), a.expose_secret());
    }

    #[test]
    fn generated_keys_differ() {
        let a = Key::generate().unwrap();
        let b = Key::generate().unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_ne!(a.id(), b.id());
    }

    #[test]
    fn wrong_length_is_a_typed_error() {
        for len in [0, 16, 31, 33, 64] {
            match Key::from_slice(&vec![0; len]) {
                Err(Error::InvalidKeyLength { len: got }) => assert_eq!(got, len),
                other => panic!("length {len}: {other:?}"),
            }
        }
    }

    #[test]
    fn key_id_displays_as_32_hex_digits() {
        let id = KeyId::from_bytes([0x0f; KEY_ID_LEN]);
        assert_eq!(id.to_string(), "0f".repeat(16));
        assert_eq!(format!("{id:?}"), format!("KeyId({})", "0f".repeat(16)));
    }
}
