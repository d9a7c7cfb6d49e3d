//! Every failure a PostgreSQL store reports, each a typed error against a
//! real server, none showing a password, none changing the stored blob.
#![cfg(test)]

mod support;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use keyseal_blob::{BlobStore, Decision, Error};
use keyseal_postgres::{PostgresStore, schema_sql};
use support::{PASSWORD, PgOptions, PgServer};

/// The error, its `Debug` and its whole source chain, as one text.
fn shown(e: &Error) -> String {
    let mut text = format!("{e} / {e:?}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(" / {s}"));
        source = s.source();
    }
    text
}

fn write(store: &PostgresStore, bytes: &[u8]) -> keyseal_blob::Result<()> {
    store
        .update(&mut |_| Decision::Write(bytes.to_vec()))
        .map(|_| ())
}

/// Checks what every error must: no password in any of it.
fn refused(store: &PostgresStore, secrets: &[&str]) -> Error {
    let e = write(store, b"x").expect_err("the store must refuse");
    let text = shown(&e);
    for secret in secrets {
        assert!(!text.contains(secret), "a password is shown: {text}");
    }
    assert!(!format!("{store:?}").contains(PASSWORD));
    e
}

#[test]
fn a_server_that_does_not_answer_is_unreachable() {
    let Some(server) = support::server() else {
        return;
    };
    // A port nothing listens on (the server's own, once it is stopped).
    let store = support::store(&server, "gone");
    server.stop_immediately();
    assert!(matches!(
        refused(&store, &[PASSWORD]),
        Error::Unreachable { .. }
    ));
    assert!(matches!(store.read(), Err(Error::Unreachable { .. })));
    let unknown = PostgresStore::new(&format!(
        "postgres://keyseal:{PASSWORD}@no-such-host.invalid/keyseal?sslmode=disable"
    ))
    .unwrap();
    assert!(matches!(
        refused(&unknown, &[PASSWORD]),
        Error::Unreachable { .. }
    ));
    // Started again, the same store object carries on.
    server.start_again();
    write(&store, b"back").unwrap();
}

#[test]
fn a_wrong_password_is_authentication_failed_and_shown_nowhere() {
    let Some(server) = support::server() else {
        return;
    };
    let wrong = "not-the-password-4711";
    let url = server.url("auth").replace(PASSWORD, wrong);
    let store = PostgresStore::new(&url).unwrap();
    match refused(&store, &[wrong, PASSWORD]) {
        Error::AuthenticationFailed { location, .. } => {
            assert!(
                location.starts_with("postgres://keyseal@127.0.0.1:"),
                "{location}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!store.location().contains(wrong));
    assert!(!format!("{store:?}").contains(wrong));
}

#[test]
fn tls_without_a_verified_server_is_a_tls_error_and_makes_no_table() {
    let Some(plain) = support::server() else {
        return;
    };
    let Some(tls) = PgServer::start(PgOptions { tls: true }) else {
        return;
    };
    // The plain server offers no TLS: verify-full refuses it.
    let url = plain
        .url("tls")
        .replace("sslmode=disable", "sslmode=verify-full");
    let e = refused(&PostgresStore::new(&url).unwrap(), &[PASSWORD]);
    assert!(matches!(e, Error::Tls { .. }), "{e:?}");
    // A certificate from a CA other than the one trusted.
    let Some(other) = PgServer::start(PgOptions { tls: true }) else {
        return;
    };
    let url = tls.tls_url("localhost", "tls").replace(
        &tls.ca().unwrap().display().to_string(),
        &other.ca().unwrap().display().to_string(),
    );
    let e = refused(&PostgresStore::new(&url).unwrap(), &[PASSWORD]);
    assert!(matches!(e, Error::Tls { .. }), "{e:?}");
    // The system's roots do not include the test CA either.
    let url = tls.tls_url("localhost", "tls").replace(
        &format!("sslrootcert={}", tls.ca().unwrap().display()),
        "sslrootcert=system",
    );
    let e = refused(&PostgresStore::new(&url).unwrap(), &[PASSWORD]);
    assert!(matches!(e, Error::Tls { .. }), "{e:?}");
    // A CA file that is not there.
    let url = tls.tls_url("localhost", "tls").replace(
        &tls.ca().unwrap().display().to_string(),
        "/nonexistent/ca.pem",
    );
    let e = refused(&PostgresStore::new(&url).unwrap(), &[PASSWORD]);
    assert!(matches!(e, Error::Tls { .. }), "{e:?}");
    // Nothing reached the table.
    let rows = tls.psql("SELECT count(*) FROM pg_class WHERE relname = 'keyseal_blobs'");
    assert_eq!(rows.trim(), "0");
}

#[test]
fn a_table_of_the_wrong_shape_or_one_the_user_may_not_create_is_a_schema_error() {
    let Some(server) = support::server() else {
        return;
    };
    server.psql("CREATE TABLE wrong_shape (name text PRIMARY KEY, blob text)");
    let url = format!("{}&table=wrong_shape", server.url("s"));
    match refused(&PostgresStore::new(&url).unwrap(), &[PASSWORD]) {
        Error::Schema { reason, .. } => assert!(reason.contains("column"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // A role that may not create tables (PostgreSQL 15 grants no CREATE on
    // `public`), on a table nobody made yet.
    server.psql("CREATE ROLE app LOGIN PASSWORD 'app-password-123'");
    let app_url = server
        .url("s")
        .replace(&format!("keyseal:{PASSWORD}"), "app:app-password-123")
        + "&table=app_blobs";
    let app = PostgresStore::new(&app_url).unwrap();
    match refused(&app, &["app-password-123"]) {
        Error::Schema { reason, .. } => {
            assert!(reason.contains("schema.sql"), "no next step in: {reason}");
        }
        other => panic!("{other:?}"),
    }
    // The shipped SQL, run by the owner, and the grants it names, fix it.
    server.psql(&schema_sql("app_blobs"));
    server.psql("GRANT SELECT, INSERT, UPDATE ON app_blobs TO app");
    server.psql("GRANT USAGE ON SEQUENCE app_blobs_version TO app");
    let app = PostgresStore::new(&app_url).unwrap();
    write(&app, b"sealed").unwrap();
    assert_eq!(app.read().unwrap().unwrap().bytes(), b"sealed");
    // The table dropped under a running store: a schema error, not "empty".
    server.psql("DROP TABLE app_blobs");
    assert!(matches!(app.read(), Err(Error::Schema { .. })));
}

#[test]
fn blobs_over_the_limit_are_refused_both_ways_and_nothing_changes() {
    let Some(server) = support::server() else {
        return;
    };
    let big = support::store(&server, "limits");
    write(&big, &[7u8; 200]).unwrap();
    let small = support::store(&server, "limits").with_max_size(100);
    assert!(matches!(
        small.read(),
        Err(Error::TooLarge {
            size: 200,
            limit: 100,
            ..
        })
    ));
    assert!(matches!(
        write(&small, b"y"),
        Err(Error::TooLarge { size: 200, .. })
    ));
    let e = big.with_max_size(300);
    assert!(matches!(
        write(&e, &[1u8; 301]),
        Err(Error::WriteTooLarge {
            size: 301,
            limit: 300,
            ..
        })
    ));
    assert_eq!(e.read().unwrap().unwrap().bytes(), &[7u8; 200][..]);
}

#[test]
fn a_held_row_lock_is_a_lock_timeout_after_the_bound_and_nothing_is_written() {
    let Some(server) = support::server() else {
        return;
    };
    let holder = Arc::new(support::store(&server, "locked"));
    write(&holder, b"before").unwrap();
    let waiter = support::store(&server, "locked").with_lock_timeout(Duration::from_millis(300));
    let inside = Arc::new(Barrier::new(2));
    let release = Arc::new(Barrier::new(2));
    let thread = {
        let (holder, inside, release) = (holder.clone(), inside.clone(), release.clone());
        std::thread::spawn(move || {
            holder
                .update(&mut |_| {
                    inside.wait();
                    release.wait();
                    Decision::Keep
                })
                .unwrap();
        })
    };
    inside.wait();
    let started = Instant::now();
    let e = write(&waiter, b"while locked").expect_err("the row is locked");
    assert!(matches!(e, Error::LockTimeout { .. }), "{e:?}");
    assert!(started.elapsed() >= Duration::from_millis(250));
    release.wait();
    thread.join().unwrap();
    assert_eq!(holder.read().unwrap().unwrap().bytes(), b"before");
    // The waiter's connection is usable afterwards.
    write(&waiter, b"after").unwrap();
}

#[test]
fn named_locks_exclude_across_stores_time_out_and_die_with_their_session() {
    let Some(server) = support::server() else {
        return;
    };
    let a = support::store(&server, "named");
    let b = support::store(&server, "named");
    let held = a
        .named_lock("rmcp-refresh/https://mcp.example", Duration::from_secs(5))
        .unwrap();
    let e = b
        .named_lock(
            "rmcp-refresh/https://mcp.example",
            Duration::from_millis(200),
        )
        .expect_err("the lock is held");
    assert!(matches!(e, Error::LockTimeout { .. }), "{e:?}");
    // Another name, and the store's own updates, do not wait.
    let _other = b
        .named_lock(
            "rmcp-refresh/https://other.example",
            Duration::from_millis(200),
        )
        .unwrap();
    write(&b, b"inside a named lock").unwrap();
    // The other store of another name in the same table does not share it.
    let c = support::store(&server, "named-elsewhere");
    let _c = c
        .named_lock(
            "rmcp-refresh/https://mcp.example",
            Duration::from_millis(200),
        )
        .unwrap();
    drop(held);
    let _again = b
        .named_lock("rmcp-refresh/https://mcp.example", Duration::from_secs(5))
        .unwrap();
}

#[test]
#[ignore = "child process of no_password_at_all_is_authentication_failed"]
fn child_no_password() {
    if !support::is_child() {
        return;
    }
    let url = std::env::var("KEYSEAL_TEST_URL").unwrap();
    let store = PostgresStore::new(&url).unwrap();
    match refused(&store, &[PASSWORD]) {
        Error::AuthenticationFailed { .. } => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn no_password_at_all_is_authentication_failed() {
    let Some(server) = support::server() else {
        return;
    };
    let bare = server.url("nopw").replace(&format!(":{PASSWORD}@"), "@");
    assert!(!bare.contains(PASSWORD));
    support::run_child(
        "child_no_password",
        &[("KEYSEAL_TEST_URL", &bare)],
        &["PGPASSWORD"],
    );
}
