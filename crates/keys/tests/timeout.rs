//! A Secret Service that never answers: a real Unix socket posing as the
//! session bus, which accepts connections and then says nothing. Each case
//! runs in a child process whose `DBUS_SESSION_BUS_ADDRESS` points at it.
#![cfg(test)]
#![cfg(target_os = "linux")]

mod support;

use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use keyseal_keys::{
    Backend, Error, KeyLifetime, KeyProvider, KeyringProvider, ProviderKind, UnavailableReason,
};

const BOUND: Duration = Duration::from_millis(700);

/// Starts a bus that accepts every connection and never answers; returns
/// its address. The listener thread lives as long as the test process.
fn silent_bus() -> String {
    let dir = std::env::temp_dir().join(support::unique("silent-bus"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bus");
    let listener = UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream); // keep it open, never read or write
        }
    });
    format!("unix:path={}", path.display())
}

fn random_id() -> keyseal_keys::KeyId {
    keyseal_keys::Key::generate().unwrap().id()
}

fn provider(backend: Backend) -> KeyringProvider {
    let service = std::env::var("KEYSEAL_TEST_SERVICE").unwrap();
    KeyringProvider::builder(service, "store-key")
        .backend(backend)
        .timeout(BOUND)
        .build()
}

#[test]
#[ignore = "child process of a_secret_service_that_never_answers_times_out"]
fn child_timeout() {
    if !support::is_child() {
        return;
    }
    let provider = provider(Backend::SecretService);
    for call in ["load", "create", "delete"] {
        let started = Instant::now();
        let result = match call {
            "load" => provider.load(&random_id()).map(|_| ()),
            "create" => provider.create().map(|_| ()),
            _ => provider.delete(&random_id()),
        };
        let elapsed = started.elapsed();
        match result {
            Err(Error::Unavailable {
                reason: UnavailableReason::TimedOut(after),
                ..
            }) => {
                assert_eq!(after, BOUND);
            }
            other => panic!("{call}: expected a timeout, got {other:?}"),
        }
        assert!(
            elapsed >= BOUND,
            "{call} returned before the bound: {elapsed:?}"
        );
        // The bound is the contract: the call returns when it expires, not
        // when the service finally answers (it never does).
        assert!(
            elapsed < BOUND + Duration::from_secs(3),
            "{call} took {elapsed:?}"
        );
    }
}

#[test]
fn a_secret_service_that_never_answers_times_out() {
    let bus = silent_bus();
    support::run_child(
        "child_timeout",
        &[
            ("DBUS_SESSION_BUS_ADDRESS", &bus),
            ("KEYSEAL_TEST_SERVICE", &support::unique("timeout")),
        ],
        &[],
    );
}

#[test]
#[ignore = "child process of auto_falls_back_to_the_kernel_keyring_and_says_so"]
fn child_auto_fallback() {
    if !support::is_child() {
        return;
    }
    let provider = provider(Backend::Auto);
    // The kernel keyring does not hold the key, but the Secret Service that
    // did not answer might: unavailable, never "missing", and not chosen.
    match provider.load(&random_id()) {
        Err(Error::Unavailable {
            reason: UnavailableReason::TimedOut(_),
            ..
        }) => {}
        other => panic!("a key that may be in a silent Secret Service: {other:?}"),
    }
    assert_eq!(provider.info().kind, ProviderKind::Undecided);
    // A new key (no file exists) goes to the kernel keyring, which is then
    // chosen and reported.
    let key = match provider.create() {
        Ok(key) => key,
        Err(e @ Error::Unavailable { .. }) => {
            support::skip(&format!("the kernel keyring is not usable either: {e}"));
            return;
        }
        Err(other) => panic!("{other:?}"),
    };
    let info = provider.info();
    assert_eq!(info.kind, ProviderKind::KernelKeyring);
    assert_eq!(info.lifetime, KeyLifetime::UntilReboot);
    // Once chosen, the kernel keyring answers at once: no second timeout.
    let started = Instant::now();
    assert_eq!(provider.load(&key.id()).unwrap().id(), key.id());
    provider.delete(&key.id()).unwrap();
    assert!(
        started.elapsed() < BOUND,
        "the Secret Service was asked again"
    );
}

#[test]
fn auto_falls_back_to_the_kernel_keyring_and_says_so() {
    let bus = silent_bus();
    support::run_child(
        "child_auto_fallback",
        &[
            ("DBUS_SESSION_BUS_ADDRESS", &bus),
            ("KEYSEAL_TEST_SERVICE", &support::unique("auto")),
        ],
        &[],
    );
}
