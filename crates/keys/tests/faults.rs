//! `testing::FaultyProvider`: counts and scripted failures around any
//! provider.
#![cfg(test)]

use std::sync::Arc;
use std::time::Duration;

use keyseal_keys::testing::{FaultyProvider, Operation};
use keyseal_keys::{
    EnvKeyProvider, Error, KeyFileProvider, KeyProvider, MemoryKeyProvider, UnavailableReason,
};

#[test]
fn calls_are_counted_per_operation() {
    let provider = FaultyProvider::new(MemoryKeyProvider::new());
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
    assert_eq!(provider.inner().key_ids(), [key.id()]);
    assert!(provider.inner().holds(&key.id()));
    assert_eq!(
        provider.total_calls(),
        5,
        "the wrapped provider's own inspection is not a call"
    );
}

#[test]
fn fail_on_the_nth_call_only() {
    let provider = FaultyProvider::new(MemoryKeyProvider::new());
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
    let provider = FaultyProvider::new(MemoryKeyProvider::new());
    provider.fail_unavailable_on(
        Operation::Create,
        1,
        UnavailableReason::TimedOut(Duration::from_secs(1)),
    );
    assert!(provider.create().is_err());
    assert!(provider.inner().key_ids().is_empty());
    assert!(provider.create().is_ok());
    assert_eq!(provider.inner().key_ids().len(), 1);
}

#[test]
fn a_blocked_call_waits_for_its_release() {
    let provider = Arc::new(FaultyProvider::new(MemoryKeyProvider::new()));
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
fn any_provider_can_be_made_to_fail_a_key_file_and_the_environment_too() {
    let dir = keyseal_testkit::TempDir::new("faulty-key-file");
    let path = dir.path().join("key");
    std::fs::write(&path, [7u8; 32]).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let file = FaultyProvider::new(KeyFileProvider::new(&path));
    let id = file.given().unwrap().unwrap().id();
    file.fail_unavailable_on(Operation::Load, 1, UnavailableReason::NoService);
    assert!(matches!(
        file.load(&id),
        Err(Error::Unavailable {
            reason: UnavailableReason::NoService,
            ..
        })
    ));
    assert_eq!(
        file.load(&id).unwrap().id(),
        id,
        "only the first call fails"
    );
    assert_eq!(file.info().kind, file.inner().info().kind);

    let var = keyseal_testkit::unique("KEYSEAL_TEST_FAULTY");
    let env = FaultyProvider::new(EnvKeyProvider::new(&var));
    env.fail_on(Operation::Delete, 1, || Error::NotFound {
        location: "scripted".to_owned(),
    });
    assert!(matches!(
        env.delete(&id),
        Err(Error::NotFound { location }) if location == "scripted"
    ));
    assert_eq!(env.calls(Operation::Delete), 1);
}
