//! What went wrong in a round trip, and the [`keyseal_blob::Error`] it is.

use std::path::PathBuf;
use std::time::Duration;

use keyseal_blob::Error;
use tokio_postgres::error::SqlState;

/// Which part of an operation failed: it decides what a broken connection
/// means (nothing written, or unknown).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Round {
    /// Connecting and authenticating.
    Connect,
    /// A statement before the commit: a failure writes nothing.
    Statement,
    /// The commit itself: a broken connection leaves the outcome unknown.
    Commit,
}

/// A failed round trip, before it is given a store's location.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The client (or the server through it) reported an error.
    Client(Round, tokio_postgres::Error),
    /// The round trip got no answer in time.
    TimedOut(Duration),
    /// The commit got no answer in time.
    CommitTimedOut(Duration),
    /// The commit returned, but the server warned that its wait for the
    /// synchronous standby was cancelled: committed on the primary only.
    ReplicationWaitCancelled,
    /// The commit was sent, and the client's runtime failed before its
    /// answer came.
    CommitLost(String),
    /// The trusted roots could not be loaded.
    TlsSetup(String),
    /// The crate's runtime could not start or dropped the work.
    Runtime(String),
    /// The server answered with something the store did not expect.
    Unexpected(String),
}

impl Failure {
    /// A statement's error.
    pub(crate) fn statement(e: tokio_postgres::Error) -> Self {
        Self::Client(Round::Statement, e)
    }

    /// The commit's error.
    pub(crate) fn commit(e: tokio_postgres::Error) -> Self {
        Self::Client(Round::Commit, e)
    }

    /// The error for people and callers: `operation` says what was being
    /// done, `lock_wait` how long a row or advisory lock could be waited for.
    pub(crate) fn into_error(
        self,
        location: &str,
        operation: &'static str,
        lock_wait: Duration,
    ) -> Error {
        let location = location.to_owned();
        match self {
            Self::TimedOut(after) => Error::Unreachable {
                location,
                reason: format!("no answer within {} ms", after.as_millis()),
                source: None,
            },
            Self::CommitTimedOut(after) => Error::Unconfirmed {
                location,
                source: Some(
                    format!("no answer to the commit within {} ms", after.as_millis()).into(),
                ),
            },
            Self::ReplicationWaitCancelled => Error::Unconfirmed {
                location,
                source: Some(
                    "the primary committed it, but its wait for the synchronous standby was \
                     cancelled: a failover now could lose it"
                        .into(),
                ),
            },
            Self::CommitLost(reason) => Error::Unconfirmed {
                location,
                source: Some(
                    format!("the client's runtime failed during the commit: {reason}").into(),
                ),
            },
            Self::TlsSetup(reason) => Error::Tls {
                location,
                source: reason.into(),
            },
            Self::Runtime(reason) => Error::Server {
                location,
                operation,
                source: format!("the client's runtime failed: {reason}").into(),
            },
            Self::Unexpected(reason) => Error::Server {
                location,
                operation,
                source: reason.into(),
            },
            Self::Client(round, e) => classify(round, e, location, operation, lock_wait),
        }
    }
}

fn classify(
    round: Round,
    e: tokio_postgres::Error,
    location: String,
    operation: &'static str,
    lock_wait: Duration,
) -> Error {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::LOCK_NOT_AVAILABLE {
            return Error::LockTimeout {
                lock_path: PathBuf::from(location),
                waited: lock_wait,
            };
        }
        if *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        {
            return Error::AuthenticationFailed {
                location,
                source: Box::new(e),
            };
        }
        if *code == SqlState::UNDEFINED_TABLE
            || *code == SqlState::UNDEFINED_COLUMN
            || *code == SqlState::INVALID_COLUMN_REFERENCE
        {
            return Error::Schema {
                location,
                reason: format!("is missing or not keyseal's: {}", db.message()),
            };
        }
        let gone = *code == SqlState::ADMIN_SHUTDOWN
            || *code == SqlState::CRASH_SHUTDOWN
            || *code == SqlState::CANNOT_CONNECT_NOW
            || *code == SqlState::TOO_MANY_CONNECTIONS;
        if gone && round != Round::Commit {
            return Error::Unreachable {
                location,
                reason: format!("the server is not serving: {}", db.message()),
                source: Some(Box::new(e)),
            };
        }
        // A commit answered with an error rolled back, unless the server
        // itself failed while committing (PANIC or FATAL, or a class 57
        // operator intervention, 58 system error or XX internal error):
        // then the commit may have reached the disk.
        if round == Round::Commit {
            let class = code.code().get(..2).unwrap_or_default();
            let fatal = matches!(
                db.parsed_severity(),
                Some(
                    tokio_postgres::error::Severity::Panic | tokio_postgres::error::Severity::Fatal
                )
            );
            if fatal || matches!(class, "57" | "58" | "XX") {
                return Error::Unconfirmed {
                    location,
                    source: Some(Box::new(e)),
                };
            }
        }
        return Error::Server {
            location,
            operation,
            source: Box::new(e),
        };
    }
    if round == Round::Commit {
        return Error::Unconfirmed {
            location,
            source: Some(Box::new(e)),
        };
    }
    if is_tls(&e) {
        return Error::Tls {
            location,
            source: Box::new(e),
        };
    }
    let text = with_sources(&e);
    if text.contains("password missing") {
        return Error::AuthenticationFailed {
            location,
            source: Box::new(e),
        };
    }
    Error::Unreachable {
        location,
        reason: if e.is_closed() {
            "the connection closed".to_owned()
        } else {
            text
        },
        source: Some(Box::new(e)),
    }
}

/// The error and its causes, as one line (tokio-postgres's `Display`
/// leaves the cause out: "invalid configuration").
fn with_sources(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// Whether the error is the TLS handshake's (rustls refused the server's
/// certificate, or the server offers no TLS).
fn is_tls(e: &tokio_postgres::Error) -> bool {
    let text = with_sources(e);
    if text.contains("TLS") || text.contains("tls") {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
        {
            return true;
        }
        source = s.source();
    }
    false
}
