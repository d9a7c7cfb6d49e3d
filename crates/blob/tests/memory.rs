#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    clippy::print_stdout,
    unreachable_pub,
    reason = "test code"
)]
//! The in-memory store: the conformance suite and failure injection.

use keyseal_blob::{BlobStore, Decision, Error, MemoryBlobStore, conformance};

#[test]
fn memory_store_passes_the_conformance_suite() {
    conformance::run_all(&MemoryBlobStore::new());
}

fn write(store: &MemoryBlobStore, bytes: &[u8]) -> keyseal_blob::Result<()> {
    store
        .update(&mut |_| Decision::Write(bytes.to_vec()))
        .map(|_| ())
}

#[test]
fn a_failed_write_stores_nothing() {
    let store = MemoryBlobStore::new();
    write(&store, b"one").unwrap();
    store.fail_write_on(2);
    assert!(matches!(write(&store, b"two"), Err(Error::Io { .. })));
    assert_eq!(store.read().unwrap().unwrap().bytes(), b"one");
    write(&store, b"three").unwrap();
    assert_eq!(store.writes(), 3);
}

#[test]
fn a_write_can_fail_after_it_was_stored() {
    let store = MemoryBlobStore::new();
    store.fail_after_write_on(1);
    assert!(write(&store, b"landed").is_err());
    assert_eq!(store.read().unwrap().unwrap().bytes(), b"landed");
}

#[test]
fn an_unreadable_blob_refuses_every_write_until_quarantined() {
    let store = MemoryBlobStore::new();
    write(&store, b"precious").unwrap();
    store.make_unreadable();
    for _ in 0..3 {
        assert!(matches!(
            write(&store, b"clobber"),
            Err(Error::Unreadable { .. })
        ));
        assert!(matches!(store.read(), Err(Error::Unreadable { .. })));
    }
    let name = store.quarantine("unreadable").unwrap().unwrap();
    assert_eq!(store.quarantined(), vec![(name, b"precious".to_vec())]);
    write(&store, b"fresh").unwrap();
    assert_eq!(store.read().unwrap().unwrap().bytes(), b"fresh");
}

#[test]
fn snapshot_debug_shows_the_length_not_the_bytes() {
    let store = MemoryBlobStore::new();
    write(&store, b"sealed-secret-bytes").unwrap();
    let shown = format!("{:?}", store.read().unwrap().unwrap());
    assert!(!shown.contains("sealed"), "{shown}");
    assert!(shown.contains("len: 19"), "{shown}");
}

#[test]
fn a_read_can_be_made_to_fail_once() {
    let store = MemoryBlobStore::new();
    write(&store, b"x").unwrap();
    store.fail_read_on(2);
    assert!(store.read().is_ok());
    assert!(matches!(store.read(), Err(Error::Io { .. })));
    assert_eq!(store.read().unwrap().unwrap().bytes(), b"x");
}
