//! The entries of a store, as the file versions hold them (`docs/FORMAT.md`,
//! "Body plaintext" and "Index plaintext").
//!
//! Version 1: the body plaintext is `[bundle version: u8 = 1] ‖
//! postcard(BundleV1)`, a map from entry name to `{ value: bytes, updated:
//! u64 }` in name order, sealed as one message.
//!
//! Versions 2 and 3: the index plaintext is `[index version: u8 = 1] ‖
//! postcard(Vec<IndexEntry>)`, one `{ name, updated, len, nonce, tag }` per
//! entry in name order; each value is its own sealed record, laid out before
//! the index in the same order. A write seals the records that changed and
//! the index, and copies every other record as it is; a read opens the index
//! and the one record it needs.
//!
//! The container is postcard (compact, not self-describing, versioned by the
//! leading byte); typed values inside it are JSON, which is self-describing,
//! so a value type that gains a `#[serde(default)]` field reads old entries.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use secrecy::ExposeSecret;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use crate::format::{Opened, RecordSeal};
use crate::{
    EntriesPart, Envelope, Error, Key, KeyId, RecoveryIdentity, Result, SealedFile, TAG_LEN,
};

/// The bundle version of version-1 files.
pub const BUNDLE_VERSION: u8 = 1;

/// The index version of version-2 and version-3 files.
pub const INDEX_VERSION: u8 = 1;

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

/// One entry's value: the plaintext once it is known (given by the caller,
/// or opened and verified), and where it is sealed, when it came from (or
/// was written to) a file with records. Clones share both; the plaintext is
/// zeroized when the last clone drops, and never printed.
#[derive(Clone)]
pub struct Value(Arc<ValueInner>);

struct ValueInner {
    plain: OnceLock<SecretBytes>,
    record: Option<Record>,
}

impl Value {
    /// A value given by the application.
    pub fn new(bytes: &[u8]) -> Self {
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
    pub fn len(&self) -> usize {
        match (self.0.plain.get(), &self.0.record) {
            (Some(plain), _) => plain.expose().len(),
            (None, Some(record)) => record.range.len(),
            (None, None) => 0,
        }
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The plaintext, when it is known (given, or verified) already.
    pub fn known_plain(&self) -> Option<&[u8]> {
        self.0.plain.get().map(SecretBytes::expose)
    }

    /// The plaintext of entry `name`, opening and verifying its record the
    /// first time (with the file's `envelope` and `context`).
    ///
    /// # Errors
    /// [`Error::Authentication`] when the record is not authentic.
    pub fn open(&self, envelope: &Envelope, context: &str, name: &str) -> Result<&[u8]> {
        if let Some(plain) = self.0.plain.get() {
            return Ok(plain.expose());
        }
        let record = self.0.record.as_ref().ok_or(Error::Authentication)?;
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
#[non_exhaustive]
pub struct Entry {
    /// The value, opened on demand.
    pub value: Value,
    /// Seconds since the Unix epoch of the last `set`.
    pub updated: u64,
}

impl Entry {
    /// An entry with a value the caller gives.
    pub fn new(value: &[u8], updated: u64) -> Self {
        Self {
            value: Value::new(value),
            updated,
        }
    }
}

/// Every entry of a store, by name: what a file holds, what a write seals.
/// Cloning shares every value. `Debug` shows only how many there are (the
/// names are encrypted in the file, so they are not printed either).
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Entries {
    /// The entries in name order.
    entries: BTreeMap<String, Entry>,
}

/// Why a body or an index could not be decoded.
#[derive(Debug)]
enum DecodeError {
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

/// What a write produced: the file, and the entries as they now are (each
/// known and sealed), to keep once the write has landed.
#[derive(Debug)]
#[non_exhaustive]
pub struct SealedEntries {
    /// The file's bytes.
    pub file: Vec<u8>,
    /// The entries as sealed in it.
    pub entries: Entries,
}

/// What unlocks a file.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Unlock<'a> {
    /// A key-encryption key (the primary stanza's, or a `KSR1` symmetric
    /// recovery key's).
    Key(&'a Key),
    /// A recovery identity (a version-3 recipient stanza).
    Identity(&'a RecoveryIdentity),
    /// The data key itself, already unwrapped.
    DataKey(&'a Key),
}

/// A file opened with a key: its envelope (to write the next version), its
/// generation and version, and its entries, whose values stay sealed until
/// they are read.
#[derive(Debug)]
#[non_exhaustive]
pub struct OpenedEntries {
    /// The data key and stanzas, ready to seal the next version.
    pub envelope: Envelope,
    /// The file's generation counter.
    pub generation: u64,
    /// The file's format version.
    pub version: u16,
    /// The entries.
    pub entries: Entries,
}

impl SealedFile<'_> {
    /// Opens the file's entries with `unlock`. `shared` holds the same
    /// bytes this file was parsed from: the entries' records point into it,
    /// so no record is copied.
    ///
    /// # Errors
    /// [`Error::WrongKey`] when no stanza is for the key;
    /// [`Error::Authentication`] when a stanza, the body or the index does
    /// not authenticate; [`Error::UnsupportedEntries`] for a bundle or
    /// index version this build does not know; [`Error::Malformed`] for a
    /// body or index that does not decode, or records that do not fill
    /// their region; [`Error::Misuse`] when `shared` holds other bytes.
    pub fn open_entries(
        &self,
        shared: &Arc<Vec<u8>>,
        unlock: Unlock<'_>,
        context: &str,
    ) -> Result<OpenedEntries> {
        if !self.is_parsed_from(shared) {
            return Err(Error::Misuse {
                reason: "open_entries was given other bytes than the file was parsed from",
            });
        }
        let opened = match unlock {
            Unlock::Key(kek) => self.open(kek, context)?,
            Unlock::Identity(identity) => self.open_with_identity(identity, context)?,
            Unlock::DataKey(data_key) => self.open_with_data_key(data_key.duplicate(), context)?,
        };
        let entries = Entries::decode_opened(&opened, shared)?;
        let Opened {
            envelope,
            generation,
            version,
            ..
        } = opened;
        Ok(OpenedEntries {
            envelope,
            generation,
            version,
            entries,
        })
    }
}

impl fmt::Debug for Entries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entries")
            .field("len", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl Entries {
    /// No entries.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether there is an entry `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// The entry `name`.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.get(name)
    }

    /// The entries' names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The entries, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries
            .iter()
            .map(|(name, entry)| (name.as_str(), entry))
    }

    /// Puts `entry` under `name`; returns the entry it replaced.
    pub fn insert(&mut self, name: String, entry: Entry) -> Option<Entry> {
        self.entries.insert(name, entry)
    }

    /// Removes the entry `name`; returns it.
    pub fn remove(&mut self, name: &str) -> Option<Entry> {
        self.entries.remove(name)
    }

    /// Decodes what [`SealedFile::open`] gave: every value of a version-1
    /// body, or the index of a later file (its values stay sealed until
    /// they are read).
    fn decode_opened(opened: &Opened, file: &Arc<Vec<u8>>) -> Result<Self> {
        let plaintext = opened.plaintext.expose_secret();
        if opened.version < 2 {
            return Self::decode(plaintext).map_err(|e| e.into_error(EntriesPart::Bundle));
        }
        Self::decode_index(
            plaintext,
            file,
            opened.records.clone(),
            opened.envelope.algorithm().nonce_len(),
            opened.envelope.data_key_id(),
        )
        .map_err(|e| e.into_error(EntriesPart::Index))
    }

    /// The version-1 body plaintext (`docs/FORMAT.md`, "Body plaintext"):
    /// version 1 is read, and written only by tests and the fuzz targets.
    ///
    /// # Errors
    /// [`Error::Misuse`] when a value is not known (opened) yet.
    pub fn encode_version_1(&self) -> Result<Zeroizing<Vec<u8>>> {
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
        let out = postcard::to_extend(self, out).map_err(|_| Error::Misuse {
            reason: "a value was not opened before the body was encoded",
        })?;
        Ok(Zeroizing::new(out))
    }

    /// Decodes a version-1 body plaintext.
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
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

    /// Decodes an index whose records are `file[records]`: every value
    /// stays sealed until it is read. Names must be in strictly increasing
    /// order and the records must fill their region exactly.
    fn decode_index(
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
    /// records as they were), so it is not decrypted again.
    pub fn inherit(&self, previous: &Self) {
        for (name, entry) in &self.entries {
            if let Some(old) = previous.entries.get(name) {
                entry.value.inherit(&old.value);
            }
        }
    }

    /// Opens and verifies every value not known yet.
    ///
    /// # Errors
    /// [`Error::Authentication`] for the first value that is not authentic.
    pub fn verify_all(&self, envelope: &Envelope, context: &str) -> Result<()> {
        for (name, entry) in &self.entries {
            entry.value.open(envelope, context, name)?;
        }
        Ok(())
    }

    /// Seals the entries as a file of the envelope's version
    /// ([`Envelope::file_version`]: 3, or 2 while a symmetric recovery
    /// stanza is kept), generation `generation`: values already sealed under
    /// this data key are copied as they are, the others are sealed now.
    /// Every value must be known (see [`verify_all`](Self::verify_all)).
    /// The entries as written share every unchanged value with `self`.
    ///
    /// # Errors
    /// [`Error::Misuse`] when a value is not known;
    /// [`Error::TooLarge`] when a value, the index or the records do not fit
    /// the format; [`Error::Random`] when the generator fails.
    pub fn seal(
        &self,
        envelope: &Envelope,
        context: &str,
        generation: u64,
    ) -> Result<SealedEntries> {
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
            let plain = entry.value.known_plain().ok_or(Error::Misuse {
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
                    len: u32::try_from(*len).map_err(|_| Error::TooLarge {
                        len: *len,
                        max: u32::MAX as usize,
                    })?,
                    nonce: &seal.nonce,
                    tag: seal.tag,
                })
            })
            .collect::<Result<_>>()?;
        let mut buffer = Vec::with_capacity(index_bound);
        buffer.push(INDEX_VERSION);
        let index =
            Zeroizing::new(
                postcard::to_extend(&list, buffer).map_err(|_| Error::Misuse {
                    reason: "the index could not be encoded",
                })?,
            );
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
        Ok(SealedEntries {
            file,
            entries: Entries { entries },
        })
    }
}

#[cfg(feature = "fuzzing")]
impl Entries {
    /// [`Entries::decode`] for the fuzz targets: `None` for any error.
    pub(crate) fn decode_for_fuzzing(bytes: &[u8]) -> Option<Self> {
        Self::decode(bytes).ok()
    }

    /// [`Entries::decode_index`] for the fuzz targets.
    pub(crate) fn decode_index_for_fuzzing(
        index: &[u8],
        file: &Arc<Vec<u8>>,
        records: Range<usize>,
        nonce_len: usize,
        data_key: KeyId,
    ) -> Option<Self> {
        Self::decode_index(index, file, records, nonce_len, data_key).ok()
    }
}

impl DecodeError {
    fn into_error(self, what: EntriesPart) -> Error {
        match self {
            Self::Version(found) => Error::UnsupportedEntries {
                what,
                found,
                supported: match what {
                    EntriesPart::Bundle => BUNDLE_VERSION,
                    EntriesPart::Index => INDEX_VERSION,
                },
            },
            Self::Malformed => Error::Malformed {
                reason: match what {
                    EntriesPart::Bundle => "the entries inside do not decode",
                    EntriesPart::Index => "the index of the entries does not decode",
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_round_trip_and_encode_as_documented() {
        let mut bundle = Entries::default();
        bundle.insert(
            "a".into(),
            Entry {
                value: Value::new(b"xy"),
                updated: 300,
            },
        );
        let bytes = bundle.encode_version_1().unwrap();
        // version 1, 1 entry, name "a", value b"xy", updated 300 (varint ac 02).
        assert_eq!(
            bytes.as_slice(),
            &[1, 1, 1, b'a', 2, b'x', b'y', 0xac, 0x02]
        );
        let back = Entries::decode(&bytes).unwrap();
        assert_eq!(back.get("a").unwrap().value.known_plain(), Some(&b"xy"[..]));
        assert_eq!(back.get("a").unwrap().updated, 300);
    }

    #[test]
    fn other_versions_and_garbage_are_errors() {
        assert!(matches!(
            Entries::decode(&[2, 0]),
            Err(DecodeError::Version(2))
        ));
        assert!(matches!(Entries::decode(&[]), Err(DecodeError::Malformed)));
        assert!(matches!(
            Entries::decode(&[1, 5, 1]),
            Err(DecodeError::Malformed)
        ));
        assert!(matches!(
            Entries::decode(&[1, 0, 0]),
            Err(DecodeError::Malformed)
        ));
    }

    #[test]
    fn the_index_is_encoded_as_format_md_says() {
        use crate::{Algorithm, Key, SealedFile};
        let kek = Key::from_slice(&[1; 32]).unwrap();
        let envelope = Envelope::new(Algorithm::Aes256Gcm, &kek, "ctx").unwrap();
        let mut bundle = Entries::default();
        for (name, value, updated) in [("a", &b"xy"[..], 300), ("bc", b"z", 1)] {
            bundle.insert(
                name.into(),
                Entry {
                    value: Value::new(value),
                    updated,
                },
            );
        }
        let sealed = bundle.seal(&envelope, "ctx", 5).unwrap();
        let file = SealedFile::parse(&sealed.file).unwrap();
        let opened = file.open(&kek, "ctx").unwrap();
        assert_eq!(opened.version, crate::FORMAT_VERSION);
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
        let again = sealed.entries.seal(&envelope, "ctx", 6).unwrap();
        let reopened = SealedFile::parse(&again.file).unwrap().records();
        assert_eq!(&again.file[reopened], records);
    }

    #[test]
    fn values_never_print_and_names_neither() {
        let e = Entry {
            value: Value::new(b"hunter2"),
            updated: 1,
        };
        assert!(!format!("{e:?}").contains("hunter2"));
        let mut entries = Entries::new();
        entries.insert("github-token-name".into(), e);
        let shown = format!("{entries:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("github-token-name"));
        assert!(shown.contains("len: 1"), "{shown}");
    }
}
