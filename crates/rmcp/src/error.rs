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
    let mut message = format!("keyseal could not {what} the credentials of {server}: {e}");
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
