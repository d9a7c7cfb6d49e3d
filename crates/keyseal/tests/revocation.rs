//! Revocation that revokes (format version 3): after each operation that
//! replaces key material, the old key material together with any old copy
//! of the file opens no version written afterwards.
//!
//! The attacker here works below the facade, as a thief would: they hold a
//! copy of an old file and the old key (a recovery key's text, or the
//! keyring key), unwrap the old data key with `keyseal::seal`, and try it on
//! the current file. A store made before version 3, with an old symmetric
//! (`KSR1`) recovery key, keeps opening and moves to the new stanza at the
//! first operation that replaces the recovery key.
#![cfg(test)]

use std::sync::Arc;

use keyseal::blob::{BlobStore, MemoryBlobStore};
use keyseal::keys::{KeyProvider, MemoryKeyProvider};
use keyseal::seal::{
    Envelope, FORMAT_VERSION, Key, RecoveryIdentity, SealedFile, StanzaKind, Unlock, X25519_LEN,
};
use keyseal::{Algorithm, Error, RecoveryKey, Store};

const CONTEXT: &str = "com.example.test/revocation";

struct Parts {
    keys: Arc<MemoryKeyProvider>,
    blob: Arc<MemoryBlobStore>,
}

fn parts() -> Parts {
    Parts {
        keys: Arc::new(MemoryKeyProvider::new()),
        blob: Arc::new(MemoryBlobStore::new()),
    }
}

fn store_of(parts: &Parts) -> Store {
    Store::builder(Arc::clone(&parts.keys), Arc::clone(&parts.blob), CONTEXT).build()
}

fn file(parts: &Parts) -> Vec<u8> {
    parts.blob.read().unwrap().unwrap().into_bytes()
}

/// The attacker's decoding of a `KSR2-…` text (docs/FORMAT.md, "Recovery
/// key text"), written here from the document, not with keyseal's parser.
fn identity_from_text(text: &str) -> RecoveryIdentity {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let body: String = text
        .strip_prefix("KSR2")
        .expect("a KSR2 key")
        .chars()
        .filter(|c| *c != '-')
        .collect();
    let mut bytes = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for c in body.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
        }
    }
    let mut secret = [0u8; X25519_LEN];
    secret.copy_from_slice(&bytes[..X25519_LEN]);
    RecoveryIdentity::from_bytes(&secret)
}

/// What old key material gives an attacker who holds an old copy.
enum Stolen<'a> {
    RecoveryText(&'a str),
    KeyringKey(&'a Key),
}

/// Whether `stolen` with the `old` copy of the file opens the index of the
/// `current` file (the index names every entry; a record opens with the
/// same data key).
fn opens_current(stolen: &Stolen<'_>, old: &[u8], current: &[u8]) -> bool {
    let old = SealedFile::parse(old).unwrap();
    let data_key = match stolen {
        Stolen::RecoveryText(text) => old
            .unwrap_with_identity(&identity_from_text(text), CONTEXT)
            .expect("the old recovery key opens the old copy"),
        Stolen::KeyringKey(key) => old
            .unwrap_data_key(key, CONTEXT)
            .expect("the old keyring key opens the old copy"),
    };
    opens_with_data_key(&data_key, current)
}

/// Whether `data_key` opens the entries of the file `bytes`.
fn opens_with_data_key(data_key: &Key, bytes: &[u8]) -> bool {
    let shared = Arc::new(bytes.to_vec());
    SealedFile::parse(&shared)
        .unwrap()
        .open_entries(&shared, Unlock::DataKey(data_key), CONTEXT)
        .is_ok()
}

/// The keyring key the current file is sealed for (read before an
/// operation retires it).
fn keyring_key(parts: &Parts) -> Key {
    let bytes = file(parts);
    let header = SealedFile::parse(&bytes).unwrap().header().clone();
    parts
        .keys
        .load(&header.key_id(StanzaKind::Primary).unwrap())
        .unwrap()
}

#[test]
fn after_recovery_is_turned_off_the_old_recovery_key_and_an_old_copy_open_nothing_new() {
    let parts = parts();
    let store = store_of(&parts);
    store.set("a", "first").unwrap();
    let recovery = store.enable_recovery().unwrap();
    let old = file(&parts);
    assert!(store.disable_recovery().unwrap());
    store.set("c", "NEW").unwrap();
    let text = recovery.to_text();
    assert!(!opens_current(
        &Stolen::RecoveryText(&text),
        &old,
        &file(&parts)
    ));
    assert_eq!(store.get::<String>("c").unwrap().as_deref(), Some("NEW"));
}

#[test]
fn after_the_recovery_key_is_replaced_the_old_one_and_an_old_copy_open_nothing_new() {
    let parts = parts();
    let store = store_of(&parts);
    store.set("a", "first").unwrap();
    let first = store.enable_recovery().unwrap();
    let old = file(&parts);
    let second = store.enable_recovery().unwrap();
    store.set("c", "NEW").unwrap();
    let current = file(&parts);
    assert!(!opens_current(
        &Stolen::RecoveryText(&first.to_text()),
        &old,
        &current
    ));
    // The new key opens the current file, which names only its recipient.
    assert!(opens_current(
        &Stolen::RecoveryText(&second.to_text()),
        &current,
        &current
    ));
    assert!(matches!(
        store_of(&parts).check_recovery_key(&first),
        Err(Error::WrongRecoveryKey { .. })
    ));
}

#[test]
fn after_recover_with_rotate_recovery_the_old_recovery_key_and_an_old_copy_open_nothing_new() {
    let parts = parts();
    let store = store_of(&parts);
    store.set("a", "first").unwrap();
    let recovery = store.enable_recovery().unwrap();
    let old = file(&parts);
    let replacement = store.recover_and_rotate_recovery(&recovery).unwrap();
    store.set("c", "NEW").unwrap();
    let current = file(&parts);
    assert!(!opens_current(
        &Stolen::RecoveryText(&recovery.to_text()),
        &old,
        &current
    ));
    assert_eq!(store.status().recovery_key_id, Some(replacement.id()));
}

#[test]
fn after_a_rotation_with_recovery_enabled_the_old_keyring_key_and_an_old_copy_open_nothing_new() {
    let parts = parts();
    let store = store_of(&parts);
    store.set("a", "first").unwrap();
    let recovery = store.enable_recovery().unwrap();
    let old = file(&parts);
    let old_key = keyring_key(&parts);
    let rotation = store.rotate_key().unwrap();
    assert_ne!(Some(rotation.key_id), Some(old_key.id()));
    store.set("c", "NEW").unwrap();
    let current = file(&parts);
    assert!(!opens_current(
        &Stolen::KeyringKey(&old_key),
        &old,
        &current
    ));
    // The recovery key was not revoked (no secret was needed to keep it):
    // it opens the current file, and recovers the store.
    assert!(opens_current(
        &Stolen::RecoveryText(&recovery.to_text()),
        &current,
        &current
    ));
    parts.keys.delete(&rotation.key_id).unwrap();
    let fresh = store_of(&parts);
    fresh.recover(&recovery).unwrap();
    assert_eq!(fresh.get::<String>("c").unwrap().as_deref(), Some("NEW"));
    assert_eq!(fresh.get::<String>("a").unwrap().as_deref(), Some("first"));
}

#[test]
fn after_a_recovery_the_old_keyring_key_and_an_old_copy_open_nothing_new() {
    let parts = parts();
    let store = store_of(&parts);
    store.set("a", "first").unwrap();
    let recovery = store.enable_recovery().unwrap();
    let old = file(&parts);
    let old_key = keyring_key(&parts);
    store.recover(&recovery).unwrap();
    store.set("c", "NEW").unwrap();
    assert!(!opens_current(
        &Stolen::KeyringKey(&old_key),
        &old,
        &file(&parts)
    ));
    assert_eq!(store.status().recovery_key_id, Some(recovery.id()));
}

#[test]
fn a_rotation_without_recovery_draws_a_new_data_key_too() {
    let parts = parts();
    let store = store_of(&parts);
    store.set("a", "first").unwrap();
    let old = file(&parts);
    let old_key = keyring_key(&parts);
    store.rotate_key().unwrap();
    assert!(!opens_current(
        &Stolen::KeyringKey(&old_key),
        &old,
        &file(&parts)
    ));
}

// ----- stores made before format version 3 -----

/// The 32 bytes of the old (KSR1) recovery key of the legacy store.
const LEGACY_RECOVERY: [u8; 32] = [0x40; 32];

/// A store as keyseal wrote it before version 3: its key in the provider, a
/// symmetric recovery stanza for `LEGACY_RECOVERY`, and one entry `a` =
/// JSON "x" (a version-1 body, as docs/FORMAT.md gives it).
fn legacy_store() -> Parts {
    let parts = parts();
    let kek = parts.keys.create().unwrap();
    let mut envelope = Envelope::new(Algorithm::Aes256Gcm, &kek, CONTEXT).unwrap();
    let recovery = Key::from_slice(&LEGACY_RECOVERY).unwrap();
    envelope
        .set_stanza(StanzaKind::Recovery, &recovery, CONTEXT)
        .unwrap();
    let body = [1, 1, 1, b'a', 3, b'"', b'x', b'"', 5];
    let bytes = envelope.seal(1, CONTEXT, &body).unwrap();
    parts
        .blob
        .update(&mut |_| keyseal::blob::Decision::Write(bytes.clone()))
        .unwrap();
    parts
}

fn legacy_key() -> RecoveryKey {
    RecoveryKey::parse(
        &RecoveryKey::symmetric_for_tests(&LEGACY_RECOVERY)
            .unwrap()
            .to_text(),
    )
    .unwrap()
}

fn version_of(parts: &Parts) -> u16 {
    SealedFile::parse(&file(parts)).unwrap().header().version()
}

#[test]
fn a_store_with_an_old_recovery_key_keeps_opening_and_writing_as_version_2() {
    let parts = legacy_store();
    let store = store_of(&parts);
    assert_eq!(store.get::<String>("a").unwrap().as_deref(), Some("x"));
    store.set("b", "y").unwrap();
    assert_eq!(version_of(&parts), 2);
    assert_eq!(store.status().recovery_key_id, Some(legacy_key().id()));
    // The old key still recovers, and the recovery draws a new data key
    // wrapped for it again: the old keyring key with an old copy opens
    // nothing written afterwards.
    let old = file(&parts);
    let old_key = keyring_key(&parts);
    store.recover(&legacy_key()).unwrap();
    assert_eq!(version_of(&parts), 2);
    store.set("c", "NEW").unwrap();
    assert!(!opens_current(
        &Stolen::KeyringKey(&old_key),
        &old,
        &file(&parts)
    ));
    assert_eq!(store.status().recovery_key_id, Some(legacy_key().id()));
    let fresh = store_of(&parts);
    assert_eq!(fresh.get::<String>("b").unwrap().as_deref(), Some("y"));
    assert!(legacy_key().is_symmetric());
}

#[test]
fn a_rotation_with_an_old_recovery_key_is_refused_and_changes_nothing() {
    let parts = legacy_store();
    let store = store_of(&parts);
    let before = file(&parts);
    let keys_before = parts.keys.key_ids();
    assert!(matches!(
        store.rotate_key(),
        Err(Error::RecoveryKeyOutdated { .. })
    ));
    assert_eq!(file(&parts), before);
    assert_eq!(parts.keys.key_ids(), keys_before, "a key was made or lost");
}

#[test]
fn replacing_an_old_recovery_key_moves_the_store_to_version_3_and_revokes_the_old_key() {
    for operation in ["enable", "recover --rotate-recovery", "disable"] {
        let parts = legacy_store();
        let store = store_of(&parts);
        let old = file(&parts);
        let new = match operation {
            "enable" => Some(store.enable_recovery().unwrap()),
            "recover --rotate-recovery" => {
                Some(store.recover_and_rotate_recovery(&legacy_key()).unwrap())
            }
            _ => {
                assert!(store.disable_recovery().unwrap());
                None
            }
        };
        store.set("c", "NEW").unwrap();
        assert_eq!(version_of(&parts), FORMAT_VERSION, "{operation}");
        assert_eq!(
            store.status().recovery_key_id,
            new.as_ref().map(RecoveryKey::id),
            "{operation}"
        );
        // The old symmetric key unwraps the old copy's data key, which opens
        // nothing written since.
        let old_data_key = SealedFile::parse(&old)
            .unwrap()
            .unwrap_data_key(&Key::from_slice(&LEGACY_RECOVERY).unwrap(), CONTEXT)
            .unwrap();
        assert!(
            !opens_with_data_key(&old_data_key, &file(&parts)),
            "{operation}: the old data key opens the new file"
        );
        assert!(matches!(
            store_of(&parts).check_recovery_key(&legacy_key()),
            Err(Error::WrongRecoveryKey { .. })
        ));
        let fresh = store_of(&parts);
        assert_eq!(fresh.get::<String>("a").unwrap().as_deref(), Some("x"));
        // A rotation is now allowed.
        fresh.rotate_key().unwrap();
    }
}

#[test]
fn an_old_ksr1_key_is_never_enabled_as_a_new_recovery_key() {
    let parts = parts();
    let store = store_of(&parts);
    store.set("a", "b").unwrap();
    let before = file(&parts);
    assert!(matches!(
        store.enable_recovery_with(&legacy_key()),
        Err(Error::RecoveryKeyOutdated { .. })
    ));
    assert_eq!(file(&parts), before);
}
