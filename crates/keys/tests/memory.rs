#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    unreachable_pub,
    reason = "test code"
)]
//! The in-memory provider: the conformance suite, counters and fault injection.

use std::sync::Arc;
use std::time::Duration;

use keyseal_keys::conformance::{self, Capabilities};
use keyseal_keys::{
    Error, KeyLifetime, KeyProvider, MemoryKeyProvider, Operation, ProviderKind, UnavailableReason,
};

#[test]
fn memory_provider_passes_the_conformance_suite() {
    conformance::run_all(&MemoryKeyProvider::new(), Capabilities::WRITABLE);
}

#[test]
fn memory_provider_works_as_a_shared_trait_object() {
    let provider: Arc<dyn KeyProvider> = Arc::new(MemoryKeyProvider::new());
    conformance::run_all(&provider, Capabilities::WRITABLE);
}

#[test]
fn calls_are_counted_per_operation() {
    let provider = MemoryKeyProvider::new();
    assert!(
        provider
            .load(&keyseal_keys::Key::generate().unwrap().id())
            .is_err()
    );
    let key = provider.create().unwrap();
    for _ in 0..3 {
        assert_eq!(provider.load(&key.id()).unwrap().id(), key.id());
    }
    assert_eq!(provider.calls(Operation::Load), 4);
    assert_eq!(provider.calls(Operation::Create), 1);
    assert_eq!(provider.calls(Operation::Delete), 0);
    assert_eq!(provider.total_calls(), 5);
    assert_eq!(provider.key_ids(), [key.id()]);
    assert!(provider.holds(&key.id()));
    assert_eq!(
        provider.total_calls(),
        5,
        "key_ids must not count as a call"
    );
}

#[test]
fn fail_on_the_nth_call_only() {
    let provider = MemoryKeyProvider::new();
    let id = provider.create().unwrap().id();
    provider.fail_unavailable_on(Operation::Load, 2, UnavailableReason::Locked);
    assert!(provider.load(&id).is_ok());
    match provider.load(&id) {
        Err(Error::Unavailable {
            reason: UnavailableReason::Locked,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    assert!(provider.load(&id).is_ok());
    assert_eq!(provider.calls(Operation::Load), 3);
}

#[test]
fn a_failed_create_stores_nothing() {
    let provider = MemoryKeyProvider::new();
    provider.fail_unavailable_on(
        Operation::Create,
        1,
        UnavailableReason::TimedOut(Duration::from_secs(1)),
    );
    assert!(provider.create().is_err());
    assert!(provider.key_ids().is_empty());
    assert!(provider.create().is_ok());
    assert_eq!(provider.key_ids().len(), 1);
}

#[test]
fn a_blocked_call_waits_for_its_release() {
    let provider = Arc::new(MemoryKeyProvider::new());
    let id = provider.create().unwrap().id();
    let guard = provider.block_on(Operation::Load, 1);
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = {
        let provider = Arc::clone(&provider);
        std::thread::spawn(move || {
            let result = provider.load(&id).map(|k| k.id());
            tx.send(()).unwrap();
            result
        })
    };
    // The call has not returned while the guard is held.
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    guard.release();
    rx.recv_timeout(Duration::from_secs(10))
        .expect("released call returns");
    assert!(worker.join().unwrap().is_ok());
}

#[test]
fn memory_provider_reports_a_process_lifetime() {
    let info = MemoryKeyProvider::new().info();
    assert_eq!(info.kind, ProviderKind::Memory);
    assert_eq!(info.lifetime, KeyLifetime::Process);
}

#[test]
fn a_given_key_seals_new_files_and_answers_ids_it_does_not_hold() {
    let key = keyseal_keys::Key::generate().unwrap();
    let id = key.id();
    let provider = MemoryKeyProvider::given(key);
    assert_eq!(provider.given().unwrap().unwrap().id(), id);
    let other = keyseal_keys::Key::generate().unwrap().id();
    assert_eq!(
        provider.load(&other).unwrap().id(),
        id,
        "not like an environment variable"
    );
    let created = provider.create().unwrap();
    assert_eq!(provider.load(&created.id()).unwrap().id(), created.id());
}
