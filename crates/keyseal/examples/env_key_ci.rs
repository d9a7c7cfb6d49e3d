//! The environment-key provider for CI and containers: the key comes from a
//! variable a secret manager injects, nothing touches a keyring.
//!
//! Run:
//! ```sh
//! KEYSEAL_KEY=$(head -c 32 /dev/urandom | base64) cargo run -p keyseal --example env_key_ci
//! ```

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "an example shows its results"
)]

use keyseal::blob::FileStore;
use keyseal::keys::EnvKeyProvider;
use keyseal::{Error, Store};

fn main() -> std::process::ExitCode {
    let dir = std::env::temp_dir().join(format!("keyseal-env-example-{}", std::process::id()));
    let store = Store::builder(
        EnvKeyProvider::new("KEYSEAL_KEY"),
        FileStore::new(dir.join("store.sealed")),
        "com.example.ci/deploy-tokens",
    )
    .build();
    let result = store
        .set("registry-token", "example-token")
        .and_then(|()| store.get::<String>("registry-token"));
    let _ = std::fs::remove_dir_all(&dir);
    match result {
        Ok(value) => {
            println!(
                "stored and read back {} bytes",
                value.map_or(0, |v| v.len())
            );
            std::process::ExitCode::SUCCESS
        }
        Err(Error::KeyringUnavailable { source, .. }) => {
            eprintln!("{source}. Set KEYSEAL_KEY to the base64 of 32 random bytes.");
            std::process::ExitCode::from(5)
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}
