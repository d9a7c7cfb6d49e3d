//! The facade's guarantees with its blob in PostgreSQL: what one replica
//! writes another reads, and a row that is not a store, tampered, sealed
//! for another key or rolled back is reported and never overwritten.
#![cfg(test)]

mod support;

use keyseal::keys::KeyFileProvider;
use keyseal::{Error, RollbackMarks, Store};
use keyseal_postgres::PostgresStore;
use support::{PgServer, TempDir};

const CONTEXT: &str = "com.example.gateway/oauth";

fn key_file(dir: &TempDir, name: &str, byte: u8) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.path().join(name);
    std::fs::write(&path, [byte; 32]).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn replica(
    server: &PgServer,
    store: &str,
    key: &std::path::Path,
    marks: &std::path::Path,
) -> Store {
    let blob = PostgresStore::new(&server.url(store)).unwrap();
    Store::builder(KeyFileProvider::new(key), blob, CONTEXT)
        .rollback_marks(Some(RollbackMarks::in_dir(marks)))
        .build()
}

/// The row's bytes, as hex, straight from the server.
fn row(server: &PgServer, store: &str) -> String {
    server.psql(&format!(
        "SELECT encode(blob, 'hex') FROM keyseal_blobs WHERE name = '{store}'"
    ))
}

#[test]
fn replicas_share_one_store_through_the_database() {
    let Some(server) = support::server() else {
        return;
    };
    let dir = TempDir::new("pg-facade");
    let key = key_file(&dir, "key", 1);
    let a = replica(&server, "fleet", &key, &dir.path().join("marks-a"));
    let b = replica(&server, "fleet", &key, &dir.path().join("marks-b"));
    a.set("github", &serde_json::json!({"access_token": "gho_1"}))
        .unwrap();
    let seen: serde_json::Value = b.get("github").unwrap().unwrap();
    assert_eq!(seen["access_token"], "gho_1");
    b.set("github", &serde_json::json!({"access_token": "gho_2"}))
        .unwrap();
    // A's cached copy notices B's write.
    let seen: serde_json::Value = a.get("github").unwrap().unwrap();
    assert_eq!(seen["access_token"], "gho_2");
    assert!(a.remove("github").unwrap());
    assert_eq!(b.get::<serde_json::Value>("github").unwrap(), None);
    b.set_bytes("api", b"\x00\xffbytes").unwrap();
    assert_eq!(a.list().unwrap(), vec!["api".to_owned()]);
    // The database holds sealed bytes only: no value, no name in clear.
    let hex = row(&server, "fleet");
    assert!(hex.trim().len() > 64, "no blob in the row: {hex}");
    assert!(
        !hex.contains(&hex_of(b"\x00\xffbytes")),
        "a value is in clear"
    );
    b.set("github", &"gho_in_clear?").unwrap();
    let hex = row(&server, "fleet");
    assert!(
        !hex.contains(&hex_of(b"gho_in_clear?")),
        "a value is in clear"
    );
    assert!(
        !hex.contains(&hex_of(b"github")),
        "an entry name is in clear"
    );
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_row_that_is_not_a_store_or_is_tampered_is_reported_and_never_overwritten() {
    let Some(server) = support::server() else {
        return;
    };
    let dir = TempDir::new("pg-facade-bad");
    let key = key_file(&dir, "key", 2);
    let marks = dir.path().join("marks");
    // Not a store.
    let store = replica(&server, "garbage", &key, &marks);
    store.set("seed", &"value").unwrap();
    server.psql("UPDATE keyseal_blobs SET blob = '\\x68656c6c6f' WHERE name = 'garbage'");
    let before = row(&server, "garbage");
    let fresh = replica(&server, "garbage", &key, &marks);
    assert!(matches!(
        fresh.get::<String>("seed"),
        Err(Error::NotAStore { .. })
    ));
    assert!(fresh.set("other", &"value").is_err());
    assert_eq!(row(&server, "garbage"), before);
    // Tampered: one byte of the ciphertext flipped.
    let store = replica(&server, "tampered", &key, &marks);
    store.set("seed", &"value").unwrap();
    server.psql(
        "UPDATE keyseal_blobs SET blob = set_byte(blob, length(blob) - 1, \
         get_byte(blob, length(blob) - 1) # 1) WHERE name = 'tampered'",
    );
    let before = row(&server, "tampered");
    let fresh = replica(&server, "tampered", &key, &marks);
    assert!(matches!(
        fresh.get::<String>("seed"),
        Err(Error::Tampered { .. })
    ));
    assert!(matches!(
        fresh.set("other", &"v"),
        Err(Error::Tampered { .. })
    ));
    assert_eq!(row(&server, "tampered"), before);
}

#[test]
fn another_key_is_a_wrong_key_and_an_older_row_put_back_is_a_rollback() {
    let Some(server) = support::server() else {
        return;
    };
    let dir = TempDir::new("pg-facade-key");
    let key = key_file(&dir, "key", 3);
    let other = key_file(&dir, "other", 4);
    let marks = dir.path().join("marks");
    let store = replica(&server, "keys", &key, &marks);
    store.set("token", &"first").unwrap();
    let before = row(&server, "keys");
    let wrong = replica(&server, "keys", &other, &dir.path().join("marks-2"));
    assert!(matches!(
        wrong.get::<String>("token"),
        Err(Error::WrongKey { .. })
    ));
    assert!(wrong.set("token", &"x").is_err());
    assert_eq!(row(&server, "keys"), before);
    // A database restore that brings back an older blob is seen by a
    // replica that saw the newer one.
    store.set("token", &"second").unwrap();
    server.psql(&format!(
        "UPDATE keyseal_blobs SET blob = '\\x{}', version = nextval('keyseal_blobs_version') \
         WHERE name = 'keys'",
        before.trim()
    ));
    let again = replica(&server, "keys", &key, &marks);
    assert!(matches!(
        again.get::<String>("token"),
        Err(Error::Rollback { .. })
    ));
}

#[test]
fn the_store_works_from_async_code_directly_and_through_async_store() {
    let Some(server) = support::server() else {
        return;
    };
    let dir = TempDir::new("pg-facade-async");
    let key = key_file(&dir, "key", 5);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // A blocking call made on the runtime's own thread blocks it, but
        // never nests a runtime (the sync `postgres` client would panic).
        let direct = replica(&server, "async", &key, &dir.path().join("marks-1"));
        direct.set("token", &"direct").unwrap();
        let store =
            keyseal::AsyncStore::new(replica(&server, "async", &key, &dir.path().join("marks-2")));
        assert_eq!(
            store.get::<String>("token").await.unwrap().as_deref(),
            Some("direct")
        );
        store.set("token", &"async").await.unwrap();
        let guard = store
            .named_lock(
                "rmcp-refresh/https://mcp.example",
                std::time::Duration::from_secs(5),
            )
            .await
            .unwrap();
        drop(guard);
    });
    let again = replica(&server, "async", &key, &dir.path().join("marks-3"));
    assert_eq!(
        again.get::<String>("token").unwrap().as_deref(),
        Some("async")
    );
}
