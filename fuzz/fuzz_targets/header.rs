//! The sealed-file parser and opener on arbitrary bytes: never a panic,
//! never an allocation the input did not pay for, never a plaintext from a
//! file that was not sealed for the key.
#![no_main]

use keyseal_seal::{Key, SealedFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = Key::from_slice(&[7u8; 32]).expect("32 bytes");
    if let Ok(file) = SealedFile::parse(data) {
        let header = file.header();
        let _ = (header.version(), header.algorithm(), header.generation(), header.stanzas().len());
        // Random bytes cannot authenticate: opening must fail.
        assert!(file.open(&key, "fuzz").is_err(), "a forged file opened");
    }
});
