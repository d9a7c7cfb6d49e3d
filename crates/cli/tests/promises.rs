//! What the command promises under a careless user and a hostile
//! environment: output that cannot be written, special files at the store's
//! path, names that would fool a terminal, endless input, a recovery key
//! that cannot be delivered. No command panics or hangs, and a command that
//! exits non-zero leaves the store byte for byte as it was.
#![cfg(test)]
#![cfg(unix)]

mod support;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use keyseal_testkit::TempDir as Dir;
use support::{args, code, env_keyseal, run, run_to, set, stderr};

/// Runs `cmd` with standard output going to `/dev/full`.
fn to_dev_full(cmd: Command, stdin: &[u8]) -> Output {
    let full = OpenOptions::new().write(true).open("/dev/full").unwrap();
    run_to(cmd, stdin, full.into(), false)
}

/// Runs `cmd` with standard output a pipe whose reader is already gone.
fn to_closed_pipe(cmd: Command, stdin: &[u8]) -> Output {
    run_to(cmd, stdin, Stdio::piped(), true)
}

/// Runs `f` on a thread and fails if it has not finished within 60 s: a
/// command that blocks on a FIFO never finishes at all.
fn finishes<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what} hung"))
}

fn seeded(dir: &Dir) -> std::path::PathBuf {
    let path = dir.file();
    set(&path, "github", b"gho_secret");
    set(&path, "linear", b"lin_secret");
    path
}

fn assert_unchanged(path: &Path, before: &[u8], what: &str) {
    assert_eq!(
        std::fs::read(path).unwrap(),
        before,
        "{what}: the store changed although the command failed"
    );
}

#[test]
fn every_command_writing_to_a_full_disk_exits_6_and_to_a_closed_pipe_ends_quietly() {
    let dir = Dir::new("output");
    let path = seeded(&dir);
    let commands: [&[&str]; 7] = [
        &["get", "github"],
        &["list"],
        &["list", "--json"],
        &["doctor"],
        &["doctor", "--json"],
        &["recovery", "disable"],
        &["--help"],
    ];
    for command in commands {
        let before = std::fs::read(&path).unwrap();
        let full = to_dev_full(args(env_keyseal(&path), command), b"");
        let closed = to_closed_pipe(args(env_keyseal(&path), command), b"");
        for (how, out) in [("/dev/full", &full), ("a closed pipe", &closed)] {
            assert!(
                !stderr(out).contains("panicked"),
                "{command:?} to {how} panicked: {}",
                stderr(out)
            );
            assert_ne!(code(out), 101, "{command:?} to {how}: {}", stderr(out));
        }
        if command == ["recovery", "disable"] {
            // Its report goes to standard error: the change is the result.
            assert_eq!(code(&full), 0, "{}", stderr(&full));
            continue;
        }
        if command == ["--help"] {
            continue;
        }
        assert_eq!(
            code(&full),
            6,
            "{command:?} to /dev/full: {}",
            stderr(&full)
        );
        assert!(
            stderr(&full).contains("standard output"),
            "{command:?}: {}",
            stderr(&full)
        );
        assert_eq!(
            code(&closed),
            0,
            "{command:?} to a closed pipe: {}",
            stderr(&closed)
        );
        assert!(
            stderr(&closed).is_empty(),
            "{command:?}: {}",
            stderr(&closed)
        );
        assert_unchanged(&path, &before, &format!("{command:?}"));
    }
}

#[test]
fn a_recovery_key_that_cannot_be_shown_is_never_put_in_use() {
    let dir = Dir::new("recovery-out");
    let path = seeded(&dir);
    let out = run(args(env_keyseal(&path), &["recovery", "enable"]), b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let first = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let before = std::fs::read(&path).unwrap();
    for (how, out) in [
        (
            "/dev/full",
            to_dev_full(args(env_keyseal(&path), &["recovery", "enable"]), b""),
        ),
        (
            "a closed pipe",
            to_closed_pipe(args(env_keyseal(&path), &["recovery", "enable"]), b""),
        ),
        (
            "/dev/full, rotating",
            to_dev_full(
                args(env_keyseal(&path), &["recover", "--rotate-recovery"]),
                first.as_bytes(),
            ),
        ),
        (
            "a closed pipe, rotating",
            to_closed_pipe(
                args(env_keyseal(&path), &["recover", "--rotate-recovery"]),
                first.as_bytes(),
            ),
        ),
    ] {
        assert_eq!(code(&out), 6, "{how}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("nothing changed"),
            "{how}: {}",
            stderr(&out)
        );
        assert_unchanged(&path, &before, how);
    }
    // The first key is still the one the file names, and it opens it.
    let first_key = keyseal::RecoveryKey::parse(&first).unwrap();
    let named = keyseal::Store::builder(
        keyseal::keys::MemoryKeyProvider::new(),
        keyseal::blob::FileStore::new(&path),
        "keyseal-cli",
    )
    .build()
    .status()
    .recovery_key_id;
    assert_eq!(named, Some(first_key.id()));
    let out = run(args(env_keyseal(&path), &["recover"]), first.as_bytes());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn special_files_at_the_store_path_fail_at_once_with_exit_3_and_create_nothing() {
    let dir = Dir::new("special");
    let fifo = dir.path().join("fifo.sealed");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let directory = dir.path().join("dir.sealed");
    std::fs::create_dir(&directory).unwrap();
    for path in [fifo, directory] {
        for command in [
            &["get", "a"][..],
            &["list"],
            &["set", "a"],
            &["rm", "a"],
            &["doctor"],
        ] {
            let p = path.clone();
            let out = finishes(&format!("{command:?} on {}", path.display()), move || {
                run(args(env_keyseal(&p), command), b"value")
            });
            if command == ["doctor"] {
                assert_eq!(code(&out), 0, "{}", stderr(&out));
                continue;
            }
            assert_eq!(
                code(&out),
                3,
                "{command:?} on {}: {}",
                path.display(),
                stderr(&out)
            );
            assert!(
                stderr(&out).contains("not a regular file"),
                "{}",
                stderr(&out)
            );
        }
    }
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["dir.sealed", "fifo.sealed"], "stray lock files");
}

#[test]
fn a_store_path_that_names_no_file_is_a_usage_error_and_creates_nothing() {
    let dir = Dir::new("nofile");
    let slash = format!("{}/", dir.path().join("sub").display());
    for path in ["/", &slash] {
        let out = run(args(env_keyseal(Path::new(path)), &["set", "a"]), b"v");
        assert_eq!(code(&out), 2, "{path}: {}", stderr(&out));
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    assert!(!Path::new("/.lock").exists());
}

#[test]
fn set_refuses_control_characters_in_a_name_and_get_still_accepts_them() {
    let dir = Dir::new("names");
    let path = seeded(&dir);
    let before = std::fs::read(&path).unwrap();
    for name in ["a\nb", "a\u{1b}[2Jb", "tab\there"] {
        let out = run(args(env_keyseal(&path), &["set", name]), b"v");
        assert_eq!(code(&out), 2, "{name:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("control character"),
            "{}",
            stderr(&out)
        );
        // A lookup is not a write: a missing name, not a usage error.
        let out = run(args(env_keyseal(&path), &["get", name]), b"");
        assert_eq!(code(&out), 1, "{name:?}: {}", stderr(&out));
    }
    assert_unchanged(&path, &before, "set of a bad name");
}

#[test]
fn set_stops_reading_once_the_value_is_over_the_limit_and_stores_nothing() {
    let dir = Dir::new("huge");
    let path = seeded(&dir);
    let before = std::fs::read(&path).unwrap();
    let mut child = args(env_keyseal(&path), &["set", "huge"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Up to 300 MB; the command must stop reading after about 16 MiB.
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'x'; 1 << 20];
        let mut sent = 0usize;
        for _ in 0..300 {
            if stdin.write_all(&chunk).is_err() {
                break;
            }
            sent += chunk.len();
        }
        sent
    });
    let out = child.wait_with_output().unwrap();
    let sent = writer.join().unwrap();
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    assert!(stderr(&out).contains("longer than"), "{}", stderr(&out));
    assert!(
        sent < 64 << 20,
        "the command read {sent} bytes before refusing"
    );
    assert_unchanged(&path, &before, "an oversized set");
}

#[test]
fn a_set_that_would_make_a_full_store_outgrow_its_limit_is_exit_2_and_changes_nothing() {
    let dir = Dir::new("full");
    let path = dir.file();
    // 10 MiB stored; 7 MiB more would take the file past its 16 MiB limit.
    set(&path, "big", &vec![b'a'; 10 << 20]);
    let before = std::fs::read(&path).unwrap();
    let out = run(
        args(env_keyseal(&path), &["set", "more"]),
        &vec![b'b'; 7 << 20],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("size limit"), "{}", stderr(&out));
    assert!(stderr(&out).contains("keyseal rm"), "{}", stderr(&out));
    assert_unchanged(&path, &before, "a set over the limit");
}

#[test]
fn list_escapes_names_that_would_fool_a_terminal_and_json_keeps_them_exact() {
    // A name with a backslash can be written; it is shown escaped, so it
    // cannot pass for a name with a control character.
    let dir = Dir::new("escape");
    let path = dir.file();
    set(&path, "plain", b"1");
    set(&path, "back\\slash", b"2");
    let out = run(args(env_keyseal(&path), &["list"]), b"");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "back\\\\slash\nplain\n"
    );
    let out = run(args(env_keyseal(&path), &["list", "--json"]), b"");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["name"], "back\\slash");
}

#[test]
fn migrate_without_a_session_bus_reports_nothing_to_migrate_and_changes_nothing() {
    let dir = Dir::new("nobus");
    let path = seeded(&dir);
    let before = std::fs::read(&path).unwrap();
    let mut cmd = args(env_keyseal(&path), &["migrate", "--preset", "docker-agent"]);
    cmd.env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .env("HOME", dir.path())
        .env_remove("XDG_CONFIG_HOME");
    let out = run(cmd, b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("did not answer"), "{}", stderr(&out));
    assert_unchanged(&path, &before, "migrate without a bus");
}

#[test]
fn migrate_without_a_session_bus_but_with_docker_agents_file_is_exit_5_and_changes_nothing() {
    // The file is there and only its key is out of reach: that is a
    // failure (its tokens would be left behind), never "nothing to migrate".
    let dir = Dir::new("nobus-file");
    let path = seeded(&dir);
    let before = std::fs::read(&path).unwrap();
    let file = dir.path().join(".config/cagent/mcp-oauth-tokens.enc");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    keyseal_testkit::docker_agent::write(&file, &[7; 32], br#"{"https://a.example":{}}"#);
    let sealed = std::fs::read(&file).unwrap();
    let mut cmd = args(env_keyseal(&path), &["migrate", "--preset", "docker-agent"]);
    cmd.env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .env("HOME", dir.path())
        .env_remove("XDG_CONFIG_HOME");
    let out = run(cmd, b"");
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("did not answer for its key item"),
        "{}",
        stderr(&out)
    );
    assert_unchanged(&path, &before, "migrate with the file but no bus");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        sealed,
        "docker-agent's file changed"
    );
}

#[test]
fn an_old_copy_put_back_is_exit_3_naming_both_generations_until_accepted() {
    let dir = Dir::new("rollback");
    let path = dir.file();
    set(&path, "token", b"v1");
    let old = std::fs::read(&path).unwrap();
    set(&path, "token", b"v2");
    set(&path, "token", b"v3");
    std::fs::write(&path, &old).unwrap();
    for command in [&["get", "token"][..], &["set", "token"], &["list"]] {
        let out = run(args(env_keyseal(&path), command), b"v4");
        assert_eq!(code(&out), 3, "{command:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("generation 1") && stderr(&out).contains("generation 3"),
            "{}",
            stderr(&out)
        );
        assert!(stderr(&out).contains("accept-rollback"), "{}", stderr(&out));
        assert_unchanged(&path, &old, "a rolled-back store");
    }
    let out = run(args(env_keyseal(&path), &["accept-rollback"]), b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = run(args(env_keyseal(&path), &["get", "token"]), b"");
    assert_eq!(out.stdout, b"v1", "{}", stderr(&out));
    set(&path, "token", b"v4");
}

#[test]
fn a_directory_others_can_write_to_is_exit_3_unless_shared_directory_is_given() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Dir::new("shared-dir");
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let path = shared.join("store.sealed");
    let out = run(args(env_keyseal(&path), &["set", "a"]), b"v");
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--shared-directory"),
        "{}",
        stderr(&out)
    );
    assert!(std::fs::read_dir(&shared).unwrap().next().is_none());
    let out = run(
        args(env_keyseal(&path), &["--shared-directory", "set", "a"]),
        b"v",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut get = args(env_keyseal(&path), &["get", "a"]);
    get.env("KEYSEAL_SHARED_DIRECTORY", "true");
    let out = run(get, b"");
    assert_eq!(out.stdout, b"v", "{}", stderr(&out));
}
