//! The recovery key's text form: what a person copies into a password
//! manager, and types back in on a new machine.
//!
//! ```text
//! KSR1-XXXX-XXXX-...-XX     58 base32 characters after the prefix
//! ```
//!
//! The characters are RFC 4648 base32 (`A`–`Z`, `2`–`7`) of the 32-byte key
//! followed by a 4-byte checksum, `SHA-256("keyseal recovery key v1" ‖ key)`
//! truncated. Parsing ignores case, spaces, newlines and dashes, and checks
//! the checksum before any decryption is attempted, so a typo is reported as
//! a typo. Errors never repeat the text.

use core::fmt;

use keyseal_seal::{KEY_LEN, Key, KeyId};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{Error, Result};

const PREFIX: &str = "KSR1";
const CHECK_LEN: usize = 4;
const RAW_LEN: usize = KEY_LEN + CHECK_LEN; // 36 bytes
const CHARS: usize = (RAW_LEN * 8).div_ceil(5); // 58 characters
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const CHECK_LABEL: &[u8] = b"keyseal recovery key v1";

/// A recovery key: a second key that opens the store when the keyring's key
/// is gone. Zeroized on drop; `Debug` shows only its id.
pub struct RecoveryKey {
    key: Key,
}

impl fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryKey")
            .field("id", &self.key.id())
            .finish_non_exhaustive()
    }
}

/// The base32 character for the low five bits of `v`.
fn symbol(v: u32) -> char {
    ALPHABET
        .get((v & 31) as usize)
        .map_or('A', |&b| char::from(b))
}

fn checksum(key: &[u8]) -> [u8; CHECK_LEN] {
    let digest = Sha256::new()
        .chain_update(CHECK_LABEL)
        .chain_update(key)
        .finalize();
    let mut out = [0u8; CHECK_LEN];
    out.copy_from_slice(digest.get(..CHECK_LEN).unwrap_or(&[0; CHECK_LEN]));
    out
}

impl RecoveryKey {
    /// A new random recovery key. Show it to the person (and make sure it
    /// reached them) before [`Store::enable_recovery_with`](crate::Store::enable_recovery_with)
    /// makes the file name it.
    ///
    /// # Errors
    /// [`Error::Seal`] when the system's random source fails.
    pub fn generate() -> Result<Self> {
        Ok(Self {
            key: Key::generate().map_err(|source| Error::Seal { source })?,
        })
    }

    pub(crate) fn key(&self) -> &Key {
        &self.key
    }

    /// The key's public id (as `Status::recovery_key_id` shows it).
    pub fn id(&self) -> KeyId {
        self.key.id()
    }

    /// The text to give the person: `KSR1-` and 58 base32 characters in
    /// groups of four. Zeroized on drop.
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new([0u8; RAW_LEN]);
        let (key_part, check_part) = raw.split_at_mut(KEY_LEN);
        key_part.copy_from_slice(self.key.expose_secret());
        check_part.copy_from_slice(&checksum(self.key.expose_secret()));
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
        let mut text = Zeroizing::new(String::with_capacity(PREFIX.len() + CHARS + CHARS / 4 + 1));
        text.push_str(PREFIX);
        for (i, c) in chars.chars().enumerate() {
            if i % 4 == 0 {
                text.push('-');
            }
            text.push(c);
        }
        text
    }

    /// Parses the text form, ignoring case, whitespace and dashes.
    ///
    /// # Errors
    /// [`Error::InvalidRecoveryKey`] when the text has a character outside
    /// base32, the wrong length, or a checksum that does not match (a typo).
    /// The error never repeats the text.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |reason| Error::InvalidRecoveryKey { reason };
        let mut cleaned = Zeroizing::new(String::with_capacity(text.len()));
        for c in text.chars() {
            if !(c.is_whitespace() || c == '-') {
                cleaned.push(c.to_ascii_uppercase());
            }
        }
        let body = cleaned
            .strip_prefix(PREFIX)
            .ok_or(invalid("it does not start with KSR1"))?;
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
        let (key_part, check_part) = raw.split_at(KEY_LEN);
        if checksum(key_part) != check_part {
            return Err(invalid("its checksum does not match: check it for a typo"));
        }
        Ok(Self {
            key: Key::from_slice(key_part).map_err(|source| Error::Seal { source })?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_tolerates_case_spaces_and_dashes() {
        let key = RecoveryKey::generate().unwrap();
        let text = key.to_text();
        assert!(text.starts_with("KSR1-"));
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
        for bad in ["", "KSR1", "KSR2-AAAA", "KSR1-AAAA-AAAA", "KSR1-0000-1111"] {
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
}
