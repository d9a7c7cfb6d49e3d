//! The recovery key's text form: what a person copies into a password
//! manager, and types back in on a new machine (`docs/FORMAT.md`, "Recovery
//! key text").
//!
//! ```text
//! KSR2-XXXX-XXXX-...-XX     58 base32 characters after the prefix
//! ```
//!
//! The characters are RFC 4648 base32 (`A`–`Z`, `2`–`7`) of the 32 secret
//! bytes followed by a 4-byte checksum, `SHA-256(label ‖ secret)` truncated.
//! `KSR2` keys (label `keyseal recovery key v2`) are X25519 identities: the
//! file holds only their public recipient, so any writer can wrap a new
//! data key for them. `KSR1` keys (label `keyseal recovery key v1`) are the
//! symmetric recovery keys of format version 2: they are still read, never
//! made. Parsing ignores case, spaces, newlines and dashes, and checks the
//! checksum before any decryption is attempted, so a typo is reported as a
//! typo. Errors never repeat the text.

use core::fmt;

use keyseal_seal::{KEY_LEN, Key, KeyId, RecoveryIdentity, RecoveryRecipient};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{Error, Result};

const CHECK_LEN: usize = 4;
const RAW_LEN: usize = KEY_LEN + CHECK_LEN; // 36 bytes
const CHARS: usize = (RAW_LEN * 8).div_ceil(5); // 58 characters
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The two text forms: a prefix and the checksum's label.
#[derive(Clone, Copy)]
struct TextForm {
    prefix: &'static str,
    label: &'static [u8],
}

const IDENTITY_FORM: TextForm = TextForm {
    prefix: "KSR2",
    label: b"keyseal recovery key v2",
};
const SYMMETRIC_FORM: TextForm = TextForm {
    prefix: "KSR1",
    label: b"keyseal recovery key v1",
};

/// A recovery key: a second key that opens the store when the keyring's key
/// is gone. Zeroized on drop; `Debug` shows only its id.
pub struct RecoveryKey {
    secret: RecoverySecret,
}

/// What a recovery key is.
enum RecoverySecret {
    /// `KSR2`: an X25519 identity (format version 3's recipient stanza).
    Identity(RecoveryIdentity),
    /// `KSR1`: a symmetric key (format version 2's recovery stanza).
    Symmetric(Key),
}

impl fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryKey")
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

/// The base32 character for the low five bits of `v`.
fn symbol(v: u32) -> char {
    ALPHABET
        .get((v & 31) as usize)
        .map_or('A', |&b| char::from(b))
}

fn checksum(form: TextForm, key: &[u8]) -> [u8; CHECK_LEN] {
    let digest = Sha256::new()
        .chain_update(form.label)
        .chain_update(key)
        .finalize();
    let mut out = [0u8; CHECK_LEN];
    out.copy_from_slice(digest.get(..CHECK_LEN).unwrap_or(&[0; CHECK_LEN]));
    out
}

impl RecoveryKey {
    /// A new random recovery key (an X25519 identity, `KSR2`). Show it to
    /// the person (and make sure it reached them) before
    /// [`Store::enable_recovery_with`](crate::Store::enable_recovery_with)
    /// makes the file name it.
    ///
    /// # Errors
    /// [`Error::Seal`] when the system's random source fails.
    pub fn generate() -> Result<Self> {
        Ok(Self {
            secret: RecoverySecret::Identity(RecoveryIdentity::generate()?),
        })
    }

    /// A `KSR1` key's symmetric key (`None` for a `KSR2` key).
    pub(crate) fn symmetric_key(&self) -> Option<&Key> {
        match &self.secret {
            RecoverySecret::Symmetric(key) => Some(key),
            RecoverySecret::Identity(_) => None,
        }
    }

    /// What unlocks a file with this key.
    pub(crate) fn unlock(&self) -> keyseal_seal::Unlock<'_> {
        match &self.secret {
            RecoverySecret::Identity(identity) => keyseal_seal::Unlock::Identity(identity),
            RecoverySecret::Symmetric(key) => keyseal_seal::Unlock::Key(key),
        }
    }

    /// The recipient a file names for this key (`None` for a `KSR1` key,
    /// which has none).
    pub(crate) fn recipient(&self) -> Option<RecoveryRecipient> {
        match &self.secret {
            RecoverySecret::Identity(identity) => Some(identity.recipient()),
            RecoverySecret::Symmetric(_) => None,
        }
    }

    /// The key's public id (as `Status::recovery_key_id` shows it): a
    /// `KSR2` key's recipient id, or a `KSR1` key's key id.
    pub fn id(&self) -> KeyId {
        match &self.secret {
            RecoverySecret::Identity(identity) => identity.recipient().id(),
            RecoverySecret::Symmetric(key) => key.id(),
        }
    }

    /// Whether this is a `KSR1` key, the symmetric kind of format version 2
    /// (read, never made).
    pub fn is_symmetric(&self) -> bool {
        matches!(self.secret, RecoverySecret::Symmetric(_))
    }

    /// The text to give the person: `KSR2-` (or, for an old key, `KSR1-`)
    /// and 58 base32 characters in groups of four. Zeroized on drop.
    pub fn to_text(&self) -> Zeroizing<String> {
        match &self.secret {
            RecoverySecret::Identity(identity) => {
                encode(IDENTITY_FORM, identity.to_bytes().as_ref())
            }
            RecoverySecret::Symmetric(key) => encode(SYMMETRIC_FORM, key.expose_secret()),
        }
    }

    /// Parses the text form (`KSR2`, or an old `KSR1` key), ignoring case,
    /// whitespace and dashes.
    ///
    /// # Errors
    /// [`Error::InvalidRecoveryKey`] when the text has another prefix, a
    /// character outside base32, the wrong length, or a checksum that does
    /// not match (a typo). The error never repeats the text.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |reason| Error::InvalidRecoveryKey { reason };
        let mut cleaned = Zeroizing::new(String::with_capacity(text.len()));
        for c in text.chars() {
            if !(c.is_whitespace() || c == '-') {
                cleaned.push(c.to_ascii_uppercase());
            }
        }
        let (form, body) = [IDENTITY_FORM, SYMMETRIC_FORM]
            .into_iter()
            .find_map(|form| cleaned.strip_prefix(form.prefix).map(|body| (form, body)))
            .ok_or(invalid("it does not start with KSR2 (or KSR1)"))?;
        let raw = decode(body)?;
        let (key_part, check_part) = raw.split_at(KEY_LEN);
        if checksum(form, key_part) != check_part {
            return Err(invalid("its checksum does not match: check it for a typo"));
        }
        let secret = if form.prefix == IDENTITY_FORM.prefix {
            let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
            bytes.copy_from_slice(key_part);
            RecoverySecret::Identity(RecoveryIdentity::from_bytes(&bytes))
        } else {
            RecoverySecret::Symmetric(Key::from_slice(key_part)?)
        };
        Ok(Self { secret })
    }

    /// A `KSR1` key from its 32 bytes, for tests of stores made before
    /// format version 3.
    #[doc(hidden)]
    pub fn symmetric_for_tests(key: &[u8]) -> Result<Self> {
        Ok(Self {
            secret: RecoverySecret::Symmetric(Key::from_slice(key)?),
        })
    }
}

/// `form`'s prefix and the base32 of `key ‖ checksum`, in groups of four.
fn encode(form: TextForm, key: &[u8]) -> Zeroizing<String> {
    let mut raw = Zeroizing::new([0u8; RAW_LEN]);
    let (key_part, check_part) = raw.split_at_mut(KEY_LEN);
    key_part.copy_from_slice(key.get(..KEY_LEN).unwrap_or(&[0; KEY_LEN]));
    check_part.copy_from_slice(&checksum(form, key_part));
    let mut chars = Zeroizing::new(String::with_capacity(CHARS));
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in raw.iter() {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            chars.push(symbol(buffer >> bits));
        }
    }
    if bits > 0 {
        chars.push(symbol(buffer << (5 - bits)));
    }
    let mut text = Zeroizing::new(String::with_capacity(
        form.prefix.len() + CHARS + CHARS / 4 + 1,
    ));
    text.push_str(form.prefix);
    for (i, c) in chars.chars().enumerate() {
        if i % 4 == 0 {
            text.push('-');
        }
        text.push(c);
    }
    text
}

/// The 36 bytes the base32 characters after the prefix encode.
fn decode(body: &str) -> Result<Zeroizing<[u8; RAW_LEN]>> {
    let invalid = |reason| Error::InvalidRecoveryKey { reason };
    if body.len() != CHARS {
        return Err(invalid("it has the wrong number of characters"));
    }
    let mut raw = Zeroizing::new([0u8; RAW_LEN]);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    let mut at = 0;
    for c in body.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c).ok_or(invalid(
            "it has a character that is not in the base32 alphabet (A-Z, 2-7)",
        ))?;
        buffer = (buffer << 5) | u32::try_from(value).unwrap_or(0);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            if let Some(slot) = raw.get_mut(at) {
                *slot = ((buffer >> bits) & 0xff) as u8;
            }
            at += 1;
        }
    }
    if at != RAW_LEN || (buffer & ((1 << bits) - 1)) != 0 {
        return Err(invalid("it has the wrong number of characters"));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_tolerates_case_spaces_and_dashes() {
        let key = RecoveryKey::generate().unwrap();
        let text = key.to_text();
        assert!(text.starts_with("KSR2-"));
        assert!(!key.is_symmetric());
        assert_eq!(text.len(), 4 + 58 + 15);
        let back = RecoveryKey::parse(&text).unwrap();
        assert_eq!(back.id(), key.id());
        let sloppy = format!("  {}\n", text.to_lowercase().replace('-', " "));
        assert_eq!(RecoveryKey::parse(&sloppy).unwrap().id(), key.id());
    }

    #[test]
    fn every_single_character_typo_is_caught_by_the_checksum_or_the_alphabet() {
        let key = RecoveryKey::generate().unwrap();
        let text = key.to_text();
        let chars: Vec<char> = text.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            if c == '-' || i < 4 {
                continue;
            }
            for &replacement in b"AQ7Z2M" {
                let replacement = char::from(replacement);
                if replacement == c {
                    continue;
                }
                let mut typo = chars.clone();
                typo[i] = replacement;
                let typo: String = typo.into_iter().collect();
                match RecoveryKey::parse(&typo) {
                    Err(Error::InvalidRecoveryKey { .. }) => {}
                    other => panic!("typo at {i} was accepted: {:?}", other.map(|k| k.id())),
                }
            }
        }
    }

    #[test]
    fn bad_text_is_refused_without_echoing_it() {
        for bad in [
            "",
            "KSR1",
            "KSR3-AAAA",
            "KSR2-AAAA",
            "KSR1-AAAA-AAAA",
            "KSR1-0000-1111",
        ] {
            let err = RecoveryKey::parse(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidRecoveryKey { .. }));
            assert!(!format!("{err:?}").contains("AAAA"));
        }
        let key = RecoveryKey::generate().unwrap();
        let mut long = key.to_text().to_string();
        long.push('A');
        assert!(RecoveryKey::parse(&long).is_err());
    }

    #[test]
    fn debug_shows_the_id_only() {
        let key = RecoveryKey::generate().unwrap();
        let text = key.to_text();
        let shown = format!("{key:?}");
        assert!(shown.contains(&key.id().to_string()));
        assert!(!shown.contains(&text[5..15]));
    }

    #[test]
    fn an_old_ksr1_key_still_parses_as_the_symmetric_kind_and_keeps_its_id() {
        let key = RecoveryKey::symmetric_for_tests(&[0x40; KEY_LEN]).unwrap();
        let text = key.to_text();
        assert!(text.starts_with("KSR1-"));
        let back = RecoveryKey::parse(&text).unwrap();
        assert!(back.is_symmetric());
        assert_eq!(back.id(), Key::from_slice(&[0x40; KEY_LEN]).unwrap().id());
        // The same 32 bytes under the other prefix fail the checksum: the
        // prefix is part of what the checksum covers.
        let swapped = text.replacen("KSR1", "KSR2", 1);
        assert!(matches!(
            RecoveryKey::parse(&swapped),
            Err(Error::InvalidRecoveryKey { .. })
        ));
    }
}
