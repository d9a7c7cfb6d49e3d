//! keyseal's errors as rmcp's `AuthError`.
//!
//! rmcp's `AuthError::CredentialStoreError` holds a message, not a source,
//! so the keyseal error and its causes are written into it (keyseal's
//! errors never quote a secret), kept apart from the errors that ask for a
//! new authorization.

use rmcp::transport::AuthError;

/// `AuthError::CredentialStoreError` naming what failed, for `server`, and
/// keyseal's error with every cause.
///
/// keyseal's errors name an entry as Rust quotes it (`"…"`); the entry is
/// the server's URL, which may carry credentials, so that quoted name is
/// replaced by the URL as [`for_people`] shows it.
pub(crate) fn store_error(what: &str, server: &str, e: &keyseal::Error) -> AuthError {
    let shown = for_people(server);
    let quoted = format!("{server:?}");
    let quoted_shown = format!("{shown:?}");
    let mut message = format!("keyseal could not {what} the credentials of {shown}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    AuthError::CredentialStoreError(message.replace(&quoted, &quoted_shown))
}

/// A server URL as messages show it: without user information, query or
/// fragment, where a URL may carry credentials. A text that is not a URL
/// with a host is not shown at all (its parts cannot be told apart).
pub(crate) fn for_people(server: &str) -> String {
    match url::Url::parse(server) {
        Ok(mut url) if url.has_host() => {
            // Both only fail for URLs without a host, which this is not.
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        _ => "an MCP server whose URL is not shown (it does not parse as a URL with a host)"
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{for_people, store_error};

    #[test]
    fn urls_in_messages_lose_their_credentials_query_and_fragment() {
        assert_eq!(for_people("https://mcp.example/a"), "https://mcp.example/a");
        assert_eq!(
            for_people("https://user:pw@mcp.example/a?api_key=k#f"),
            "https://mcp.example/a"
        );
        assert_eq!(
            for_people("https://mcp.example?x=1"),
            "https://mcp.example/"
        );
        // Not valid URLs, where cutting at the first `?` or `#` would have
        // shown the user part.
        for hostile in [
            "https://u:secret#x@mcp.example/mcp",
            "https://u:secret?x@mcp.example/mcp",
            "not a url?secret",
            "mcp:u:secret@mcp.example",
        ] {
            let shown = for_people(hostile);
            assert!(!shown.contains("secret"), "{hostile} → {shown}");
        }
    }

    #[test]
    fn an_entry_named_in_keyseal_s_error_is_shown_without_its_credentials() {
        let server = "https://user:secret@mcp.example/mcp?api_key=secret";
        let e = keyseal::Error::Value {
            name: server.to_owned(),
            operation: keyseal::ValueOperation::Decode,
            category: keyseal::JsonErrorCategory::Data,
            line: 1,
            column: 1,
            field: None,
        };
        let rmcp::transport::AuthError::CredentialStoreError(message) =
            store_error("read", server, &e)
        else {
            panic!("not a credential store error");
        };
        assert!(!message.contains("secret"), "{message}");
        assert!(message.contains("\"https://mcp.example/mcp\""), "{message}");
    }
}
