//! Helpers shared by keyseal's own integration tests: temporary directories,
//! unique names, child processes that re-run one test of the same binary, and
//! skipping (or, under `cargo xtask ci`, failing) when a service is missing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::print_stdout,
    reason = "test helpers fail loudly"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

/// A name no other test, process or earlier run uses.
pub fn unique(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("keyseal-test-{tag}-{}-{nanos}", std::process::id())
}

/// A directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates a fresh directory.
    pub fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(unique(tag));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `store.sealed` inside it.
    pub fn file(&self) -> PathBuf {
        self.0.join("store.sealed")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Set by `cargo xtask ci`: a missing service is a failure, not a skip.
pub fn services_required() -> bool {
    std::env::var_os("KEYSEAL_REQUIRE_SERVICES").is_some_and(|v| v == "1")
}

/// Held by a test binary's tests that make Secret Service collections, so
/// that they run one at a time: gnome-keyring 42 has aborted when one test
/// made a collection while others' sessions were open (seen in CI), and a
/// daemon restarted by D-Bus comes back locked, failing the tests beside it.
pub fn secret_service_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Skips the calling test with a printed reason, or fails it under CI.
pub fn skip(reason: &str) {
    assert!(
        !services_required(),
        "KEYSEAL_REQUIRE_SERVICES=1 but {reason}"
    );
    eprintln!("SKIPPED: {reason} (run under `cargo xtask test` to provide it)");
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Whether this process is a child started by [`child`] or [`run_child`].
pub fn is_child() -> bool {
    std::env::var_os("KEYSEAL_TEST_CHILD").is_some()
}

/// A command running the `#[ignore]`d test `name` of this same test binary.
pub fn child(name: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("KEYSEAL_TEST_CHILD", "1");
    cmd
}

/// A line of a [`child`]'s output without the `test <name> ... ` that libtest
/// prints just before the child's own output: with `--nocapture` the two
/// share the child's first line, and a parser that expects the child's words
/// at the start of the line would miss that line's operation.
pub fn child_line(line: &str) -> &str {
    match line
        .strip_prefix("test ")
        .and_then(|rest| rest.split_once(" ... "))
    {
        Some((_, tail)) => tail,
        None => line,
    }
}

/// Runs [`child`] `name` with `envs` set and `removed` unset, asserts that it
/// ran and passed, and returns its output.
pub fn run_child(name: &str, envs: &[(&str, &str)], removed: &[&str]) -> Output {
    let mut cmd = child(name);
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

/// The serials of the user keyring's keys of `service` (each store's key is
/// its own key, `keyseal:<service>:<name>.<key id>`), including keys a killed
/// process created and no file names.
pub fn kernel_keys(service: &str) -> Vec<String> {
    let prefix = format!("keyseal:{service}:");
    let Ok(out) = Command::new("keyctl").args(["rlist", "@u"]).output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|serial| {
            Command::new("keyctl")
                .args(["rdescribe", serial])
                .output()
                .is_ok_and(|d| {
                    // type;uid;gid;perm;description
                    String::from_utf8_lossy(&d.stdout)
                        .trim_end()
                        .splitn(5, ';')
                        .nth(4)
                        .is_some_and(|d| d.starts_with(&prefix))
                })
        })
        .map(str::to_owned)
        .collect()
}

/// Unlinks every kernel keyring key of `service` from the user keyring
/// ([`kernel_keys`]). Best effort.
pub fn remove_kernel_keys(service: &str) {
    for serial in kernel_keys(service) {
        let _ = Command::new("keyctl")
            .args(["unlink", &serial, "@u"])
            .output();
    }
}

/// What `secret-tool search --all service <service>` prints (its standard
/// output and error together: it lists attributes on one and secrets on the
/// other): one `[/…]` block per item.
pub fn secret_tool_search(service: &str) -> String {
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", service])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// Stores `value` as the Secret Service item `item` of `service` the way
/// another client does (`secret-tool store`, attributes `service` and
/// `username`); the value goes through standard input, never the command
/// line.
pub fn secret_tool_store(service: &str, item: &str, value: &str) {
    let status = Command::new("sh")
        .args([
            "-c",
            "printf '%s' \"$3\" | secret-tool store --label=legacy service \"$1\" username \"$2\"",
            "sh",
            service,
            item,
            value,
        ])
        .status()
        .unwrap();
    assert!(status.success(), "secret-tool store failed");
}

#[cfg(target_os = "linux")]
pub mod go_keyring;

pub mod docker_agent;

#[cfg(test)]
mod tests {
    use super::child_line;

    #[test]
    fn the_libtest_prefix_is_stripped_from_the_first_line_only() {
        assert_eq!(
            child_line("test child_crash_worker ... begin set w3-n1 v"),
            "begin set w3-n1 v"
        );
        assert_eq!(child_line("begin set w3-n1 v"), "begin set w3-n1 v");
        assert_eq!(child_line("ack rm w0-n0"), "ack rm w0-n0");
    }
}

#[cfg(unix)]
pub mod postgres;

/// Appends one line to the torture report `cargo xtask torture` reads
/// (`KEYSEAL_TORTURE_REPORT`, flat JSON), and prints it.
pub fn torture_report(category: &str, tried: usize, survived: usize, lost: usize, note: &str) {
    use std::io::Write as _;
    println!(
        "TORTURE {category:<24} tried {tried:>6}  survived {survived:>6}  lost {lost}  {note}"
    );
    if let Some(path) = std::env::var_os("KEYSEAL_TORTURE_REPORT") {
        let text = |s: &str| s.replace('\\', "\\\\").replace('"', "'");
        let line = format!(
            "{{\"category\":\"{}\",\"tried\":{tried},\"survived\":{survived},\"lost\":{lost},\"note\":\"{}\"}}",
            text(category),
            text(note)
        );
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap_or_else(|e| panic!("cannot open the torture report: {e}"));
        writeln!(f, "{line}").unwrap_or_else(|e| panic!("cannot write the torture report: {e}"));
    }
}
