//! An acknowledged update survives a crash of the server even where the
//! server (or its role or database) commits asynchronously: the store
//! raises `synchronous_commit` for its own transactions. A plain `UPDATE`
//! on the same server, acknowledged the same way, is lost: the control
//! that shows the crash would have lost the store's writes too.
#![cfg(test)]

mod support;

use keyseal_blob::{BlobStore, Decision};

#[test]
fn acknowledged_updates_survive_a_crash_of_a_server_that_commits_asynchronously() {
    let Some(server) = support::server() else {
        return;
    };
    // Asynchronous commits, flushed by the WAL writer only every 10 s.
    server.psql("ALTER SYSTEM SET synchronous_commit = off");
    server.psql("ALTER SYSTEM SET wal_writer_delay = '10s'");
    server.psql("SELECT pg_reload_conf()");
    server.psql("CREATE TABLE control (id int PRIMARY KEY, v int)");
    server.psql("INSERT INTO control VALUES (1, 0)");
    server.psql("CHECKPOINT");
    let store = support::store(&server, "durable");
    let mut control_lost = 0;
    let rounds = 5;
    for round in 1..=rounds {
        let value = format!("round {round}").into_bytes();
        store
            .update(&mut |_| Decision::Write(value.clone()))
            .unwrap();
        // The control: acknowledged by the server, asynchronously.
        server.psql(&format!("UPDATE control SET v = {round} WHERE id = 1"));
        server.stop_immediately();
        server.start_again();
        assert_eq!(
            store.read().unwrap().unwrap().bytes(),
            &value[..],
            "an acknowledged update was lost in round {round}"
        );
        let control: u32 = server
            .psql("SELECT v FROM control WHERE id = 1")
            .trim()
            .parse()
            .unwrap();
        if control != round {
            control_lost += 1;
        }
    }
    println!("the control lost {control_lost} of {rounds} acknowledged updates");
    assert!(
        control_lost > 0,
        "the crash never lost an asynchronous commit: this run shows nothing"
    );
}
