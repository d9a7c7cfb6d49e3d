//! Known-answer vectors of format version 3 (`docs/vectors/v3.json`): each
//! vector's inputs (keys, the recovery identity, the ephemeral scalar and
//! every nonce fixed), sealed, must give the committed bytes; the committed
//! bytes must open with the primary key and with the recovery identity, and
//! every record with the nonce and tag its index lists. The index is encoded
//! by hand from `docs/FORMAT.md`, as for version 2.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::format::RecordSeal;
use crate::tests_vectors_bundle::{
    algorithm, assert_format_md_quotes, fixed_random, hex, pattern, unhex,
};
use crate::{
    Algorithm, Envelope, ExposeSecret, Key, RecoveryIdentity, SealedFile, StanzaKind, TAG_LEN,
};

const VECTORS: &str = include_str!("../../../docs/vectors/v3.json");

#[derive(Serialize, Deserialize)]
struct VectorFile {
    description: String,
    vectors: Vec<Vector>,
}

#[derive(Serialize, Deserialize)]
struct Vector {
    name: String,
    algorithm: String,
    context: String,
    generation: u64,
    kek: String,
    kek_id: String,
    data_key: String,
    primary_nonce: String,
    recovery: Option<VectorRecovery>,
    index_nonce: String,
    entries: Vec<VectorEntry>,
    index: String,
    file: String,
}

#[derive(Serialize, Deserialize)]
struct VectorRecovery {
    /// The identity's 32 secret bytes.
    identity: String,
    /// Its X25519 public key.
    recipient: String,
    /// The recipient's id.
    recipient_id: String,
    /// The ephemeral scalar's 32 bytes.
    ephemeral_scalar: String,
    /// The recipient stanza's nonce.
    nonce: String,
}

#[derive(Serialize, Deserialize)]
struct VectorEntry {
    name: String,
    updated: u64,
    value: String,
    nonce: String,
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The vector's envelope (its key, data key and recipient), every random
/// draw fixed in the order above; and what is left of the draws.
fn vector_envelope(v: &Vector) -> (Envelope, Arc<Mutex<VecDeque<Vec<u8>>>>) {
    let recovery = v
        .recovery
        .iter()
        .flat_map(|r| [&r.ephemeral_scalar, &r.nonce]);
    let (random, left) = fixed_random(
        std::iter::once(&v.primary_nonce)
            .chain(recovery)
            .chain(v.entries.iter().map(|e| &e.nonce))
            .chain(std::iter::once(&v.index_nonce))
            .map(|h| unhex(h)),
    );
    let kek = Key::from_slice(&unhex(&v.kek)).unwrap();
    let data_key = Key::from_slice(&unhex(&v.data_key)).unwrap();
    let mut envelope =
        Envelope::new_from(random, algorithm(&v.algorithm), data_key, &kek, &v.context).unwrap();
    if let Some(r) = &v.recovery {
        envelope
            .set_recipient(&identity(r).recipient(), &v.context)
            .unwrap();
    }
    (envelope, left)
}

/// Seals a vector. Random bytes are drawn in this order: the primary
/// stanza's nonce, the ephemeral scalar, the recipient stanza's nonce, each
/// record's nonce in name order, the index nonce. Returns the index
/// plaintext and the file.
fn seal_vector(v: &Vector) -> (Vec<u8>, Vec<u8>) {
    let (envelope, left) = vector_envelope(v);
    let mut writer = envelope.indexed_writer(&v.context, 0);
    let mut index = vec![1u8];
    varint(v.entries.len() as u64, &mut index);
    for e in &v.entries {
        let value = unhex(&e.value);
        let seal = writer.seal_record(&e.name, &value).unwrap();
        varint(e.name.len() as u64, &mut index);
        index.extend_from_slice(e.name.as_bytes());
        varint(e.updated, &mut index);
        varint(value.len() as u64, &mut index);
        varint(seal.nonce.len() as u64, &mut index);
        index.extend_from_slice(&seal.nonce);
        index.extend_from_slice(&seal.tag);
    }
    let file = writer.finish(v.generation, &index).unwrap();
    assert!(
        left.lock().unwrap().is_empty(),
        "{}: unused random bytes",
        v.name
    );
    (index, file)
}

fn identity(r: &VectorRecovery) -> RecoveryIdentity {
    let bytes: [u8; 32] = unhex(&r.identity).try_into().unwrap();
    RecoveryIdentity::from_bytes(&bytes)
}

fn load() -> VectorFile {
    serde_json::from_str(VECTORS).expect("docs/vectors/v3.json parses")
}

#[test]
fn version_3_vectors_seal_to_the_committed_bytes() {
    let file = load();
    assert!(file.vectors.len() >= 3);
    assert!(file.vectors.iter().filter(|v| v.recovery.is_some()).count() >= 2);
    for v in &file.vectors {
        let (index, sealed) = seal_vector(v);
        assert_eq!(hex(&index), v.index, "vector {}: index", v.name);
        assert_eq!(hex(&sealed), v.file, "vector {}", v.name);
    }
}

#[test]
fn version_3_vectors_open_with_the_primary_key_and_with_the_recovery_identity() {
    for v in &load().vectors {
        let bytes = unhex(&v.file);
        let sealed = SealedFile::parse(&bytes).unwrap();
        assert_eq!(sealed.header().version(), 3, "{}", v.name);
        let kek = Key::from_slice(&unhex(&v.kek)).unwrap();
        let opened = sealed.open(&kek, &v.context).unwrap();
        assert_eq!(hex(opened.plaintext.expose_secret()), v.index, "{}", v.name);
        let data_key = Key::from_slice(&unhex(&v.data_key)).unwrap();
        assert_eq!(opened.envelope.data_key_id(), data_key.id());
        match &v.recovery {
            Some(r) => {
                let identity = identity(r);
                assert_eq!(hex(identity.recipient().as_bytes()), r.recipient);
                assert_eq!(identity.recipient().id().to_string(), r.recipient_id);
                assert_eq!(
                    sealed.header().recovery_id().map(|id| id.to_string()),
                    Some(r.recipient_id.clone())
                );
                let recovered = sealed.open_with_identity(&identity, &v.context).unwrap();
                assert_eq!(recovered.envelope.data_key_id(), data_key.id());
                // Another identity, or another context, does not open it.
                let other = RecoveryIdentity::from_bytes(&[0x55; 32]);
                assert!(sealed.open_with_identity(&other, &v.context).is_err());
                assert!(sealed.open_with_identity(&identity, "other").is_err());
            }
            None => assert_eq!(sealed.header().recovery_id(), None),
        }
        walk_records(v, &bytes, &opened);
    }
}

/// Opens every record in index order with the nonce and tag the vector's
/// index holds.
fn walk_records(v: &Vector, bytes: &[u8], opened: &crate::format::Opened) {
    let mut at = opened.records.start;
    let index = unhex(&v.index);
    for e in &v.entries {
        let len = e.value.len() / 2;
        let nonce = unhex(&e.nonce);
        let pos = index
            .windows(nonce.len())
            .position(|w| w == nonce.as_slice())
            .expect("the index holds the nonce");
        let tag: [u8; TAG_LEN] = index[pos + nonce.len()..pos + nonce.len() + TAG_LEN]
            .try_into()
            .unwrap();
        let seal = RecordSeal {
            nonce: nonce.into(),
            tag,
        };
        let plain = opened
            .envelope
            .open_record(&v.context, &e.name, &seal, &bytes[at..at + len])
            .unwrap();
        assert_eq!(
            hex(plain.expose_secret()),
            e.value,
            "{}: {}",
            v.name,
            e.name
        );
        at += len;
    }
    assert_eq!(
        at, opened.records.end,
        "{}: records fill their region",
        v.name
    );
}

#[test]
fn format_md_quotes_every_version_3_vector() {
    for v in &load().vectors {
        assert_format_md_quotes(&v.name, &[("file", &v.file), ("index", &v.index)]);
    }
}

#[test]
fn a_rekeyed_envelope_keeps_the_recipient_with_a_new_share_and_a_new_data_key() {
    let kek = Key::generate().unwrap();
    let identity = RecoveryIdentity::generate().unwrap();
    let mut envelope = Envelope::new(Algorithm::Aes256Gcm, &kek, "ctx").unwrap();
    envelope
        .set_recipient(&identity.recipient(), "ctx")
        .unwrap();
    let new_kek = Key::generate().unwrap();
    let rekeyed = envelope.rekey(&new_kek, "ctx").unwrap();
    assert_ne!(rekeyed.data_key_id(), envelope.data_key_id());
    assert_eq!(rekeyed.recipient(), Some(identity.recipient()));
    assert_eq!(rekeyed.key_id(StanzaKind::Primary), Some(new_kek.id()));
    let old_share = envelope.stanzas()[1].clone();
    assert_ne!(
        rekeyed.stanzas()[1],
        old_share,
        "the ephemeral share was reused"
    );
    let file = rekeyed.indexed_writer("ctx", 0).finish(1, &[1, 0]).unwrap();
    let sealed = SealedFile::parse(&file).unwrap();
    assert_eq!(sealed.header().version(), 3);
    let opened = sealed.open_with_identity(&identity, "ctx").unwrap();
    assert_eq!(opened.envelope.data_key_id(), rekeyed.data_key_id());
}

#[test]
fn an_envelope_with_a_symmetric_recovery_stanza_is_not_rekeyed_and_writes_version_2() {
    let kek = Key::generate().unwrap();
    let mut envelope = Envelope::new(Algorithm::Aes256Gcm, &kek, "ctx").unwrap();
    envelope
        .set_stanza(StanzaKind::Recovery, &Key::generate().unwrap(), "ctx")
        .unwrap();
    assert_eq!(envelope.file_version(), 2);
    assert!(matches!(
        envelope.rekey(&Key::generate().unwrap(), "ctx"),
        Err(crate::Error::LegacyRecovery)
    ));
    let file = envelope
        .indexed_writer("ctx", 0)
        .finish(1, &[1, 0])
        .unwrap();
    assert_eq!(SealedFile::parse(&file).unwrap().header().version(), 2);
    // A recipient replaces it, and the file becomes version 3.
    let identity = RecoveryIdentity::generate().unwrap();
    envelope
        .set_recipient(&identity.recipient(), "ctx")
        .unwrap();
    assert_eq!(envelope.stanzas().len(), 2);
    assert_eq!(envelope.key_id(StanzaKind::Recovery), None);
    assert_eq!(envelope.file_version(), 3);
}

#[test]
fn entries_seal_writes_each_vector_byte_for_byte() {
    // The same inputs through the public writer (`Entries::seal`) rather
    // than the hand-made index: the crate's own encoder matches the vector.
    for v in &load().vectors {
        let (envelope, _) = vector_envelope(v);
        let mut entries = crate::Entries::new();
        for e in &v.entries {
            entries.insert(
                e.name.clone(),
                crate::Entry::new(&unhex(&e.value), e.updated),
            );
        }
        let sealed = entries.seal(&envelope, &v.context, v.generation).unwrap();
        assert_eq!(hex(&sealed.file), v.file, "vector {}", v.name);
    }
}

#[test]
fn a_file_whose_recipient_is_a_low_order_point_is_malformed() {
    let bytes = unhex(&load().vectors[0].file);
    // The first vector's recipient stanza starts at 98 (kind), then the
    // recipient (docs/FORMAT.md, the field table).
    assert_eq!(bytes[98], 3);
    for low_order in [[0u8; 32], {
        let mut one = [0u8; 32];
        one[0] = 1;
        one
    }] {
        let mut forged = bytes.clone();
        forged[99..131].copy_from_slice(&low_order);
        assert!(
            matches!(
                SealedFile::parse(&forged),
                Err(crate::Error::Malformed { .. })
            ),
            "a low-order recipient was accepted"
        );
    }
}

#[test]
fn stanza_kinds_are_checked_against_the_file_version() {
    let bytes = unhex(&load().vectors[0].file);
    // The recipient stanza (kind 3) in a file that says version 2.
    let mut as_v2 = bytes.clone();
    as_v2[9] = 2;
    assert!(matches!(
        SealedFile::parse(&as_v2),
        Err(crate::Error::Malformed { .. })
    ));
    // Two recovery stanzas: the primary's kind byte rewritten to 3 cannot
    // be, since lengths differ; a symmetric stanza (kind 2) in version 3:
    let kek = Key::generate().unwrap();
    let mut envelope = Envelope::new(Algorithm::Aes256Gcm, &kek, "ctx").unwrap();
    envelope
        .set_stanza(StanzaKind::Recovery, &Key::generate().unwrap(), "ctx")
        .unwrap();
    let mut v2 = envelope
        .indexed_writer("ctx", 0)
        .finish(1, &[1, 0])
        .unwrap();
    v2[9] = 3;
    assert!(matches!(
        SealedFile::parse(&v2),
        Err(crate::Error::Malformed { .. })
    ));
}

#[test]
fn a_recipient_stanza_is_refused_where_a_symmetric_kind_is_asked_for() {
    let kek = Key::generate().unwrap();
    let mut envelope = Envelope::new(Algorithm::Aes256Gcm, &kek, "ctx").unwrap();
    assert!(matches!(
        envelope.set_stanza(StanzaKind::Recipient, &kek, "ctx"),
        Err(crate::Error::Misuse { .. })
    ));
    assert!(matches!(
        envelope.set_stanza(StanzaKind::Recovery, &kek, "ctx"),
        Err(crate::Error::Misuse { .. })
    ));
}

/// Regenerates `docs/vectors/v3.json`. Run it only for a new vector;
/// changing existing bytes means changing a shipped format.
#[test]
#[ignore = "writes docs/vectors/v3.json; run by hand with --ignored"]
fn bless_vectors_v3() {
    let mut vectors = Vec::new();
    for (name, alg, generation, with_recovery) in [
        (
            "v3-aes256gcm-primary-and-recipient",
            Algorithm::Aes256Gcm,
            9,
            true,
        ),
        (
            "v3-xchacha20poly1305-primary-and-recipient",
            Algorithm::XChaCha20Poly1305,
            10,
            true,
        ),
        ("v3-aes256gcm-primary-only", Algorithm::Aes256Gcm, 11, false),
    ] {
        let n = alg.nonce_len();
        let kek = Key::from_slice(&unhex(&pattern(0x00, 32))).unwrap();
        let entries = vec![
            VectorEntry {
                name: "github".to_owned(),
                updated: 1_767_225_600,
                value: hex(br#"{"access_token":"gho_example"}"#),
                nonce: pattern(0x60, n),
            },
            VectorEntry {
                name: "linear".to_owned(),
                updated: 1_767_225_601,
                value: hex(br#""lin_api_example""#),
                nonce: pattern(0x80, n),
            },
        ];
        let recovery = with_recovery.then(|| {
            let identity_hex = pattern(0x40, 32);
            let bytes: [u8; 32] = unhex(&identity_hex).try_into().unwrap();
            let recipient = RecoveryIdentity::from_bytes(&bytes).recipient();
            VectorRecovery {
                identity: identity_hex,
                recipient: hex(recipient.as_bytes()),
                recipient_id: recipient.id().to_string(),
                ephemeral_scalar: pattern(0xc0, 32),
                nonce: pattern(0xb0, n),
            }
        });
        let mut v = Vector {
            name: name.to_owned(),
            algorithm: alg.name().to_owned(),
            context: "com.example.app/mcp-oauth".to_owned(),
            generation,
            kek: pattern(0x00, 32),
            kek_id: kek.id().to_string(),
            data_key: pattern(0x20, 32),
            primary_nonce: pattern(0xa0, n),
            recovery,
            index_nonce: pattern(0xe0, n),
            entries,
            index: String::new(),
            file: String::new(),
        };
        let (index, file) = seal_vector(&v);
        v.index = hex(&index);
        v.file = hex(&file);
        vectors.push(v);
    }
    let file = VectorFile {
        description: "keyseal sealed-file format v3 known-answer vectors; see docs/FORMAT.md. All byte strings are lower-case hex; context and names are UTF-8 text. Random bytes are drawn in this order: the primary stanza's nonce, the ephemeral scalar, the recipient stanza's nonce, each entry's record nonce in name order, the index nonce.".to_owned(),
        vectors,
    };
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/vectors/v3.json");
    std::fs::write(path, serde_json::to_string_pretty(&file).unwrap() + "\n").unwrap();
}
