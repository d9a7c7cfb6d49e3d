//! Known-answer vectors of format version 2 (`docs/vectors/v2.json`): each
//! vector's inputs, sealed with its fixed nonces, must give the committed
//! bytes; the committed bytes must open with its key, and every record with
//! the nonce and tag its index lists. The index is encoded here by hand from
//! `docs/FORMAT.md` ("Index plaintext"), not with the `keyseal` crate.

use serde::{Deserialize, Serialize};

use crate::format::RecordSeal;
use crate::tests_vectors_bundle::{
    algorithm, assert_format_md_quotes, fixed_random, hex, pattern, unhex,
};
use crate::{Algorithm, Envelope, ExposeSecret, Key, SealedFile, TAG_LEN};

const VECTORS: &str = include_str!("../../../docs/vectors/v2.json");

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
    index_nonce: String,
    entries: Vec<VectorEntry>,
    index: String,
    file: String,
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

/// Seals a vector: the stanza, then each record in name order, then the
/// index, each nonce drawn from the vector in that order. Returns the index
/// plaintext and the file.
fn seal_vector(v: &Vector) -> (Vec<u8>, Vec<u8>) {
    let (random, left) = fixed_random(
        std::iter::once(&v.primary_nonce)
            .chain(v.entries.iter().map(|e| &e.nonce))
            .chain(std::iter::once(&v.index_nonce))
            .map(|h| unhex(h)),
    );
    let kek = Key::from_slice(&unhex(&v.kek)).unwrap();
    let data_key = Key::from_slice(&unhex(&v.data_key)).unwrap();
    let envelope =
        Envelope::new_from(random, algorithm(&v.algorithm), data_key, &kek, &v.context).unwrap();
    let mut writer = envelope.indexed_writer_version(2, &v.context, 0);
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
    assert!(left.lock().unwrap().is_empty(), "{}: unused nonces", v.name);
    (index, file)
}

fn load() -> VectorFile {
    serde_json::from_str(VECTORS).expect("docs/vectors/v2.json parses")
}

#[test]
fn version_2_vectors_seal_to_the_committed_bytes() {
    let file = load();
    assert!(file.vectors.len() >= 2);
    for v in &file.vectors {
        let (index, sealed) = seal_vector(v);
        assert_eq!(hex(&index), v.index, "vector {}: index", v.name);
        assert_eq!(hex(&sealed), v.file, "vector {}", v.name);
    }
}

#[test]
fn version_2_vectors_open_record_by_record() {
    for v in &load().vectors {
        let bytes = unhex(&v.file);
        let sealed = SealedFile::parse(&bytes).unwrap();
        assert_eq!(sealed.header().version(), 2);
        let kek = Key::from_slice(&unhex(&v.kek)).unwrap();
        let opened = sealed.open(&kek, &v.context).unwrap();
        assert_eq!(hex(opened.plaintext.expose_secret()), v.index, "{}", v.name);
        // Walk the records in index order with the nonces and tags the
        // vector's index holds (positions as docs/FORMAT.md lays them out).
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
            // Under another name the record does not open.
            assert!(
                opened
                    .envelope
                    .open_record(&v.context, "other", &seal, &bytes[at..at + len])
                    .is_err()
            );
            at += len;
        }
        assert_eq!(
            at, opened.records.end,
            "{}: the records fill their region",
            v.name
        );
    }
}

#[test]
fn format_md_quotes_every_version_2_vector() {
    for v in &load().vectors {
        assert_format_md_quotes(&v.name, &[("file", &v.file), ("index", &v.index)]);
    }
}

/// Regenerates `docs/vectors/v2.json`. Run it only for a new vector;
/// changing existing bytes means changing a shipped format.
#[test]
#[ignore = "writes docs/vectors/v2.json; run by hand with --ignored"]
fn bless_vectors_v2() {
    let mut vectors = Vec::new();
    for (name, alg, generation) in [
        ("v2-aes256gcm-two-entries", Algorithm::Aes256Gcm, 7),
        (
            "v2-xchacha20poly1305-two-entries",
            Algorithm::XChaCha20Poly1305,
            8,
        ),
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
        let mut v = Vector {
            name: name.to_owned(),
            algorithm: alg.name().to_owned(),
            context: "com.example.app/mcp-oauth".to_owned(),
            generation,
            kek: pattern(0x00, 32),
            kek_id: kek.id().to_string(),
            data_key: pattern(0x20, 32),
            primary_nonce: pattern(0xa0, n),
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
        description: "keyseal sealed-file format v2 known-answer vectors; see docs/FORMAT.md. All byte strings are lower-case hex; context and names are UTF-8 text. Nonces are drawn in this order: primary stanza, each entry's record in name order, index.".to_owned(),
        vectors,
    };
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/vectors/v2.json");
    std::fs::write(path, serde_json::to_string_pretty(&file).unwrap() + "\n").unwrap();
}
