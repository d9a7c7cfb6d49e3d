//! Each way a file can fail to open is its own error variant.

use crate::{
    Algorithm, Envelope, Error, ExposeSecret, FORMAT_VERSION, Key, SealedFile, StanzaKind,
};

const CONTEXT: &str = "com.example.app/mcp-oauth";
const TOKEN: &[u8] = b"ghr_refresh_token_value";

fn kek() -> Key {
    Key::from_slice(&[0x11; 32]).unwrap()
}

fn sealed(alg: Algorithm) -> Vec<u8> {
    Envelope::new(alg, &kek(), CONTEXT)
        .unwrap()
        .seal(3, CONTEXT, TOKEN)
        .unwrap()
}

fn open(bytes: &[u8], key: &Key, context: &str) -> Result<Vec<u8>, Error> {
    let opened = SealedFile::parse(bytes)?.open(key, context)?;
    Ok(opened.plaintext.expose_secret().to_vec())
}

/// Offset of the body-length field in a one-stanza file.
fn body_len_offset(alg: Algorithm) -> usize {
    21 + (1 + 16 + alg.nonce_len() + 48) + alg.nonce_len()
}

#[test]
fn bad_magic_is_not_keyseal() {
    let mut file = sealed(Algorithm::Aes256Gcm);
    file[0] = b'K';
    assert!(matches!(
        open(&file, &kek(), CONTEXT),
        Err(Error::NotKeyseal)
    ));
    assert!(matches!(
        SealedFile::parse(b"{\"tokens\": {}}"),
        Err(Error::NotKeyseal)
    ));
    assert!(matches!(SealedFile::parse(b"PK"), Err(Error::NotKeyseal)));
}

#[test]
fn empty_or_cut_magic_is_malformed() {
    assert!(matches!(
        SealedFile::parse(b""),
        Err(Error::Malformed { .. })
    ));
    assert!(matches!(
        SealedFile::parse(b"keys"),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn newer_version_is_unsupported_and_names_both_versions() {
    let mut file = sealed(Algorithm::Aes256Gcm);
    file[8..10].copy_from_slice(&(FORMAT_VERSION + 1).to_be_bytes());
    match open(&file, &kek(), CONTEXT) {
        Err(Error::UnsupportedVersion { found, supported }) => {
            assert_eq!((found, supported), (FORMAT_VERSION + 1, FORMAT_VERSION));
        }
        other => panic!("{other:?}"),
    }
    // Nothing after the version is read: a newer file with any body is just "unsupported".
    let v9 = [b"keyseal\0".as_slice(), &[0, 9]].concat();
    assert!(matches!(
        SealedFile::parse(&v9),
        Err(Error::UnsupportedVersion { found: 9, .. })
    ));
    let v0 = [b"keyseal\0".as_slice(), &[0, 0]].concat();
    assert!(matches!(
        SealedFile::parse(&v0),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn unknown_algorithm_is_reported_with_its_id() {
    let mut file = sealed(Algorithm::Aes256Gcm);
    file[10] = 7;
    assert!(matches!(
        open(&file, &kek(), CONTEXT),
        Err(Error::UnknownAlgorithm { id: 7 })
    ));
}

type Damage = Box<dyn Fn(&mut Vec<u8>)>;

#[test]
fn structural_damage_is_malformed() {
    let alg = Algorithm::Aes256Gcm;
    let file = sealed(alg);
    let cases: [(&str, Damage); 6] = [
        ("flags set", Box::new(|f| f[11] = 0x80)),
        ("zero stanzas", Box::new(|f| f[20] = 0)),
        ("255 stanzas", Box::new(|f| f[20] = 255)),
        ("unknown stanza kind", Box::new(|f| f[21] = 9)),
        ("trailing byte", Box::new(|f| f.push(0))),
        (
            "cut body",
            Box::new(|f| {
                f.pop();
            }),
        ),
    ];
    for (what, damage) in cases {
        let mut bad = file.clone();
        damage(&mut bad);
        assert!(
            matches!(open(&bad, &kek(), CONTEXT), Err(Error::Malformed { .. })),
            "{what}: {:?}",
            open(&bad, &kek(), CONTEXT)
        );
    }
}

#[test]
fn a_header_claiming_four_gigabytes_is_an_error_not_an_allocation() {
    let alg = Algorithm::XChaCha20Poly1305;
    let mut file = sealed(alg);
    let at = body_len_offset(alg);
    file[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        SealedFile::parse(&file),
        Err(Error::Malformed { .. })
    ));
    // A body length below one tag is refused before any decryption.
    file[at..at + 4].copy_from_slice(&15u32.to_be_bytes());
    assert!(matches!(
        SealedFile::parse(&file),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn wrong_key_names_the_offered_and_present_key_ids() {
    let other = Key::from_slice(&[0x22; 32]).unwrap();
    match open(&sealed(Algorithm::Aes256Gcm), &other, CONTEXT) {
        Err(Error::WrongKey { offered, present }) => {
            assert_eq!(offered, other.id());
            assert_eq!(present, vec![kek().id()]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn another_context_fails_authentication() {
    for alg in Algorithm::ALL {
        let file = sealed(alg);
        assert!(matches!(
            open(&file, &kek(), "com.example.other/store"),
            Err(Error::Authentication)
        ));
        assert_eq!(open(&file, &kek(), CONTEXT).unwrap(), TOKEN);
    }
}

#[test]
fn a_tampered_body_or_generation_fails_authentication() {
    for alg in Algorithm::ALL {
        let file = sealed(alg);
        let mut body = file.clone();
        *body.last_mut().unwrap() ^= 1;
        assert!(matches!(
            open(&body, &kek(), CONTEXT),
            Err(Error::Authentication)
        ));
        let mut generation = file.clone();
        generation[19] ^= 1;
        assert!(matches!(
            open(&generation, &kek(), CONTEXT),
            Err(Error::Authentication)
        ));
    }
}

#[test]
fn authentication_failure_says_nothing_more() {
    assert_eq!(Error::Authentication.to_string(), "authentication failed");
}

#[test]
fn recovery_stanza_opens_alone_and_can_be_removed() {
    let recovery = Key::from_slice(&[0x33; 32]).unwrap();
    let mut envelope = Envelope::new(Algorithm::Aes256Gcm, &kek(), CONTEXT).unwrap();
    envelope
        .set_stanza(StanzaKind::Recovery, &recovery, CONTEXT)
        .unwrap();
    let file = envelope.seal(1, CONTEXT, TOKEN).unwrap();
    assert_eq!(open(&file, &recovery, CONTEXT).unwrap(), TOKEN);
    assert_eq!(open(&file, &kek(), CONTEXT).unwrap(), TOKEN);

    assert!(envelope.remove_stanza(StanzaKind::Recovery).unwrap());
    assert!(!envelope.remove_stanza(StanzaKind::Recovery).unwrap());
    let file = envelope.seal(2, CONTEXT, TOKEN).unwrap();
    assert!(matches!(
        open(&file, &recovery, CONTEXT),
        Err(Error::WrongKey { .. })
    ));
    assert!(matches!(
        envelope.remove_stanza(StanzaKind::Primary),
        Err(Error::LastStanza)
    ));
}

#[test]
fn rewrapping_the_primary_stanza_rotates_the_key_encryption_key() {
    let new_kek = Key::from_slice(&[0x44; 32]).unwrap();
    let file = sealed(Algorithm::XChaCha20Poly1305);
    let mut envelope = SealedFile::parse(&file)
        .unwrap()
        .open(&kek(), CONTEXT)
        .unwrap()
        .envelope;
    envelope
        .set_stanza(StanzaKind::Primary, &new_kek, CONTEXT)
        .unwrap();
    assert_eq!(envelope.key_id(StanzaKind::Primary), Some(new_kek.id()));
    let rotated = envelope.seal(4, CONTEXT, TOKEN).unwrap();
    assert_eq!(open(&rotated, &new_kek, CONTEXT).unwrap(), TOKEN);
    assert!(matches!(
        open(&rotated, &kek(), CONTEXT),
        Err(Error::WrongKey { .. })
    ));
}

#[test]
fn one_key_cannot_wrap_two_stanzas() {
    let mut envelope = Envelope::new(Algorithm::Aes256Gcm, &kek(), CONTEXT).unwrap();
    assert!(
        envelope
            .set_stanza(StanzaKind::Recovery, &kek(), CONTEXT)
            .is_err()
    );
    assert_eq!(envelope.stanzas().len(), 1);
}

#[test]
fn nonce_of_the_wrong_length_is_refused_by_the_sealer() {
    let sealer = Algorithm::Aes256Gcm.sealer();
    match sealer.seal(&kek(), &[0; 24], b"", b"x") {
        Err(Error::InvalidNonceLength {
            expected: 12,
            len: 24,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn debug_output_never_shows_key_material_or_plaintext() {
    let key = kek();
    let file = sealed(Algorithm::Aes256Gcm);
    let parsed = SealedFile::parse(&file).unwrap();
    let opened = parsed.open(&key, CONTEXT).unwrap();
    let shown = format!("{key:?} {parsed:?} {opened:?} {:?}", parsed.header());
    let token = String::from_utf8_lossy(TOKEN);
    assert!(!shown.contains(token.as_ref()), "{shown}");
    // The key is 0x11 * 32; neither its hex, nor its decimal bytes appear.
    assert!(!shown.contains("1111111111"), "{shown}");
    assert!(!shown.contains("17, 17, 17"), "{shown}");
    assert!(shown.contains(&key.id().to_string()));
}
