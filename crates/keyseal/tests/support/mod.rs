//! Helpers shared by the facade's integration tests.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(unique(tag));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn file(&self) -> PathBuf {
        self.0.join("store.sealed")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn unique(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("keyseal-test-{tag}-{}-{nanos}", std::process::id())
}

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
    eprintln!("SKIPPED: {reason}");
}

/// A child process running the `#[ignore]`d test `name` of this binary.
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

pub fn is_child() -> bool {
    std::env::var_os("KEYSEAL_TEST_CHILD").is_some()
}
