//! Storing OAuth tokens for several MCP servers, as an agent would.
//!
//! Run: `cargo run -p keyseal --example oauth_tokens`
//!
//! By default this uses the OS keyring (Linux: Secret Service, else the
//! kernel keyring) and a sealed file in a temporary directory; it deletes
//! both at the end.

#![allow(clippy::print_stdout, reason = "an example shows its results")]

use keyseal::keys::KeyProvider;
use keyseal::{Result, Store};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug)]
struct OAuthToken {
    access_token: String,
    refresh_token: Option<String>,
    expires_at: u64,
}

/// The token endpoint of the example's authorization server: a refresh
/// token works once, and the answer carries the next one.
fn call_the_token_endpoint(current: &OAuthToken) -> OAuthToken {
    OAuthToken {
        access_token: format!("{}_rotated", current.access_token),
        refresh_token: current.refresh_token.as_ref().map(|r| format!("{r}_next")),
        expires_at: current.expires_at + 3600,
    }
}

fn main() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("keyseal-example-{}", std::process::id()));
    let path = dir.join("store.sealed");
    let service = format!("keyseal-example-{}", std::process::id());
    // In an application: `Store::open("com.example.agent")?`.
    let store = Store::new(&service, &path);

    for (server, token) in [
        ("https://mcp.github.example", "gho_example"),
        ("https://mcp.linear.example", "lin_example"),
        ("https://mcp.notion.example", "ntn_example"),
    ] {
        store.set(
            server,
            &OAuthToken {
                access_token: token.to_owned(),
                refresh_token: Some(format!("{token}_refresh")),
                expires_at: 1_900_000_000,
            },
        )?;
    }

    // A refresh rotates one token; the others are untouched. A plain
    // get-then-set would race with another process refreshing the same
    // token: both would spend the one-use refresh token, and the server
    // would revoke the family. So the refresh runs under the store's named
    // lock, held across processes: take it, read (the lock makes the read
    // come from the file, where another process's refresh would be), call
    // the token endpoint once, write, release. Not inside
    // `Store::transaction`: its closure may run more than once and holds the
    // store's write lock, so a network call there spends the token twice or
    // stalls every writer.
    let server = "https://mcp.github.example";
    let refreshing = store.named_lock(
        &format!("refresh/{server}"),
        std::time::Duration::from_secs(90),
    )?;
    let current: OAuthToken = store.get(server)?.unwrap_or_else(|| unreachable!());
    let fresh = call_the_token_endpoint(&current);
    store.set(server, &fresh)?;
    drop(refreshing);

    for entry in store.entries()? {
        println!("{:<32} {:>4} bytes", entry.name, entry.size);
    }
    let status = store.status();
    println!(
        "\n{} entries in {} (generation {}), key {} in the {} ({})",
        status.entries.unwrap_or(0),
        status.location,
        status.generation.unwrap_or(0),
        status.key_id.map(|id| id.to_string()).unwrap_or_default(),
        status.provider.kind,
        status.provider.lifetime,
    );

    // Clean up the example's keyring item and file.
    let provider = keyseal::keys::KeyringProvider::builder(&service, "store-key").build();
    if let Some(id) = status.key_id {
        let _ = provider.delete(&id);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
