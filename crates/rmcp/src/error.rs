//! keyseal's errors as rmcp's `AuthError`.
//!
//! rmcp's `AuthError::CredentialStoreError` holds a message, not a source,
//! so the keyseal error and its causes are written into it (keyseal's
//! errors never quote a secret), kept apart from the errors that ask for a
//! new authorization.

use rmcp::transport::AuthError;

/// `AuthError::CredentialStoreError` naming what failed, for `server`, and
/// keyseal's error with every cause.
pub(crate) fn store_error(what: &str, server: &str, e: &keyseal::Error) -> AuthError {
    let mut message = format!(
        "keyseal could not {what} the credentials of {}: {e}",
        for_people(server)
    );
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    AuthError::CredentialStoreError(message)
}

/// A server URL as errors show it: without user information, query or
/// fragment, where a URL may carry credentials.
pub(crate) fn for_people(server: &str) -> String {
    let end = server.find(['?', '#']).unwrap_or(server.len());
    let url = server.get(..end).unwrap_or(server);
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::for_people;

    #[test]
    fn urls_in_messages_lose_their_credentials_query_and_fragment() {
        assert_eq!(for_people("https://mcp.example/a"), "https://mcp.example/a");
        assert_eq!(
            for_people("https://user:pw@mcp.example/a?api_key=k#f"),
            "https://mcp.example/a"
        );
        assert_eq!(for_people("https://mcp.example?x=1"), "https://mcp.example");
        assert_eq!(for_people("not a url?k"), "not a url");
    }
}
