//! Known-answer vectors: `docs/vectors/v1.json`, quoted by `docs/FORMAT.md`.
//!
//! These tests need the crate's deterministic seams (fixed data key and
//! nonces), which are not public, so they live inside the crate.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::{Algorithm, Envelope, Error, ExposeSecret, Key, SealedFile, StanzaKind};

const VECTORS: &str = include_str!("../../../docs/vectors/v1.json");
const FORMAT_MD: &str = include_str!("../../../docs/FORMAT.md");

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
    recovery_key: Option<String>,
    recovery_key_id: Option<String>,
    data_key: String,
    primary_nonce: String,
    recovery_nonce: Option<String>,
    body_nonce: String,
    plaintext: String,
    file: String,
}

/// Asserts that `docs/FORMAT.md` quotes each of a vector's hex `values`
/// (whitespace ignored: the document wraps long values).
pub(crate) fn assert_format_md_quotes(vector: &str, values: &[(&str, &str)]) {
    let doc: String = FORMAT_MD.chars().filter(|c| !c.is_whitespace()).collect();
    for (what, value) in values {
        assert!(
            doc.contains(value),
            "docs/FORMAT.md does not quote {what} of vector {vector}"
        );
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `len` bytes counting up from `start`, as hex: the vectors' keys and nonces.
pub(crate) fn pattern(start: u8, len: usize) -> String {
    hex(&(0..len)
        .map(|i| start.wrapping_add(i as u8))
        .collect::<Vec<_>>())
}

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A random source that hands out `draws` in order (each exactly as long
/// as the draw asks), and what is left of them, to check every one was used.
pub(crate) fn fixed_random(
    draws: impl IntoIterator<Item = Vec<u8>>,
) -> (crate::random::Random, Arc<Mutex<VecDeque<Vec<u8>>>>) {
    let left = Arc::new(Mutex::new(draws.into_iter().collect::<VecDeque<_>>()));
    let source = Arc::clone(&left);
    let random = crate::random::Random::fixed(move |buf: &mut [u8]| {
        let next = source
            .lock()
            .unwrap()
            .pop_front()
            .expect("a value per draw");
        buf.copy_from_slice(&next);
        Ok(())
    });
    (random, left)
}

pub(crate) fn algorithm(name: &str) -> Algorithm {
    Algorithm::ALL
        .into_iter()
        .find(|a| a.name() == name)
        .unwrap_or_else(|| panic!("unknown algorithm {name}"))
}

/// Seals a vector's inputs with its fixed nonces, in the order the format
/// draws them: primary stanza, recovery stanza, body.
fn seal_vector(v: &Vector) -> Vec<u8> {
    let (random, left) = fixed_random(
        [
            Some(&v.primary_nonce),
            v.recovery_nonce.as_ref(),
            Some(&v.body_nonce),
        ]
        .into_iter()
        .flatten()
        .map(|h| unhex(h)),
    );
    let kek = Key::from_slice(&unhex(&v.kek)).unwrap();
    let data_key = Key::from_slice(&unhex(&v.data_key)).unwrap();
    let mut envelope =
        Envelope::new_from(random, algorithm(&v.algorithm), data_key, &kek, &v.context).unwrap();
    if let Some(recovery) = &v.recovery_key {
        let recovery = Key::from_slice(&unhex(recovery)).unwrap();
        envelope
            .set_stanza(StanzaKind::Recovery, &recovery, &v.context)
            .unwrap();
    }
    let file = envelope
        .seal(v.generation, &v.context, &unhex(&v.plaintext))
        .unwrap();
    assert!(left.lock().unwrap().is_empty(), "{}: unused nonces", v.name);
    file
}

fn load() -> VectorFile {
    serde_json::from_str(VECTORS).expect("docs/vectors/v1.json parses")
}

#[test]
fn known_answer_vectors_seal_to_the_committed_bytes() {
    let file = load();
    assert!(file.vectors.len() >= 4);
    for v in &file.vectors {
        assert_eq!(hex(&seal_vector(v)), v.file, "vector {}", v.name);
        let kek = Key::from_slice(&unhex(&v.kek)).unwrap();
        assert_eq!(kek.id().to_string(), v.kek_id, "vector {}: key id", v.name);
    }
}

#[test]
fn known_answer_vectors_open_with_every_key_they_name() {
    for v in &load().vectors {
        let bytes = unhex(&v.file);
        let sealed = SealedFile::parse(&bytes).unwrap();
        assert_eq!(sealed.header().generation(), v.generation);
        assert_eq!(sealed.header().algorithm().name(), v.algorithm);
        let mut keys = vec![(&v.kek, &v.kek_id)];
        if let (Some(k), Some(id)) = (&v.recovery_key, &v.recovery_key_id) {
            keys.push((k, id));
        }
        for (key, id) in keys {
            let key = Key::from_slice(&unhex(key)).unwrap();
            assert_eq!(&key.id().to_string(), id, "vector {}", v.name);
            let opened = sealed.open(&key, &v.context).unwrap();
            assert_eq!(
                hex(opened.plaintext.expose_secret()),
                v.plaintext,
                "vector {}",
                v.name
            );
            assert_eq!(opened.generation, v.generation);
        }
        let stranger = Key::from_slice(&[0xEE; 32]).unwrap();
        assert!(matches!(
            sealed.open(&stranger, &v.context),
            Err(Error::WrongKey { .. })
        ));
    }
}

#[test]
fn format_md_quotes_every_vector() {
    for v in &load().vectors {
        assert_format_md_quotes(
            &v.name,
            &[
                ("file", &v.file),
                ("kek_id", &v.kek_id),
                ("plaintext", &v.plaintext),
            ],
        );
    }
}

/// Regenerates `docs/vectors/v1.json` from the inputs below. Run it only for a
/// new vector; changing existing bytes means changing a shipped format.
#[test]
#[ignore = "writes docs/vectors/v1.json; run by hand with --ignored"]
fn bless_vectors() {
    let token = hex(br#"{"access_token":"gho_example","refresh_token":"ghr_example"}"#);
    let mut vectors = Vec::new();
    for (name, alg, recovery, plaintext, generation) in [
        (
            "aes256gcm-primary",
            Algorithm::Aes256Gcm,
            false,
            token.clone(),
            1,
        ),
        (
            "xchacha20poly1305-primary",
            Algorithm::XChaCha20Poly1305,
            false,
            token.clone(),
            2,
        ),
        (
            "aes256gcm-primary-and-recovery",
            Algorithm::Aes256Gcm,
            true,
            token.clone(),
            42,
        ),
        (
            "xchacha20poly1305-empty-body",
            Algorithm::XChaCha20Poly1305,
            false,
            String::new(),
            0,
        ),
    ] {
        let n = alg.nonce_len();
        let kek = Key::from_slice(&unhex(&pattern(0x00, 32))).unwrap();
        let recovery_key = recovery.then(|| pattern(0x40, 32));
        let mut v = Vector {
            name: name.to_owned(),
            algorithm: alg.name().to_owned(),
            context: "com.example.app/mcp-oauth".to_owned(),
            generation,
            kek: pattern(0x00, 32),
            kek_id: kek.id().to_string(),
            recovery_key_id: recovery_key
                .as_ref()
                .map(|k| Key::from_slice(&unhex(k)).unwrap().id().to_string()),
            recovery_key,
            data_key: pattern(0x20, 32),
            primary_nonce: pattern(0xa0, n),
            recovery_nonce: recovery.then(|| pattern(0xc0, n)),
            body_nonce: pattern(0xe0, n),
            plaintext,
            file: String::new(),
        };
        v.file = hex(&seal_vector(&v));
        vectors.push(v);
    }
    let file = VectorFile {
        description: "keyseal sealed-file format v1 known-answer vectors; see docs/FORMAT.md. All byte strings are lower-case hex; context is UTF-8 text. Nonces are listed in the order they are drawn: primary stanza, recovery stanza, body.".to_owned(),
        vectors,
    };
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/vectors/v1.json");
    std::fs::write(path, serde_json::to_string_pretty(&file).unwrap() + "\n").unwrap();
}

/// A sealer that implements only `seal` and `open`, so `seal_in_place` is
/// the trait's provided method.
#[derive(Debug)]
struct OnlySeal(Algorithm);

impl crate::Sealer for OnlySeal {
    fn algorithm(&self) -> Algorithm {
        self.0
    }
    fn seal(
        &self,
        key: &Key,
        nonce: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> crate::Result<Vec<u8>> {
        self.0.sealer().seal(key, nonce, aad, plaintext)
    }
    fn open(
        &self,
        key: &Key,
        nonce: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> crate::Result<secrecy::SecretSlice<u8>> {
        self.0.sealer().open(key, nonce, aad, ciphertext)
    }
}

#[test]
fn sealing_in_place_gives_the_same_message_as_seal() {
    let key = Key::from_slice(&[9u8; 32]).unwrap();
    let plaintext: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    for algorithm in [Algorithm::Aes256Gcm, Algorithm::XChaCha20Poly1305] {
        let nonce = vec![3u8; algorithm.nonce_len()];
        let sealed = algorithm
            .sealer()
            .seal(&key, &nonce, b"aad", &plaintext)
            .unwrap();
        let provided = OnlySeal(algorithm);
        for sealer in [algorithm.sealer(), &provided as &dyn crate::Sealer] {
            let mut buffer = plaintext.clone();
            let tag = sealer
                .seal_in_place(&key, &nonce, b"aad", &mut buffer)
                .unwrap();
            assert_eq!([buffer.as_slice(), &tag].concat(), sealed, "{algorithm:?}");
        }
        let opened = algorithm
            .sealer()
            .open(&key, &nonce, b"aad", &sealed)
            .unwrap();
        assert_eq!(opened.expose_secret(), plaintext.as_slice());
        // A tag or body shorter than a tag is inauthentic, not a panic.
        for len in [0, 1, crate::TAG_LEN - 1, crate::TAG_LEN] {
            let cut = sealed.get(..len).unwrap();
            assert!(matches!(
                algorithm.sealer().open(&key, &nonce, b"aad", cut),
                Err(Error::Authentication)
            ));
        }
    }
}
