//! The sealed-file format, versions 1 to 3 (byte layout: `docs/FORMAT.md`).
//!
//! A file is an envelope: a random *data key* seals the body, and one
//! *stanza* per key-encryption key (the key provider's key, optionally a
//! recovery key) holds the data key wrapped under that key, in the style of
//! age's recipient stanzas. Changing the key-encryption key rewraps 48 bytes
//! instead of re-sealing everything, and a recovery key opens a file whose
//! keyring item is gone. From version 3 the recovery stanza wraps the data
//! key to an X25519 recipient (`crate::recipient`), so a writer can give a
//! new data key to recovery without holding the recovery secret.
//!
//! The whole header (magic to body length) and the caller's context string
//! are the body's associated data, so no header byte can change unnoticed and
//! a file sealed for one store does not open as another. Parsing never
//! allocates more than the header's fixed-size parts: lengths in the file are
//! checked against the bytes actually present before anything is read.

use secrecy::{ExposeSecret, SecretSlice};

use crate::aead::MAX_PLAINTEXT;
use crate::random::Random;
use crate::recipient::{RecoveryIdentity, RecoveryRecipient, Share, Wrapped, X25519_LEN};
use crate::{Algorithm, Error, KEY_ID_LEN, KEY_LEN, Key, KeyId, Result, TAG_LEN};

/// The eight bytes every keyseal file starts with: `keyseal` and a NUL.
pub const MAGIC: [u8; 8] = *b"keyseal\0";

/// The format version this build writes, and the newest it reads. Version 1
/// (one sealed body) is still read, and written by [`Envelope::seal`];
/// version 2 is written for a file that keeps a symmetric recovery stanza
/// ([`StanzaKind::Recovery`]), which only its recovery key could rewrap.
pub const FORMAT_VERSION: u16 = 3;

/// The version number inside every key stanza's associated data. It stays 1
/// in every file version, so primary stanzas carry over unchanged from one
/// file version to the next.
const STANZA_AAD_VERSION: u16 = 1;

/// The most stanzas a version-1 header may hold.
pub const MAX_STANZAS: usize = 8;

/// The length of a wrapped data key: the key and its AEAD tag.
pub const WRAPPED_KEY_LEN: usize = KEY_LEN + TAG_LEN;

/// What a stanza's key-encryption key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum StanzaKind {
    /// The store's key, kept by its key provider (id 1).
    Primary,
    /// A symmetric recovery key the user keeps outside the machine (id 2,
    /// versions 1 and 2 only). Only the recovery key itself can wrap a data
    /// key for it, so a file with this stanza keeps its data key.
    Recovery,
    /// A recovery recipient (id 3, version 3 only): the data key wrapped to
    /// an X25519 public key with a fresh ephemeral share; the person keeps
    /// the [`RecoveryIdentity`].
    Recipient,
}

impl StanzaKind {
    /// The kind's id byte in the file.
    pub const fn id(self) -> u8 {
        match self {
            Self::Primary => 1,
            Self::Recovery => 2,
            Self::Recipient => 3,
        }
    }

    /// The kind for an id byte, if some version knows it.
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(Self::Primary),
            2 => Some(Self::Recovery),
            3 => Some(Self::Recipient),
            _ => None,
        }
    }

    /// Whether a file of format `version` may hold a stanza of this kind.
    const fn allowed_in(self, version: u16) -> bool {
        match self {
            Self::Primary => true,
            Self::Recovery => version <= 2,
            Self::Recipient => version >= 3,
        }
    }

    /// Whether this kind is a way to recover (at most one per file).
    pub const fn is_recovery(self) -> bool {
        matches!(self, Self::Recovery | Self::Recipient)
    }

    /// The stanza's length in the file.
    const fn encoded_len(self, algorithm: Algorithm) -> usize {
        let shared = 1 + algorithm.nonce_len() + WRAPPED_KEY_LEN;
        match self {
            Self::Primary | Self::Recovery => shared + KEY_ID_LEN,
            Self::Recipient => shared + 2 * X25519_LEN,
        }
    }
}

/// One wrapped copy of the data key.
#[derive(Clone, PartialEq, Eq)]
pub struct Stanza {
    kind: StanzaKind,
    /// The key's id; for a recipient stanza, the recipient's id (derived,
    /// not stored).
    key_id: KeyId,
    /// A recipient stanza's recipient and ephemeral share.
    share: Option<Share>,
    nonce: Vec<u8>,
    wrapped: [u8; WRAPPED_KEY_LEN],
}

impl Stanza {
    /// What the wrapping key is.
    pub fn kind(&self) -> StanzaKind {
        self.kind
    }

    /// The id of the key that unwraps this stanza.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    fn wrap(
        algorithm: Algorithm,
        kind: StanzaKind,
        kek: &Key,
        data_key: &Key,
        context: &str,
        random: &Random,
    ) -> Result<Self> {
        let nonce = random.bytes(algorithm.nonce_len())?;
        let aad = wrap_aad(algorithm, kind, kek.id(), context);
        let sealed = algorithm
            .sealer()
            .seal(kek, &nonce, &aad, data_key.expose_secret())?;
        Ok(Self {
            kind,
            key_id: kek.id(),
            share: None,
            nonce,
            wrapped: wrapped_key(&sealed)?,
        })
    }

    /// A recipient stanza: `data_key` wrapped to `recipient`.
    fn wrap_to(
        algorithm: Algorithm,
        recipient: &RecoveryRecipient,
        data_key: &Key,
        context: &str,
        random: &Random,
    ) -> Result<Self> {
        let (share, nonce, sealed) = recipient.wrap(algorithm, data_key, context, random)?;
        Ok(Self {
            kind: StanzaKind::Recipient,
            key_id: recipient.id(),
            share: Some(share),
            nonce,
            wrapped: wrapped_key(&sealed)?,
        })
    }

    /// A recipient stanza's recipient.
    pub fn recipient(&self) -> Option<RecoveryRecipient> {
        self.share
            .map(|share| RecoveryRecipient::from_bytes(share.recipient))
    }

    fn unwrap(&self, algorithm: Algorithm, kek: &Key, context: &str) -> Result<Key> {
        let aad = wrap_aad(algorithm, self.kind, self.key_id, context);
        let plain = algorithm
            .sealer()
            .open(kek, &self.nonce, &aad, &self.wrapped)?;
        Key::from_slice(plain.expose_secret())
    }

    fn unwrap_with_identity(
        &self,
        algorithm: Algorithm,
        identity: &RecoveryIdentity,
        context: &str,
    ) -> Result<Key> {
        let share = self.share.as_ref().ok_or(Error::Authentication)?;
        identity.unwrap(
            share,
            &Wrapped {
                algorithm,
                nonce: &self.nonce,
                ciphertext: &self.wrapped,
                context,
            },
        )
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.kind.id());
        match &self.share {
            Some(share) => {
                out.extend_from_slice(&share.recipient);
                out.extend_from_slice(&share.ephemeral);
            }
            None => out.extend_from_slice(self.key_id.as_bytes()),
        }
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.wrapped);
    }
}

/// A sealer's output as a wrapped key (the key and its tag).
fn wrapped_key(sealed: &[u8]) -> Result<[u8; WRAPPED_KEY_LEN]> {
    <[u8; WRAPPED_KEY_LEN]>::try_from(sealed).map_err(|_| Error::Misuse {
        reason: "the sealer returned a wrapped key of the wrong length",
    })
}

impl core::fmt::Debug for Stanza {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Stanza")
            .field("kind", &self.kind)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// The associated data of a stanza's wrapped key (`docs/FORMAT.md`).
fn wrap_aad(algorithm: Algorithm, kind: StanzaKind, key_id: KeyId, context: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(MAGIC.len() + 4 + KEY_ID_LEN + context.len());
    aad.extend_from_slice(&MAGIC);
    aad.extend_from_slice(&STANZA_AAD_VERSION.to_be_bytes());
    aad.push(algorithm.id());
    aad.push(kind.id());
    aad.extend_from_slice(key_id.as_bytes());
    aad.extend_from_slice(context.as_bytes());
    aad
}

/// The associated data of the body: the header bytes, then the context.
fn body_aad(header: &[u8], context: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + context.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(context.as_bytes());
    aad
}

/// The associated data of a version-2 record: a label no header or stanza
/// starts with, the algorithm, the context and the entry's name, each
/// length-prefixed.
fn record_aad(algorithm: Algorithm, context: &str, name: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(RECORD_LABEL.len() + 9 + context.len() + name.len());
    aad.extend_from_slice(RECORD_LABEL);
    aad.push(algorithm.id());
    aad.extend_from_slice(&len_u32(context.len()).to_be_bytes());
    aad.extend_from_slice(context.as_bytes());
    aad.extend_from_slice(&len_u32(name.len()).to_be_bytes());
    aad.extend_from_slice(name.as_bytes());
    aad
}

/// The first bytes of every record's associated data.
const RECORD_LABEL: &[u8] = b"keyseal\0record\0v2";

/// A length as the format's `u32`, saturating (lengths this large are
/// refused before they are written).
fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Where a record's ciphertext is authenticated: its nonce and tag, which
/// the file's index holds.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RecordSeal {
    /// The record's nonce (the algorithm's nonce length).
    pub(crate) nonce: Box<[u8]>,
    /// The record's authentication tag.
    pub(crate) tag: [u8; TAG_LEN],
}

impl core::fmt::Debug for RecordSeal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RecordSeal").finish_non_exhaustive()
    }
}

/// A file's header, parsed but not decrypted: what can be known about a
/// sealed file without any key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    version: u16,
    algorithm: Algorithm,
    generation: u64,
    stanzas: Vec<Stanza>,
}

impl Header {
    /// The format version of the file.
    pub fn version(&self) -> u16 {
        self.version
    }

    /// The AEAD that sealed the file.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The generation counter the writer stored.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The stanzas, in file order.
    pub fn stanzas(&self) -> &[Stanza] {
        &self.stanzas
    }

    /// The id of the key that unwraps the stanza of `kind`, if there is one.
    pub fn key_id(&self, kind: StanzaKind) -> Option<KeyId> {
        self.stanzas
            .iter()
            .find(|s| s.kind == kind)
            .map(|s| s.key_id)
    }

    /// The recovery stanza's id (a symmetric recovery key's id or a
    /// recipient's), if the file has one.
    pub fn recovery_id(&self) -> Option<KeyId> {
        recovery_stanza(&self.stanzas).map(|s| s.key_id)
    }
}

/// The file's one recovery stanza, of either kind.
fn recovery_stanza(stanzas: &[Stanza]) -> Option<&Stanza> {
    stanzas.iter().find(|s| s.kind.is_recovery())
}

/// A sealed file, parsed and ready to open.
#[derive(Debug)]
pub struct SealedFile<'a> {
    header: Header,
    header_bytes: &'a [u8],
    /// Version 1: the body's nonce; version 2: the index's.
    body_nonce: &'a [u8],
    /// Version 1: the body; version 2: the sealed index.
    body: &'a [u8],
    /// Version 2: where the records are in the file (empty in version 1).
    records: core::ops::Range<usize>,
}

/// What opening a file's body gives back, before its entries are decoded
/// (`crate::entries` decodes them).
#[derive(Debug)]
pub(crate) struct Opened {
    /// The data key and stanzas, ready to seal the next version of the file.
    pub(crate) envelope: Envelope,
    /// The file's generation counter.
    pub(crate) generation: u64,
    /// The body's plaintext, zeroized on drop: in version 1 the bundle of
    /// every entry; from version 2 the index, whose records are
    /// `file[records]`.
    pub(crate) plaintext: SecretSlice<u8>,
    /// The file's format version.
    pub(crate) version: u16,
    /// Where the records are in the file bytes (empty in version 1).
    pub(crate) records: core::ops::Range<usize>,
}

impl<'a> SealedFile<'a> {
    /// Parses the header of `bytes` without any cryptography.
    ///
    /// # Errors
    /// [`Error::NotKeyseal`], [`Error::UnsupportedVersion`],
    /// [`Error::UnknownAlgorithm`] or [`Error::Malformed`], in the order the
    /// parser meets them.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut r = Reader { bytes, pos: 0 };
        let magic = match bytes.get(..MAGIC.len()) {
            Some(magic) => magic,
            None if bytes.is_empty() => {
                return Err(Error::Malformed {
                    reason: "the file is empty",
                });
            }
            None if MAGIC.starts_with(bytes) => {
                return Err(Error::Malformed {
                    reason: "the file ends inside the magic bytes",
                });
            }
            None => return Err(Error::NotKeyseal),
        };
        if magic != MAGIC {
            return Err(Error::NotKeyseal);
        }
        r.pos = MAGIC.len();
        let version = r.u16("the file ends inside the format version")?;
        if version == 0 {
            return Err(Error::Malformed {
                reason: "format version 0 does not exist",
            });
        }
        if version > FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let alg_id = r.u8("the file ends inside the algorithm id")?;
        let algorithm = Algorithm::from_id(alg_id).ok_or(Error::UnknownAlgorithm { id: alg_id })?;
        if r.u8("the file ends inside the flags")? != 0 {
            return Err(Error::Malformed {
                reason: "reserved flag bits are set",
            });
        }
        let generation = r.u64("the file ends inside the generation counter")?;
        let count = usize::from(r.u8("the file ends inside the stanza count")?);
        if count == 0 || count > MAX_STANZAS {
            return Err(Error::Malformed {
                reason: "the stanza count is out of range",
            });
        }
        let nonce_len = algorithm.nonce_len();
        let mut stanzas: Vec<Stanza> = Vec::with_capacity(count);
        for _ in 0..count {
            let kind = StanzaKind::from_id(r.u8("the file ends inside a stanza kind")?)
                .filter(|kind| kind.allowed_in(version))
                .ok_or(Error::Malformed {
                    reason: "unknown stanza kind",
                })?;
            let (key_id, share) = if kind == StanzaKind::Recipient {
                let share = Share {
                    recipient: r.array("the file ends inside a recovery recipient")?,
                    ephemeral: r.array("the file ends inside an ephemeral share")?,
                };
                if !RecoveryRecipient::from_bytes(share.recipient).is_usable() {
                    return Err(Error::Malformed {
                        reason: "the recovery recipient is a low-order X25519 point",
                    });
                }
                (
                    RecoveryRecipient::from_bytes(share.recipient).id(),
                    Some(share),
                )
            } else {
                let id = KeyId::from_bytes(r.array("the file ends inside a stanza key id")?);
                (id, None)
            };
            let nonce = r
                .take(nonce_len, "the file ends inside a stanza nonce")?
                .to_vec();
            let wrapped = r.array("the file ends inside a wrapped key")?;
            if stanzas.iter().any(|s| s.kind == kind) {
                return Err(Error::Malformed {
                    reason: "two stanzas of the same kind",
                });
            }
            if kind.is_recovery() && recovery_stanza(&stanzas).is_some() {
                return Err(Error::Malformed {
                    reason: "two recovery stanzas",
                });
            }
            if stanzas.iter().any(|s| s.key_id == key_id) {
                return Err(Error::Malformed {
                    reason: "two stanzas for the same key",
                });
            }
            stanzas.push(Stanza {
                kind,
                key_id,
                share,
                nonce,
                wrapped,
            });
        }
        let body_nonce = r.take(nonce_len, "the file ends inside the body nonce")?;
        let as_len = |v: u32| {
            usize::try_from(v).map_err(|_| Error::Malformed {
                reason: "a length does not fit this platform",
            })
        };
        let body_len = as_len(r.u32("the file ends inside the body length")?)?;
        if body_len < TAG_LEN {
            return Err(Error::Malformed {
                reason: "the body is shorter than an authentication tag",
            });
        }
        let records_len = if version >= 2 {
            as_len(r.u32("the file ends inside the records length")?)?
        } else {
            0
        };
        let header_bytes = bytes.get(..r.pos).ok_or(Error::Malformed {
            reason: "the header is truncated",
        })?;
        let rest = bytes.len() - r.pos;
        let expected = body_len.checked_add(records_len).ok_or(Error::Malformed {
            reason: "the header's lengths overflow",
        })?;
        if rest != expected {
            return Err(Error::Malformed {
                reason: if rest < expected {
                    "the file is truncated (shorter than its header says)"
                } else {
                    "the file has trailing bytes after the body"
                },
            });
        }
        // Version 2: the records, then the index; version 1: the body.
        let records = r.pos..r.pos + records_len;
        let body = bytes.get(records.end..).unwrap_or_default();
        Ok(Self {
            header: Header {
                version,
                algorithm,
                generation,
                stanzas,
            },
            header_bytes,
            body_nonce,
            body,
            records,
        })
    }

    /// The parsed header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Unwraps the data key with a key-encryption key.
    ///
    /// # Errors
    /// [`Error::WrongKey`] when no stanza was made for `kek`;
    /// [`Error::Authentication`] when the matching stanza does not open
    /// (tampered, or another context string).
    pub fn unwrap_data_key(&self, kek: &Key, context: &str) -> Result<Key> {
        let stanza = self
            .header
            .stanzas
            .iter()
            .find(|s| s.key_id == kek.id())
            .ok_or_else(|| Error::WrongKey {
                offered: kek.id(),
                present: self.header.stanzas.iter().map(|s| s.key_id).collect(),
            })?;
        if stanza.kind == StanzaKind::Recipient {
            // A key id that happens to equal a recipient's id is still not
            // that recipient's identity.
            return Err(Error::Authentication);
        }
        stanza.unwrap(self.header.algorithm, kek, context)
    }

    /// Unwraps the data key with a recovery identity (version 3).
    ///
    /// # Errors
    /// [`Error::WrongKey`] when the file has no recipient stanza for this
    /// identity; [`Error::Authentication`] when it does not open.
    pub fn unwrap_with_identity(&self, identity: &RecoveryIdentity, context: &str) -> Result<Key> {
        let id = identity.recipient().id();
        let stanza = self
            .header
            .stanzas
            .iter()
            .find(|s| s.kind == StanzaKind::Recipient && s.key_id == id)
            .ok_or_else(|| Error::WrongKey {
                offered: id,
                present: self.header.stanzas.iter().map(|s| s.key_id).collect(),
            })?;
        stanza.unwrap_with_identity(self.header.algorithm, identity, context)
    }

    /// Where the records are in the file bytes (empty in version 1).
    pub fn records(&self) -> core::ops::Range<usize> {
        self.records.clone()
    }

    /// Whether `shared` holds exactly the bytes this file was parsed from.
    pub(crate) fn is_parsed_from(&self, shared: &[u8]) -> bool {
        self.header_bytes.as_ptr() == shared.as_ptr()
            && self.body.as_ptr_range().end == shared.as_ptr_range().end
    }

    /// Opens the body with an already unwrapped data key.
    ///
    /// # Errors
    /// [`Error::Authentication`] when any byte of the file, or the context,
    /// differs from what was sealed, or `data_key` is not this file's.
    pub(crate) fn open_body(&self, data_key: &Key, context: &str) -> Result<SecretSlice<u8>> {
        let aad = body_aad(self.header_bytes, context);
        self.header
            .algorithm
            .sealer()
            .open(data_key, self.body_nonce, &aad, self.body)
    }

    /// Unwraps the data key with `kek` and opens the body.
    ///
    /// # Errors
    /// As [`unwrap_data_key`](Self::unwrap_data_key) and
    /// [`open_body`](Self::open_body).
    pub(crate) fn open(&self, kek: &Key, context: &str) -> Result<Opened> {
        let data_key = self.unwrap_data_key(kek, context)?;
        self.open_with_data_key(data_key, context)
    }

    /// Unwraps the data key with a recovery identity and opens the body.
    ///
    /// # Errors
    /// As [`unwrap_with_identity`](Self::unwrap_with_identity) and
    /// [`open_body`](Self::open_body).
    pub(crate) fn open_with_identity(
        &self,
        identity: &RecoveryIdentity,
        context: &str,
    ) -> Result<Opened> {
        let data_key = self.unwrap_with_identity(identity, context)?;
        self.open_with_data_key(data_key, context)
    }

    pub(crate) fn open_with_data_key(&self, data_key: Key, context: &str) -> Result<Opened> {
        let plaintext = self.open_body(&data_key, context)?;
        Ok(Opened {
            envelope: Envelope::opened(
                self.header.algorithm,
                data_key,
                self.header.stanzas.clone(),
            ),
            generation: self.header.generation,
            plaintext,
            version: self.header.version,
            records: self.records.clone(),
        })
    }
}

/// The data key and its wrapped copies: everything needed to write a file.
///
/// Sealing a new version of a file reuses the envelope's stanzas unchanged,
/// so writes need neither the key-encryption key nor the recovery key, only
/// the data key unwrapped once.
#[derive(Debug)]
pub struct Envelope {
    algorithm: Algorithm,
    data_key: Key,
    stanzas: Vec<Stanza>,
    /// Every nonce, data key and ephemeral scalar this envelope draws.
    random: Random,
}

impl Envelope {
    /// Draws a fresh data key and wraps it for `kek` as the primary stanza.
    ///
    /// # Errors
    /// [`Error::Random`] when the operating system's generator fails.
    pub fn new(algorithm: Algorithm, kek: &Key, context: &str) -> Result<Self> {
        let random = Random::os();
        let data_key = random.key()?;
        Self::new_from(random, algorithm, data_key, kek, context)
    }

    /// An envelope for `data_key` whose every later draw comes from
    /// `random` (the known-answer tests fix it).
    pub(crate) fn new_from(
        random: Random,
        algorithm: Algorithm,
        data_key: Key,
        kek: &Key,
        context: &str,
    ) -> Result<Self> {
        let stanza = Stanza::wrap(
            algorithm,
            StanzaKind::Primary,
            kek,
            &data_key,
            context,
            &random,
        )?;
        Ok(Self {
            algorithm,
            data_key,
            stanzas: vec![stanza],
            random,
        })
    }

    /// An opened file's envelope (its data key and stanzas as they are).
    pub(crate) fn opened(algorithm: Algorithm, data_key: Key, stanzas: Vec<Stanza>) -> Self {
        Self {
            algorithm,
            data_key,
            stanzas,
            random: Random::os(),
        }
    }

    /// An independent copy (a second zeroizing copy of the data key), to
    /// edit stanzas without touching the original.
    #[must_use]
    pub fn duplicate(&self) -> Self {
        Self {
            algorithm: self.algorithm,
            data_key: self.data_key.duplicate(),
            stanzas: self.stanzas.clone(),
            random: self.random.clone(),
        }
    }

    /// The AEAD this envelope seals with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The stanzas, in the order they are written.
    pub fn stanzas(&self) -> &[Stanza] {
        &self.stanzas
    }

    /// The id of the key that unwraps the stanza of `kind`, if there is one.
    pub fn key_id(&self, kind: StanzaKind) -> Option<KeyId> {
        self.stanzas
            .iter()
            .find(|s| s.kind == kind)
            .map(|s| s.key_id)
    }

    /// Wraps the data key for `kek` as the stanza of `kind`, replacing any
    /// stanza of that kind (this is how a key-encryption key is rotated).
    ///
    /// [`StanzaKind::Recovery`] is the symmetric recovery stanza of format
    /// version 2: a file with it is written as version 2 and keeps its data
    /// key for good. New recovery uses [`set_recipient`](Self::set_recipient).
    ///
    /// # Errors
    /// [`Error::Misuse`] for [`StanzaKind::Recipient`] (wrapped to a public
    /// key, with [`set_recipient`](Self::set_recipient)) or when another
    /// kind's stanza already uses `kek` (a file never names one key twice);
    /// [`Error::Random`] when the operating system's generator fails.
    pub fn set_stanza(&mut self, kind: StanzaKind, kek: &Key, context: &str) -> Result<()> {
        if kind == StanzaKind::Recipient {
            return Err(Error::Misuse {
                reason: "a recipient stanza is wrapped to a public key (set_recipient)",
            });
        }
        if self
            .stanzas
            .iter()
            .any(|s| s.kind != kind && s.key_id == kek.id())
        {
            return Err(Error::Misuse {
                reason: "the same key cannot wrap two stanzas",
            });
        }
        let stanza = Stanza::wrap(
            self.algorithm,
            kind,
            kek,
            &self.data_key,
            context,
            &self.random,
        )?;
        self.put(stanza);
        Ok(())
    }

    /// Wraps the data key to `recipient` with a fresh ephemeral share, as
    /// the file's recovery stanza (replacing any recovery stanza of either
    /// kind). The file is then written as format version 3.
    ///
    /// # Errors
    /// [`Error::Misuse`] when the recipient's id is another stanza's key id;
    /// [`Error::Malformed`] for a recipient that is not a usable X25519
    /// public key; [`Error::Random`] when the generator fails.
    pub fn set_recipient(&mut self, recipient: &RecoveryRecipient, context: &str) -> Result<()> {
        if self
            .stanzas
            .iter()
            .any(|s| !s.kind.is_recovery() && s.key_id == recipient.id())
        {
            return Err(Error::Misuse {
                reason: "the same key cannot wrap two stanzas",
            });
        }
        let stanza = Stanza::wrap_to(
            self.algorithm,
            recipient,
            &self.data_key,
            context,
            &self.random,
        )?;
        self.stanzas.retain(|s| !s.kind.is_recovery());
        self.put(stanza);
        Ok(())
    }

    /// Puts `stanza` in place of its kind's, or beside the others in kind
    /// order; a recovery stanza replaces the other recovery kind.
    fn put(&mut self, stanza: Stanza) {
        if stanza.kind.is_recovery() {
            self.stanzas
                .retain(|s| !s.kind.is_recovery() || s.kind == stanza.kind);
        }
        match self.stanzas.iter_mut().find(|s| s.kind == stanza.kind) {
            Some(slot) => *slot = stanza,
            None => {
                self.stanzas.push(stanza);
                self.stanzas.sort_by_key(|s| s.kind);
            }
        }
    }

    /// A new envelope with a fresh data key, wrapped for `kek` as the
    /// primary stanza and, when this envelope has a recipient stanza, to the
    /// same recipient with a fresh ephemeral share: what rotating the keys
    /// needs, without the recovery secret. Every record sealed under the old
    /// data key must be sealed again.
    ///
    /// # Errors
    /// [`Error::LegacyRecovery`] when the recovery stanza is symmetric
    /// (format version 2): no new data key can be wrapped for it without
    /// the recovery key. [`Error::Random`] when the generator fails.
    pub fn rekey(&self, kek: &Key, context: &str) -> Result<Self> {
        if self.key_id(StanzaKind::Recovery).is_some() {
            return Err(Error::LegacyRecovery);
        }
        let data_key = self.random.key()?;
        let mut envelope =
            Self::new_from(self.random.clone(), self.algorithm, data_key, kek, context)?;
        if let Some(recipient) = self.recipient() {
            envelope.set_recipient(&recipient, context)?;
        }
        Ok(envelope)
    }

    /// The recovery stanza's id (a symmetric recovery key's or a
    /// recipient's), if there is one.
    pub fn recovery_id(&self) -> Option<KeyId> {
        recovery_stanza(&self.stanzas).map(|s| s.key_id)
    }

    /// The recovery recipient, if the recovery stanza is one.
    pub fn recipient(&self) -> Option<RecoveryRecipient> {
        self.stanzas.iter().find_map(Stanza::recipient)
    }

    /// The format version [`Entries::seal`](crate::Entries::seal) writes
    /// with these stanzas: 2 while a symmetric recovery stanza is kept (its
    /// associated data, and so the stanza, carry over unchanged), else 3.
    pub fn file_version(&self) -> u16 {
        if self.key_id(StanzaKind::Recovery).is_some() {
            2
        } else {
            FORMAT_VERSION
        }
    }

    /// Removes the stanza of `kind`; returns whether there was one.
    ///
    /// # Errors
    /// [`Error::LastStanza`] when it is the only stanza left.
    pub fn remove_stanza(&mut self, kind: StanzaKind) -> Result<bool> {
        let Some(index) = self.stanzas.iter().position(|s| s.kind == kind) else {
            return Ok(false);
        };
        if self.stanzas.len() == 1 {
            return Err(Error::LastStanza);
        }
        self.stanzas.remove(index);
        Ok(true)
    }

    /// The id of the data key (records sealed under another data key, before
    /// a rotation, must be sealed again).
    pub fn data_key_id(&self) -> KeyId {
        self.data_key.id()
    }

    /// Seals `plaintext` as a complete version-1 file (one sealed body) with
    /// this generation counter.
    ///
    /// # Errors
    /// [`Error::TooLarge`] when the plaintext does not fit a `u32` body
    /// length; [`Error::Random`] when the operating system's generator fails.
    pub fn seal(&self, generation: u64, context: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        self.seal_file(generation, context, plaintext)
    }

    /// Starts a version-2 file: records are appended to it one by one
    /// ([`IndexedWriter::seal_record`], [`IndexedWriter::copy_record`]), and
    /// [`IndexedWriter::finish`] seals the index and writes the header. The
    /// file is assembled in one buffer, so the records are never copied
    /// twice. `capacity` is a hint: the records' and the sealed index's total
    /// length (the buffer never has to grow, and growing copies the file).
    pub(crate) fn indexed_writer<'a>(
        &'a self,
        context: &'a str,
        capacity: usize,
    ) -> IndexedWriter<'a> {
        self.indexed_writer_version(self.file_version(), context, capacity)
    }

    /// An indexed writer of an explicit version (2 or 3): the known-answer
    /// vectors of version 2 are still sealed byte for byte.
    pub(crate) fn indexed_writer_version<'a>(
        &'a self,
        version: u16,
        context: &'a str,
        capacity: usize,
    ) -> IndexedWriter<'a> {
        let header_len = self.header_len(version);
        let mut out = Vec::with_capacity(header_len + capacity);
        out.resize(header_len, 0);
        IndexedWriter {
            envelope: self,
            context,
            out,
            header_len,
            version,
        }
    }

    fn seal_file(&self, generation: u64, context: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let (mut out, nonce) = self.header(
            1,
            generation,
            plaintext.len(),
            None,
            plaintext.len() + TAG_LEN,
        )?;
        let aad = body_aad(&out, context);
        // Seal where the file is assembled: the plaintext is copied in once
        // and encrypted in place, so no second buffer holds the body.
        let body_at = out.len();
        out.extend_from_slice(plaintext);
        self.seal_tail(&mut out, body_at, &nonce, &aad)?;
        Ok(out)
    }

    /// The length of a `version` header with this envelope's stanzas.
    fn header_len(&self, version: u16) -> usize {
        let nonce_len = self.algorithm.nonce_len();
        MAGIC.len()
            + 2
            + 1
            + 1
            + 8
            + 1
            + self
                .stanzas
                .iter()
                .map(|s| s.kind.encoded_len(self.algorithm))
                .sum::<usize>()
            + nonce_len
            + 4
            + if version >= 2 { 4 } else { 0 }
    }

    /// A `version` header (everything the body's or the index's associated
    /// data covers) for a body of `body_len` plaintext bytes and, in version
    /// 2, `records_len` bytes of records, with a fresh nonce; room for
    /// `extra` more bytes. Returns the header and its nonce.
    fn header(
        &self,
        version: u16,
        generation: u64,
        body_len: usize,
        records_len: Option<usize>,
        extra: usize,
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        let too_large = |len: usize| Error::TooLarge {
            len,
            max: MAX_PLAINTEXT,
        };
        if body_len > MAX_PLAINTEXT {
            return Err(too_large(body_len));
        }
        let sealed_len = u32::try_from(body_len + TAG_LEN).map_err(|_| too_large(body_len))?;
        let records_len = records_len
            .map(|len| u32::try_from(len).map_err(|_| too_large(len)))
            .transpose()?;
        let stanza_count = u8::try_from(self.stanzas.len()).map_err(|_| Error::Misuse {
            reason: "too many stanzas",
        })?;
        if version < 3 && self.recipient().is_some() {
            return Err(Error::Misuse {
                reason: "a recipient stanza needs format version 3",
            });
        }
        let mut out = Vec::with_capacity(self.header_len(version) + extra);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&version.to_be_bytes());
        out.push(self.algorithm.id());
        out.push(0); // flags
        out.extend_from_slice(&generation.to_be_bytes());
        out.push(stanza_count);
        for stanza in &self.stanzas {
            stanza.encode(&mut out);
        }
        let nonce = self.random.bytes(self.algorithm.nonce_len())?;
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed_len.to_be_bytes());
        if let Some(records_len) = records_len {
            out.extend_from_slice(&records_len.to_be_bytes());
        }
        Ok((out, nonce))
    }

    /// Seals `out[at..]` in place under the data key and appends its tag; on
    /// error the whole buffer, which may hold plaintext, is zeroized.
    fn seal_tail(&self, out: &mut Vec<u8>, at: usize, nonce: &[u8], aad: &[u8]) -> Result<()> {
        let sealed = self.algorithm.sealer().seal_in_place(
            &self.data_key,
            nonce,
            aad,
            out.get_mut(at..).unwrap_or_default(),
        );
        match sealed {
            Ok(tag) => {
                out.extend_from_slice(&tag);
                Ok(())
            }
            Err(e) => {
                zeroize::Zeroize::zeroize(out);
                Err(e)
            }
        }
    }

    /// Seals one entry's value as a version-2 record, appending the
    /// ciphertext (as long as the value) to `out`; returns the nonce and tag
    /// for the index.
    ///
    /// # Errors
    /// [`Error::TooLarge`] for a value over the format's limit;
    /// [`Error::Random`] when the operating system's generator fails.
    pub(crate) fn seal_record(
        &self,
        context: &str,
        name: &str,
        value: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<RecordSeal> {
        let nonce = self
            .random
            .bytes(self.algorithm.nonce_len())?
            .into_boxed_slice();
        let aad = record_aad(self.algorithm, context, name);
        let at = out.len();
        out.extend_from_slice(value);
        let buffer = out.get_mut(at..).unwrap_or_default();
        match self
            .algorithm
            .sealer()
            .seal_in_place(&self.data_key, &nonce, &aad, buffer)
        {
            Ok(tag) => Ok(RecordSeal { nonce, tag }),
            Err(e) => {
                zeroize::Zeroize::zeroize(buffer);
                out.truncate(at);
                Err(e)
            }
        }
    }

    /// Verifies and decrypts one version-2 record.
    ///
    /// # Errors
    /// [`Error::Authentication`] when the record, its nonce or tag, the
    /// entry's name or the context differ from what was sealed.
    pub(crate) fn open_record(
        &self,
        context: &str,
        name: &str,
        seal: &RecordSeal,
        ciphertext: &[u8],
    ) -> Result<SecretSlice<u8>> {
        let aad = record_aad(self.algorithm, context, name);
        let mut message = Vec::with_capacity(ciphertext.len() + TAG_LEN);
        message.extend_from_slice(ciphertext);
        message.extend_from_slice(&seal.tag);
        self.algorithm
            .sealer()
            .open(&self.data_key, &seal.nonce, &aad, &message)
    }
}

/// A file with records being assembled: the header's space, then the
/// records; see [`Envelope::indexed_writer`].
pub(crate) struct IndexedWriter<'a> {
    envelope: &'a Envelope,
    context: &'a str,
    out: Vec<u8>,
    header_len: usize,
    version: u16,
}

impl core::fmt::Debug for IndexedWriter<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IndexedWriter")
            .field("records_len", &self.records_len())
            .finish_non_exhaustive()
    }
}

impl IndexedWriter<'_> {
    /// The length of the records appended so far.
    pub(crate) fn records_len(&self) -> usize {
        self.out.len() - self.header_len
    }

    /// The bytes of the records appended so far.
    pub(crate) fn records(&self) -> &[u8] {
        self.out.get(self.header_len..).unwrap_or_default()
    }

    /// Seals `value` as the next record (entry `name`); returns the nonce
    /// and tag for the index.
    ///
    /// # Errors
    /// As [`Envelope::seal_record`].
    pub(crate) fn seal_record(&mut self, name: &str, value: &[u8]) -> Result<RecordSeal> {
        self.envelope
            .seal_record(self.context, name, value, &mut self.out)
    }

    /// Appends a record sealed earlier under the same data key, as it is
    /// (its nonce and tag go into the index unchanged).
    pub(crate) fn copy_record(&mut self, ciphertext: &[u8]) {
        self.out.extend_from_slice(ciphertext);
    }

    /// Seals `index` (which lists every record's name, length, nonce and
    /// tag, in record order) after the records and writes the header.
    ///
    /// # Errors
    /// [`Error::TooLarge`] when the index or the records do not fit a `u32`
    /// length; [`Error::Random`] when the operating system's generator fails.
    pub(crate) fn finish(mut self, generation: u64, index: &[u8]) -> Result<Vec<u8>> {
        let envelope = self.envelope;
        let (header, nonce) = envelope.header(
            self.version,
            generation,
            index.len(),
            Some(self.records_len()),
            0,
        )?;
        let slot = self
            .out
            .get_mut(..self.header_len)
            .filter(|slot| slot.len() == header.len())
            .ok_or(Error::Misuse {
                reason: "the header does not fit the space reserved for it",
            })?;
        slot.copy_from_slice(&header);
        let aad = body_aad(&header, self.context);
        let index_at = self.out.len();
        self.out.extend_from_slice(index);
        envelope.seal_tail(&mut self.out, index_at, &nonce, &aad)?;
        Ok(self.out)
    }
}

/// A bounds-checked cursor: every read is checked against the bytes present;
/// `what` is the error's reason when the bytes run out.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n);
        let slice = end
            .and_then(|end| self.bytes.get(self.pos..end))
            .ok_or(Error::Malformed { reason: what })?;
        self.pos += n;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let slice = self.take(N, what)?;
        <[u8; N]>::try_from(slice).map_err(|_| Error::Malformed { reason: what })
    }

    fn u8(&mut self, what: &'static str) -> Result<u8> {
        self.array::<1>(what).map(|[b]| b)
    }

    fn u16(&mut self, what: &'static str) -> Result<u16> {
        self.array(what).map(u16::from_be_bytes)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32> {
        self.array(what).map(u32::from_be_bytes)
    }

    fn u64(&mut self, what: &'static str) -> Result<u64> {
        self.array(what).map(u64::from_be_bytes)
    }
}
