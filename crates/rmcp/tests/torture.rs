//! The refresh proof at full size, run by `cargo xtask torture`: 8
//! processes, 200 tokens each, every one a refresh through rmcp's
//! `AuthorizationManager`, with keyseal-rmcp's guard, without it, and with
//! rmcp's in-memory store. Each run is one line of docs/RELIABILITY.md.
#![cfg(test)]

mod support;

use std::time::Duration;

use keyseal_testkit::is_child;
use support::client::{Mode, Run, child_main};

#[test]
#[ignore = "child process of torture_rmcp_refresh"]
fn child_client() {
    if is_child() {
        child_main();
    }
}

/// One line of the torture report: refreshes tried, processes that kept
/// their login, and logins lost.
fn report(category: &str, tried: usize, survived: usize, lost: usize, note: &str) {
    keyseal_testkit::torture_report(category, tried, survived, lost, note);
}

#[test]
#[ignore = "run by cargo xtask torture"]
fn torture_rmcp_refresh() {
    let quick = std::env::var("KEYSEAL_TORTURE_QUICK").is_ok_and(|v| v == "1");
    let (processes, rounds) = (8, if quick { 40 } else { 200 });
    for mode in [Mode::Keyseal, Mode::Unguarded, Mode::Memory] {
        let run = Run::new(mode, processes, rounds, Duration::from_millis(10));
        let counts = run.server.counts();
        let logged_out = run.logged_out();
        let mut note = format!(
            "rmcp AuthorizationManager, {processes} processes x {rounds} tokens, rotating refresh tokens: {} refreshes, {} invalid_grant, {} token families revoked",
            counts.refreshes, counts.invalid_grant, counts.revoked_families
        );
        if logged_out == processes {
            note.push_str("; every process was logged out at the first collision");
        }
        let category = match mode {
            Mode::Keyseal => "rmcp refresh, keyseal-rmcp",
            Mode::Unguarded => "rmcp refresh, no guard (comparison)",
            Mode::Memory => "rmcp refresh, in-memory (comparison)",
        };
        report(
            category,
            processes,
            processes - logged_out,
            logged_out,
            &note,
        );
        if mode == Mode::Keyseal {
            assert_eq!(counts.invalid_grant, 0, "{counts:?}");
            assert_eq!(counts.revoked_families, 0, "{counts:?}");
            assert_eq!(logged_out, 0);
            assert_eq!(counts.refreshes, processes * (rounds + 1));
            assert!(run.store_holds_the_newest_token());
        }
    }
}
