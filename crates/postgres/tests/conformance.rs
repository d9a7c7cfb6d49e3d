//! The `keyseal-blob` contract, unchanged, against a real PostgreSQL server
//! over plain loopback and over verified TLS.
#![cfg(test)]

mod support;

use keyseal_blob::{BlobStore, Decision, conformance};
use keyseal_postgres::PostgresStore;
use support::{PgOptions, PgServer};

#[test]
fn the_postgres_store_passes_the_blob_conformance_suite() {
    let Some(server) = support::server() else {
        return;
    };
    let store = support::store(&server, "conformance");
    conformance::run_all(&store);
    // Quarantined blobs are rows of their own, never deleted.
    let kept = server.psql(
        "SELECT count(*) FROM keyseal_blobs WHERE name LIKE 'conformance.conformance-reset-%'",
    );
    assert!(kept.trim().parse::<u32>().unwrap() > 0, "{kept}");
}

#[test]
fn the_suite_passes_over_verified_tls_and_the_server_sees_only_tls() {
    let Some(server) = PgServer::start(PgOptions { tls: true }) else {
        return;
    };
    for host in ["localhost", "127.0.0.1"] {
        let store = PostgresStore::new(&server.tls_url(host, &format!("tls-{host}"))).unwrap();
        conformance::run_all(&store);
    }
    let store = PostgresStore::new(&server.tls_url("localhost", "tls-check")).unwrap();
    store
        .update(&mut |_| Decision::Write(b"sealed".to_vec()))
        .unwrap();
    // Every client connection of the store is encrypted.
    let plain = server.psql(
        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
         WHERE application_name = 'keyseal' AND NOT ssl",
    );
    let encrypted = server.psql(
        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
         WHERE application_name = 'keyseal' AND ssl",
    );
    assert_eq!(plain.trim(), "0");
    assert!(encrypted.trim().parse::<u32>().unwrap() >= 1, "{encrypted}");
}

#[test]
fn two_stores_in_one_table_are_separate_and_versions_never_repeat() {
    let Some(server) = support::server() else {
        return;
    };
    let a = support::store(&server, "a");
    let b = support::store(&server, "b");
    let va = a
        .update(&mut |_| Decision::Write(b"blob of a".to_vec()))
        .unwrap()
        .unwrap();
    assert!(b.read().unwrap().is_none(), "b sees a's blob");
    b.update(&mut |_| Decision::Write(b"blob of b".to_vec()))
        .unwrap();
    assert_eq!(a.read().unwrap().unwrap().bytes(), b"blob of a");
    assert_eq!(a.version().unwrap(), Some(va));
    // After a quarantine the next blob's version is new, even with the same
    // bytes: a reader holding the old version re-reads.
    a.quarantine("test", None).unwrap().unwrap();
    let again = a
        .update(&mut |_| Decision::Write(b"blob of a".to_vec()))
        .unwrap()
        .unwrap();
    assert_ne!(again, va);
}
