//! The body plaintext: every entry of the store (`docs/FORMAT.md`, "Body
//! plaintext").
//!
//! `[bundle version: u8 = 1] ‖ postcard(BundleV1)`, where `BundleV1` is a map
//! from entry name to `{ value: bytes, updated: u64 }` in name order. The
//! container is postcard (compact, not self-describing, versioned by the
//! leading byte); typed values inside it are JSON, which is self-describing,
//! so a value type that gains a `#[serde(default)]` field reads old entries.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

/// The bundle version this build writes and reads.
pub(crate) const BUNDLE_VERSION: u8 = 1;

/// Bytes that are zeroized when the last copy is dropped, never printed,
/// and (de)serialized as one exactly sized byte string so no partial copy is
/// left behind by growth.
///
/// Cloning shares the bytes: a write clones the whole bundle to change one
/// entry, and the entries it does not touch are not copied again.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct SecretBytes(Arc<Zeroizing<Vec<u8>>>);

impl SecretBytes {
    pub(crate) fn new(bytes: &[u8]) -> Self {
        Self(Arc::new(Zeroizing::new(bytes.to_vec())))
    }

    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([REDACTED; {}])", self.0.len())
    }
}

impl Serialize for SecretBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for SecretBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct BytesVisitor;
        impl<'de> Visitor<'de> for BytesVisitor {
            type Value = SecretBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<SecretBytes, E> {
                Ok(SecretBytes::new(v))
            }
        }
        d.deserialize_bytes(BytesVisitor)
    }
}

/// One entry.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub(crate) value: SecretBytes,
    /// Seconds since the Unix epoch of the last `set`.
    pub(crate) updated: u64,
}

/// Every entry, by name.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Bundle {
    pub(crate) entries: BTreeMap<String, Entry>,
}

/// Why a bundle could not be decoded.
#[derive(Debug)]
pub(crate) enum DecodeError {
    Version(u8),
    Malformed,
}

impl Bundle {
    /// Encodes into an exactly pre-sized, zeroizing buffer.
    pub(crate) fn encode(&self) -> Result<Zeroizing<Vec<u8>>, postcard::Error> {
        // Upper bound: version byte, map length, and per entry two length
        // varints (≤ 10 bytes each), the name, the value, the u64 varint.
        let bound = 1
            + 10
            + self
                .entries
                .iter()
                .map(|(name, e)| 10 + name.len() + 10 + e.value.expose().len() + 10)
                .sum::<usize>();
        let mut out = Vec::with_capacity(bound);
        out.push(BUNDLE_VERSION);
        let out = postcard::to_extend(self, out)?;
        Ok(Zeroizing::new(out))
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        match bytes.split_first() {
            Some((&BUNDLE_VERSION, rest)) => {
                let (bundle, tail) =
                    postcard::take_from_bytes::<Self>(rest).map_err(|_| DecodeError::Malformed)?;
                if tail.is_empty() {
                    Ok(bundle)
                } else {
                    Err(DecodeError::Malformed)
                }
            }
            Some((&other, _)) => Err(DecodeError::Version(other)),
            None => Err(DecodeError::Malformed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_round_trip_and_encode_as_documented() {
        let mut bundle = Bundle::default();
        bundle.entries.insert(
            "a".into(),
            Entry {
                value: SecretBytes::new(b"xy"),
                updated: 300,
            },
        );
        let bytes = bundle.encode().unwrap();
        // version 1, 1 entry, name "a", value b"xy", updated 300 (varint ac 02).
        assert_eq!(
            bytes.as_slice(),
            &[1, 1, 1, b'a', 2, b'x', b'y', 0xac, 0x02]
        );
        let back = Bundle::decode(&bytes).unwrap();
        assert_eq!(back.entries["a"].value.expose(), b"xy");
        assert_eq!(back.entries["a"].updated, 300);
    }

    #[test]
    fn other_versions_and_garbage_are_errors() {
        assert!(matches!(
            Bundle::decode(&[2, 0]),
            Err(DecodeError::Version(2))
        ));
        assert!(matches!(Bundle::decode(&[]), Err(DecodeError::Malformed)));
        assert!(matches!(
            Bundle::decode(&[1, 5, 1]),
            Err(DecodeError::Malformed)
        ));
        assert!(matches!(
            Bundle::decode(&[1, 0, 0]),
            Err(DecodeError::Malformed)
        ));
    }

    #[test]
    fn values_never_print() {
        let e = Entry {
            value: SecretBytes::new(b"hunter2"),
            updated: 1,
        };
        assert!(!format!("{e:?}").contains("hunter2"));
    }
}
