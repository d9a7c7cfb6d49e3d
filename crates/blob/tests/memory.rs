//! The in-memory store: the conformance suite, and reads that never wait
//! for an update.
#![cfg(test)]

use keyseal_blob::{BlobStore, Decision, MemoryBlobStore, conformance};

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
fn a_read_inside_an_update_sees_the_committed_blob_as_the_file_store_does() {
    let store = MemoryBlobStore::new();
    write(&store, b"committed").unwrap();
    let mut seen = None;
    store
        .update(&mut |_| {
            // Before the fix this waited on the update's own lock forever.
            seen = Some(store.read().unwrap().unwrap().into_bytes());
            Decision::Write(b"next".to_vec())
        })
        .unwrap();
    assert_eq!(seen.as_deref(), Some(&b"committed"[..]));
    assert_eq!(store.read().unwrap().unwrap().bytes(), b"next");
}

#[test]
fn quarantine_keeps_the_blob_beside_and_the_store_starts_empty() {
    let store = MemoryBlobStore::new();
    write(&store, b"precious").unwrap();
    let name = store.quarantine("unreadable", None).unwrap().unwrap();
    assert!(name.starts_with("memory.unreadable-"), "{name}");
    assert_eq!(store.quarantined(), vec![(name, b"precious".to_vec())]);
    assert!(store.read().unwrap().is_none());
    assert_eq!(store.quarantine("again", None).unwrap(), None);
}

#[test]
fn snapshot_debug_shows_the_length_not_the_bytes() {
    let store = MemoryBlobStore::new();
    write(&store, b"sealed-secret-bytes").unwrap();
    let shown = format!("{:?}", store.read().unwrap().unwrap());
    assert!(!shown.contains("sealed"), "{shown}");
    assert!(shown.contains("len: 19"), "{shown}");
}
