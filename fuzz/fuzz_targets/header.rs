//! The sealed-file parser and opener on arbitrary bytes: never a panic,
//! never an allocation the input did not pay for, never a plaintext from a
//! file that was not sealed for the key.
#![no_main]

use std::sync::Arc;

use keyseal_seal::{Key, RecoveryIdentity, SealedFile, Unlock};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = Key::from_slice(&[7u8; 32]).expect("32 bytes");
    let identity = RecoveryIdentity::from_bytes(&[9u8; 32]);
    let shared = Arc::new(data.to_vec());
    if let Ok(file) = SealedFile::parse(&shared) {
        let header = file.header();
        let _ = (header.version(), header.algorithm(), header.generation(), header.stanzas().len());
        // Random bytes cannot authenticate: opening must fail, with the
        // primary key, a recovery identity or a data key.
        for unlock in [Unlock::Key(&key), Unlock::Identity(&identity), Unlock::DataKey(&key)] {
            assert!(file.open_entries(&shared, unlock, "fuzz").is_err(), "a forged file opened");
        }
    }
});
