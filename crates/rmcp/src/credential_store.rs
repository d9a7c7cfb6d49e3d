//! rmcp's `CredentialStore` for one MCP server, in a keyseal store.

use std::time::Duration;

use async_trait::async_trait;
use keyseal::AsyncStore;
use rmcp::transport::{AuthError, CredentialRefreshGuard, CredentialStore, StoredCredentials};

use crate::error::store_error;

/// How long [`acquire_refresh_guard`](CredentialStore::acquire_refresh_guard)
/// waits for another process's refresh of the same server by default: a
/// refresh is one token request, seconds at most.
pub const DEFAULT_REFRESH_TIMEOUT: Duration = Duration::from_secs(30);

/// What the refresh guard's named lock is called: this prefix and the
/// server's entry name (see [`keyseal::Store::named_lock`]).
pub const REFRESH_LOCK_PREFIX: &str = "rmcp-refresh/";

/// One MCP server's OAuth credentials in a keyseal store, as rmcp's
/// [`CredentialStore`]: the entry named by the server's URL holds rmcp's
/// [`StoredCredentials`] as JSON (through keyseal's typed API).
///
/// - `load` reads through the store (a change another process saved is
///   seen at once), `save` writes the entry, `clear` removes it. Each runs
///   on tokio's blocking threads, never on the async workers.
/// - [`acquire_refresh_guard`](CredentialStore::acquire_refresh_guard)
///   holds the store's named lock `rmcp-refresh/<server URL>` for as long
///   as rmcp keeps the guard (its load, its one token request, its save):
///   two processes never refresh the same server's token at once, and
///   refreshes of different servers never wait on each other. `load` and
///   `save` inside it take only the store's own write lock, which is
///   separate. The wait is bounded ([`with_refresh_timeout`](Self::with_refresh_timeout)),
///   then an `AuthError` says so; a process killed while holding it
///   releases it as it dies (the system drops its `flock`).
/// - [`on_refresh_token_rejected`](CredentialStore::on_refresh_token_rejected)
///   (rmcp calls it, guard held, when the authorization server answers
///   `invalid_grant`) drops the dead token from the entry, keeping the
///   client id, issuer and scopes for the next authorization, but only if
///   the entry still holds the rejected refresh token: a token another
///   process saved since is left alone.
///
/// Every error is an `AuthError::CredentialStoreError` naming the server
/// and keyseal's cause, never a secret.
#[derive(Clone, Debug)]
pub struct KeysealCredentialStore {
    store: AsyncStore,
    server: String,
    refresh_timeout: Duration,
}

impl KeysealCredentialStore {
    /// The credentials of the MCP server at `server_url` (its resource
    /// URL, which names the entry) in `store`.
    ///
    /// # Errors
    /// [`keyseal::Error::InvalidName`] for a URL keyseal cannot use as an
    /// entry name (empty, over 4,096 bytes, a control character).
    pub fn new(store: impl Into<AsyncStore>, server_url: &str) -> keyseal::Result<Self> {
        keyseal::validate_name(server_url)?;
        Ok(Self {
            store: store.into(),
            server: server_url.to_owned(),
            refresh_timeout: DEFAULT_REFRESH_TIMEOUT,
        })
    }

    /// How long a refresh waits for another process's refresh of the same
    /// server (default [`DEFAULT_REFRESH_TIMEOUT`]).
    #[must_use]
    pub fn with_refresh_timeout(mut self, timeout: Duration) -> Self {
        self.refresh_timeout = timeout;
        self
    }

    /// The entry holding the credentials: the server's URL.
    pub fn entry_name(&self) -> &str {
        &self.server
    }

    /// The name of the refresh guard's lock.
    pub fn refresh_lock_name(&self) -> String {
        format!("{REFRESH_LOCK_PREFIX}{}", self.server)
    }
}

/// The refresh token inside stored credentials, as JSON text (rmcp's token
/// type serializes it as `refresh_token`).
fn refresh_token_of(credentials: &StoredCredentials) -> Option<String> {
    let token = serde_json::to_value(credentials.token_response.as_ref()?).ok()?;
    token.get("refresh_token")?.as_str().map(str::to_owned)
}

#[async_trait]
impl CredentialStore for KeysealCredentialStore {
    async fn load(&self) -> Result<Option<StoredCredentials>, AuthError> {
        self.store
            .get::<StoredCredentials>(&self.server)
            .await
            .map_err(|e| store_error("read", &self.server, &e))
    }

    async fn save(&self, credentials: StoredCredentials) -> Result<(), AuthError> {
        self.store
            .set(&self.server, &credentials)
            .await
            .map_err(|e| store_error("save", &self.server, &e))
    }

    async fn clear(&self) -> Result<(), AuthError> {
        self.store
            .remove(&self.server)
            .await
            .map(|_| ())
            .map_err(|e| store_error("clear", &self.server, &e))
    }

    async fn on_refresh_token_rejected(
        &self,
        rejected: &StoredCredentials,
    ) -> Result<(), AuthError> {
        let Some(dead) = refresh_token_of(rejected) else {
            return Ok(());
        };
        let store = self.store.blocking().clone();
        let name = self.server.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            // The closure may run more than once (the store retries it when
            // the file changed); it only compares and writes.
            store.transaction(|tx| {
                let Some(current) = tx.get::<StoredCredentials>(&name)? else {
                    return Ok(());
                };
                if refresh_token_of(&current).as_deref() != Some(dead.as_str()) {
                    return Ok(());
                }
                let mut cleared = current;
                cleared.token_response = None;
                cleared.token_received_at = None;
                tx.set(&name, &cleared)
            })
        })
        .await
        .map_err(|_| {
            AuthError::CredentialStoreError(
                "keyseal's blocking task for a rejected refresh token did not finish".to_owned(),
            )
        })?;
        outcome.map_err(|e| store_error("drop the rejected token from", &self.server, &e))
    }

    async fn acquire_refresh_guard(&self) -> Result<Option<CredentialRefreshGuard>, AuthError> {
        match self
            .store
            .named_lock(&self.refresh_lock_name(), self.refresh_timeout)
            .await
        {
            Ok(lock) => Ok(Some(CredentialRefreshGuard::new(lock))),
            Err(e @ keyseal::Error::LockTimeout { .. }) => {
                Err(AuthError::CredentialStoreError(format!(
                    "another process has been refreshing the token of {} for more than {:?}; gave up waiting ({e})",
                    self.server, self.refresh_timeout
                )))
            }
            Err(e) => Err(store_error("lock the refresh of", &self.server, &e)),
        }
    }
}
