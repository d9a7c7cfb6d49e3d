//! The small text record a keyring item holds: `keyseal-key-v1:` followed by
//! the 32-byte key in standard base64 (59 bytes in all).
//!
//! A record rather than raw bytes so a person looking at the keyring can
//! tell what the item is, and so a future record version can carry more
//! (for example a rotation marker) without guessing.

use base64ct::{Base64, Encoding};
use keyseal_seal::{KEY_LEN, Key};
use zeroize::Zeroizing;

#[cfg(feature = "keyring")]
use crate::Error;
use crate::Result;

#[cfg(feature = "keyring")]
const PREFIX: &str = "keyseal-key-v1:";

/// Encodes `key` as a record; the buffer is zeroized on drop.
#[cfg(feature = "keyring")]
pub(crate) fn encode(key: &Key) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(PREFIX.len() + 44));
    out.extend_from_slice(PREFIX.as_bytes());
    let b64 = Zeroizing::new(Base64::encode_string(key.expose_secret()));
    out.extend_from_slice(b64.as_bytes());
    out
}

/// Decodes a record read from `location`.
#[cfg(feature = "keyring")]
pub(crate) fn decode(bytes: &[u8], location: &str) -> Result<Key> {
    let malformed = |reason: &str| Error::Malformed {
        location: location.to_owned(),
        reason: reason.to_owned(),
    };
    let Some(b64) = bytes.strip_prefix(PREFIX.as_bytes()) else {
        return Err(malformed("it is not a keyseal key record"));
    };
    decode_base64_key(b64).map_err(|reason| malformed(&reason))
}

/// Decodes standard base64 of exactly 32 bytes, ignoring surrounding
/// whitespace. The error text never contains the input.
pub(crate) fn decode_base64_key(b64: &[u8]) -> Result<Key, String> {
    let b64 = b64.trim_ascii();
    if b64.len() > 4 * KEY_LEN {
        return Err(format!("it is far longer than base64 of {KEY_LEN} bytes"));
    }
    let mut buf = Zeroizing::new([0u8; 3 * KEY_LEN]);
    let decoded = Base64::decode(b64, &mut buf[..])
        .map_err(|_| "it is not valid standard base64".to_owned())?;
    if decoded.len() != KEY_LEN {
        return Err(format!(
            "it decodes to {} bytes; a key is exactly {KEY_LEN}",
            decoded.len()
        ));
    }
    Key::from_slice(decoded).map_err(|_| format!("a key is exactly {KEY_LEN} bytes"))
}

#[cfg(all(test, feature = "keyring"))]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_and_is_small() {
        let key = Key::generate().unwrap();
        let record = encode(&key);
        assert!(record.len() < 100, "{}", record.len());
        assert_eq!(decode(&record, "here").unwrap().id(), key.id());
    }

    #[test]
    fn bad_records_are_malformed_without_echoing_them() {
        let secretish = b"keyseal-key-v1:c2VjcmV0LXZhbHVl";
        for bad in [&b""[..], b"hunter2", secretish, b"keyseal-key-v1:!!!!"] {
            match decode(bad, "item") {
                Err(Error::Malformed { reason, .. }) => {
                    assert!(!reason.contains("c2VjcmV0"), "{reason}");
                    assert!(!reason.contains("hunter2"), "{reason}");
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
