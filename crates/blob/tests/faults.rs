//! `testing::FaultyBlobStore` and `testing::tamper` around the memory store
//! and the real file store.
#![cfg(test)]

use keyseal_blob::testing::{FaultyBlobStore, tamper};
use keyseal_blob::{BlobStore, Decision, Error, FileStore, MemoryBlobStore, conformance};
use keyseal_testkit::TempDir;

fn write(store: &dyn BlobStore, bytes: &[u8]) -> keyseal_blob::Result<()> {
    store
        .update(&mut |_| Decision::Write(bytes.to_vec()))
        .map(|_| ())
}

/// The same checks over each backend, with a way to see what it stores
/// (for the file store: the file itself).
fn each_backend(check: impl Fn(Box<dyn BlobStore>, &dyn Fn() -> Vec<u8>)) {
    let memory = std::sync::Arc::new(MemoryBlobStore::new());
    check(Box::new(std::sync::Arc::clone(&memory)), &|| {
        memory.read().unwrap().unwrap().into_bytes()
    });
    let dir = TempDir::new("faulty-file");
    let path = dir.file();
    check(Box::new(FileStore::new(&path)), &|| {
        std::fs::read(&path).unwrap()
    });
}

#[test]
fn a_wrapped_store_without_faults_passes_the_conformance_suite() {
    conformance::run_all(&FaultyBlobStore::new(MemoryBlobStore::new()));
    let dir = TempDir::new("faulty-conformance");
    conformance::run_all(&FaultyBlobStore::new(FileStore::new(dir.file())));
}

#[test]
fn a_write_made_to_fail_stores_nothing_in_any_backend() {
    each_backend(|inner, stored| {
        let store = FaultyBlobStore::new(inner);
        write(&store, b"one").unwrap();
        store.fail_write_on(2);
        assert!(matches!(write(&store, b"two"), Err(Error::Io { .. })));
        assert_eq!(stored(), b"one");
        write(&store, b"three").unwrap();
        assert_eq!(store.writes(), 3);
        assert_eq!(stored(), b"three");
    });
}

#[test]
fn a_write_can_land_and_then_report_that_it_is_not_durable() {
    each_backend(|inner, stored| {
        let store = FaultyBlobStore::new(inner);
        store.fail_after_write_on(1);
        assert!(matches!(
            write(&store, b"landed"),
            Err(Error::NotDurable { .. })
        ));
        assert_eq!(stored(), b"landed");
    });
}

#[test]
fn an_unreadable_blob_refuses_every_write_until_quarantined() {
    each_backend(|inner, _| {
        let store = FaultyBlobStore::new(inner);
        write(&store, b"precious").unwrap();
        store.make_unreadable();
        for _ in 0..3 {
            assert!(matches!(
                write(&store, b"clobber"),
                Err(Error::Unreadable { .. })
            ));
            assert!(matches!(store.read(), Err(Error::Unreadable { .. })));
        }
        assert!(store.quarantine("unreadable", None).unwrap().is_some());
        write(&store, b"fresh").unwrap();
        assert_eq!(store.read().unwrap().unwrap().bytes(), b"fresh");
    });
}

#[test]
fn a_read_can_be_made_to_fail_once() {
    each_backend(|inner, _| {
        let store = FaultyBlobStore::new(inner);
        write(&store, b"x").unwrap();
        store.fail_read_on(2);
        assert!(store.read().is_ok());
        assert!(matches!(store.read(), Err(Error::Io { .. })));
        assert_eq!(store.read().unwrap().unwrap().bytes(), b"x");
        assert_eq!(store.reads(), 3);
    });
}

#[test]
fn tamper_flips_the_last_byte_of_the_stored_blob_in_any_backend() {
    each_backend(|store, stored| {
        assert!(!tamper(&store).unwrap(), "nothing to damage yet");
        write(&store, b"sealed").unwrap();
        assert!(tamper(&store).unwrap());
        assert_eq!(stored(), b"seale\x65");
    });
}
