//! The replica runs at full size, for `cargo xtask torture` (quick sizes
//! under `--quick`): each is one line of docs/RELIABILITY.md.
#![cfg(test)]
#![cfg(unix)]

mod support;

use support::replicas::{self, Outcome};

#[test]
#[ignore = "child process of the torture runs"]
fn child_replica() {
    if support::is_child() {
        replicas::replica_main();
    }
}

fn quick() -> bool {
    std::env::var("KEYSEAL_TORTURE_QUICK").is_ok_and(|v| v == "1")
}

fn report(category: &str, outcome: &Outcome, what: &str) {
    let failures: Vec<String> = outcome
        .failures
        .iter()
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect();
    let broken = outcome.lost.len() + outcome.resurrected.len();
    support::torture_report(
        category,
        outcome.acknowledged,
        outcome.acknowledged - broken,
        broken,
        &format!(
            "{what}; {} lost updates, {} resurrected deletes; failed attempts retried: {}",
            outcome.lost.len(),
            outcome.resurrected.len(),
            if failures.is_empty() {
                "none".to_owned()
            } else {
                failures.join(", ")
            }
        ),
    );
}

#[test]
#[ignore = "run by cargo xtask torture"]
fn torture_postgres_replicas() {
    let count = if quick() { 40 } else { 200 };
    let Some(outcome) = replicas::contention("child_replica", 8, count) else {
        return;
    };
    report(
        "PostgreSQL, 8 replicas",
        &outcome,
        &format!("8 processes x {count} entries set (a third removed again) in one store"),
    );
}

#[test]
#[ignore = "run by cargo xtask torture"]
fn torture_postgres_restarts() {
    let (count, stops) = if quick() { (40, 1) } else { (200, 5) };
    let Some(outcome) = replicas::restarts("child_replica", 8, count, stops) else {
        return;
    };
    report(
        "PostgreSQL, server crashes",
        &outcome,
        &format!(
            "8 processes x {count} entries; the server stopped with pg_ctl -m immediate and restarted {stops} times mid-run"
        ),
    );
}

#[test]
#[ignore = "run by cargo xtask torture"]
fn torture_postgres_failover() {
    let count = if quick() { 40 } else { 200 };
    let Some(outcome) = replicas::failover("child_replica", 8, count) else {
        return;
    };
    report(
        "PostgreSQL, failover",
        &outcome,
        &format!(
            "8 processes x {count} entries; the primary SIGKILLed after a third, its synchronous standby promoted; a two-host URL with target_session_attrs=read-write"
        ),
    );
}
