//! keyring-core's behaviour for a credential store, as the store crates'
//! own suites check it (zbus-secret-service-keyring-store's `tests.rs`:
//! round trips, a missing entry, deleting twice, attributes, specifiers and
//! wrappers, search, a non-UTF-8 password, entries of one service from many
//! threads), run against `KeysealStore` over three inner key providers: the
//! real Secret Service, the real kernel keyring, and memory; and what a
//! sealed store adds: a damaged file or a missing key is never `NoEntry`
//! and never written over.
#![cfg(test)]

use std::collections::HashMap;
use std::sync::Arc;

use keyring_core::api::{CredentialPersistence, CredentialStoreApi as _};
use keyring_core::{CredentialStore, Entry, Error};
use keyseal::Store;
use keyseal::blob::{FileStore, MemoryBlobStore};
use keyseal::keys::{Backend, EnvKeyProvider, KeyProvider, KeyringProvider, MemoryKeyProvider};
use keyseal_keyring_store::{KeysealCredential, KeysealStore, VENDOR, entry_name};
use keyseal_testkit::{TempDir, skip, unique};

/// Where the store's key lives in a run of the suite.
#[derive(Clone, Copy, Debug)]
enum Inner {
    SecretService,
    KernelKeyring,
    Memory,
}

/// A `KeysealStore` over a fresh sealed file, its key in `inner`; the key
/// is deleted from the keyring when dropped.
struct Fixture {
    _dir: TempDir,
    path: std::path::PathBuf,
    store: Arc<CredentialStore>,
    keys: Option<KeyringProvider>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(keys) = &self.keys {
            let sealed =
                Store::builder(MemoryKeyProvider::new(), FileStore::new(&self.path), "any")
                    .build()
                    .status()
                    .key_id;
            if let Some(id) = sealed {
                let _ = keys.delete(&id);
            }
        }
    }
}

const CONTEXT: &str = "com.example.test/keyring-store";

fn fixture(inner: Inner) -> Option<Fixture> {
    let dir = TempDir::new("keyring-store");
    let path = dir.file();
    let (store, keys) = match inner {
        Inner::Memory => (
            KeysealStore::with_persistence(
                Store::builder(MemoryKeyProvider::new(), MemoryBlobStore::new(), CONTEXT).build(),
                CredentialPersistence::ProcessOnly,
            )
            .unwrap(),
            None,
        ),
        Inner::SecretService | Inner::KernelKeyring => {
            let backend = match inner {
                Inner::SecretService => Backend::SecretService,
                _ => Backend::KernelKeyring,
            };
            let keys = KeyringProvider::builder(unique("keyring-store"), "store-key")
                .backend(backend)
                .build();
            if let Err(e) = keys.load(&keyseal::seal::Key::generate().unwrap().id())
                && !matches!(e, keyseal::keys::Error::NotFound { .. })
            {
                skip(&format!("{inner:?} does not answer: {e}"));
                return None;
            }
            let store = Store::builder(keys.clone(), FileStore::new(&path), CONTEXT).build();
            (KeysealStore::from_store(store).unwrap(), Some(keys))
        }
    };
    let store: Arc<CredentialStore> = store;
    Some(Fixture {
        _dir: dir,
        path,
        store,
        keys,
    })
}

fn each_inner(check: impl Fn(&Fixture, Inner)) {
    for inner in [Inner::SecretService, Inner::KernelKeyring, Inner::Memory] {
        if let Some(f) = fixture(inner) {
            check(&f, inner);
        }
    }
}

fn entry(f: &Fixture, service: &str, user: &str) -> Entry {
    Entry::new_in_store(&f.store, service, user).unwrap()
}

fn name() -> String {
    unique("cred")
}

#[test]
fn vendor_is_stable_and_ids_tell_instances_apart() {
    each_inner(|f, inner| {
        assert_eq!(f.store.vendor(), VENDOR);
        assert_eq!(f.store.vendor(), f.store.vendor());
        assert_eq!(f.store.id(), f.store.id());
        let other = fixture(inner).unwrap();
        assert_eq!(other.store.vendor(), f.store.vendor());
        assert_ne!(other.store.id(), f.store.id(), "{inner:?}");
        // From the key provider: the kernel keyring forgets at reboot.
        let persistence = f.store.persistence();
        match inner {
            Inner::Memory => assert!(matches!(persistence, CredentialPersistence::ProcessOnly)),
            Inner::KernelKeyring => assert!(
                matches!(persistence, CredentialPersistence::UntilReboot),
                "{inner:?}"
            ),
            Inner::SecretService => assert!(
                matches!(persistence, CredentialPersistence::UntilDelete),
                "{inner:?}"
            ),
        }
    });
}

#[test]
fn a_missing_entry_is_no_entry_for_every_read_and_delete() {
    each_inner(|f, inner| {
        let e = entry(f, &name(), &name());
        assert!(matches!(e.get_password(), Err(Error::NoEntry)), "{inner:?}");
        assert!(matches!(e.get_secret(), Err(Error::NoEntry)), "{inner:?}");
        assert!(
            matches!(e.get_attributes(), Err(Error::NoEntry)),
            "{inner:?}"
        );
        assert!(
            matches!(e.update_attributes(&HashMap::new()), Err(Error::NoEntry)),
            "{inner:?}"
        );
        assert!(
            matches!(e.get_credential(), Err(Error::NoEntry)),
            "{inner:?}"
        );
        assert!(
            matches!(e.delete_credential(), Err(Error::NoEntry)),
            "{inner:?}"
        );
    });
}

#[test]
fn passwords_and_secrets_round_trip_and_a_deleted_one_is_gone_and_deleting_twice_is_no_entry() {
    each_inner(|f, inner| {
        for password in ["", "test ascii password", "このきれいな花は桜です"] {
            let e = entry(f, &name(), &name());
            e.set_password(password).unwrap();
            assert_eq!(e.get_password().unwrap(), password, "{inner:?}");
            e.delete_credential().unwrap();
            assert!(matches!(e.get_password(), Err(Error::NoEntry)));
            assert!(
                matches!(e.delete_credential(), Err(Error::NoEntry)),
                "{inner:?}"
            );
        }
        // 0xff is never UTF-8.
        let e = entry(f, &name(), &name());
        let secret: Vec<u8> = (0..=255u8).rev().collect();
        e.set_secret(&secret).unwrap();
        assert_eq!(e.get_secret().unwrap(), secret);
        match e.get_password() {
            Err(Error::BadEncoding(bytes)) => assert_eq!(bytes, secret),
            other => panic!("{inner:?}: {other:?}"),
        }
        // An update replaces the value.
        e.set_password("updated").unwrap();
        assert_eq!(e.get_password().unwrap(), "updated");
        e.set_secret(&[0xff; 10 * 1024]).unwrap();
        assert_eq!(e.get_secret().unwrap(), vec![0xff; 10 * 1024], "10 KiB");
        e.delete_credential().unwrap();
    });
}

#[test]
fn entries_with_the_same_specifiers_share_a_credential_and_others_do_not() {
    each_inner(|f, inner| {
        let (a, b) = (name(), name());
        let e1 = entry(f, &a, &b);
        let e2 = entry(f, &a, &b);
        let e3 = entry(f, &b, &a);
        e1.set_password("test password").unwrap();
        assert_eq!(e2.get_password().unwrap(), "test password", "{inner:?}");
        assert!(matches!(e3.get_password(), Err(Error::NoEntry)));
        e1.delete_credential().unwrap();
        assert!(matches!(e2.get_password(), Err(Error::NoEntry)));
        assert!(matches!(e3.delete_credential(), Err(Error::NoEntry)));
    });
}

#[test]
fn attributes_are_the_specifiers_and_none_can_be_updated() {
    each_inner(|f, inner| {
        let (service, user) = (name(), name());
        let e = entry(f, &service, &user);
        e.set_password("foobar").unwrap();
        let attributes = e.get_attributes().unwrap();
        assert_eq!(attributes.len(), 2, "{inner:?}");
        assert_eq!(attributes["service"], service);
        assert_eq!(attributes["username"], user);
        for key in ["service", "username", "label", "random"] {
            match e.update_attributes(&HashMap::from([(key, "x")])) {
                Err(Error::Invalid(attribute, _)) => assert_eq!(attribute, key),
                other => panic!("{inner:?} {key}: {other:?}"),
            }
        }
        e.update_attributes(&HashMap::new()).unwrap();
        assert_eq!(e.get_attributes().unwrap(), attributes);
        assert_eq!(e.get_password().unwrap(), "foobar");
        e.delete_credential().unwrap();
        // The keys are refused first, as keyring-core's stores do, even for
        // an entry that does not exist.
        match e.update_attributes(&HashMap::from([("label", "x")])) {
            Err(Error::Invalid(attribute, _)) => assert_eq!(attribute, "label"),
            other => panic!("{inner:?} on a missing entry: {other:?}"),
        }
        assert!(matches!(
            e.update_attributes(&HashMap::new()),
            Err(Error::NoEntry)
        ));
    });
}

#[test]
fn persistence_of_a_keyring_chosen_at_first_use_is_known_once_its_file_exists() {
    // `KeysealStore::new`'s provider on Linux: the Secret Service, else the
    // kernel keyring, chosen at the first call.
    let dir = TempDir::new("keyring-store-auto");
    let service = unique("keyring-store-auto");
    let open = || {
        let keys = KeyringProvider::builder(&service, "store-key").build();
        KeysealStore::from_store(Store::builder(keys, FileStore::new(dir.file()), CONTEXT).build())
            .unwrap()
    };
    let first = open();
    Entry::new_in_store(
        &(Arc::clone(&first) as Arc<CredentialStore>),
        "svc",
        "alice",
    )
    .unwrap()
    .set_password("kept")
    .unwrap();
    let settled = first.store().provider_info().lifetime;
    assert!(
        matches!(
            settled,
            keyseal::keys::KeyLifetime::UntilDeleted | keyseal::keys::KeyLifetime::UntilReboot
        ),
        "the keyring was not settled by a write: {settled:?}"
    );
    // A new process: nothing used yet, and still the settled answer.
    let again = open();
    assert_eq!(
        again.store().provider_info().lifetime,
        keyseal::keys::KeyLifetime::Unknown,
        "the test needs a keyring chosen at first use"
    );
    let answered = again.persistence();
    assert!(
        match settled {
            keyseal::keys::KeyLifetime::UntilDeleted => {
                matches!(answered, CredentialPersistence::UntilDelete)
            }
            _ => matches!(answered, CredentialPersistence::UntilReboot),
        },
        "persistence() did not follow the keyring chosen ({settled:?})"
    );
    let _ = KeyringProvider::builder(&service, "store-key")
        .build()
        .delete(&first.store().status().key_id.unwrap());
}

#[test]
fn a_specifier_gives_a_wrapper_and_the_wrapper_gives_itself() {
    each_inner(|f, inner| {
        let (service, user) = (name(), name());
        let e = entry(f, &service, &user);
        e.set_password("for the wrapper").unwrap();
        let wrapper = e.get_credential().unwrap();
        let cred: &KeysealCredential = wrapper.as_any().downcast_ref().unwrap();
        assert_eq!(cred.entry_name(), entry_name(&service, &user));
        assert_eq!(
            wrapper.get_specifiers(),
            Some((service.clone(), user.clone()))
        );
        assert_eq!(e.get_specifiers(), Some((service, user)));
        assert_eq!(
            wrapper.get_password().unwrap(),
            "for the wrapper",
            "{inner:?}"
        );
        // A wrapper's get_credential hands back itself.
        assert_eq!(
            wrapper.get_credential().unwrap().get_password().unwrap(),
            "for the wrapper"
        );
        e.delete_credential().unwrap();
        assert!(matches!(wrapper.delete_credential(), Err(Error::NoEntry)));
        assert!(matches!(wrapper.get_credential(), Err(Error::NoEntry)));
    });
}

#[test]
fn modifiers_are_invalid_and_nothing_is_written() {
    each_inner(|f, inner| {
        let modifiers = HashMap::from([("target", "x")]);
        let made = Entry::new_in_store_with_modifiers(&f.store, &name(), &name(), &modifiers);
        assert!(
            matches!(made, Err(Error::Invalid(key, _)) if key == "target"),
            "{inner:?}"
        );
        let long = "x".repeat(keyseal::MAX_NAME_LEN);
        assert!(matches!(
            Entry::new_in_store(&f.store, &long, "u"),
            Err(Error::TooLong(..))
        ));
        assert!(search(f, &[]).is_empty());
    });
}

fn search(f: &Fixture, spec: &[(&str, &str)]) -> Vec<(String, String)> {
    let spec: HashMap<&str, &str> = spec.iter().copied().collect();
    let mut found: Vec<_> = Entry::search_in_store(&f.store, &spec)
        .unwrap()
        .iter()
        .map(|e| e.get_specifiers().unwrap())
        .collect();
    found.sort();
    found
}

#[test]
fn search_finds_by_service_by_user_and_by_both_and_rejects_other_keys() {
    each_inner(|f, inner| {
        let (s1, s2) = ("svc-1/with slash".to_owned(), "svc-2%".to_owned());
        for (s, u) in [(&s1, "alice"), (&s1, "bob"), (&s2, "alice")] {
            entry(f, s, u).set_password(&format!("{s} {u}")).unwrap();
        }
        // Entries of keyseal's own API are not credentials.
        let store: &KeysealStore = f.store.as_any().downcast_ref().unwrap();
        store.store().set_bytes("not-a-credential", b"x").unwrap();

        let pairs = |list: &[(&String, &str)]| -> Vec<(String, String)> {
            let mut v: Vec<_> = list
                .iter()
                .map(|(s, u)| ((*s).clone(), (*u).to_owned()))
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            search(f, &[("service", &s1)]),
            pairs(&[(&s1, "alice"), (&s1, "bob")]),
            "{inner:?}"
        );
        assert_eq!(
            search(f, &[("username", "alice")]),
            pairs(&[(&s1, "alice"), (&s2, "alice")])
        );
        assert_eq!(search(f, &[("user", "bob")]), pairs(&[(&s1, "bob")]));
        assert_eq!(
            search(f, &[("service", &s2), ("username", "alice")]),
            pairs(&[(&s2, "alice")])
        );
        assert_eq!(search(f, &[]).len(), 3);
        assert!(search(f, &[("service", "nobody")]).is_empty());
        assert!(matches!(
            Entry::search_in_store(&f.store, &HashMap::from([("label", "x")])),
            Err(Error::Invalid(key, _)) if key == "label"
        ));
        // What search returns reads and deletes like any entry.
        let found = Entry::search_in_store(&f.store, &HashMap::from([("user", "bob")])).unwrap();
        assert_eq!(found[0].get_password().unwrap(), format!("{s1} bob"));
        found[0].delete_credential().unwrap();
        assert!(search(f, &[("user", "bob")]).is_empty());
    });
}

#[test]
fn many_threads_writing_entries_of_one_service_lose_none() {
    each_inner(|f, inner| {
        let service = name();
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let service = &service;
                scope.spawn(move || {
                    for i in 0..10 {
                        let e = entry(f, service, &format!("user-{thread}-{i}"));
                        e.set_password(&format!("pw-{thread}-{i}")).unwrap();
                    }
                });
            }
        });
        assert_eq!(search(f, &[("service", &service)]).len(), 40, "{inner:?}");
        for thread in 0..4 {
            for i in 0..10 {
                let e = entry(f, &service, &format!("user-{thread}-{i}"));
                assert_eq!(e.get_password().unwrap(), format!("pw-{thread}-{i}"));
            }
        }
    });
}

/// A file store whose key is in memory, shared by every "process" of a
/// test: the damage cases need no keyring.
struct OnDisk {
    dir: TempDir,
    keys: Arc<MemoryKeyProvider>,
}

impl OnDisk {
    fn new() -> Self {
        Self {
            dir: TempDir::new("keyring-store-disk"),
            keys: Arc::new(MemoryKeyProvider::new()),
        }
    }

    fn path(&self) -> std::path::PathBuf {
        self.dir.file()
    }

    /// A new process's store over the file, with `policies` applied.
    fn open(
        &self,
        policies: impl FnOnce(keyseal::StoreBuilder) -> keyseal::StoreBuilder,
    ) -> Arc<CredentialStore> {
        self.try_open(policies).unwrap()
    }

    fn try_open(
        &self,
        policies: impl FnOnce(keyseal::StoreBuilder) -> keyseal::StoreBuilder,
    ) -> keyring_core::Result<Arc<CredentialStore>> {
        let builder = Store::builder(Arc::clone(&self.keys), FileStore::new(self.path()), CONTEXT);
        KeysealStore::from_store(policies(builder).build()).map(|s| s as Arc<CredentialStore>)
    }
}

#[test]
fn a_tampered_file_is_a_platform_failure_never_no_entry_and_is_not_written_over() {
    let disk = OnDisk::new();
    let store = disk.open(|b| b);
    Entry::new_in_store(&store, "svc", "alice")
        .unwrap()
        .set_password("kept")
        .unwrap();
    let mut bytes = std::fs::read(disk.path()).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(disk.path(), &bytes).unwrap();
    let reopened = disk.open(|b| b);
    let e = Entry::new_in_store(&reopened, "svc", "alice").unwrap();
    assert!(
        matches!(e.get_password(), Err(Error::PlatformFailure(_))),
        "{:?}",
        e.get_password()
    );
    assert!(matches!(e.get_attributes(), Err(Error::PlatformFailure(_))));
    assert!(matches!(e.get_credential(), Err(Error::PlatformFailure(_))));
    let other = Entry::new_in_store(&reopened, "svc", "bob").unwrap();
    assert!(matches!(
        other.get_password(),
        Err(Error::PlatformFailure(_))
    ));
    assert!(other.set_password("new").is_err());
    assert!(matches!(
        e.delete_credential(),
        Err(Error::PlatformFailure(_))
    ));
    assert!(Entry::search_in_store(&reopened, &HashMap::new()).is_err());
    assert_eq!(std::fs::read(disk.path()).unwrap(), bytes, "written over");
}

#[test]
fn a_missing_key_or_a_key_provider_that_does_not_answer_is_no_storage_access() {
    let disk = OnDisk::new();
    Entry::new_in_store(&disk.open(|b| b), "svc", "alice")
        .unwrap()
        .set_password("kept")
        .unwrap();
    let before = std::fs::read(disk.path()).unwrap();
    // Another provider without the key: the key is missing.
    let missing: Arc<CredentialStore> = KeysealStore::from_store(
        Store::builder(
            MemoryKeyProvider::new(),
            FileStore::new(disk.path()),
            CONTEXT,
        )
        .build(),
    )
    .unwrap();
    // A provider that does not answer (its variable is unset): unavailable.
    let unavailable: Arc<CredentialStore> = KeysealStore::from_store(
        Store::builder(
            EnvKeyProvider::new(unique("KEYSEAL_TEST_UNSET")),
            FileStore::new(disk.path()),
            CONTEXT,
        )
        .build(),
    )
    .unwrap();
    for (what, store) in [("missing", &missing), ("unavailable", &unavailable)] {
        let e = Entry::new_in_store(store, "svc", "alice").unwrap();
        match e.get_password() {
            Err(Error::NoStorageAccess(source)) => {
                assert!(
                    source.downcast_ref::<keyseal::Error>().is_some(),
                    "{what}: {source}"
                );
            }
            other => panic!("{what}: {other:?}"),
        }
        assert!(
            matches!(
                Entry::new_in_store(store, "svc", "bob")
                    .unwrap()
                    .set_password("x"),
                Err(Error::NoStorageAccess(_))
            ),
            "{what}"
        );
        assert_eq!(std::fs::read(disk.path()).unwrap(), before, "{what}");
    }
}

#[test]
fn a_store_that_went_to_memory_never_answers_no_entry_and_one_that_would_move_its_file_aside_is_refused()
 {
    use keyseal::{OnKeyringUnavailable, OnUnreadable};
    let disk = OnDisk::new();
    Entry::new_in_store(&disk.open(|b| b), "svc", "alice")
        .unwrap()
        .set_password("kept")
        .unwrap();
    let before = std::fs::read(disk.path()).unwrap();
    // The key provider does not answer and the store runs in memory.
    let in_memory: Arc<CredentialStore> = KeysealStore::from_store(
        Store::builder(
            EnvKeyProvider::new(unique("KEYSEAL_TEST_UNSET")),
            FileStore::new(disk.path()),
            CONTEXT,
        )
        .on_keyring_unavailable(OnKeyringUnavailable::MemoryOnly)
        .build(),
    )
    .unwrap();
    let e = Entry::new_in_store(&in_memory, "svc", "alice").unwrap();
    assert!(
        matches!(e.get_password(), Err(Error::NoStorageAccess(_))),
        "{:?}",
        e.get_password()
    );
    assert!(matches!(
        e.set_password("lost at exit"),
        Err(Error::NoStorageAccess(_))
    ));
    assert!(matches!(
        e.delete_credential(),
        Err(Error::NoStorageAccess(_))
    ));
    assert!(Entry::search_in_store(&in_memory, &HashMap::new()).is_err());
    assert_eq!(std::fs::read(disk.path()).unwrap(), before);

    // A store that would move a damaged file aside and start empty is
    // refused when it is made: the next process would read every
    // credential as never stored.
    let mut bytes = before.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(disk.path(), &bytes).unwrap();
    match disk.try_open(|b| b.on_unreadable(OnUnreadable::Quarantine)) {
        Err(Error::Invalid(what, _)) => assert_eq!(what, "on_unreadable"),
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("a quarantining store was accepted"),
    }
    assert_eq!(std::fs::read(disk.path()).unwrap(), bytes, "the file moved");
}

#[test]
fn installed_as_the_default_store_entry_new_writes_the_sealed_file() {
    // (keyseal-keys never uses keyring-core's default store, so there is
    // nothing to recurse into; this shows Entry::new lands in the file.)
    let Some(f) = fixture(Inner::KernelKeyring)
        .or_else(|| fixture(Inner::SecretService))
        .or_else(|| fixture(Inner::Memory))
    else {
        return;
    };
    keyring_core::set_default_store(Arc::clone(&f.store));
    let e = Entry::new("svc", "default-store-user").unwrap();
    e.set_password("through the default").unwrap();
    assert_eq!(e.get_password().unwrap(), "through the default");
    let store: &KeysealStore = f.store.as_any().downcast_ref().unwrap();
    assert_eq!(
        store
            .store()
            .get_bytes(&entry_name("svc", "default-store-user"))
            .unwrap()
            .map(|v| keyseal::ExposeSecret::expose_secret(&v).to_vec()),
        Some(b"through the default".to_vec())
    );
    keyring_core::unset_default_store();
}
