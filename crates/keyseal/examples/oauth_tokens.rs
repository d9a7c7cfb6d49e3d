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

fn main() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("keyseal-example-{}", std::process::id()));
    let path = dir.join("store.sealed");
    let service = format!("keyseal-example-{}", std::process::id());
    // In an application: Store::new("com.example.agent", keyseal::default_path("agent").unwrap())
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

    // A refresh rotates one token; the others are untouched.
    let mut github: OAuthToken = store
        .get("https://mcp.github.example")?
        .unwrap_or_else(|| unreachable!());
    github.access_token = "gho_rotated".to_owned();
    store.set("https://mcp.github.example", &github)?;

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
