//! An MCP client whose OAuth credentials live in a keyseal store: the
//! lines marked "keyseal" are all it takes; the rest is rmcp as usual.
//!
//! Run: `cargo run -p keyseal-rmcp --example mcp_client -- https://mcp.example.com/mcp`

#![allow(clippy::print_stdout, reason = "an example says what it found")]

use keyseal_rmcp::KeysealCredentialStore;
use rmcp::transport::AuthorizationManager;

/// Opens the stored login for the server named on the command line, if
/// there is one, and shows that a token is at hand.
#[tokio::main]
pub async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "https://mcp.example.com/mcp".to_owned());

    // keyseal: one sealed file for every server's tokens, its key in the OS keyring.
    let store = keyseal::Store::open("com.example.mcp-client")?;

    let mut manager = AuthorizationManager::new(server.as_str()).await?;
    // keyseal: rmcp loads, saves and refreshes through it; refreshes of this
    // server are one at a time across every process of the application.
    manager.set_credential_store(KeysealCredentialStore::new(store, &server)?);

    if manager.initialize_from_store().await? {
        let token = manager.get_access_token().await?;
        println!(
            "a stored login for {server}: an access token of {} characters",
            token.len()
        );
    } else {
        println!(
            "no stored login for {server}: run rmcp's authorization flow (AuthorizationSession); what it saves lands in the sealed store"
        );
    }
    Ok(())
}
