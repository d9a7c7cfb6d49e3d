//! rmcp's `CredentialStore` for one MCP server, in a keyseal store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use keyseal::AsyncStore;
use rmcp::transport::{AuthError, CredentialRefreshGuard, CredentialStore, StoredCredentials};

use crate::error::{for_people, store_error};

/// How long [`acquire_refresh_guard`](CredentialStore::acquire_refresh_guard)
/// waits for another process's refresh of the same server by default. The
/// holder makes one token request, which rmcp lets take up to its HTTP
/// timeout (30 s), and one save, which may wait for the store's write lock
/// (10 s for a file store): the default leaves room for both, and for one
/// more waiter ahead in the queue.
pub const DEFAULT_REFRESH_TIMEOUT: Duration = Duration::from_secs(90);

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
///   releases it as it dies (for a file store, the system drops its
///   `flock`). Once held, the store's cached copy is dropped, so the next
///   `load` reads the file.
/// - [`on_refresh_token_rejected`](CredentialStore::on_refresh_token_rejected)
///   (rmcp calls it, guard held, when the authorization server answers
///   `invalid_grant`) drops the dead token from the entry, keeping the
///   client id, issuer and scopes for the next authorization, but only if
///   the entry still holds the rejected refresh token (compared as that
///   token's text alone): a token another process saved since is left
///   alone.
///
/// Every error is an `AuthError::CredentialStoreError` naming the server
/// (without user information, query or fragment) and keyseal's cause,
/// never a secret; a store that no longer shows its file (it went to
/// memory, or moved its file aside) is an error too, never "none".
#[derive(Clone)]
pub struct KeysealCredentialStore {
    store: AsyncStore,
    server: String,
    refresh_timeout: Duration,
}

impl core::fmt::Debug for KeysealCredentialStore {
    /// The server as messages show it: its URL may carry credentials.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeysealCredentialStore")
            .field("store", &self.store)
            .field("server", &for_people(&self.server))
            .field("refresh_timeout", &self.refresh_timeout)
            .finish()
    }
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

/// The refresh token inside stored credentials, if any (only those can be
/// rejected).
fn refresh_token_of(credentials: &StoredCredentials) -> Option<String> {
    let token = serde_json::to_value(credentials.token_response.as_ref()?).ok()?;
    Some(token.get("refresh_token")?.as_str()?.to_owned())
}

/// This process's waiters for each refresh lock, so that at most one of
/// them at a time waits for the cross-process lock on a blocking thread
/// (the others wait here, asynchronously, and can be cancelled).
static WAITERS: Mutex<Option<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = Mutex::new(None);

fn waiters_for(key: &str) -> Arc<tokio::sync::Mutex<()>> {
    let mut map = WAITERS.lock().unwrap_or_else(PoisonError::into_inner);
    Arc::clone(
        map.get_or_insert_with(HashMap::new)
            .entry(key.to_owned())
            .or_default(),
    )
}

/// What the refresh guard holds: this process's turn, and the store's
/// cross-process named lock.
struct RefreshHeld {
    _lock: keyseal::blob::NamedLock,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

#[async_trait]
impl CredentialStore for KeysealCredentialStore {
    async fn load(&self) -> Result<Option<StoredCredentials>, AuthError> {
        let loaded = self.store.get::<StoredCredentials>(&self.server).await;
        self.attached("read")?;
        loaded.map_err(|e| store_error("read", &self.server, &e))
    }

    async fn save(&self, credentials: StoredCredentials) -> Result<(), AuthError> {
        let saved = self.store.set(&self.server, &credentials).await;
        self.attached("save")?;
        saved.map_err(|e| store_error("save", &self.server, &e))
    }

    async fn clear(&self) -> Result<(), AuthError> {
        let cleared = self.store.remove(&self.server).await;
        self.attached("clear")?;
        cleared
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
            // The closure only compares and writes: it may run more than once
            // (after a quarantine policy moved an unusable file aside).
            store.transaction(|tx| {
                let Some(current) = tx.get::<StoredCredentials>(&name)? else {
                    return Ok(());
                };
                // Only while the entry still holds the rejected refresh token.
                if refresh_token_of(&current).as_ref() != Some(&dead) {
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
            AuthError::CredentialStoreError(format!(
                "keyseal's blocking task for a rejected refresh token of {} did not finish",
                for_people(&self.server)
            ))
        })?;
        outcome.map_err(|e| store_error("drop the rejected token from", &self.server, &e))
    }

    async fn acquire_refresh_guard(&self) -> Result<Option<CredentialRefreshGuard>, AuthError> {
        let started = Instant::now();
        let name = self.refresh_lock_name();
        let timed_out = || {
            AuthError::CredentialStoreError(format!(
                "another refresh of the token of {} has held its lock for more than {:?}; gave up waiting",
                for_people(&self.server),
                self.refresh_timeout
            ))
        };
        // This process's turn first, asynchronously.
        let turn = tokio::time::timeout(
            self.refresh_timeout,
            waiters_for(&format!("{}\u{0}{name}", self.store.blocking().location())).lock_owned(),
        )
        .await
        .map_err(|_| timed_out())?;
        // Then the store's lock, which other processes see, on a blocking
        // thread. The turn goes with the wait: a caller that gives up (drops
        // this future) leaves its turn held until the wait ends, so at most
        // one blocking thread per lock ever waits. Taking the lock drops the
        // store's cached copy, so rmcp's next `load` reads the file.
        let left = self.refresh_timeout.saturating_sub(started.elapsed());
        let store = self.store.blocking().clone();
        let held = tokio::task::spawn_blocking(move || {
            store.named_lock(&name, left).map(|lock| RefreshHeld {
                _lock: lock,
                _turn: turn,
            })
        })
        .await
        .map_err(|_| {
            AuthError::CredentialStoreError(format!(
                "keyseal's blocking task waiting for the refresh lock of {} did not finish",
                for_people(&self.server)
            ))
        })?;
        match held {
            Ok(held) => Ok(Some(CredentialRefreshGuard::new(held))),
            Err(keyseal::Error::LockTimeout { .. }) => Err(timed_out()),
            Err(e) => Err(store_error("lock the refresh of", &self.server, &e)),
        }
    }
}

impl KeysealCredentialStore {
    /// `NoStorageAccess`'s counterpart: an error when the store no longer
    /// shows its file (it went to memory, or moved its file aside), so that
    /// rmcp never reads "no credentials" from it, nor saves a token that
    /// would not last.
    fn attached(&self, what: &str) -> Result<(), AuthError> {
        match self.store.blocking().detached() {
            None => Ok(()),
            Some(why) => Err(AuthError::CredentialStoreError(format!(
                "keyseal could not {what} the credentials of {}: the store no longer shows its file ({why})",
                for_people(&self.server)
            ))),
        }
    }
}
