//! The shared test helpers, and the stores the tests make.
#![allow(
    dead_code,
    unused_imports,
    reason = "each test binary uses part of the helpers"
)]

pub(crate) use keyseal_testkit::postgres::{PASSWORD, PgOptions, PgServer};
pub(crate) use keyseal_testkit::*;

use std::time::Duration;

use keyseal_postgres::PostgresStore;

/// A plain (loopback, no TLS) server, or `None` to skip.
pub(crate) fn server() -> Option<PgServer> {
    PgServer::start(PgOptions::default())
}

/// A store named `store` on `server`.
pub(crate) fn store(server: &PgServer, store: &str) -> PostgresStore {
    PostgresStore::new(&server.url(store))
        .unwrap_or_else(|e| panic!("{e}"))
        .with_lock_timeout(Duration::from_secs(30))
}

pub(crate) mod replicas;
