//! [`PostgresStore`]: one row of a table is one store's sealed blob.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use keyseal_blob::{
    BlobStore, Current, DEFAULT_LOCK_TIMEOUT, DEFAULT_MAX_SIZE, Decision, Error, NamedLock, Result,
    Snapshot, Version,
};
use tokio_postgres::Client;
use tokio_postgres::types::Type;

use crate::client::{Connection, Pool, block};
use crate::errors::Failure;
use crate::schema::{Statements, ensure_schema};
use crate::url::{InvalidUrl, StoreUrl};

/// How long a connection attempt may take, unless the URL says
/// (`connect_timeout=SECONDS`).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How much longer than the lock wait any one round trip may take before
/// the server counts as unreachable.
const ROUND_TRIP_MARGIN: Duration = Duration::from_secs(30);

/// A [`BlobStore`] in a PostgreSQL table: one row per store (its name, a
/// version, the sealed bytes, the time of the last update), shared by every
/// process and machine that connects with the same URL.
///
/// - **Updates** run in a transaction under the row's exclusive lock
///   (`SELECT … FOR UPDATE`): the closure sees the last committed blob, and
///   no other update commits until it is done. The wait for the lock is
///   bounded by the server (`lock_timeout`, [`with_lock_timeout`]) and
///   reported as [`Error::LockTimeout`]. A closure that keeps the blob, or
///   fails, or panics, rolls the transaction back: nothing is written.
/// - **Commits** run with `synchronous_commit` at least `on` (raised for
///   the transaction when the server's setting is lower), so an update that
///   returned `Ok` is on disk, and on a synchronous standby when the server
///   has one. A connection that breaks during the commit is
///   [`Error::Unconfirmed`]: read again to learn the outcome.
/// - **Versions** come from a sequence, so one never repeats, even after a
///   quarantine; readers skip re-reading an unchanged blob.
/// - **Reads** need no lock: a row is replaced whole.
/// - The store holds no key and does no cryptography: the database only
///   ever sees the sealed bytes.
///
/// The URL is a libpq-style `postgres://` URL (see the crate docs for its
/// parameters); the store connects on first use, not when it is made. It
/// is `Send + Sync`; one store may be shared by every thread, and it keeps
/// a few idle connections. Its calls block: from async code, use it
/// through `keyseal::AsyncStore`, which runs them on blocking threads.
///
/// [`with_lock_timeout`]: PostgresStore::with_lock_timeout
pub struct PostgresStore {
    inner: Inner,
}

struct Inner {
    pool: Pool,
    statements: Statements,
    store: String,
    table: String,
    location: String,
    lock_timeout: Duration,
    max_size: u64,
    schema_checked: AtomicBool,
}

impl fmt::Debug for PostgresStore {
    /// The location only: never the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("location", &self.inner.location)
            .field("lock_timeout", &self.inner.lock_timeout)
            .field("max_size", &self.inner.max_size)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// A store at `url` (`postgres://user@host/db?store=NAME`, see the
    /// crate docs). Nothing is connected until the first operation.
    ///
    /// # Errors
    /// [`InvalidUrl`] when the URL cannot be used; its message never
    /// contains the password.
    pub fn new(url: &str) -> core::result::Result<Self, InvalidUrl> {
        let StoreUrl {
            mut config,
            store,
            table,
            tls,
            location,
        } = StoreUrl::parse(url)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("keyseal");
        }
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        Ok(Self {
            inner: Inner {
                pool: Pool::new(config, tls),
                statements: Statements::new(&table),
                store,
                table,
                location,
                lock_timeout: DEFAULT_LOCK_TIMEOUT,
                max_size: DEFAULT_MAX_SIZE,
                schema_checked: AtomicBool::new(false),
            },
        })
    }

    /// A store at the URL in the environment variable `var`.
    ///
    /// # Errors
    /// [`InvalidUrl`] when the variable is unset, not UTF-8, or not a URL
    /// this store takes.
    pub fn from_env(var: &str) -> core::result::Result<Self, InvalidUrl> {
        match std::env::var(var) {
            Ok(url) => Self::new(&url),
            Err(_) => Err(InvalidUrl::new(format!(
                "the environment variable {var} is not set (or not UTF-8)"
            ))),
        }
    }

    /// Waits at most `timeout` for another update's row lock (and for a
    /// named lock) before [`Error::LockTimeout`]; 10 s by default.
    #[must_use]
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.inner.lock_timeout = timeout;
        self
    }

    /// The largest blob read or written; 16 MiB by default, as for files.
    #[must_use]
    pub fn with_max_size(mut self, bytes: u64) -> Self {
        self.inner.max_size = bytes;
        self
    }

    /// The store's name (its row).
    pub fn store_name(&self) -> &str {
        &self.inner.store
    }

    /// The table it lives in.
    pub fn table(&self) -> &str {
        &self.inner.table
    }
}

/// What a locked row held.
struct Locked {
    /// `None`: the store has no blob.
    version: Option<Version>,
    len: u64,
    head: Option<Vec<u8>>,
    tail: Option<Vec<u8>>,
    blob: Option<Vec<u8>>,
}

impl Inner {
    /// How long one round trip may take.
    fn round_trip(&self) -> Duration {
        self.lock_timeout.saturating_add(ROUND_TRIP_MARGIN)
    }

    fn error(&self, failure: Failure, operation: &'static str) -> Error {
        failure.into_error(&self.location, operation, self.lock_timeout)
    }

    /// A connection, with the table checked (and made) once per store.
    fn connection(&self, operation: &'static str) -> Result<Connection> {
        let connection = self
            .pool
            .take(self.round_trip())
            .map_err(|f| self.error(f, operation))?;
        if !self.schema_checked.load(Ordering::Acquire) {
            let client = Arc::clone(&connection.client);
            let table = self.table.clone();
            block(self.round_trip(), async move {
                ensure_schema(&client, &table).await
            })
            .map_err(|f| self.schema_error(f, operation))?;
            self.schema_checked.store(true, Ordering::Release);
        }
        Ok(connection)
    }

    fn schema_error(&self, failure: Failure, operation: &'static str) -> Error {
        match failure {
            Failure::Unexpected(reason) => Error::Schema {
                location: self.location.clone(),
                reason,
            },
            other => self.error(other, operation),
        }
    }

    /// Runs one statement round on `connection`; on success the connection
    /// is kept for the caller.
    fn round<T: Send + 'static, F>(
        &self,
        connection: &Connection,
        operation: &'static str,
        work: impl FnOnce(Arc<Client>) -> F,
    ) -> Result<T>
    where
        F: Future<Output = core::result::Result<T, Failure>> + Send + 'static,
    {
        let future = work(Arc::clone(&connection.client));
        block(self.round_trip(), future).map_err(|f| self.error(f, operation))
    }

    fn read(&self) -> Result<Option<Snapshot>> {
        let connection = self.connection("read")?;
        let sql = self.statements.read.clone();
        let store = self.store.clone();
        let max = i64::try_from(self.max_size).unwrap_or(i64::MAX);
        let row = self.round(&connection, "read", move |client| async move {
            client
                .query_typed(&sql, &[(&store, Type::TEXT), (&max, Type::INT8)])
                .await
                .map_err(Failure::statement)
        })?;
        self.pool.give_back(connection);
        let Some(row) = row.first() else {
            return Ok(None);
        };
        let locked = self.decode_row(row, false)?;
        match locked.version {
            None => Ok(None),
            Some(version) => match locked.blob {
                Some(blob) => Ok(Some(Snapshot::new(blob, version))),
                None => Err(self.too_large(locked.len)),
            },
        }
    }

    fn version(&self) -> Result<Option<Version>> {
        let connection = self.connection("read the version of")?;
        let sql = self.statements.version.clone();
        let store = self.store.clone();
        let rows = self.round(
            &connection,
            "read the version of",
            move |client| async move {
                client
                    .query_typed(&sql, &[(&store, Type::TEXT)])
                    .await
                    .map_err(Failure::statement)
            },
        )?;
        self.pool.give_back(connection);
        match rows.first() {
            None => Ok(None),
            Some(row) => {
                let table_oid: i64 = self.column(row, 0)?;
                let version: Option<i64> = self.column(row, 1)?;
                let nonce: Option<i64> = self.column(row, 2)?;
                Ok(version_of(table_oid, version, nonce))
            }
        }
    }

    /// A random nonce for a write's version.
    fn nonce(&self, operation: &'static str) -> Result<i64> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|e| {
            self.error(
                Failure::Unexpected(format!("the system's random source failed: {e}")),
                operation,
            )
        })?;
        Ok(i64::from_le_bytes(bytes))
    }

    fn too_large(&self, len: u64) -> Error {
        Error::TooLarge {
            path: self.location.clone().into(),
            size: len,
            limit: self.max_size,
        }
    }

    fn column<'a, T: tokio_postgres::types::FromSql<'a>>(
        &self,
        row: &'a tokio_postgres::Row,
        index: usize,
    ) -> Result<T> {
        row.try_get(index).map_err(|e| Error::Schema {
            location: self.location.clone(),
            reason: format!("answered with an unexpected column {index}: {e}"),
        })
    }

    /// A row of the read or lock statements: table oid, version, nonce,
    /// length, then head, tail and blob (the lock statement) or the blob
    /// (the read statement).
    fn decode_row(&self, row: &tokio_postgres::Row, with_ends: bool) -> Result<Locked> {
        let table_oid: i64 = self.column(row, 0)?;
        let version: Option<i64> = self.column(row, 1)?;
        let nonce: Option<i64> = self.column(row, 2)?;
        let len: Option<i64> = self.column(row, 3)?;
        let (head, tail, blob) = if with_ends {
            (
                self.column(row, 4)?,
                self.column(row, 5)?,
                self.column(row, 6)?,
            )
        } else {
            (None, None, self.column(row, 4)?)
        };
        Ok(Locked {
            version: version_of(table_oid, version, nonce),
            len: len.and_then(|l| u64::try_from(l).ok()).unwrap_or(0),
            head,
            tail,
            blob,
        })
    }

    fn update(
        &self,
        expected: Option<Version>,
        head: usize,
        tail: usize,
        decide: &mut dyn FnMut(Current<'_>) -> Decision,
    ) -> Result<Option<Version>> {
        const OP: &str = "update";
        let connection = self.connection(OP)?;
        let parts = expected.map(VersionParts::of);
        let expected_oid = parts.map(|v| v.table_oid);
        let expected_version = parts.map(|v| v.version);
        let expected_nonce = parts.map(|v| v.nonce);
        let begin = self.statements.begin.clone();
        let settings = self.statements.settings.clone();
        let ensure = self.statements.ensure_row.clone();
        let lock = self.statements.lock.clone();
        let store = self.store.clone();
        let lock_ms = lock_timeout_setting(self.lock_timeout);
        let max = i64::try_from(self.max_size).unwrap_or(i64::MAX);
        let head_len = i32::try_from(head).unwrap_or(i32::MAX);
        let tail_len = i32::try_from(tail).unwrap_or(i32::MAX);
        let rows = self.round(&connection, OP, move |client| async move {
            begin_transaction(&client, &begin, &settings, &lock_ms).await?;
            client
                .query_typed(&ensure, &[(&store, Type::TEXT)])
                .await
                .map_err(Failure::statement)?;
            client
                .query_typed(
                    &lock,
                    &[
                        (&store, Type::TEXT),
                        (&expected_oid, Type::INT8),
                        (&expected_version, Type::INT8),
                        (&head_len, Type::INT4),
                        (&tail_len, Type::INT4),
                        (&max, Type::INT8),
                        (&expected_nonce, Type::INT8),
                    ],
                )
                .await
                .map_err(Failure::statement)
        })?;
        let Some(row) = rows.first() else {
            return Err(self.error(
                Failure::Unexpected("the store's row vanished under its lock".to_owned()),
                OP,
            ));
        };
        let mut locked = self.decode_row(row, true)?;
        let mut decision = match (locked.version, &locked.head, &locked.tail) {
            (Some(version), Some(h), Some(t)) if Some(version) == expected => {
                decide(Current::Unchanged {
                    len: locked.len,
                    head: h,
                    tail: t,
                })
            }
            _ => self.decide_on_whole(&locked, decide)?,
        };
        if matches!(decision, Decision::ReadAll) {
            locked.blob = self.read_locked(&connection)?;
            decision = self.decide_on_whole(&locked, decide)?;
        }
        match decision {
            Decision::Write(bytes) => {
                let version = self.write_and_commit(&connection, bytes)?;
                self.pool.give_back(connection);
                Ok(Some(version))
            }
            Decision::Keep => {
                self.rollback(connection);
                Ok(locked.version)
            }
            // A confused closure asking again is treated as a refusal.
            Decision::Abort | Decision::ReadAll => {
                self.rollback(connection);
                Ok(locked.version)
            }
        }
    }

    /// Calls `decide` with the whole blob of a locked row.
    fn decide_on_whole(
        &self,
        locked: &Locked,
        decide: &mut dyn FnMut(Current<'_>) -> Decision,
    ) -> Result<Decision> {
        match (locked.version, &locked.blob) {
            (None, _) => Ok(decide(Current::Read(None))),
            (Some(version), Some(blob)) => {
                // One copy per update; the sealed blob is small.
                let snapshot = Snapshot::new(blob.clone(), version);
                Ok(decide(Current::Read(Some(&snapshot))))
            }
            (Some(_), None) => Err(self.too_large(locked.len)),
        }
    }

    /// The whole blob of the row this transaction holds locked.
    fn read_locked(&self, connection: &Connection) -> Result<Option<Vec<u8>>> {
        let sql = self.statements.read.clone();
        let store = self.store.clone();
        let max = i64::try_from(self.max_size).unwrap_or(i64::MAX);
        let rows = self.round(connection, "update", move |client| async move {
            client
                .query_typed(&sql, &[(&store, Type::TEXT), (&max, Type::INT8)])
                .await
                .map_err(Failure::statement)
        })?;
        match rows.first() {
            None => Ok(None),
            Some(row) => {
                let locked = self.decode_row(row, false)?;
                match (locked.version, locked.blob) {
                    (None, _) => Ok(None),
                    (Some(_), Some(blob)) => Ok(Some(blob)),
                    (Some(_), None) => Err(self.too_large(locked.len)),
                }
            }
        }
    }

    fn write_and_commit(&self, connection: &Connection, bytes: Vec<u8>) -> Result<Version> {
        let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        if size > self.max_size {
            return Err(Error::WriteTooLarge {
                path: self.location.clone().into(),
                size,
                limit: self.max_size,
            });
        }
        let sql = self.statements.write.clone();
        let store = self.store.clone();
        let nonce = self.nonce("update")?;
        let rows = self.round(connection, "update", move |client| async move {
            client
                .query_typed(
                    &sql,
                    &[
                        (&store, Type::TEXT),
                        (&bytes, Type::BYTEA),
                        (&nonce, Type::INT8),
                    ],
                )
                .await
                .map_err(Failure::statement)
        })?;
        let Some(row) = rows.first() else {
            return Err(self.error(
                Failure::Unexpected("the store's row vanished under its lock".to_owned()),
                "update",
            ));
        };
        let table_oid: i64 = self.column(row, 0)?;
        let version: Option<i64> = self.column(row, 1)?;
        let nonce: Option<i64> = self.column(row, 2)?;
        self.commit(connection, "update")?;
        version_of(table_oid, version, nonce).ok_or_else(|| {
            self.error(
                Failure::Unexpected("the write returned no version".to_owned()),
                "update",
            )
        })
    }

    fn commit(&self, connection: &Connection, operation: &'static str) -> Result<()> {
        let client = Arc::clone(&connection.client);
        let warned = Arc::clone(&connection.replication_warning);
        warned.store(false, Ordering::SeqCst);
        let timeout = self.round_trip();
        let committed = block(timeout.saturating_add(Duration::from_secs(1)), async move {
            match tokio::time::timeout(timeout, client.batch_execute("COMMIT")).await {
                Ok(result) => result.map_err(Failure::commit),
                Err(_) => Err(Failure::CommitTimedOut(timeout)),
            }
        });
        committed.map_err(|f| {
            // Whatever stopped the answer, the commit was sent.
            let f = match f {
                Failure::TimedOut(after) => Failure::CommitTimedOut(after),
                Failure::Runtime(reason) => Failure::CommitLost(reason),
                other => other,
            };
            self.error(f, operation)
        })?;
        if warned.load(Ordering::SeqCst) {
            return Err(self.error(Failure::ReplicationWaitCancelled, operation));
        }
        Ok(())
    }

    /// Ends the transaction without writing; a connection that cannot roll
    /// back is closed, which rolls back too.
    fn rollback(&self, connection: Connection) {
        let client = Arc::clone(&connection.client);
        if block(self.round_trip(), async move {
            client
                .batch_execute("ROLLBACK")
                .await
                .map_err(Failure::statement)
        })
        .is_ok()
        {
            self.pool.give_back(connection);
        }
    }

    fn quarantine(&self, reason: &str, judged: Option<Version>) -> Result<Option<String>> {
        const OP: &str = "quarantine";
        let connection = self.connection(OP)?;
        let begin = self.statements.begin.clone();
        let settings = self.statements.settings.clone();
        let lock = self.statements.lock_version.clone();
        let store = self.store.clone();
        let lock_ms = lock_timeout_setting(self.lock_timeout);
        let rows = self.round(&connection, OP, move |client| async move {
            begin_transaction(&client, &begin, &settings, &lock_ms).await?;
            client
                .query_typed(&lock, &[(&store, Type::TEXT)])
                .await
                .map_err(Failure::statement)
        })?;
        let current = match rows.first() {
            None => None,
            Some(row) => version_of(
                self.column(row, 0)?,
                self.column(row, 1)?,
                self.column(row, 2)?,
            ),
        };
        // No blob, or another replica wrote a new one since it was judged.
        if current.is_none() || judged.is_some_and(|judged| current != Some(judged)) {
            self.rollback(connection);
            return Ok(None);
        }
        let base = format!(
            "{}{}",
            self.store,
            keyseal_blob::quarantine_suffix(reason, std::time::SystemTime::now())
        );
        let copy = self.statements.quarantine_copy.clone();
        let clear = self.statements.quarantine_clear.clone();
        let store = self.store.clone();
        let nonce = self.nonce(OP)?;
        let name = self.round(&connection, OP, move |client| async move {
            for n in 1..=100u32 {
                let candidate = if n == 1 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                };
                let copied = client
                    .query_typed(
                        &copy,
                        &[
                            (&store, Type::TEXT),
                            (&candidate, Type::TEXT),
                            (&nonce, Type::INT8),
                        ],
                    )
                    .await
                    .map_err(Failure::statement)?;
                if !copied.is_empty() {
                    client
                        .query_typed(&clear, &[(&store, Type::TEXT)])
                        .await
                        .map_err(Failure::statement)?;
                    return Ok(candidate);
                }
            }
            Err(Failure::Unexpected(
                "every quarantine name for this second is taken".to_owned(),
            ))
        })?;
        self.commit(&connection, OP)?;
        self.pool.give_back(connection);
        Ok(Some(self.location_of(&name)))
    }

    /// The location of the store named `name` in the same table.
    fn location_of(&self, name: &str) -> String {
        let encoded = crate::url::percent_encode(&self.store);
        let renamed = crate::url::percent_encode(name);
        self.location
            .replacen(&format!("store={encoded}"), &format!("store={renamed}"), 1)
    }

    fn named_lock(&self, name: &str, timeout: Duration) -> Result<NamedLock> {
        const OP: &str = "take a named lock of";
        // A connection of its own: the lock lives as long as its session,
        // and the server releases it when the session ends, however it ends.
        let connection = self
            .pool
            .connect(timeout.saturating_add(ROUND_TRIP_MARGIN))
            .map_err(|f| self.error(f, OP))?;
        let key = advisory_key(&self.table, &self.store, name);
        let lock_ms = lock_timeout_setting(timeout);
        let settings = self.statements.advisory_settings.clone();
        let sql = self.statements.advisory_lock.clone();
        let client = Arc::clone(&connection.client);
        block(timeout.saturating_add(ROUND_TRIP_MARGIN), async move {
            client
                .query_typed(&settings, &[(&lock_ms, Type::TEXT)])
                .await
                .map_err(Failure::statement)?;
            client
                .query_typed(&sql, &[(&key, Type::INT8)])
                .await
                .map_err(Failure::statement)
        })
        .map_err(|f| {
            // The name's part before any `:` only: a lock named after a URL
            // (keyseal-rmcp's) could carry its credentials.
            let shown = name.split(':').next().unwrap_or_default();
            f.into_error(&format!("{}#lock={shown}", self.location), OP, timeout)
        })?;
        Ok(NamedLock::new(HeldSession {
            _client: connection.client,
        }))
    }
}

/// A session holding an advisory lock; dropping it closes the session,
/// which releases the lock.
struct HeldSession {
    _client: Arc<Client>,
}

/// `lock_timeout` as PostgreSQL takes it; zero means "no limit" there, so
/// the shortest wait it has stands for "do not wait".
fn lock_timeout_setting(timeout: Duration) -> String {
    format!("{}ms", timeout.as_millis().clamp(1, i32::MAX as u128))
}

/// Opens a transaction with the store's settings (the lock wait, no
/// statement timeout, a commit that waits for the disk).
async fn begin_transaction(
    client: &Client,
    begin: &str,
    settings: &str,
    lock_ms: &str,
) -> core::result::Result<(), Failure> {
    client
        .batch_execute(begin)
        .await
        .map_err(Failure::statement)?;
    client
        .query_typed(settings, &[(&lock_ms, Type::TEXT)])
        .await
        .map_err(Failure::statement)?;
    Ok(())
}

/// What a version is made of: the table's oid, the sequence's value and
/// the write's random nonce.
#[derive(Clone, Copy)]
struct VersionParts {
    table_oid: i64,
    version: i64,
    nonce: i64,
}

impl VersionParts {
    fn of(version: Version) -> Self {
        let [table_oid, version, nonce, ..] = version.parts();
        Self {
            table_oid: table_oid.cast_signed(),
            version: version.cast_signed(),
            nonce: nonce.cast_signed(),
        }
    }
}

/// The version of a row (`None`: the store has no blob).
fn version_of(table_oid: i64, version: Option<i64>, nonce: Option<i64>) -> Option<Version> {
    let version = version?;
    Some(Version::from_parts([
        table_oid.cast_unsigned(),
        version.cast_unsigned(),
        nonce.unwrap_or(0).cast_unsigned(),
        0,
        0,
        0,
    ]))
}

/// The advisory lock's key for a named lock: the first 8 bytes of SHA-256
/// over table, store and name, so only a number reaches the server.
fn advisory_key(table: &str, store: &str, name: &str) -> i64 {
    use sha2::Digest as _;
    let digest = sha2::Sha256::new()
        .chain_update(b"keyseal-postgres named lock\0")
        .chain_update(table.as_bytes())
        .chain_update(b"\0")
        .chain_update(store.as_bytes())
        .chain_update(b"\0")
        .chain_update(name.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    for (to, from) in first.iter_mut().zip(digest.iter()) {
        *to = *from;
    }
    i64::from_be_bytes(first)
}

impl BlobStore for PostgresStore {
    fn location(&self) -> String {
        self.inner.location.clone()
    }

    fn read(&self) -> Result<Option<Snapshot>> {
        self.inner.read()
    }

    fn version(&self) -> Result<Option<Version>> {
        self.inner.version()
    }

    fn update(
        &self,
        decide: &mut dyn FnMut(Option<&Snapshot>) -> Decision,
    ) -> Result<Option<Version>> {
        self.inner.update(None, 0, 0, &mut |current| match current {
            Current::Read(snapshot) => decide(snapshot),
            // Never shown without an expected version.
            _ => Decision::Abort,
        })
    }

    fn update_expecting(
        &self,
        expected: Option<Version>,
        head: usize,
        tail: usize,
        decide: &mut dyn FnMut(Current<'_>) -> Decision,
    ) -> Result<Option<Version>> {
        self.inner.update(expected, head, tail, decide)
    }

    fn quarantine(&self, reason: &str, judged: Option<Version>) -> Result<Option<String>> {
        self.inner.quarantine(reason, judged)
    }

    fn named_lock(&self, name: &str, timeout: Duration) -> Result<NamedLock> {
        self.inner.named_lock(name, timeout)
    }
}
