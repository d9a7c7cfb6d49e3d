//! Replicas in separate processes sharing one store in PostgreSQL: plain
//! contention, the server stopped abruptly and restarted, and a failover to
//! a synchronous standby. Small sizes; `cargo xtask torture` runs them at
//! full size (tests/torture.rs).
#![cfg(test)]
#![cfg(unix)]

mod support;

use std::time::Duration;

use support::replicas;

#[test]
#[ignore = "child process of the replica tests"]
fn child_replica() {
    if support::is_child() {
        replicas::replica_main();
    }
}

#[test]
fn eight_replicas_setting_and_removing_lose_nothing_and_resurrect_nothing() {
    replicas::contention("child_replica", 8, 30);
}

#[test]
fn replicas_carry_on_after_the_server_stops_abruptly_and_every_acknowledged_write_is_there() {
    replicas::restarts("child_replica", 8, 30, 1);
}

#[test]
fn replicas_fail_over_to_a_promoted_synchronous_standby_with_every_acknowledged_write() {
    let started = std::time::Instant::now();
    let outcome = replicas::failover("child_replica", 4, 30);
    println!("{outcome:?} in {:?}", started.elapsed());
}

#[test]
#[ignore = "child process of a_killed_holder_of_a_named_lock_releases_it"]
fn child_lock_holder() {
    if !support::is_child() {
        return;
    }
    let url = std::env::var("KEYSEAL_TEST_URL").unwrap();
    let store = keyseal_postgres::PostgresStore::new(&url).unwrap();
    let _held =
        keyseal_blob::BlobStore::named_lock(&store, "refresh", Duration::from_secs(5)).unwrap();
    println!("held");
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn a_killed_holder_of_a_named_lock_releases_it() {
    use std::io::BufRead;
    let Some(server) = support::server() else {
        return;
    };
    let url = server.url("lock");
    let mut holder = support::child("child_lock_holder")
        .env("KEYSEAL_TEST_URL", &url)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = std::io::BufReader::new(holder.stdout.take().unwrap());
    while !support::child_line(&line).starts_with("held") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "the holder ended");
    }
    let store = keyseal_postgres::PostgresStore::new(&url).unwrap();
    let waiting =
        keyseal_blob::BlobStore::named_lock(&store, "refresh", Duration::from_millis(300));
    assert!(
        matches!(waiting, Err(keyseal_blob::Error::LockTimeout { .. })),
        "the lock was not held"
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    // The server ends the dead session and its lock with it.
    let _again = keyseal_blob::BlobStore::named_lock(&store, "refresh", Duration::from_secs(10))
        .expect("the lock of a killed holder was not released");
}
