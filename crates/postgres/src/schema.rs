//! The table: made when missing (from the crate's `schema.sql`), checked
//! once per store, and the statements that use it.

use tokio_postgres::Client;
use tokio_postgres::types::Type;

use crate::errors::Failure;
use crate::url::DEFAULT_TABLE;

/// The schema shipped with the crate, for the default table name.
pub const SCHEMA_SQL: &str = include_str!("../schema.sql");

/// The columns a store's table must have, and their types as
/// `format_type` names them.
const COLUMNS: [(&str, &str); 5] = [
    ("name", "text"),
    ("version", "bigint"),
    ("nonce", "bigint"),
    ("blob", "bytea"),
    ("updated_at", "timestamp with time zone"),
];

/// The schema for `table` (a checked identifier, so plain substitution is
/// safe).
pub fn schema_sql(table: &str) -> String {
    SCHEMA_SQL.replace(DEFAULT_TABLE, table)
}

/// The SQL of every round, for one table.
pub(crate) struct Statements {
    pub(crate) begin: String,
    /// Per transaction: the lock wait and a commit that waits for the disk.
    pub(crate) settings: String,
    pub(crate) ensure_row: String,
    pub(crate) lock: String,
    pub(crate) lock_version: String,
    pub(crate) read: String,
    pub(crate) version: String,
    pub(crate) write: String,
    pub(crate) quarantine_copy: String,
    pub(crate) quarantine_clear: String,
    pub(crate) advisory_settings: String,
    pub(crate) advisory_lock: String,
}

impl Statements {
    /// The statements for `table`, a checked identifier, quoted so that a
    /// reserved word (`user`, `order`) is a table name too.
    pub(crate) fn new(table: &str) -> Self {
        let t = format!("\"{table}\"");
        let seq = format!("'\"{table}_version\"'");
        Self {
            begin: "BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE".to_owned(),
            // The lock wait; no statement or idle timeout of the role's
            // that could cancel a commit's wait for its synchronous standby
            // (PostgreSQL then commits locally and only warns); a commit
            // that waits for the disk.
            settings: "SELECT set_config('lock_timeout', $1, true), \
                       set_config('statement_timeout', '0', true), \
                       set_config('idle_in_transaction_session_timeout', '0', true), \
                       set_config('synchronous_commit', \
                         CASE current_setting('synchronous_commit') \
                           WHEN 'remote_apply' THEN 'remote_apply' ELSE 'on' END, true)"
                .to_owned(),
            ensure_row: format!("INSERT INTO {t} (name) VALUES ($1) ON CONFLICT (name) DO NOTHING"),
            // Ends only when the caller's version is still the row's; the
            // whole blob (within the limit) otherwise.
            lock: format!(
                "SELECT tableoid::int8, version, nonce, octet_length(blob)::int8, \
                   CASE WHEN tableoid::int8 = $2 AND version = $3 AND nonce = $7 \
                     THEN substring(blob FROM 1 FOR $4) END, \
                   CASE WHEN tableoid::int8 = $2 AND version = $3 AND nonce = $7 \
                     THEN substring(blob FROM greatest(octet_length(blob) - $5 + 1, 1)) END, \
                   CASE WHEN (tableoid::int8 IS DISTINCT FROM $2 OR version IS DISTINCT FROM $3 \
                       OR nonce IS DISTINCT FROM $7) \
                     AND octet_length(blob) <= $6 THEN blob END \
                 FROM {t} WHERE name = $1 FOR UPDATE"
            ),
            lock_version: format!(
                "SELECT tableoid::int8, version, nonce FROM {t} WHERE name = $1 FOR UPDATE"
            ),
            read: format!(
                "SELECT tableoid::int8, version, nonce, octet_length(blob)::int8, \
                   CASE WHEN octet_length(blob) <= $2 THEN blob END \
                 FROM {t} WHERE name = $1"
            ),
            version: format!("SELECT tableoid::int8, version, nonce FROM {t} WHERE name = $1"),
            write: format!(
                "UPDATE {t} SET version = nextval({seq}), nonce = $3, blob = $2, \
                   updated_at = now() WHERE name = $1 RETURNING tableoid::int8, version, nonce"
            ),
            quarantine_copy: format!(
                "INSERT INTO {t} (name, version, nonce, blob, updated_at) \
                 SELECT $2, nextval({seq}), $3, blob, updated_at FROM {t} \
                 WHERE name = $1 AND blob IS NOT NULL \
                 ON CONFLICT (name) DO NOTHING RETURNING name"
            ),
            quarantine_clear: format!(
                "UPDATE {t} SET version = NULL, nonce = NULL, blob = NULL, updated_at = now() \
                 WHERE name = $1"
            ),
            // The lock's key is hashed here: the name (a server URL, for
            // keyseal-rmcp) never reaches the server or its logs.
            // Two statements: a statement's own timeout is armed when it
            // starts, so the settings must come before the lock's.
            advisory_settings: "SELECT set_config('lock_timeout', $1, false), \
                                set_config('statement_timeout', '0', false)"
                .to_owned(),
            advisory_lock: "SELECT pg_advisory_lock($1)".to_owned(),
        }
    }
}

/// Makes the table when it is missing (one process at a time, under a
/// transaction-scoped advisory lock), then checks its columns, its unique
/// name and its sequence. [`Failure::Unexpected`] says what is wrong.
pub(crate) async fn ensure_schema(client: &Client, table: &str) -> Result<(), Failure> {
    let quoted = format!("\"{table}\"");
    if !exists(client, &quoted).await? {
        let create = async {
            client.batch_execute("BEGIN").await?;
            client
                .batch_execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended('keyseal-postgres schema', 0))",
                )
                .await?;
            client.batch_execute(&schema_sql(table)).await?;
            client.batch_execute("COMMIT").await
        };
        if let Err(e) = create.await {
            let _ = client.batch_execute("ROLLBACK").await;
            let denied = e.as_db_error().is_some_and(|db| {
                *db.code() == tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE
            });
            if denied {
                return Err(Failure::Unexpected(format!(
                    "does not exist, and this user may not create it: run the crate's \
                     schema.sql for table {table} as its owner (see docs/FLEET.md)"
                )));
            }
            return Err(Failure::statement(e));
        }
    }
    check(client, table, &quoted).await
}

async fn exists(client: &Client, table: &str) -> Result<bool, Failure> {
    let rows = client
        .query_typed("SELECT to_regclass($1)::text", &[(&table, Type::TEXT)])
        .await
        .map_err(Failure::statement)?;
    Ok(rows
        .first()
        .and_then(|row| row.try_get::<_, Option<String>>(0).ok().flatten())
        .is_some())
}

async fn check(client: &Client, table: &str, quoted: &str) -> Result<(), Failure> {
    let rows = client
        .query_typed(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) \
             FROM pg_attribute a WHERE a.attrelid = to_regclass($1) \
             AND a.attnum > 0 AND NOT a.attisdropped",
            &[(&quoted, Type::TEXT)],
        )
        .await
        .map_err(Failure::statement)?;
    let found: Vec<(String, String)> = rows
        .iter()
        .filter_map(|row| Some((row.try_get(0).ok()?, row.try_get(1).ok()?)))
        .collect();
    if found.is_empty() {
        return Err(Failure::Unexpected(format!("{table} does not exist")));
    }
    for (column, kind) in COLUMNS {
        match found.iter().find(|(name, _)| name == column) {
            None => {
                return Err(Failure::Unexpected(format!(
                    "{table} is not keyseal's: it has no column {column} ({kind})"
                )));
            }
            Some((_, actual)) if actual != kind => {
                return Err(Failure::Unexpected(format!(
                    "{table} is not keyseal's: its column {column} is {actual}, not {kind}"
                )));
            }
            Some(_) => {}
        }
    }
    let unique = client
        .query_typed(
            "SELECT count(*) FROM pg_index i JOIN pg_attribute a \
               ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
             WHERE i.indrelid = to_regclass($1) AND i.indisunique \
               AND i.indnkeyatts = 1 AND a.attname = 'name'",
            &[(&quoted, Type::TEXT)],
        )
        .await
        .map_err(Failure::statement)?;
    let unique: i64 = unique.first().and_then(|r| r.try_get(0).ok()).unwrap_or(0);
    if unique == 0 {
        return Err(Failure::Unexpected(format!(
            "{table} is not keyseal's: its column name is not unique (it must be the primary key)"
        )));
    }
    let sequence = format!("{table}_version");
    let quoted_sequence = format!("\"{sequence}\"");
    let kind = client
        .query_typed(
            "SELECT c.relkind::text FROM pg_class c WHERE c.oid = to_regclass($1)",
            &[(&quoted_sequence, Type::TEXT)],
        )
        .await
        .map_err(Failure::statement)?;
    let kind: Option<String> = kind.first().and_then(|r| r.try_get(0).ok());
    if kind.as_deref() != Some("S") {
        return Err(Failure::Unexpected(format!(
            "{table} has no version sequence {sequence} (run the crate's schema.sql)"
        )));
    }
    Ok(())
}
