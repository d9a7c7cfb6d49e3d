//! The command on a fleet's store: the blob in PostgreSQL, the key in a
//! mounted key file. Every failure is its documented exit code with a next
//! step, and leaves the row as it was.
#![cfg(test)]
#![cfg(unix)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use keyseal_testkit::TempDir;
use keyseal_testkit::postgres::{PASSWORD, PgOptions, PgServer};

fn key_file(dir: &TempDir, name: &str, contents: &[u8], mode: u32) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, contents).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// `keyseal` on the PostgreSQL store `url` (given in KEYSEAL_STORE) with
/// the key in `key`.
fn fleet(url: &str, key: &Path) -> Command {
    let mut cmd = support::keyseal(Path::new(url));
    cmd.env("KEYSEAL_KEYS", "file").env("KEYSEAL_KEY_FILE", key);
    cmd
}

/// Runs `keyseal ARGS` on the fleet store with `stdin`.
fn fleet_run(url: &str, key: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = fleet(url, key);
    cmd.args(args);
    support::run(cmd, stdin)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The row of `store`, as hex, straight from the server.
fn row(server: &PgServer, store: &str) -> String {
    server.psql(&format!(
        "SELECT coalesce(encode(blob, 'hex'), 'none') FROM keyseal_blobs WHERE name = '{store}'"
    ))
}

#[test]
fn set_get_list_and_rm_work_on_a_postgres_store_with_a_key_file() {
    let Some(server) = PgServer::start(PgOptions::default()) else {
        return;
    };
    let dir = TempDir::new("cli-fleet");
    let key = key_file(&dir, "key", &[0x99u8; 32], 0o400);
    let url = server.url("cli");
    let value = b"\x00{\"access_token\":\"gho_x\"}\n\xff";
    let out = fleet_run(&url, &key, &["set", "github"], value);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = fleet_run(&url, &key, &["get", "github"], b"");
    assert_eq!(out.stdout, value);
    let out = fleet_run(&url, &key, &["list"], b"");
    assert_eq!(out.stdout, b"github\n");
    // Messages name the store without its password.
    let out = fleet_run(&url, &key, &["get", "missing"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("postgres://keyseal@127.0.0.1:"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(PASSWORD));
    let out = fleet_run(&url, &key, &["doctor"], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("store:        postgres://keyseal@"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
    let out = fleet_run(&url, &key, &["rm", "github"], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = fleet_run(&url, &key, &["list"], b"");
    assert_eq!(out.stdout, b"");
}

#[test]
fn a_password_on_the_command_line_is_refused_before_anything_connects() {
    let Some(server) = PgServer::start(PgOptions::default()) else {
        return;
    };
    let dir = TempDir::new("cli-fleet-argv");
    let key = key_file(&dir, "key", &[0x99u8; 32], 0o600);
    let mut cmd = fleet("unused", &key);
    cmd.env_remove("KEYSEAL_STORE")
        .args(["--store", &server.url("argv"), "set", "x"]);
    let out = support::run(cmd, b"value");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("KEYSEAL_STORE"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(PASSWORD));
    assert_eq!(
        server
            .psql("SELECT count(*) FROM pg_class WHERE relname = 'keyseal_blobs'")
            .trim(),
        "0"
    );
    // Without the password in it, the URL may be typed, and PGPASSWORD
    // gives the password.
    let bare = server.url("argv").replace(&format!(":{PASSWORD}@"), "@");
    let mut cmd = fleet("unused", &key);
    cmd.env_remove("KEYSEAL_STORE")
        .env("PGPASSWORD", PASSWORD)
        .args(["--store", &bare, "set", "x"]);
    let out = support::run(cmd, b"value");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn bad_key_files_are_exit_5_and_write_nothing() {
    let Some(server) = PgServer::start(PgOptions::default()) else {
        return;
    };
    let dir = TempDir::new("cli-fleet-keys");
    let good = key_file(&dir, "good", &[0x99u8; 32], 0o600);
    let url = server.url("keys");
    let out = fleet_run(&url, &good, &["set", "seed"], b"v");
    assert!(out.status.success(), "{}", stderr(&out));
    let before = row(&server, "keys");
    for (name, contents, mode, expected) in [
        ("short", &[0x99u8; 31][..], 0o600, "raw bytes"),
        ("text", &b"not a key at all, just text"[..], 0o600, "base64"),
        ("open", &[0x99u8; 32][..], 0o644, "chmod"),
    ] {
        let key = key_file(&dir, name, contents, mode);
        for args in [&["set", "other"][..], &["get", "seed"], &["rm", "seed"]] {
            let out = fleet_run(&url, &key, args, b"new value");
            assert_eq!(
                out.status.code(),
                Some(5),
                "{name} {args:?}: {}",
                stderr(&out)
            );
            assert!(stderr(&out).contains(expected), "{name}: {}", stderr(&out));
            assert!(stderr(&out).contains(&key.display().to_string()));
        }
        assert_eq!(row(&server, "keys"), before, "{name} changed the store");
    }
    // A key file that is not there.
    let missing = dir.path().join("missing");
    let out = fleet_run(&url, &missing, &["set", "other"], b"v");
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&missing.display().to_string()),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("KEYSEAL_KEY_FILE"),
        "{}",
        stderr(&out)
    );
    assert_eq!(row(&server, "keys"), before);
    // --keys file without a key file says how to give one.
    let mut cmd = fleet(&url, &good);
    cmd.env_remove("KEYSEAL_KEY_FILE").args(["set", "other"]);
    let out = support::run(cmd, b"v");
    assert_eq!(out.status.code(), Some(5));
    assert!(stderr(&out).contains("--key-file"), "{}", stderr(&out));
    assert_eq!(row(&server, "keys"), before);
}

#[test]
fn server_failures_are_their_exit_codes_with_a_next_step_and_change_nothing() {
    let Some(server) = PgServer::start(PgOptions::default()) else {
        return;
    };
    let dir = TempDir::new("cli-fleet-server");
    let key = key_file(&dir, "key", &[0x99u8; 32], 0o600);
    let url = server.url("faults");
    let out = fleet_run(&url, &key, &["set", "seed"], b"v");
    assert!(out.status.success(), "{}", stderr(&out));
    let before = row(&server, "faults");
    // A wrong password: exit 3.
    let wrong = url.replace(PASSWORD, "wrong-password-77");
    let out = fleet_run(&wrong, &key, &["set", "x"], b"v");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("PGPASSWORD"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("wrong-password-77"));
    // A table that is not keyseal's: exit 3.
    server.psql("CREATE TABLE other_table (name text PRIMARY KEY)");
    let other = format!("{url}&table=other_table");
    let out = fleet_run(&other, &key, &["set", "x"], b"v");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("schema.sql"), "{}", stderr(&out));
    // TLS demanded of a server without it: exit 3.
    let tls = url.replace("sslmode=disable", "sslmode=verify-full");
    let out = fleet_run(&tls, &key, &["set", "x"], b"v");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("sslrootcert"), "{}", stderr(&out));
    // A URL that cannot be used: exit 2.
    let bad = url.replace("sslmode=disable", "sslmode=require");
    let out = fleet_run(&bad, &key, &["set", "x"], b"v");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // The server down: exit 6, and the row is as it was once it is back.
    server.stop_immediately();
    let out = fleet_run(&url, &key, &["set", "x"], b"v");
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(stderr(&out).contains("server is up"), "{}", stderr(&out));
    server.start_again();
    assert_eq!(row(&server, "faults"), before);
}
