//! Helpers shared by this crate's integration tests.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

/// Set by `cargo xtask ci`: a missing service is a failure, not a skip.
pub fn services_required() -> bool {
    std::env::var_os("KEYSEAL_REQUIRE_SERVICES").is_some_and(|v| v == "1")
}

/// Skips the calling test with a printed reason, or fails it under CI.
pub fn skip(reason: &str) {
    assert!(
        !services_required(),
        "KEYSEAL_REQUIRE_SERVICES=1 but {reason}"
    );
    eprintln!("SKIPPED: {reason} (run under `cargo xtask test` to provide it)");
}

/// A service name no other test (or earlier run) uses.
pub fn unique(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("keyseal-test-{tag}-{}-{nanos}", std::process::id())
}

/// Whether this process is a child started by [`run_child`].
pub fn is_child() -> bool {
    std::env::var_os("KEYSEAL_TEST_CHILD").is_some()
}

/// Runs the `#[ignore]`d test `name` of this same test binary in a child
/// process with `envs` set and `removed` unset, and returns its output.
pub fn run_child(name: &str, envs: &[(&str, &str)], removed: &[&str]) -> Output {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
    cmd.args([
        name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("KEYSEAL_TEST_CHILD", "1");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    for k in removed {
        cmd.env_remove(k);
    }
    let output = cmd.output().expect("start the child test process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("1 passed"),
        "child test {name} did not run and pass:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
