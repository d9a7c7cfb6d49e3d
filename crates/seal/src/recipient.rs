//! The recovery identity and its recipient (format version 3,
//! `docs/FORMAT.md`, "Recipient stanza"), in the style of age's X25519
//! recipients.
//!
//! The file carries the recipient (an X25519 public key); each data key is
//! wrapped to it with a fresh ephemeral share, so any writer that holds the
//! data key can wrap a new one for recovery without the recovery secret.
//! Only the identity (the secret scalar, which the person keeps) unwraps.

use core::fmt;

use hkdf::Hkdf;
use secrecy::ExposeSecret;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::random::Random;
use crate::{Algorithm, Error, KEY_ID_LEN, KEY_LEN, Key, KeyId, Result};

/// The length of an X25519 public key, secret scalar or share.
pub const X25519_LEN: usize = 32;

const RECIPIENT_ID_SALT: &[u8] = b"keyseal";
const RECIPIENT_ID_INFO: &[u8] = b"keyseal/v3/recipient-id";
const WRAP_KEY_INFO: &[u8] = b"keyseal/v3/x25519-recovery";

/// A recovery identity: the X25519 secret that unwraps a version-3 file's
/// recipient stanza. Zeroized on drop; `Debug` shows only its recipient's id.
pub struct RecoveryIdentity {
    secret: StaticSecret,
}

impl RecoveryIdentity {
    /// A new random identity from the operating system's CSPRNG.
    ///
    /// # Errors
    /// [`Error::Random`] when the generator fails.
    pub fn generate() -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; X25519_LEN]);
        Random::os().fill(bytes.as_mut())?;
        Ok(Self::from_bytes(&bytes))
    }

    /// The identity of these 32 secret bytes (any 32 bytes are a scalar;
    /// X25519 clamps them).
    pub fn from_bytes(bytes: &[u8; X25519_LEN]) -> Self {
        Self {
            secret: StaticSecret::from(*bytes),
        }
    }

    /// The 32 secret bytes, zeroized on drop (for the recovery key's text).
    pub fn to_bytes(&self) -> Zeroizing<[u8; X25519_LEN]> {
        Zeroizing::new(self.secret.to_bytes())
    }

    /// The public recipient a file names.
    pub fn recipient(&self) -> RecoveryRecipient {
        RecoveryRecipient {
            public: PublicKey::from(&self.secret).to_bytes(),
        }
    }

    /// Unwraps a data key wrapped to this identity's recipient.
    pub(crate) fn unwrap(&self, share: &Share, wrapped: &Wrapped<'_>) -> Result<Key> {
        let shared = self
            .secret
            .diffie_hellman(&PublicKey::from(share.ephemeral));
        if !shared.was_contributory() {
            return Err(Error::Authentication);
        }
        let kek = wrap_key(shared.as_bytes(), share)?;
        let plain = wrapped.algorithm.sealer().open(
            &kek,
            wrapped.nonce,
            &wrapped.aad(share),
            wrapped.ciphertext,
        )?;
        Key::from_slice(plain.expose_secret())
    }
}

impl fmt::Debug for RecoveryIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryIdentity")
            .field("recipient", &self.recipient().id())
            .finish_non_exhaustive()
    }
}

/// The public half of a [`RecoveryIdentity`], as a version-3 file carries
/// it: anyone may wrap a data key to it; only the identity unwraps.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecoveryRecipient {
    public: [u8; X25519_LEN],
}

impl RecoveryRecipient {
    /// The recipient of these public-key bytes (as read from a file).
    pub const fn from_bytes(public: [u8; X25519_LEN]) -> Self {
        Self { public }
    }

    /// The public key's 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; X25519_LEN] {
        &self.public
    }

    /// Whether this is a point X25519 can use: not one of the low-order
    /// points, whose every shared secret is zero (so a data key wrapped to
    /// one would be wrapped under a key anyone can compute). Clamped
    /// scalars are multiples of the cofactor, so any one of them maps a
    /// low-order point, and only those, to zero.
    pub fn is_usable(&self) -> bool {
        x25519_dalek::x25519([1; X25519_LEN], self.public) != [0; X25519_LEN]
    }

    /// The recipient's public id:
    /// `HKDF-SHA256(salt = "keyseal", ikm = public key, info = "keyseal/v3/recipient-id")[0..16]`.
    pub fn id(&self) -> KeyId {
        let hk = Hkdf::<Sha256>::new(Some(RECIPIENT_ID_SALT), &self.public);
        let mut id = [0u8; KEY_ID_LEN];
        // 16 bytes is far below HKDF-SHA256's output limit: `expand` cannot
        // fail; keep the zero id rather than panic if it did.
        let _ = hk.expand(RECIPIENT_ID_INFO, &mut id);
        KeyId::from_bytes(id)
    }

    /// Wraps `data_key` to this recipient with the ephemeral scalar drawn
    /// from `random`; returns the share and the wrapped key.
    pub(crate) fn wrap(
        &self,
        algorithm: Algorithm,
        data_key: &Key,
        context: &str,
        random: &Random,
    ) -> Result<(Share, Vec<u8>, Vec<u8>)> {
        let mut scalar = Zeroizing::new([0u8; X25519_LEN]);
        random.fill(scalar.as_mut())?;
        let ephemeral = StaticSecret::from(*scalar);
        let share = Share {
            recipient: self.public,
            ephemeral: PublicKey::from(&ephemeral).to_bytes(),
        };
        let shared = ephemeral.diffie_hellman(&PublicKey::from(self.public));
        if !shared.was_contributory() {
            // A file's recipient was checked when it was parsed: this one
            // came from the caller.
            return Err(Error::Misuse {
                reason: "the recovery recipient is a low-order point, not a usable X25519 public key",
            });
        }
        let kek = wrap_key(shared.as_bytes(), &share)?;
        let nonce = random.bytes(algorithm.nonce_len())?;
        let aad = stanza_aad(algorithm, &share, context);
        let wrapped = algorithm
            .sealer()
            .seal(&kek, &nonce, &aad, data_key.expose_secret())?;
        Ok((share, nonce, wrapped))
    }
}

impl fmt::Debug for RecoveryRecipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RecoveryRecipient")
            .field(&self.id())
            .finish()
    }
}

/// The public parts of a recipient stanza: the recipient and the ephemeral
/// share the data key was wrapped with.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Share {
    pub(crate) recipient: [u8; X25519_LEN],
    pub(crate) ephemeral: [u8; X25519_LEN],
}

/// A wrapped data key and what it was sealed with.
pub(crate) struct Wrapped<'a> {
    pub(crate) algorithm: Algorithm,
    pub(crate) nonce: &'a [u8],
    pub(crate) ciphertext: &'a [u8],
    pub(crate) context: &'a str,
}

impl Wrapped<'_> {
    fn aad(&self, share: &Share) -> Vec<u8> {
        stanza_aad(self.algorithm, share, self.context)
    }
}

/// The wrapping key: `HKDF-SHA256(salt = ephemeral share ‖ recipient,
/// ikm = X25519 shared secret, info = "keyseal/v3/x25519-recovery")`.
fn wrap_key(shared: &[u8; X25519_LEN], share: &Share) -> Result<Key> {
    let mut salt = [0u8; 2 * X25519_LEN];
    let (first, second) = salt.split_at_mut(X25519_LEN);
    first.copy_from_slice(&share.ephemeral);
    second.copy_from_slice(&share.recipient);
    let hk = Hkdf::<Sha256>::new(Some(&salt), shared);
    let mut okm = Zeroizing::new([0u8; KEY_LEN]);
    hk.expand(WRAP_KEY_INFO, okm.as_mut())
        .map_err(|_| Error::Misuse {
            reason: "HKDF refused a 32-byte output",
        })?;
    Key::from_slice(okm.as_ref())
}

/// The associated data of a recipient stanza's wrapped key:
/// `magic ‖ 00 03 ‖ algorithm id ‖ 03 ‖ recipient ‖ ephemeral share ‖ context`.
fn stanza_aad(algorithm: Algorithm, share: &Share, context: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(crate::MAGIC.len() + 4 + 2 * X25519_LEN + context.len());
    aad.extend_from_slice(&crate::MAGIC);
    aad.extend_from_slice(&3u16.to_be_bytes());
    aad.push(algorithm.id());
    aad.push(crate::StanzaKind::Recipient.id());
    aad.extend_from_slice(&share.recipient);
    aad.extend_from_slice(&share.ephemeral);
    aad.extend_from_slice(context.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_unwraps_what_was_wrapped_to_its_recipient_and_another_does_not() {
        let identity = RecoveryIdentity::generate().unwrap();
        let other = RecoveryIdentity::generate().unwrap();
        let data_key = Key::generate().unwrap();
        let (share, nonce, wrapped) = identity
            .recipient()
            .wrap(Algorithm::Aes256Gcm, &data_key, "ctx", &Random::os())
            .unwrap();
        let sealed = Wrapped {
            algorithm: Algorithm::Aes256Gcm,
            nonce: &nonce,
            ciphertext: &wrapped,
            context: "ctx",
        };
        assert_eq!(
            identity.unwrap(&share, &sealed).unwrap().id(),
            data_key.id()
        );
        assert!(matches!(
            other.unwrap(&share, &sealed),
            Err(Error::Authentication)
        ));
        let elsewhere = Wrapped {
            context: "other",
            ..sealed
        };
        assert!(matches!(
            identity.unwrap(&share, &elsewhere),
            Err(Error::Authentication)
        ));
    }

    #[test]
    fn a_low_order_recipient_is_refused_and_never_wraps() {
        // The all-zero point: every shared secret with it is zero.
        let recipient = RecoveryRecipient::from_bytes([0; X25519_LEN]);
        let data_key = Key::generate().unwrap();
        let wrapped = recipient.wrap(Algorithm::Aes256Gcm, &data_key, "ctx", &Random::os());
        assert!(matches!(wrapped, Err(Error::Misuse { .. })));
        assert!(!recipient.is_usable());
        assert!(
            RecoveryIdentity::generate()
                .unwrap()
                .recipient()
                .is_usable()
        );
    }

    #[test]
    fn debug_shows_the_recipient_id_and_never_the_secret() {
        let identity = RecoveryIdentity::from_bytes(&[7; X25519_LEN]);
        let shown = format!("{identity:?}");
        assert!(shown.contains(&identity.recipient().id().to_string()));
        assert!(!shown.contains("07, 07"));
        assert!(!shown.contains("0707"));
    }
}
