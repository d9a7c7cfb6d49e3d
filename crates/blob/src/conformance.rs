//! The [`BlobStore`] contract as plain functions, for every store.
//!
//! Each function takes a store, panics with a message on the first broken
//! promise, and leaves the store empty (earlier blobs are quarantined, not
//! deleted, so a file store's directory keeps them).
//!
//! ```
//! use keyseal_blob::{MemoryBlobStore, conformance};
//!
//! conformance::run_all(&MemoryBlobStore::new());
//! ```

#![allow(clippy::panic, reason = "conformance checks are assertions for tests")]

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::{BlobStore, BlobStoreExt, Current, Decided, Decision};

/// Runs every check, starting from and leaving an empty store.
pub fn run_all(store: &dyn BlobStore) {
    empty_store_reads_none(store);
    write_then_read_round_trips(store);
    versions_change_on_every_write_and_only_then(store);
    keep_and_abort_change_nothing(store);
    a_panicking_update_changes_nothing(store);
    closure_errors_pass_through_and_change_nothing(store);
    the_closure_sees_the_last_committed_blob(store);
    concurrent_updates_lose_nothing(store);
    quarantine_keeps_the_blob_and_empties_the_store(store);
    quarantine_of_a_judged_version_never_moves_a_newer_blob(store);
    large_blobs_round_trip(store);
    updates_expecting_a_version_see_the_same_blob(store);
    named_locks_exclude_their_name_only_and_let_updates_run(store);
}

fn empty(store: &dyn BlobStore) {
    store
        .quarantine("conformance-reset", None)
        .unwrap_or_else(|e| panic!("quarantine failed: {e}"));
    assert!(
        matches!(store.read(), Ok(None)),
        "the store is not empty after quarantine"
    );
}

fn write(store: &dyn BlobStore, bytes: &[u8]) -> crate::Version {
    store
        .update(&mut |_| Decision::Write(bytes.to_vec()))
        .unwrap_or_else(|e| panic!("update failed: {e}"))
        .unwrap_or_else(|| panic!("a write reported no version"))
}

fn read(store: &dyn BlobStore) -> Option<Vec<u8>> {
    store
        .read()
        .unwrap_or_else(|e| panic!("read failed: {e}"))
        .map(crate::Snapshot::into_bytes)
}

/// An empty store reads `None`, has no version, and shows the closure `None`.
pub fn empty_store_reads_none(store: &dyn BlobStore) {
    empty(store);
    assert!(
        matches!(store.version(), Ok(None)),
        "an empty store has a version"
    );
    let mut saw = None;
    let version = store
        .update(&mut |current| {
            saw = Some(current.is_none());
            Decision::Keep
        })
        .unwrap_or_else(|e| panic!("update failed: {e}"));
    assert_eq!(saw, Some(true), "the closure did not see an empty store");
    assert_eq!(version, None, "keeping nothing produced a version");
    assert!(
        matches!(store.read(), Ok(None)),
        "keeping an empty store created a blob"
    );
}

/// What an update writes is what the next read returns, byte for byte.
pub fn write_then_read_round_trips(store: &dyn BlobStore) {
    empty(store);
    for blob in [&b"first"[..], b"", b"\x00\xff binary \n", b"second"] {
        let version = write(store, blob);
        let snapshot = store
            .read()
            .unwrap_or_else(|e| panic!("read failed: {e}"))
            .unwrap_or_else(|| panic!("no blob after a write"));
        assert_eq!(
            snapshot.bytes(),
            blob,
            "read returned other bytes than written"
        );
        assert_eq!(
            snapshot.version(),
            version,
            "read's version differs from the write's"
        );
    }
    empty(store);
}

/// Every write changes the version; reads and kept updates do not.
pub fn versions_change_on_every_write_and_only_then(store: &dyn BlobStore) {
    empty(store);
    let mut seen = BTreeSet::new();
    let mut last = None;
    for i in 0..5 {
        // Same length and content every time: the version must still move.
        let version = write(store, b"same-bytes");
        assert!(
            seen.insert(format!("{version:?}")),
            "write {i} reused a version"
        );
        let now = store
            .version()
            .unwrap_or_else(|e| panic!("version failed: {e}"));
        assert_eq!(now, Some(version), "version() disagrees with the write");
        let kept = store
            .update(&mut |_| Decision::Keep)
            .unwrap_or_else(|e| panic!("update failed: {e}"));
        assert_eq!(kept, Some(version), "a kept update changed the version");
        last = Some(version);
    }
    assert_eq!(store.version().ok().flatten(), last);
    empty(store);
}

/// `Keep` and `Abort` leave the blob and its version as they were.
pub fn keep_and_abort_change_nothing(store: &dyn BlobStore) {
    empty(store);
    let version = write(store, b"original");
    for decision in ["keep", "abort"] {
        store
            .update(&mut |_| {
                if decision == "keep" {
                    Decision::Keep
                } else {
                    Decision::Abort
                }
            })
            .unwrap_or_else(|e| panic!("update failed: {e}"));
        assert_eq!(
            read(store).as_deref(),
            Some(&b"original"[..]),
            "{decision} changed the blob"
        );
        assert_eq!(
            store.version().ok().flatten(),
            Some(version),
            "{decision} changed the version"
        );
    }
    empty(store);
}

/// A closure that panics leaves the blob as it was, and the store works on.
pub fn a_panicking_update_changes_nothing(store: &dyn BlobStore) {
    empty(store);
    write(store, b"before the panic");
    let result = catch_unwind(AssertUnwindSafe(|| {
        let _ = store.update(&mut |_| panic!("deliberate panic inside an update"));
    }));
    assert!(result.is_err(), "the panic did not propagate");
    assert_eq!(read(store).as_deref(), Some(&b"before the panic"[..]));
    write(store, b"after the panic");
    assert_eq!(read(store).as_deref(), Some(&b"after the panic"[..]));
    empty(store);
}

/// The closure's own error in [`crate::BlobStoreExt`]: also the store's.
#[derive(Debug, PartialEq)]
enum ClosureError {
    Own(&'static str),
    Store(String),
}

impl From<crate::Error> for ClosureError {
    fn from(e: crate::Error) -> Self {
        Self::Store(e.to_string())
    }
}

/// `update_with` returns the closure's error and writes nothing.
pub fn closure_errors_pass_through_and_change_nothing(store: &dyn BlobStore) {
    empty(store);
    write(store, b"kept");
    let outcome =
        store.update_with(|_| Err::<Decided<()>, _>(ClosureError::Own("the caller's own")));
    assert_eq!(outcome.err(), Some(ClosureError::Own("the caller's own")));
    assert_eq!(read(store).as_deref(), Some(&b"kept"[..]));
    let updated = store
        .update_with(|current| {
            Ok::<_, ClosureError>(Decided::Write {
                bytes: b"new".to_vec(),
                value: current.map(|s| s.bytes().len()),
            })
        })
        .unwrap_or_else(|e| panic!("the update failed: {e:?}"));
    assert_eq!(
        updated.value,
        Some(4),
        "the closure did not see the current blob"
    );
    assert_eq!(store.version().ok().flatten(), updated.version);
    let kept = store
        .update_with(|_| Ok::<_, ClosureError>(Decided::Keep(7)))
        .unwrap_or_else(|e| panic!("the update failed: {e:?}"));
    assert_eq!(kept.value, 7);
    assert_eq!(read(store).as_deref(), Some(&b"new"[..]), "Keep wrote");
    empty(store);
}

/// The closure sees exactly what the last committed update wrote.
pub fn the_closure_sees_the_last_committed_blob(store: &dyn BlobStore) {
    empty(store);
    for i in 0..10u32 {
        store
            .update(&mut |current| {
                let previous = current.map(|s| s.bytes().to_vec()).unwrap_or_default();
                let expected = if i == 0 {
                    Vec::new()
                } else {
                    (i - 1).to_string().into_bytes()
                };
                assert_eq!(previous, expected, "update {i} saw a stale blob");
                Decision::Write(i.to_string().into_bytes())
            })
            .unwrap_or_else(|e| panic!("update failed: {e}"));
    }
    empty(store);
}

/// Eight threads each adding 25 lines through read-modify-write lose none.
pub fn concurrent_updates_lose_nothing(store: &dyn BlobStore) {
    empty(store);
    std::thread::scope(|s| {
        for t in 0..8 {
            s.spawn(move || {
                for i in 0..25 {
                    store
                        .update(&mut |current| {
                            let mut bytes = current.map(|s| s.bytes().to_vec()).unwrap_or_default();
                            bytes.extend_from_slice(format!("t{t}-{i}\n").as_bytes());
                            Decision::Write(bytes)
                        })
                        .unwrap_or_else(|e| panic!("update failed: {e}"));
                }
            });
        }
    });
    let blob = read(store).unwrap_or_default();
    let text = String::from_utf8_lossy(&blob);
    let lines: BTreeSet<&str> = text.lines().collect();
    assert_eq!(text.lines().count(), 200, "lines were lost or duplicated");
    assert_eq!(lines.len(), 200, "lines were duplicated");
    empty(store);
}

/// Quarantine moves the blob aside (it is reported where), leaves the store
/// empty, and is a no-op on an empty store.
pub fn quarantine_keeps_the_blob_and_empties_the_store(store: &dyn BlobStore) {
    empty(store);
    let judged = write(store, b"cannot be opened");
    let moved = store
        .quarantine("Unreadable", Some(judged))
        .unwrap_or_else(|e| panic!("quarantine failed: {e}"))
        .unwrap_or_else(|| panic!("quarantine of a blob reported none"));
    assert!(
        moved.contains("unreadable-"),
        "the new name does not say why: {moved}"
    );
    assert!(
        matches!(store.read(), Ok(None)),
        "the store still has the blob"
    );
    assert!(
        matches!(store.quarantine("again", None), Ok(None)),
        "quarantine of nothing moved something"
    );
    write(store, b"fresh start");
    assert_eq!(read(store).as_deref(), Some(&b"fresh start"[..]));
    empty(store);
}

/// Quarantine given the version the caller judged moves nothing once
/// another writer replaced the blob: the newer blob stays in place.
pub fn quarantine_of_a_judged_version_never_moves_a_newer_blob(store: &dyn BlobStore) {
    empty(store);
    let judged = write(store, b"judged unusable");
    write(store, b"written since by another process");
    assert!(
        matches!(store.quarantine("tampered", Some(judged)), Ok(None)),
        "a blob newer than the judged one was moved aside"
    );
    assert_eq!(
        read(store).as_deref(),
        Some(&b"written since by another process"[..])
    );
    empty(store);
}

/// A 1 MiB blob round-trips intact.
pub fn large_blobs_round_trip(store: &dyn BlobStore) {
    empty(store);
    let blob: Vec<u8> = (0..1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
    write(store, &blob);
    assert!(read(store) == Some(blob), "a large blob changed");
    empty(store);
}

/// [`BlobStore::update_expecting`]: with the current version, the closure
/// sees the blob's true ends (or the whole blob); asking for everything gives
/// the whole blob; with a stale version it gets the whole blob; a write made
/// from either lands.
pub fn updates_expecting_a_version_see_the_same_blob(store: &dyn BlobStore) {
    empty(store);
    let blob: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let version = write(store, &blob);
    let mut seen = Vec::new();
    store
        .update_expecting(Some(version), 8, 4, &mut |current| match current {
            Current::Unchanged { len, head, tail } => {
                assert_eq!(len, 1000, "Unchanged gave the wrong length");
                assert_eq!(Some(head), blob.get(..8), "Unchanged gave the wrong head");
                assert_eq!(Some(tail), blob.get(996..), "Unchanged gave the wrong tail");
                seen.push("unchanged");
                Decision::ReadAll
            }
            Current::Read(snapshot) => {
                let bytes = snapshot.map(|s| s.bytes().to_vec());
                assert_eq!(
                    bytes.as_deref(),
                    Some(blob.as_slice()),
                    "Read gave another blob"
                );
                seen.push("read");
                Decision::Keep
            }
        })
        .unwrap_or_else(|e| panic!("update_expecting failed: {e}"));
    assert_eq!(
        seen.last(),
        Some(&"read"),
        "ReadAll did not give the whole blob"
    );
    // A stale expectation (another writer came first) reads everything.
    let newer = write(store, b"newer");
    let mut saw_read = false;
    store
        .update_expecting(Some(version), 8, 4, &mut |current| {
            if let Current::Read(Some(s)) = current {
                saw_read = s.bytes() == b"newer";
            }
            Decision::Keep
        })
        .unwrap_or_else(|e| panic!("update_expecting failed: {e}"));
    assert!(
        saw_read,
        "a stale version did not give the whole, newer blob"
    );
    // A write decided from the ends lands like any other.
    let written = store
        .update_expecting(Some(newer), 8, 4, &mut |_| {
            Decision::Write(b"from the ends".to_vec())
        })
        .unwrap_or_else(|e| panic!("update_expecting failed: {e}"));
    assert_eq!(store.version().ok().flatten(), written);
    assert_eq!(read(store).as_deref(), Some(&b"from the ends"[..]));
    empty(store);
}

/// A named lock excludes a second taker of the same name (which times out
/// with [`Error::LockTimeout`](crate::Error::LockTimeout)), never one of
/// another name, lets updates run while it is held, and is free again once
/// dropped.
pub fn named_locks_exclude_their_name_only_and_let_updates_run(store: &dyn BlobStore) {
    use std::time::Duration;
    let short = Duration::from_millis(50);
    let held = store
        .named_lock("conformance/a", short)
        .unwrap_or_else(|e| panic!("a free named lock was not taken: {e}"));
    std::thread::scope(|scope| {
        let other = scope.spawn(|| store.named_lock("conformance/a", short).map(|_| ()));
        let result = other
            .join()
            .unwrap_or_else(|_| panic!("the second taker panicked"));
        assert!(
            matches!(result, Err(crate::Error::LockTimeout { .. })),
            "the same name was taken twice: {result:?}"
        );
        let b = scope.spawn(|| store.named_lock("conformance/b", short).map(|_| ()));
        let b = b
            .join()
            .unwrap_or_else(|_| panic!("the taker of another name panicked"));
        assert!(b.is_ok(), "another name waited: {b:?}");
    });
    // The store's own updates do not wait for a named lock.
    write(store, b"under a named lock");
    assert_eq!(read(store).as_deref(), Some(&b"under a named lock"[..]));
    drop(held);
    let again = store.named_lock("conformance/a", short);
    assert!(again.is_ok(), "a dropped named lock stayed held: {again:?}");
    drop(again);
    empty(store);
}
