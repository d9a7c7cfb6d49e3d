//! Connections: a runtime of the crate's own that drives every connection,
//! a small pool of idle ones, and a bound on every round trip.
//!
//! The callers of a [`BlobStore`](keyseal_blob::BlobStore) block, and may
//! be on any thread, including an async runtime's: the work is sent to this
//! crate's runtime and the caller waits on a plain channel, so no caller
//! ever drives (or nests) a runtime.

use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tokio_postgres::Client;

use crate::errors::{Failure, Round};
use crate::tls::Connector;
use crate::url::Tls;

/// How many idle connections a store keeps.
const IDLE_CONNECTIONS: usize = 4;

/// The runtime every connection of the process runs on: one worker thread,
/// started on first use.
fn runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("keyseal-postgres")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Runs `work` on the crate's runtime, waiting at most `timeout` for it.
pub(crate) fn block<T: Send + 'static>(
    timeout: Duration,
    work: impl Future<Output = Result<T, Failure>> + Send + 'static,
) -> Result<T, Failure> {
    let runtime = runtime().map_err(Failure::Runtime)?;
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        let outcome = match tokio::time::timeout(timeout, work).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Failure::TimedOut(timeout)),
        };
        let _ = tx.send(outcome);
    });
    rx.recv().unwrap_or_else(|_| {
        Err(Failure::Runtime(
            "the client task ended without an answer".to_owned(),
        ))
    })
}

/// A connection taken from the pool (or made): back to the pool with
/// [`Pool::give_back`] after a round that ended well, closed when dropped
/// otherwise (which ends any transaction it was in: the server rolls it
/// back and releases its locks).
pub(crate) struct Connection {
    pub(crate) client: Arc<Client>,
    /// Raised when the server warned that a commit's wait for its
    /// synchronous standby was cancelled.
    pub(crate) replication_warning: Arc<AtomicBool>,
}

/// The idle connections of one store.
pub(crate) struct Pool {
    idle: Mutex<Vec<Connection>>,
    config: tokio_postgres::Config,
    tls: Tls,
    /// Built on the first connection (it reads the trusted roots).
    connector: OnceLock<Connector>,
}

impl Pool {
    pub(crate) fn new(config: tokio_postgres::Config, tls: Tls) -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
            config,
            tls,
            connector: OnceLock::new(),
        }
    }

    fn connector(&self) -> Result<Connector, Failure> {
        if let Some(connector) = self.connector.get() {
            return Ok(connector.clone());
        }
        let connector = Connector::new(&self.tls).map_err(Failure::TlsSetup)?;
        Ok(self.connector.get_or_init(|| connector).clone())
    }

    /// An idle connection, or a new one.
    pub(crate) fn take(&self, timeout: Duration) -> Result<Connection, Failure> {
        loop {
            let idle = self
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            match idle {
                Some(connection) if connection.client.is_closed() => {}
                Some(connection) => return Ok(connection),
                None => break,
            }
        }
        self.connect(timeout)
    }

    /// A new connection of its own, never pooled (a named lock's).
    pub(crate) fn connect(&self, timeout: Duration) -> Result<Connection, Failure> {
        let config = self.config.clone();
        let connector = self.connector()?;
        let (client, replication_warning) = block(timeout, async move {
            connector
                .connect(&config)
                .await
                .map_err(|e| Failure::Client(Round::Connect, e))
        })?;
        Ok(Connection {
            client: Arc::new(client),
            replication_warning,
        })
    }

    /// Keeps `connection` for the next round.
    pub(crate) fn give_back(&self, connection: Connection) {
        if connection.client.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE_CONNECTIONS {
            idle.push(connection);
        }
    }
}
