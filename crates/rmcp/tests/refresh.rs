//! The proof: real processes, each running rmcp's `AuthorizationManager`
//! against an authorization server on loopback whose refresh tokens rotate
//! and whose reuse detection revokes a token family; with keyseal-rmcp's
//! refresh guard nobody is logged out, and without it (or with per-process
//! copies) people are. The full size runs in `cargo xtask torture`
//! (`tests/torture.rs`).
#![cfg(test)]

mod support;

use std::time::Duration;

use keyseal_testkit::is_child;
use support::client::{Mode, Run, child_main};

/// How long the token endpoint takes: a provider's round trip.
const TOKEN_DELAY: Duration = Duration::from_millis(10);

#[test]
#[ignore = "child process of the refresh tests"]
fn child_client() {
    if is_child() {
        child_main();
    }
}

fn rounds(default: usize) -> usize {
    std::env::var("KEYSEAL_RMCP_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn eight_processes_refreshing_one_server_with_rotating_tokens_log_nobody_out() {
    let (processes, rounds) = (8, rounds(40));
    let run = Run::new(Mode::Keyseal, processes, rounds, TOKEN_DELAY);
    let counts = run.server.counts();
    println!("keyseal-rmcp: {counts:?}");
    assert_eq!(counts.invalid_grant, 0, "{counts:?}");
    assert_eq!(counts.revoked_families, 0, "{counts:?}");
    // Every token request was a refresh (the tokens expire at once): the
    // rounds plus each process's last token.
    assert_eq!(counts.refreshes, processes * (rounds + 1), "{counts:?}");
    for (i, outcome) in run.outcomes.iter().enumerate() {
        assert!(
            !outcome.logged_out,
            "process {i} was logged out: {outcome:?}"
        );
        assert_eq!(outcome.errors, 0, "process {i}: {outcome:?}");
        assert_eq!(outcome.ok, rounds, "process {i}: {outcome:?}");
        let token = outcome.final_token.as_deref().expect("a final token");
        assert!(
            run.server.works(token),
            "process {i}'s last token does not work"
        );
    }
    let (_, revoked) = run.server.family(0);
    assert!(!revoked);
    assert!(run.store_holds_the_newest_token());
}

#[test]
fn without_the_guard_or_with_copies_per_process_the_same_run_logs_people_out() {
    // What the guard prevents, measured the same way (the torture run
    // writes both counts into docs/RELIABILITY.md).
    for (mode, processes, rounds) in [(Mode::Unguarded, 8, rounds(20)), (Mode::Memory, 4, 5)] {
        let run = Run::new(mode, processes, rounds, TOKEN_DELAY);
        let counts = run.server.counts();
        let logged_out = run.logged_out();
        println!(
            "{}: {counts:?}, {logged_out} of {processes} processes logged out",
            mode.name()
        );
        assert!(
            counts.invalid_grant > 0,
            "{}: no collision in {counts:?}",
            mode.name()
        );
        assert!(counts.revoked_families > 0, "{}: {counts:?}", mode.name());
        assert!(logged_out > 0, "{}: nobody was logged out", mode.name());
    }
}
