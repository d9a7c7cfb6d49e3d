//! A keyring-core application that keeps its credentials in one keyseal
//! sealed file: the code is what any keyring-core application writes, plus
//! the one `set_default_store` line.
//!
//! Run: `cargo run -p keyseal-keyring-store --example keyring_core_app`

#![allow(clippy::print_stdout, reason = "an example says what it did")]

use keyring_core::Entry;

const SERVICE: &str = "com.example.keyring-core-app";

/// Stores a 10 KiB credential and 100 small ones, and reads two back.
pub(crate) fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The one line: every Entry below lives in one sealed file, and the OS
    // keyring holds only that file's key.
    keyring_core::set_default_store(keyseal_keyring_store::KeysealStore::new(SERVICE)?);

    // 10 KiB: four times what Windows' Credential Manager takes per item.
    let refresh_token = "r".repeat(10 * 1024);
    Entry::new(SERVICE, "refresh-token")?.set_password(&refresh_token)?;
    for i in 0..100 {
        Entry::new(SERVICE, &format!("user-{i}"))?.set_password(&format!("secret {i}"))?;
    }

    assert_eq!(
        Entry::new(SERVICE, "refresh-token")?.get_password()?,
        refresh_token
    );
    assert_eq!(Entry::new(SERVICE, "user-99")?.get_password()?, "secret 99");
    println!("stored 101 credentials, one of them 10 KiB");
    Ok(())
}
