//! The environment provider, each case in a child process whose environment
//! is set at start (tests cannot change their own environment safely).
#![cfg(test)]

mod support;

use keyseal_keys::conformance::{self, Capabilities};
use keyseal_keys::{
    EnvKeyProvider, Error, KeyLifetime, KeyProvider, ProviderKind, UnavailableReason,
};

const VAR: &str = "KEYSEAL_TEST_ENV_KEY";
/// Standard base64 of the 32 bytes 0x00..=0x1f.
const GOOD: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn any_id() -> keyseal_keys::KeyId {
    keyseal_keys::Key::generate().unwrap().id()
}

fn provider() -> EnvKeyProvider {
    EnvKeyProvider::new(VAR)
}

/// The error a child gets for the value its parent set, as text.
fn child_error() -> String {
    let err = provider()
        .load(&any_id())
        .expect_err("this value must be refused");
    let shown = format!("{err} / {err:?}");
    let value = std::env::var(VAR).unwrap_or_default();
    if value.trim().len() >= 4 {
        assert!(
            !shown.contains(value.trim()),
            "the error echoes the value: {shown}"
        );
    }
    assert!(
        shown.contains(VAR),
        "the error does not name the variable: {shown}"
    );
    shown
}

#[test]
#[ignore = "child process of env_provider_passes_the_read_only_conformance_suite"]
fn child_conformance() {
    if !support::is_child() {
        return;
    }
    conformance::run_all(&provider(), Capabilities::READ_ONLY);
    let key = provider().load(&any_id()).unwrap();
    assert_eq!(
        key.expose_secret(),
        &core::array::from_fn::<u8, 32, _>(|i| i as u8)
    );
}

#[test]
fn env_provider_passes_the_read_only_conformance_suite() {
    support::run_child("child_conformance", &[(VAR, GOOD)], &[]);
    // Surrounding whitespace (a trailing newline from `base64`) is accepted.
    support::run_child("child_conformance", &[(VAR, &format!("  {GOOD}\n"))], &[]);
}

#[test]
#[ignore = "child process of a missing_variable_is_not_configured"]
fn child_missing() {
    if !support::is_child() {
        return;
    }
    match provider().load(&any_id()) {
        Err(Error::Unavailable {
            reason: UnavailableReason::NotConfigured,
            location,
            ..
        }) => {
            assert!(location.contains(VAR));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_missing_variable_is_not_configured() {
    support::run_child("child_missing", &[], &[VAR]);
}

#[test]
#[ignore = "child process of the malformed-value tests"]
fn child_malformed() {
    if !support::is_child() {
        return;
    }
    let shown = child_error();
    let expected = std::env::var("KEYSEAL_TEST_EXPECT").unwrap();
    assert!(
        shown.contains(&expected),
        "expected {expected:?} in: {shown}"
    );
    assert!(matches!(
        provider().load(&any_id()),
        Err(Error::Malformed { .. })
    ));
}

fn expect_malformed(value: &str, expected: &str) {
    support::run_child(
        "child_malformed",
        &[(VAR, value), ("KEYSEAL_TEST_EXPECT", expected)],
        &[],
    );
}

#[test]
fn a_value_that_is_not_base64_is_malformed_and_not_echoed() {
    expect_malformed("this-is-not-base64-at-all!!", "not valid standard base64");
    // URL-safe base64 is not the standard alphabet.
    expect_malformed(
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh_-",
        "not valid standard base64",
    );
}

#[test]
fn a_value_of_the_wrong_length_is_malformed_and_not_echoed() {
    // 16 bytes: a 128-bit key is not enough.
    expect_malformed("AAECAwQFBgcICQoLDA0ODw==", "decodes to 16 bytes");
    // 33 bytes.
    expect_malformed(
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g",
        "decodes to 33 bytes",
    );
    expect_malformed(&"QUFB".repeat(100), "far longer");
}

#[test]
fn an_empty_value_is_malformed() {
    expect_malformed("   ", "empty");
}

#[test]
fn env_provider_is_read_only_and_reports_an_external_lifetime() {
    let p = provider();
    assert!(matches!(
        p.create(),
        Err(Error::ReadOnly {
            operation: "create",
            ..
        })
    ));
    assert!(matches!(
        p.delete(&any_id()),
        Err(Error::ReadOnly {
            operation: "delete",
            ..
        })
    ));
    let info = p.info();
    assert_eq!(info.kind, ProviderKind::Environment);
    assert_eq!(info.lifetime, KeyLifetime::External);
    assert!(info.location.contains(VAR));
}
