//! Running the built `keyseal` binary as a user would, for every CLI test.

#![allow(
    dead_code,
    reason = "each test binary uses its own part of the helpers"
)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Standard base64 of 32 bytes 0x00..=0x1f, and of 32 bytes 0xff.
pub(crate) const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
pub(crate) const OTHER_KEY: &str = "//////////////////////////////////////////8=";

/// `keyseal` with a clean KEYSEAL_* environment.
pub(crate) fn keyseal(store: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyseal"));
    for (k, _) in std::env::vars() {
        if k.starts_with("KEYSEAL_") {
            cmd.env_remove(k);
        }
    }
    // Rollback marks go to a state directory of the tests' own.
    cmd.env("KEYSEAL_STORE", store)
        .env("KEYSEAL_LOCK_TIMEOUT", "2")
        .env(
            "XDG_STATE_HOME",
            std::env::temp_dir().join("keyseal-test-state"),
        );
    cmd
}

/// `keyseal` with the test key in KEYSEAL_KEY.
pub(crate) fn env_keyseal(store: &Path) -> Command {
    let mut cmd = keyseal(store);
    cmd.env("KEYSEAL_KEYS", "env").env("KEYSEAL_KEY", KEY);
    cmd
}

/// Runs `cmd` with `stdin` as its input and collects its output.
pub(crate) fn run(cmd: Command, stdin: &[u8]) -> Output {
    run_to(cmd, stdin, Stdio::piped(), false)
}

/// Runs `cmd` with `stdin` as its input and its standard output going to
/// `stdout`; with `close_stdout`, standard output is instead a pipe whose
/// reader is closed before the command starts (a reader that went away:
/// every write fails, however soon the command writes). Collects the rest.
pub(crate) fn run_to(mut cmd: Command, stdin: &[u8], stdout: Stdio, close_stdout: bool) -> Output {
    let stdout = if close_stdout {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        Stdio::from(writer)
    } else {
        stdout
    };
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Commands that do not read their input may exit before it is written.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

/// `cmd` with arguments added.
pub(crate) fn args(mut cmd: Command, a: &[&str]) -> Command {
    cmd.args(a);
    cmd
}

/// The exit code (-1 for a signal).
pub(crate) fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `keyseal set NAME` with the test key; asserts it succeeds.
pub(crate) fn set(store: &Path, name: &str, value: &[u8]) {
    let out = run(args(env_keyseal(store), &["set", name]), value);
    assert_eq!(code(&out), 0, "set {name}: {}", stderr(&out));
}
