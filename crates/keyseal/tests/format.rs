//! The two file versions: version 1 (one sealed body) is read and upgraded
//! by the next write; version 2 seals each entry as its own record, so a
//! write reseals only what changed and a damaged record is reported by
//! every operation that covers it, and only by those.
#![cfg(test)]

mod support;

use std::sync::Arc;

use keyseal::blob::FileStore;
use keyseal::keys::MemoryKeyProvider;
use keyseal::seal::{Envelope, Key, SealedFile};
use keyseal::{Algorithm, Error, Store};
use support::TempDir;

const CONTEXT: &str = "com.example.test/format";

fn kek() -> Key {
    Key::from_slice(&[7u8; 32]).unwrap()
}

/// One provider for every store of these tests, as one keyring is for every
/// process: it holds `kek()` (which the hand-made files are sealed for) and
/// every key a new file gets.
fn keys() -> std::sync::Arc<MemoryKeyProvider> {
    static KEYS: std::sync::OnceLock<std::sync::Arc<MemoryKeyProvider>> =
        std::sync::OnceLock::new();
    std::sync::Arc::clone(
        KEYS.get_or_init(|| std::sync::Arc::new(MemoryKeyProvider::with_key(kek()))),
    )
}

fn store(dir: &TempDir) -> Store {
    Store::builder(keys(), FileStore::new(dir.file()), CONTEXT).build()
}

/// The records region of a version-2 file.
fn records(file: &[u8]) -> &[u8] {
    &file[SealedFile::parse(file).unwrap().records()]
}

/// A JSON string value of exactly `len` bytes as stored (quotes included).
fn value(fill: char, len: usize) -> String {
    std::iter::repeat_n(fill, len - 2).collect()
}

#[test]
fn a_version_1_file_opens_and_the_next_write_makes_the_newest_version() {
    let dir = TempDir::new("v1");
    // The version-1 body as docs/FORMAT.md gives it: bundle version 1, one
    // entry "a" = JSON "x" (3 bytes), updated 5.
    let body = [1, 1, 1, b'a', 3, b'"', b'x', b'"', 5];
    let envelope = Envelope::new(Algorithm::Aes256Gcm, &kek(), CONTEXT).unwrap();
    std::fs::write(dir.file(), envelope.seal(1, CONTEXT, &body).unwrap()).unwrap();

    let s = store(&dir);
    assert_eq!(s.status().format_version, Some(1));
    assert_eq!(s.get::<String>("a").unwrap().as_deref(), Some("x"));
    s.set("b", "y").unwrap();
    assert_eq!(
        s.status().format_version,
        Some(keyseal::seal::FORMAT_VERSION)
    );
    let fresh = store(&dir);
    assert_eq!(fresh.list().unwrap(), ["a", "b"]);
    assert_eq!(fresh.get::<String>("a").unwrap().as_deref(), Some("x"));
    assert_eq!(fresh.get::<String>("b").unwrap().as_deref(), Some("y"));
    assert_eq!(fresh.status().generation, Some(2));
}

#[test]
fn a_write_reseals_only_the_entry_it_changes() {
    let dir = TempDir::new("reseal");
    let s = store(&dir);
    s.set("a", &value('a', 300)).unwrap();
    s.set("b", &value('b', 300)).unwrap();
    let before = std::fs::read(dir.file()).unwrap();
    s.set("b", &value('c', 300)).unwrap();
    let after = std::fs::read(dir.file()).unwrap();
    // The records, in name order: "a" then "b", 300 bytes each.
    let (a0, b0) = records(&before).split_at(300);
    let (a1, b1) = records(&after).split_at(300);
    assert_eq!(before.len(), after.len());
    assert_eq!(a0, a1, "a was resealed");
    assert_ne!(b0, b1, "b was not resealed");
    // Neither plaintext is in either file.
    for file in [&before, &after] {
        assert!(!file.windows(20).any(|w| w == [b'a'; 20] || w == [b'c'; 20]));
    }
    assert_eq!(
        store(&dir).get::<String>("b").unwrap(),
        Some(value('c', 300))
    );
}

/// Stores "a" and "b" (200 bytes each) through `s`, then flips a bit in the
/// middle of "a"'s record, the first of the two: the index still opens.
/// Returns the damaged file's bytes.
fn two_entries_with_the_first_record_damaged(s: &Store, dir: &TempDir) -> Vec<u8> {
    s.set("a", &value('a', 200)).unwrap();
    s.set("b", &value('b', 200)).unwrap();
    let mut bytes = std::fs::read(dir.file()).unwrap();
    let at = SealedFile::parse(&bytes).unwrap().records().start + 100;
    bytes[at] ^= 0x10;
    std::fs::write(dir.file(), &bytes).unwrap();
    bytes
}

#[test]
fn a_damaged_record_fails_its_reads_the_listing_and_every_write_and_nothing_else() {
    let dir = TempDir::new("damaged");
    let s = store(&dir);
    let bytes = two_entries_with_the_first_record_damaged(&s, &dir);

    let s = store(&dir);
    assert_eq!(s.get::<String>("b").unwrap(), Some(value('b', 200)));
    for result in [
        s.get::<String>("a").map(|_| ()),
        s.list().map(|_| ()),
        s.entries().map(|_| ()),
        s.set("c", "new"),
        s.remove("b").map(|_| ()),
    ] {
        assert!(matches!(result, Err(Error::Tampered { .. })), "{result:?}");
    }
    assert_eq!(
        std::fs::read(dir.file()).unwrap(),
        bytes,
        "the file changed"
    );
}

#[test]
fn a_rotation_reseals_every_record_under_the_new_data_key() {
    let dir = TempDir::new("rotate");
    let provider = Arc::new(MemoryKeyProvider::new());
    let s = Store::builder(Arc::clone(&provider), FileStore::new(dir.file()), CONTEXT).build();
    s.set("a", &value('a', 200)).unwrap();
    s.set("b", &value('b', 200)).unwrap();
    let before = std::fs::read(dir.file()).unwrap();
    s.rotate_key().unwrap();
    let after = std::fs::read(dir.file()).unwrap();
    let (old, new) = (records(&before), records(&after));
    assert_eq!((old.len(), new.len()), (400, 400));
    assert_ne!(old[..200], new[..200]);
    assert_ne!(old[200..], new[200..]);
    let fresh = Store::builder(provider, FileStore::new(dir.file()), CONTEXT).build();
    assert_eq!(fresh.get::<String>("a").unwrap(), Some(value('a', 200)));
    assert_eq!(fresh.get::<String>("b").unwrap(), Some(value('b', 200)));
}

#[test]
fn every_bit_flip_of_a_small_version_2_store_is_caught_and_never_read_as_a_value() {
    let dir = TempDir::new("flips");
    let s = store(&dir);
    s.set("a", "alpha-value").unwrap();
    s.set("b", "bravo-value").unwrap();
    let good = std::fs::read(dir.file()).unwrap();
    let truth = |name: &str| -> String {
        match name {
            "a" => "alpha-value".to_owned(),
            _ => "bravo-value".to_owned(),
        }
    };
    let mut caught = 0;
    for bit in 0..good.len() * 8 {
        let mut bytes = good.clone();
        bytes[bit / 8] ^= 1 << (bit % 8);
        std::fs::write(dir.file(), &bytes).unwrap();
        let s = store(&dir);
        // Every answer is either an error or the true value: a flipped bit
        // never reads as a value, a name, or an absent entry.
        let mut errors = 0;
        for name in ["a", "b"] {
            match s.get::<String>(name) {
                Ok(Some(v)) => assert_eq!(v, truth(name), "bit {bit}"),
                Ok(None) => panic!("bit {bit}: {name} read as absent"),
                Err(_) => errors += 1,
            }
        }
        match s.list() {
            Ok(names) => assert_eq!(names, ["a", "b"], "bit {bit}"),
            Err(_) => errors += 1,
        }
        // Whatever it hit, the whole-store operations report it.
        assert!(errors > 0, "bit {bit} went unnoticed");
        assert!(s.set("c", "new").is_err(), "bit {bit}: a write went ahead");
        assert_eq!(
            std::fs::read(dir.file()).unwrap(),
            bytes,
            "bit {bit}: file changed"
        );
        caught += 1;
    }
    assert_eq!(caught, good.len() * 8);
}

/// What a version-2 file with one byte flipped at `at` reads as.
fn read_with_flip(dir: &TempDir, good: &[u8], at: usize) -> Result<Option<String>, Error> {
    let mut bytes = good.to_vec();
    bytes[at] ^= 0x01;
    std::fs::write(dir.file(), &bytes).unwrap();
    store(dir).get::<String>("a")
}

#[test]
fn each_kind_of_damage_reads_as_its_own_error() {
    let dir = TempDir::new("byteclass");
    let s = store(&dir);
    s.set("a", "x").unwrap();
    s.set("b", "y").unwrap();
    let good = std::fs::read(dir.file()).unwrap();
    let file = SealedFile::parse(&good).unwrap();
    let records = file.records();
    // AES-256-GCM: stanzas of 65 + 12 bytes from offset 21.
    let key_id = 22..38;
    let stanza_nonce = 38..50;
    let wrapped = 50..98;
    let index_nonce = 98..110;
    type Check = fn(&Result<Option<String>, Error>) -> bool;
    let classes: [(&str, std::ops::Range<usize>, Check); 11] = [
        ("magic", 0..8, |r| matches!(r, Err(Error::NotAStore { .. }))),
        // 3 flipped to 2: an older version, and the header (version
        // included) is the index's associated data.
        ("format version", 9..10, |r| {
            matches!(r, Err(Error::Tampered { .. }))
        }),
        ("algorithm id", 10..11, |r| {
            matches!(r, Err(Error::Corrupt { .. }))
        }),
        ("flags", 11..12, |r| matches!(r, Err(Error::Corrupt { .. }))),
        ("generation", 12..20, |r| {
            matches!(r, Err(Error::Tampered { .. }))
        }),
        ("stanza key id", key_id, |r| {
            matches!(r, Err(Error::KeyMissing { .. }))
        }),
        ("stanza nonce", stanza_nonce, |r| {
            matches!(r, Err(Error::Tampered { .. }))
        }),
        ("wrapped key", wrapped, |r| {
            matches!(r, Err(Error::Tampered { .. }))
        }),
        ("index nonce", index_nonce, |r| {
            matches!(r, Err(Error::Tampered { .. }))
        }),
        // Record "a" comes first; reading it fails, as it must.
        ("record", records.start..records.start + 1, |r| {
            matches!(r, Err(Error::Tampered { .. }))
        }),
        ("index", good.len() - 20..good.len(), |r| {
            matches!(r, Err(Error::Tampered { .. }))
        }),
    ];
    for (class, range, expected) in classes {
        for at in range {
            let result = read_with_flip(&dir, &good, at);
            assert!(expected(&result), "{class} (byte {at}): {result:?}");
        }
    }
    // A version this build does not know yet.
    let mut newer = good.clone();
    newer[9] = 4;
    std::fs::write(dir.file(), &newer).unwrap();
    let result = store(&dir).get::<String>("a");
    assert!(
        matches!(
            result,
            Err(Error::UnsupportedVersion {
                what: keyseal::VersionField::Format,
                found: 4,
                ..
            })
        ),
        "{result:?}"
    );
    // Truncated and extended.
    for bytes in [&good[..good.len() - 1], &[&good[..], b"x"].concat()[..]] {
        std::fs::write(dir.file(), bytes).unwrap();
        let result = store(&dir).get::<String>("a");
        assert!(matches!(result, Err(Error::Corrupt { .. })), "{result:?}");
    }
    std::fs::write(dir.file(), &good).unwrap();
    assert_eq!(
        store(&dir).get::<String>("a").unwrap().as_deref(),
        Some("x")
    );
}

#[test]
fn another_applications_file_reads_as_a_missing_key_a_wrong_key_or_tampered() {
    let dir = TempDir::new("foreign");
    let theirs = Key::generate().unwrap();
    Store::builder(
        MemoryKeyProvider::given(theirs.duplicate()),
        FileStore::new(dir.file()),
        "com.other.app",
    )
    .build()
    .set("a", "theirs")
    .unwrap();
    // Our keyring has no key of that id.
    assert!(matches!(
        store(&dir).get::<String>("a"),
        Err(Error::KeyMissing { .. })
    ));
    // Our given key is another.
    let given = Store::builder(
        MemoryKeyProvider::given(Key::generate().unwrap()),
        FileStore::new(dir.file()),
        CONTEXT,
    )
    .build();
    assert!(matches!(
        given.get::<String>("a"),
        Err(Error::WrongKey { .. })
    ));
    // The same key under another context.
    let same_key = Store::builder(
        MemoryKeyProvider::given(theirs),
        FileStore::new(dir.file()),
        CONTEXT,
    )
    .build();
    assert!(matches!(
        same_key.get::<String>("a"),
        Err(Error::Tampered { .. })
    ));
}

#[test]
fn records_swapped_between_entries_or_spliced_from_another_generation_are_tampered() {
    let dir = TempDir::new("splice");
    let s = store(&dir);
    s.set("a", &value('a', 64)).unwrap();
    s.set("b", &value('b', 64)).unwrap();
    let older = std::fs::read(dir.file()).unwrap();
    s.set("b", &value('c', 64)).unwrap();
    let newer = std::fs::read(dir.file()).unwrap();
    let records = SealedFile::parse(&newer).unwrap().records();
    let half = records.start + (records.end - records.start) / 2;

    // The two records swapped: same lengths, each under the other's name.
    let mut swapped = newer.clone();
    let (first, second) = (
        newer[records.start..half].to_vec(),
        newer[half..records.end].to_vec(),
    );
    swapped[records.start..records.start + second.len()].copy_from_slice(&second);
    swapped[records.start + second.len()..records.end].copy_from_slice(&first);
    std::fs::write(dir.file(), &swapped).unwrap();
    for name in ["a", "b"] {
        let result = store(&dir).get::<String>(name);
        assert!(
            matches!(result, Err(Error::Tampered { .. })),
            "{name}: {result:?}"
        );
    }

    // The records region of the older generation in the newer file.
    let mut spliced = newer.clone();
    spliced[records.clone()].copy_from_slice(&older[SealedFile::parse(&older).unwrap().records()]);
    std::fs::write(dir.file(), &spliced).unwrap();
    let result = store(&dir).get::<String>("b");
    assert!(matches!(result, Err(Error::Tampered { .. })), "{result:?}");
    let listing = store(&dir).list();
    assert!(
        matches!(listing, Err(Error::Tampered { .. })),
        "{listing:?}"
    );
}

#[test]
fn a_damaged_record_is_quarantined_by_a_get_and_by_a_set_under_the_quarantine_policy() {
    // The index opens; only one record does not. The policy still knows
    // which file it judged, and moves exactly that one aside.
    for operation in ["get", "set"] {
        let dir = TempDir::new("damaged-record-quarantine");
        let s = store(&dir);
        let bytes = two_entries_with_the_first_record_damaged(&s, &dir);
        let s = Store::builder(keys(), FileStore::new(dir.file()), CONTEXT)
            .on_unreadable(keyseal::OnUnreadable::Quarantine)
            .build();
        match operation {
            "get" => assert_eq!(s.get::<String>("a").unwrap(), None, "{operation}"),
            _ => s.set("c", "new").unwrap(),
        }
        let quarantined = s.quarantined();
        assert_eq!(quarantined.len(), 1, "{operation}");
        assert_eq!(std::fs::read(&quarantined[0].location).unwrap(), bytes);
    }
}
