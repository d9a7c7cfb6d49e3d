//! Properties of the sealed-file format over arbitrary inputs: round trips,
//! and every single-bit flip or truncation is an error, never a panic and
//! never a wrong plaintext.

use crate::{Algorithm, Envelope, Error, ExposeSecret, Key, SealedFile, StanzaKind};
use proptest::prelude::*;

const CONTEXT: &str = "com.example.app/mcp-oauth";

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop::sample::select(Algorithm::ALL.to_vec())
}

fn key_from(seed: u8) -> Key {
    Key::from_slice(&[seed; 32]).unwrap()
}

/// Opening `bytes` with `kek` must fail (and must not panic).
fn assert_rejected(bytes: &[u8], kek: &Key, what: &str) {
    let result = SealedFile::parse(bytes).and_then(|f| f.open(kek, CONTEXT));
    assert!(result.is_err(), "{what} was accepted");
}

/// A sealed file with both a primary and a recovery stanza.
fn sealed_with_recovery(alg: Algorithm, plaintext: &[u8]) -> (Vec<u8>, Key, Key) {
    let kek = key_from(1);
    let recovery = key_from(2);
    let mut envelope = Envelope::new(alg, &kek, CONTEXT).unwrap();
    envelope
        .set_stanza(StanzaKind::Recovery, &recovery, CONTEXT)
        .unwrap();
    (envelope.seal(9, CONTEXT, plaintext).unwrap(), kek, recovery)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn open_of_seal_is_identity(
        alg in algorithm(),
        plaintext in prop::collection::vec(any::<u8>(), 0..4096),
        generation in any::<u64>(),
        context in ".{0,64}",
        seed in any::<u8>(),
    ) {
        let kek = key_from(seed);
        let envelope = Envelope::new(alg, &kek, &context).unwrap();
        let file = envelope.seal(generation, &context, &plaintext).unwrap();
        let parsed = SealedFile::parse(&file).unwrap();
        prop_assert_eq!(parsed.header().generation(), generation);
        prop_assert_eq!(parsed.header().algorithm(), alg);
        prop_assert_eq!(parsed.header().key_id(StanzaKind::Primary), Some(kek.id()));
        let opened = parsed.open(&kek, &context).unwrap();
        prop_assert_eq!(opened.plaintext.expose_secret(), &plaintext[..]);
        prop_assert_eq!(opened.generation, generation);

        // The envelope that opening returns seals the next version, which
        // still opens with the same key.
        let next = opened.envelope.seal(generation.wrapping_add(1), &context, b"next").unwrap();
        let reopened = SealedFile::parse(&next).unwrap().open(&kek, &context).unwrap();
        prop_assert_eq!(reopened.plaintext.expose_secret(), b"next");
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let kek = key_from(1);
        let _ = SealedFile::parse(&bytes).and_then(|f| f.open(&kek, CONTEXT));
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_prefix_never_panic(
        alg in 1u8..=2,
        count in any::<u8>(),
        rest in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut bytes = b"keyseal\0\x00\x01".to_vec();
        bytes.extend_from_slice(&[alg, 0, 0, 0, 0, 0, 0, 0, 0, 1, count]);
        bytes.extend_from_slice(&rest);
        let kek = key_from(1);
        prop_assert!(SealedFile::parse(&bytes).and_then(|f| f.open(&kek, CONTEXT)).is_err());
    }

}

proptest! {
    // Each case seals a 64 KiB file and checks 64 damaged copies of it.
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn sampled_bit_flips_of_a_large_file_are_rejected(
        alg in algorithm(),
        positions in prop::collection::vec(any::<prop::sample::Index>(), 64),
    ) {
        let plaintext = vec![0x5a; 64 * 1024];
        let (file, kek, recovery) = sealed_with_recovery(alg, &plaintext);
        for index in positions {
            let bit = index.index(file.len() * 8);
            let mut bad = file.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_rejected(&bad, &kek, &format!("flip of bit {bit}"));
            assert_rejected(&bad, &recovery, &format!("flip of bit {bit} (recovery key)"));
        }
    }

    #[test]
    fn sampled_truncations_of_a_large_file_are_rejected(
        alg in algorithm(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 64),
    ) {
        let (file, kek, _) = sealed_with_recovery(alg, &vec![7; 64 * 1024]);
        for cut in cuts {
            let len = cut.index(file.len());
            assert_rejected(&file[..len], &kek, &format!("truncation to {len} bytes"));
        }
    }
}

#[test]
fn every_single_bit_flip_of_a_small_file_is_rejected() {
    for alg in Algorithm::ALL {
        let (file, kek, recovery) = sealed_with_recovery(alg, b"gho_0123456789");
        for bit in 0..file.len() * 8 {
            let mut bad = file.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_rejected(&bad, &kek, &format!("{alg}: flip of bit {bit}"));
            assert_rejected(
                &bad,
                &recovery,
                &format!("{alg}: flip of bit {bit} (recovery key)"),
            );
        }
    }
}

#[test]
fn every_truncation_and_extension_of_a_small_file_is_rejected() {
    for alg in Algorithm::ALL {
        let (file, kek, _) = sealed_with_recovery(alg, b"gho_0123456789");
        for len in 0..file.len() {
            assert_rejected(&file[..len], &kek, &format!("{alg}: truncation to {len}"));
        }
        let mut longer = file.clone();
        longer.push(0);
        assert!(matches!(
            SealedFile::parse(&longer),
            Err(Error::Malformed { .. })
        ));
    }
}
