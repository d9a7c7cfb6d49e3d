//! The entries of a store, as the two file versions hold them
//! (`docs/FORMAT.md`, "Body plaintext" and "Index").
//!
//! Version 1: the body plaintext is `[bundle version: u8 = 1] ‖
//! postcard(BundleV1)`, a map from entry name to `{ value: bytes, updated:
//! u64 }` in name order, sealed as one message.
//!
//! Version 2: the index plaintext is `[index version: u8 = 1] ‖
//! postcard(Vec<IndexEntry>)`, one `{ name, updated, len, nonce, tag }` per
//! entry in name order; each value is its own sealed record, laid out after
//! the index in the same order. A set seals one record and the index, and
//! copies every other record as it is; a read opens the index and the one
//! record it needs.
//!
//! The container is postcard (compact, not self-describing, versioned by the
//! leading byte); typed values inside it are JSON, which is self-describing,
//! so a value type that gains a `#[serde(default)]` field reads old entries.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use keyseal_seal::{Envelope, ExposeSecret, KeyId, RecordSeal, TAG_LEN};

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

/// The bundle version of version-1 files.
pub(crate) const BUNDLE_VERSION: u8 = 1;

/// The index version of version-2 files.
pub(crate) const INDEX_VERSION: u8 = 1;

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

/// Where one value is sealed in a version-2 file (or in the records a write
/// produced): its ciphertext, and the nonce and tag the index lists.
#[derive(Debug)]
pub(crate) struct Record {
    bytes: Arc<Vec<u8>>,
    range: Range<usize>,
    seal: RecordSeal,
    /// The data key it is sealed under: a write under another data key (after
    /// a rotation) seals it again.
    data_key: KeyId,
}

impl Record {
    fn ciphertext(&self) -> &[u8] {
        self.bytes.get(self.range.clone()).unwrap_or_default()
    }
}

/// One entry's value: the plaintext once it is known (given by a `set`, or
/// opened and verified), and where it is sealed, when it came from (or was
/// written to) a version-2 file. Clones share both.
#[derive(Clone)]
pub(crate) struct Value(Arc<ValueInner>);

struct ValueInner {
    plain: OnceLock<SecretBytes>,
    record: Option<Record>,
}

impl Value {
    /// A value given by the application.
    pub(crate) fn new(bytes: &[u8]) -> Self {
        Self::known(SecretBytes::new(bytes), None)
    }

    fn known(plain: SecretBytes, record: Option<Record>) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(plain);
        Self(Arc::new(ValueInner {
            plain: cell,
            record,
        }))
    }

    fn sealed(record: Record) -> Self {
        Self(Arc::new(ValueInner {
            plain: OnceLock::new(),
            record: Some(record),
        }))
    }

    /// The value's length, without opening it.
    pub(crate) fn len(&self) -> usize {
        match (self.0.plain.get(), &self.0.record) {
            (Some(plain), _) => plain.expose().len(),
            (None, Some(record)) => record.range.len(),
            (None, None) => 0,
        }
    }

    /// The plaintext, when it is known (verified) already.
    pub(crate) fn known_plain(&self) -> Option<&[u8]> {
        self.0.plain.get().map(SecretBytes::expose)
    }

    /// The plaintext, opening and verifying the record the first time.
    ///
    /// # Errors
    /// The seal layer's `Authentication` when the record is not authentic.
    pub(crate) fn open(
        &self,
        envelope: &Envelope,
        context: &str,
        name: &str,
    ) -> Result<&[u8], keyseal_seal::Error> {
        if let Some(plain) = self.0.plain.get() {
            return Ok(plain.expose());
        }
        let record = self
            .0
            .record
            .as_ref()
            .ok_or(keyseal_seal::Error::Authentication)?;
        let opened = envelope.open_record(context, name, &record.seal, record.ciphertext())?;
        let plain = SecretBytes::new(opened.expose_secret());
        // Another thread may have opened it at the same time: either copy
        // is the same verified plaintext.
        Ok(self.0.plain.get_or_init(|| plain).expose())
    }

    /// The same value, also known to be sealed as `record`.
    fn with_record(&self, record: Record) -> Self {
        match self.0.plain.get() {
            Some(plain) => Self::known(plain.clone(), Some(record)),
            None => Self::sealed(record),
        }
    }

    /// The verified plaintext of `previous`, when this value's record is
    /// byte for byte the one `previous` was opened from (AEAD verification
    /// is deterministic: the same key, nonce, associated data, ciphertext and
    /// tag verify the same way).
    fn inherit(&self, previous: &Self) {
        if let (Some(plain), Some(mine), Some(theirs)) =
            (previous.0.plain.get(), &self.0.record, &previous.0.record)
            && mine.seal == theirs.seal
            && mine.data_key == theirs.data_key
            && mine.ciphertext() == theirs.ciphertext()
        {
            let _ = self.0.plain.set(plain.clone());
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.known_plain() == other.known_plain()
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Value([REDACTED; {}])", self.len())
    }
}

impl Serialize for Value {
    /// Version 1 bodies only; every value is known when one is encoded.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.known_plain() {
            Some(plain) => s.serialize_bytes(plain),
            None => Err(serde::ser::Error::custom("a value was not opened")),
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        SecretBytes::deserialize(d).map(|plain| Self::known(plain, None))
    }
}

/// One entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub(crate) value: Value,
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

/// One entry of a version-2 index.
#[derive(Serialize, Deserialize)]
struct IndexEntry<'a> {
    #[serde(borrow)]
    name: &'a str,
    updated: u64,
    len: u32,
    #[serde(with = "serde_bytes_compat", borrow)]
    nonce: &'a [u8],
    tag: [u8; TAG_LEN],
}

/// Borrowed byte strings for postcard (as `serialize_bytes`).
mod serde_bytes_compat {
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &&[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<&'de [u8], D::Error> {
        <&[u8] as serde::Deserialize>::deserialize(d)
    }
}

/// What a version-2 write produced: the file, and the entries as they now
/// are (each known and sealed), to cache once the write has landed.
pub(crate) struct SealedBundle {
    pub(crate) file: Vec<u8>,
    pub(crate) bundle: Bundle,
}

impl Bundle {
    /// The version-1 body plaintext (version 1 is read, and written only by
    /// the tests and the fuzz targets).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn encode(&self) -> Result<Zeroizing<Vec<u8>>, postcard::Error> {
        // Upper bound: version byte, map length, and per entry two length
        // varints (≤ 10 bytes each), the name, the value, the u64 varint.
        let bound = 1
            + 10
            + self
                .entries
                .iter()
                .map(|(name, e)| 10 + name.len() + 10 + e.value.len() + 10)
                .sum::<usize>();
        let mut out = Vec::with_capacity(bound);
        out.push(BUNDLE_VERSION);
        let out = postcard::to_extend(self, out)?;
        Ok(Zeroizing::new(out))
    }

    /// Decodes a version-1 body plaintext.
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

    /// Decodes a version-2 index whose records are `file[records]`: every
    /// value stays sealed until it is read. Names must be in strictly
    /// increasing order and the records must fill their region exactly.
    pub(crate) fn decode_index(
        index: &[u8],
        file: &Arc<Vec<u8>>,
        records: Range<usize>,
        nonce_len: usize,
        data_key: KeyId,
    ) -> Result<Self, DecodeError> {
        let rest = match index.split_first() {
            Some((&INDEX_VERSION, rest)) => rest,
            Some((&other, _)) => return Err(DecodeError::Version(other)),
            None => return Err(DecodeError::Malformed),
        };
        let (list, tail) = postcard::take_from_bytes::<Vec<IndexEntry<'_>>>(rest)
            .map_err(|_| DecodeError::Malformed)?;
        if !tail.is_empty() {
            return Err(DecodeError::Malformed);
        }
        let mut entries = BTreeMap::new();
        let mut at = records.start;
        let mut last: Option<&str> = None;
        for e in list {
            if last.is_some_and(|l| l >= e.name) || e.nonce.len() != nonce_len || e.name.is_empty()
            {
                return Err(DecodeError::Malformed);
            }
            last = Some(e.name);
            let len = usize::try_from(e.len).map_err(|_| DecodeError::Malformed)?;
            let end = at.checked_add(len).ok_or(DecodeError::Malformed)?;
            if end > records.end {
                return Err(DecodeError::Malformed);
            }
            let record = Record {
                bytes: Arc::clone(file),
                range: at..end,
                seal: RecordSeal {
                    nonce: e.nonce.into(),
                    tag: e.tag,
                },
                data_key,
            };
            at = end;
            entries.insert(
                e.name.to_owned(),
                Entry {
                    value: Value::sealed(record),
                    updated: e.updated,
                },
            );
        }
        if at != records.end {
            return Err(DecodeError::Malformed);
        }
        Ok(Self { entries })
    }

    /// Takes the verified plaintext of every record that is byte for byte
    /// one `previous` had opened (a file another process rewrote keeps most
    /// records as they were).
    pub(crate) fn inherit(&self, previous: &Self) {
        for (name, entry) in &self.entries {
            if let Some(old) = previous.entries.get(name) {
                entry.value.inherit(&old.value);
            }
        }
    }

    /// Opens and verifies every value not known yet; returns the name of
    /// the first that is not authentic.
    pub(crate) fn verify_all(&self, envelope: &Envelope, context: &str) -> Result<(), String> {
        for (name, entry) in &self.entries {
            entry
                .value
                .open(envelope, context, name)
                .map_err(|_| name.clone())?;
        }
        Ok(())
    }

    /// Seals the entries as a version-2 file: values already sealed under
    /// this data key are copied as they are, the others are sealed now.
    /// Every value must be known (see [`verify_all`](Self::verify_all)).
    /// The entries as written share every unchanged value with `self`.
    pub(crate) fn seal_indexed(
        &self,
        envelope: &Envelope,
        context: &str,
        generation: u64,
    ) -> Result<SealedBundle, keyseal_seal::Error> {
        let data_key = envelope.data_key_id();
        // Room for the records and the sealed index, so the buffer the file
        // is assembled in never grows (growing would copy the whole file).
        let index_bound: usize = 16
            + self
                .entries
                .keys()
                .map(|n| n.len() + 2 * 10 + 10 + 1 + 24 + TAG_LEN + 10)
                .sum::<usize>();
        let total: usize = self.entries.values().map(|e| e.value.len()).sum();
        let mut writer = envelope.indexed_writer(context, total + index_bound + TAG_LEN);
        // Per entry: its record's length and seal, and for a value sealed
        // now, where its ciphertext is among the records.
        let mut placed: Vec<(usize, RecordSeal, Option<Range<usize>>)> =
            Vec::with_capacity(self.entries.len());
        for (name, entry) in &self.entries {
            let at = writer.records_len();
            let plain = entry
                .value
                .known_plain()
                .ok_or(keyseal_seal::Error::Malformed {
                    reason: "a value was not opened before the write",
                })?;
            match &entry.value.0.record {
                Some(record) if record.data_key == data_key => {
                    writer.copy_record(record.ciphertext());
                    placed.push((record.range.len(), record.seal.clone(), None));
                }
                _ => {
                    let seal = writer.seal_record(name, plain)?;
                    let end = writer.records_len();
                    placed.push((end - at, seal, Some(at..end)));
                }
            }
        }
        let list: Vec<IndexEntry<'_>> = self
            .entries
            .iter()
            .zip(&placed)
            .map(|((name, entry), (len, seal, _))| {
                Ok(IndexEntry {
                    name,
                    updated: entry.updated,
                    len: u32::try_from(*len).map_err(|_| keyseal_seal::Error::TooLarge {
                        len: *len,
                        max: u32::MAX as usize,
                    })?,
                    nonce: &seal.nonce,
                    tag: seal.tag,
                })
            })
            .collect::<Result<_, keyseal_seal::Error>>()?;
        let mut buffer = Vec::with_capacity(index_bound);
        buffer.push(INDEX_VERSION);
        let index = Zeroizing::new(postcard::to_extend(&list, buffer).map_err(|_| {
            keyseal_seal::Error::Malformed {
                reason: "the index could not be encoded",
            }
        })?);
        // Keep the new records' ciphertext (small) for the next write; the
        // copied ones keep pointing where they already were.
        let records = writer.records();
        // Built from names in order: a bulk build, not one search per entry.
        let entries: BTreeMap<String, Entry> = self
            .entries
            .iter()
            .zip(placed)
            .map(|((name, entry), (_, seal, fresh))| {
                let value = match fresh {
                    None => entry.value.clone(),
                    Some(range) => {
                        let ciphertext = records.get(range).unwrap_or_default().to_vec();
                        entry.value.with_record(Record {
                            range: 0..ciphertext.len(),
                            bytes: Arc::new(ciphertext),
                            seal,
                            data_key,
                        })
                    }
                };
                (
                    name.clone(),
                    Entry {
                        value,
                        updated: entry.updated,
                    },
                )
            })
            .collect();
        let file = writer.finish(generation, &index)?;
        Ok(SealedBundle {
            file,
            bundle: Bundle { entries },
        })
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
                value: Value::new(b"xy"),
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
        assert_eq!(back.entries["a"].value.known_plain(), Some(&b"xy"[..]));
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
    fn the_index_is_encoded_as_format_md_says() {
        use keyseal_seal::{Algorithm, Key, SealedFile};
        let kek = Key::from_slice(&[1; 32]).unwrap();
        let envelope = Envelope::new(Algorithm::Aes256Gcm, &kek, "ctx").unwrap();
        let mut bundle = Bundle::default();
        for (name, value, updated) in [("a", &b"xy"[..], 300), ("bc", b"z", 1)] {
            bundle.entries.insert(
                name.into(),
                Entry {
                    value: Value::new(value),
                    updated,
                },
            );
        }
        let sealed = bundle.seal_indexed(&envelope, "ctx", 5).unwrap();
        let file = SealedFile::parse(&sealed.file).unwrap();
        let opened = file.open(&kek, "ctx").unwrap();
        assert_eq!(opened.version, keyseal_seal::FORMAT_VERSION);
        let index = opened.plaintext.expose_secret();
        // version 1, 2 items; "a": updated 300 (ac 02), length 2, nonce
        // length 12, nonce, tag; "bc": updated 1, length 1, nonce, tag.
        assert_eq!(index[..8], [1, 2, 1, b'a', 0xac, 0x02, 2, 12]);
        assert_eq!(index[36..42], [2, b'b', b'c', 1, 1, 12]);
        assert_eq!(index.len(), 42 + 12 + 16);
        let seal = |at: usize| RecordSeal {
            nonce: index[at..at + 12].into(),
            tag: index[at + 12..at + 28].try_into().unwrap(),
        };
        // The records end the file: "a" (2 bytes), then "bc" (1 byte).
        let bytes = &sealed.file;
        let records = &bytes[opened.records.clone()];
        assert_eq!(records.len(), 3);
        let a = envelope
            .open_record("ctx", "a", &seal(8), &records[..2])
            .unwrap();
        let bc = envelope
            .open_record("ctx", "bc", &seal(42), &records[2..])
            .unwrap();
        assert_eq!(a.expose_secret(), b"xy");
        assert_eq!(bc.expose_secret(), b"z");
        // A second write copies both records as they are.
        let again = sealed.bundle.seal_indexed(&envelope, "ctx", 6).unwrap();
        let reopened = SealedFile::parse(&again.file).unwrap().records();
        assert_eq!(&again.file[reopened], records);
    }

    #[test]
    fn values_never_print() {
        let e = Entry {
            value: Value::new(b"hunter2"),
            updated: 1,
        };
        assert!(!format!("{e:?}").contains("hunter2"));
    }
}
