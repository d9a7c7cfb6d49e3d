//! The built `keyseal` binary, run as a user would: every command, every
//! exit code, the environment key, the real keyring.
#![cfg(test)]

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use keyseal_keys::{Backend, KeyProvider, KeyringProvider};
use keyseal_testkit::{TempDir as Dir, secret_tool_store, unique};
use support::{KEY, OTHER_KEY, args, code, env_keyseal, keyseal, run, set, stderr, stdout};

#[test]
fn set_and_get_move_bytes_exactly_through_stdin_and_stdout() {
    let dir = Dir::new("bytes");
    let value: Vec<u8> = b"line one\nline two\n\0\xff\xfe trailing newline\n".to_vec();
    set(&dir.file(), "binary", &value);
    let out = run(args(env_keyseal(&dir.file()), &["get", "binary"]), b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(out.stdout, value, "get added or lost bytes");
    assert!(
        out.stderr.is_empty(),
        "a successful get printed to stderr: {}",
        stderr(&out)
    );
    // The value never reached the file in the clear.
    let file = std::fs::read(dir.file()).unwrap();
    assert!(!file.windows(8).any(|w| w == b"line one"));
}

#[test]
fn list_is_sorted_and_json_has_name_and_updated() {
    let dir = Dir::new("list");
    for name in ["zeta", "alpha", "https://mcp.example.com"] {
        set(&dir.file(), name, b"v");
    }
    let out = run(args(env_keyseal(&dir.file()), &["list"]), b"");
    assert_eq!(stdout(&out), "alpha\nhttps://mcp.example.com\nzeta\n");
    let out = run(args(env_keyseal(&dir.file()), &["list", "--json"]), b"");
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = parsed.as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["name"], "alpha");
    assert!(items[0]["updated"].as_u64().unwrap() > 1_700_000_000);
}

#[test]
fn missing_entries_exit_1_and_a_missing_store_never_touches_a_key_provider() {
    let dir = Dir::new("missing");
    // No KEYSEAL_KEY at all: a provider that is asked would fail with 5.
    let mut cmd = keyseal(&dir.file());
    cmd.env("KEYSEAL_KEYS", "env");
    let out = run(args(cmd, &["get", "nothing"]), b"");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no entry named \"nothing\""),
        "{}",
        stderr(&out)
    );
    assert!(!dir.file().exists());

    set(&dir.file(), "present", b"x");
    assert_eq!(
        code(&run(
            args(env_keyseal(&dir.file()), &["get", "absent"]),
            b""
        )),
        1
    );
    assert_eq!(
        code(&run(args(env_keyseal(&dir.file()), &["rm", "absent"]), b"")),
        1
    );
    assert_eq!(
        code(&run(
            args(env_keyseal(&dir.file()), &["rm", "present"]),
            b""
        )),
        0
    );
    assert_eq!(
        code(&run(
            args(env_keyseal(&dir.file()), &["get", "present"]),
            b""
        )),
        1
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = Dir::new("usage");
    for a in [
        &["frobnicate"][..],
        &["get"],
        &["--keys", "vault", "list"],
        &["migrate"],
    ] {
        let out = run(args(env_keyseal(&dir.file()), a), b"");
        assert_eq!(code(&out), 2, "{a:?}: {}", stderr(&out));
    }
    let out = run(
        args(env_keyseal(&dir.file()), &["recover"]),
        b"KSR1-NOT-A-KEY",
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}

fn assert_unchanged(store: &Path, before: &[u8]) {
    assert!(
        std::fs::read(store).unwrap() == before,
        "a failed command changed the file"
    );
}

#[test]
fn a_tampered_or_foreign_file_exits_3_and_is_left_as_it_was() {
    let dir = Dir::new("tampered");
    set(&dir.file(), "token", b"secret-value");
    let mut bytes = std::fs::read(dir.file()).unwrap();
    *bytes.last_mut().unwrap() ^= 0x40;
    std::fs::write(dir.file(), &bytes).unwrap();
    for a in [
        &["get", "token"][..],
        &["set", "other"],
        &["list"],
        &["rm", "token"],
    ] {
        let out = run(args(env_keyseal(&dir.file()), a), b"new");
        assert_eq!(code(&out), 3, "{a:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("failed authentication"),
            "{}",
            stderr(&out)
        );
        assert_unchanged(&dir.file(), &bytes);
    }
    std::fs::write(dir.file(), b"{\"plaintext\": true}").unwrap();
    let out = run(args(env_keyseal(&dir.file()), &["set", "x"]), b"y");
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains("is not a keyseal store"));
    assert_unchanged(&dir.file(), b"{\"plaintext\": true}");
}

#[test]
fn a_wrong_key_exits_4_and_changes_nothing() {
    let dir = Dir::new("wrongkey");
    set(&dir.file(), "token", b"secret-value");
    let before = std::fs::read(dir.file()).unwrap();
    let mut cmd = keyseal(&dir.file());
    cmd.env("KEYSEAL_KEYS", "env").env("KEYSEAL_KEY", OTHER_KEY);
    let out = run(args(cmd, &["set", "token"]), b"overwrite");
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("sealed for key"), "{}", stderr(&out));
    assert_unchanged(&dir.file(), &before);
}

#[test]
fn a_missing_or_malformed_env_key_exits_5_without_echoing_it() {
    let dir = Dir::new("envkey");
    set(&dir.file(), "token", b"v");
    let before = std::fs::read(dir.file()).unwrap();
    let mut missing = keyseal(&dir.file());
    missing.env("KEYSEAL_KEYS", "env");
    let out = run(args(missing, &["get", "token"]), b"");
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(stderr(&out).contains("KEYSEAL_KEY"));
    for bad in ["not-base64-hunter2!!", "AAECAwQFBgcICQoLDA0ODw=="] {
        let mut cmd = keyseal(&dir.file());
        cmd.env("KEYSEAL_KEYS", "env").env("KEYSEAL_KEY", bad);
        let out = run(args(cmd, &["set", "token"]), b"x");
        assert_eq!(code(&out), 5, "{bad}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains(bad),
            "the key was echoed: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).lines().count() <= 2,
            "more than two sentences: {}",
            stderr(&out)
        );
    }
    assert_unchanged(&dir.file(), &before);
}

#[test]
fn a_held_lock_exits_6_and_changes_nothing() {
    let dir = Dir::new("lock");
    set(&dir.file(), "token", b"v");
    let before = std::fs::read(dir.file()).unwrap();
    let lock = std::fs::File::options()
        .write(true)
        .open(dir.path().join("store.sealed.lock"))
        .unwrap();
    lock.lock().unwrap();
    let mut cmd = env_keyseal(&dir.file());
    cmd.env("KEYSEAL_LOCK_TIMEOUT", "0.3");
    let out = run(args(cmd, &["set", "token"]), b"new");
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("store.sealed.lock"),
        "{}",
        stderr(&out)
    );
    assert_unchanged(&dir.file(), &before);
    // Reads take no lock.
    let out = run(args(env_keyseal(&dir.file()), &["get", "token"]), b"");
    assert_eq!(out.stdout, b"v");
}

#[test]
fn eight_processes_setting_at_once_lose_nothing() {
    let dir = Dir::new("concurrent");
    let children: Vec<_> = (0..8)
        .map(|i| {
            let mut child = args(env_keyseal(&dir.file()), &["set", &format!("server-{i}")])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("token-{i}").as_bytes())
                .unwrap();
            child
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = run(args(env_keyseal(&dir.file()), &["list"]), b"");
    assert_eq!(stdout(&out).lines().count(), 8, "{}", stdout(&out));
    for i in 0..8 {
        let out = run(
            args(env_keyseal(&dir.file()), &["get", &format!("server-{i}")]),
            b"",
        );
        assert_eq!(out.stdout, format!("token-{i}").as_bytes());
    }
}

#[test]
fn the_env_provider_cannot_rotate_and_says_so() {
    let dir = Dir::new("envrotate");
    set(&dir.file(), "token", b"v");
    let out = run(args(env_keyseal(&dir.file()), &["rotate-key"]), b"");
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(stderr(&out).contains("read-only"), "{}", stderr(&out));
}

#[test]
fn doctor_reports_the_store_and_never_a_secret() {
    let _one_at_a_time = secret_service_lock();
    let dir = Dir::new("doctor");
    set(&dir.file(), "token", b"supersecret-doctor-value");
    let out = run(args(env_keyseal(&dir.file()), &["doctor"]), b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "store:",
        "format:       v3",
        "entries:      1",
        "environment variable KEYSEAL_KEY",
        "problems:",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    let out = run(args(env_keyseal(&dir.file()), &["doctor", "--json"]), b"");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["store"]["entries"], 1);
    assert_eq!(report["store"]["format_version"], 3);
    assert_eq!(report["store"]["mode"], "0600");
    assert!(report["providers"].as_array().unwrap().len() >= 3);
    let all = format!("{text}{}{}", stdout(&out), stderr(&out));
    assert!(
        !all.contains("supersecret") && !all.contains(KEY),
        "doctor printed a secret"
    );
}

#[test]
fn demo_runs_on_the_default_and_shows_ciphertext() {
    let _one_at_a_time = secret_service_lock();
    let out = run(
        args(keyseal(Path::new("/nonexistent/unused")), &["demo"]),
        b"",
    );
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("0 of 6 server names or tokens appear in the file"),
        "{text}"
    );
    assert!(
        text.contains("intact") && !text.contains("MISSING"),
        "{text}"
    );
    assert!(
        text.contains("6b 65 79 73 65 61 6c 00"),
        "no header dump: {text}"
    );
}

// ----- the real keyring -----

// The tests of this binary that talk to the Secret Service (directly, or
// through a `keyseal` they start) run one at a time
// (`keyseal_testkit::secret_service_lock`).
use keyseal_testkit::secret_service_lock;

/// A unique service whose keyring (auto: Secret Service, else kernel) answers.
fn keyring_service(tag: &str) -> Option<String> {
    let service = unique(tag);
    match KeyringProvider::builder(&service, "store-key")
        .build()
        .load(&keyseal_keys::Key::generate().unwrap().id())
    {
        Err(keyseal_keys::Error::NotFound { .. }) => Some(service),
        other => {
            let required = std::env::var_os("KEYSEAL_REQUIRE_SERVICES").is_some_and(|v| v == "1");
            assert!(
                !required,
                "KEYSEAL_REQUIRE_SERVICES=1 but no keyring answers: {other:?}"
            );
            eprintln!("SKIPPED: no keyring answers: {other:?}");
            None
        }
    }
}

fn keyring_keyseal(store: &Path, service: &str) -> Command {
    let mut cmd = keyseal(store);
    cmd.env("KEYSEAL_KEYS", "keyring")
        .env("KEYSEAL_SERVICE", service);
    cmd
}

/// The key id the store file at `path` is sealed for (read from its header).
fn sealed_for(path: &Path) -> keyseal_keys::KeyId {
    keyseal::Store::builder(
        keyseal_keys::MemoryKeyProvider::new(),
        keyseal::blob::FileStore::new(path),
        "any",
    )
    .build()
    .status()
    .key_id
    .expect("the file names its key")
}

/// Deletes the key of the store at `path` from every keyring.
fn forget_key(service: &str, path: &Path) {
    let id = sealed_for(path);
    for backend in [Backend::SecretService, Backend::KernelKeyring] {
        let p = KeyringProvider::builder(service, "store-key")
            .backend(backend)
            .build();
        let _ = p.delete(&id);
    }
}

/// The number of Secret Service items of `service`, when a session bus is
/// set.
fn secret_service_items(service: &str) -> Option<usize> {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS")?;
    let items = Command::new("secret-tool")
        .args(["search", "--all", "service", service])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&items.stdout).into_owned()
        + &String::from_utf8_lossy(&items.stderr);
    Some(listing.matches("[/").count())
}

#[test]
fn the_keyring_path_rotates_and_recovers() {
    let _one_at_a_time = secret_service_lock();
    let Some(service) = keyring_service("ring") else {
        return;
    };
    let dir = Dir::new("ring");
    let out = run(
        args(keyring_keyseal(&dir.file(), &service), &["set", "token"]),
        b"refresh-token-value",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
        let items = Command::new("secret-tool")
            .args(["search", "--all", "service", &service])
            .output()
            .unwrap();
        let listing = String::from_utf8_lossy(&items.stdout).into_owned()
            + &String::from_utf8_lossy(&items.stderr);
        assert_eq!(
            listing.matches("[/").count(),
            1,
            "not exactly one keyring item: {listing}"
        );
    }

    let out = run(
        args(keyring_keyseal(&dir.file(), &service), &["rotate-key"]),
        b"",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("rotated the key"), "{}", stderr(&out));
    if let Some(count) = secret_service_items(&service) {
        assert_eq!(count, 1, "the retired key's item is left over");
    }
    // Its report goes to standard error: a full standard output does not
    // turn a done rotation into a failure (and never panics).
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = args(keyring_keyseal(&dir.file(), &service), &["rotate-key"])
        .stdin(Stdio::null())
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    if let Some(count) = secret_service_items(&service) {
        assert_eq!(count, 1, "the retired key's item is left over");
    }

    let out = run(
        args(
            keyring_keyseal(&dir.file(), &service),
            &["recovery", "enable"],
        ),
        b"",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let recovery = text.lines().last().unwrap().to_owned();
    assert!(
        recovery.starts_with("KSR2-"),
        "the recovery key is not alone on the last line: {text}"
    );
    assert!(stderr(&out).contains("password manager"));

    // The keyring forgets the key: exit 4, then recover with the key on stdin.
    forget_key(&service, &dir.file());
    let out = run(
        args(keyring_keyseal(&dir.file(), &service), &["get", "token"]),
        b"",
    );
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("keyseal recover"), "{}", stderr(&out));
    let before = std::fs::read(dir.file()).unwrap();
    let out = run(
        args(keyring_keyseal(&dir.file(), &service), &["recover"]),
        b"KSR2-AAAA-AAAA-AAAA",
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_unchanged(&dir.file(), &before);
    let out = run(
        args(keyring_keyseal(&dir.file(), &service), &["recover"]),
        format!("  {recovery}\n").as_bytes(),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = run(
        args(keyring_keyseal(&dir.file(), &service), &["get", "token"]),
        b"",
    );
    assert_eq!(out.stdout, b"refresh-token-value");

    let out = run(
        args(
            keyring_keyseal(&dir.file(), &service),
            &["recovery", "disable"],
        ),
        b"",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    forget_key(&service, &dir.file());
}

#[test]
fn stores_sharing_a_service_keep_their_own_keys_through_rotation_and_recovery() {
    let _one_at_a_time = secret_service_lock();
    let Some(service) = keyring_service("shared") else {
        return;
    };
    let dir = Dir::new("shared");
    let a = dir.path().join("a").join("a.sealed");
    let b = dir.path().join("b").join("b.sealed");
    for (store, value) in [(&a, &b"A"[..]), (&b, b"B")] {
        let out = run(args(keyring_keyseal(store, &service), &["set", "t"]), value);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    assert_ne!(sealed_for(&a), sealed_for(&b), "two stores share a key");
    if let Some(count) = secret_service_items(&service) {
        assert_eq!(count, 2, "one item per store");
    }
    let out = run(args(keyring_keyseal(&a, &service), &["rotate-key"]), b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = run(args(keyring_keyseal(&b, &service), &["get", "t"]), b"");
    assert_eq!(code(&out), 0, "store b lost its key: {}", stderr(&out));
    assert_eq!(out.stdout, b"B");
    let out = run(args(keyring_keyseal(&a, &service), &["get", "t"]), b"");
    assert_eq!(out.stdout, b"A", "{}", stderr(&out));
    forget_key(&service, &a);
    forget_key(&service, &b);
}

#[test]
fn migrate_moves_legacy_secret_service_items() {
    let _one_at_a_time = secret_service_lock();
    let service = unique("legacy");
    let Some(store_service) = keyring_service("migrate-store") else {
        return;
    };
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        assert!(
            std::env::var_os("KEYSEAL_REQUIRE_SERVICES").is_none_or(|v| v != "1"),
            "KEYSEAL_REQUIRE_SERVICES=1 but there is no D-Bus session"
        );
        eprintln!("SKIPPED: no D-Bus session for the legacy Secret Service items");
        return;
    }
    for (item, value) in [("p:alpha", "A"), ("p:beta", "B")] {
        secret_tool_store(&service, item, value);
    }
    let dir = Dir::new("migrate");
    let mut cmd = keyring_keyseal(&dir.file(), &store_service);
    cmd.args([
        "migrate",
        "--from-service",
        &service,
        "--item-prefix",
        "p:",
        "--dry-run",
    ]);
    let out = run(cmd, b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("would move: alpha") && stderr(&out).contains("would move: beta")
    );
    assert!(!dir.file().exists(), "a dry run wrote the store");

    let mut cmd = keyring_keyseal(&dir.file(), &store_service);
    cmd.args(["migrate", "--from-service", &service, "--item-prefix", "p:"]);
    let out = run(cmd, b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("deleted legacy item: p:alpha"),
        "{}",
        stdout(&out)
    );
    let out = run(
        args(
            keyring_keyseal(&dir.file(), &store_service),
            &["get", "beta"],
        ),
        b"",
    );
    assert_eq!(out.stdout, b"B");
    let mut cmd = keyring_keyseal(&dir.file(), &store_service);
    cmd.args(["migrate", "--from-service", &service, "--item-prefix", "p:"]);
    assert!(stderr(&run(cmd, b"")).contains("nothing to migrate"));
    forget_key(&store_service, &dir.file());
}

#[test]
fn migrate_never_moves_a_stores_key_and_a_failed_strict_run_changes_nothing() {
    let _one_at_a_time = secret_service_lock();
    let Some(service) = keyring_service("keymat") else {
        return;
    };
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        keyseal_testkit::skip("no D-Bus session for the legacy Secret Service items");
        return;
    }
    let dir = Dir::new("keymat");
    let out = run(
        args(keyring_keyseal(&dir.file(), &service), &["set", "t"]),
        b"v",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let key_item = format!("store-key.{}", sealed_for(&dir.file()));
    // `--item-prefix store-` matches the store's own key item.
    for dry_run in [true, false] {
        let mut cmd = keyring_keyseal(&dir.file(), &service);
        cmd.args([
            "migrate",
            "--from-service",
            &service,
            "--item-prefix",
            "store-",
        ]);
        if dry_run {
            cmd.arg("--dry-run");
        }
        let out = run(cmd, b"");
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("skipped: {key_item}"))
                && stderr(&out).contains("key material"),
            "{}",
            stderr(&out)
        );
        let out = run(
            args(keyring_keyseal(&dir.file(), &service), &["get", "t"]),
            b"",
        );
        assert_eq!(out.stdout, b"v", "the store lost its key: {}", stderr(&out));
    }

    // A bundle with one good and one refused name: without --strict the good
    // one moves; with it, nothing changes anywhere.
    let legacy = unique("bundle");
    secret_tool_store(&legacy, "all", "{\"good\":\"G\",\"\":\"empty name\"}");
    let before = std::fs::read(dir.file()).unwrap();
    let mut cmd = keyring_keyseal(&dir.file(), &service);
    cmd.args([
        "migrate",
        "--from-service",
        &legacy,
        "--bundle-item",
        "all",
        "--strict",
    ]);
    let out = run(cmd, b"");
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(
        std::fs::read(dir.file()).unwrap(),
        before,
        "--strict changed the store"
    );
    let items = keyseal_keys::KeyringItems::new();
    assert!(
        items.read(&legacy, "all").unwrap().is_some(),
        "--strict deleted the bundle"
    );
    let mut cmd = keyring_keyseal(&dir.file(), &service);
    cmd.args([
        "migrate",
        "--from-service",
        &legacy,
        "--bundle-item",
        "all",
        "--json",
    ]);
    let out = run(cmd, b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["moved"], serde_json::json!(["good"]));
    assert_eq!(report["not_migrated"][0]["name"], "");
    assert!(
        items.read(&legacy, "all").unwrap().is_some(),
        "the bundle still holds a secret"
    );
    let out = run(
        args(keyring_keyseal(&dir.file(), &service), &["get", "good"]),
        b"",
    );
    assert_eq!(out.stdout, b"G");
    items.delete(&legacy, "all").unwrap();
    forget_key(&service, &dir.file());
}

/// Rewrites the store at `path` as keyseal wrote it before format version 3:
/// the same key, a symmetric recovery stanza for `recovery`, one entry
/// `token` = `old-value` (a version-1 body, as docs/FORMAT.md gives it).
fn make_legacy_store(service: &str, path: &Path, recovery: &keyseal_keys::Key) {
    use keyseal::seal::{Algorithm, Envelope, StanzaKind};
    let kek = KeyringProvider::builder(service, "store-key")
        .build()
        .load(&sealed_for(path))
        .unwrap();
    let mut envelope = Envelope::new(Algorithm::Aes256Gcm, &kek, "keyseal-cli").unwrap();
    envelope
        .set_stanza(StanzaKind::Recovery, recovery, "keyseal-cli")
        .unwrap();
    let mut body = vec![1, 1, 5];
    body.extend_from_slice(b"token");
    body.push(9);
    body.extend_from_slice(b"old-value");
    body.push(5);
    std::fs::write(path, envelope.seal(1, "keyseal-cli", &body).unwrap()).unwrap();
}

#[test]
fn a_store_with_an_old_ksr1_recovery_key_refuses_rotation_until_the_key_is_replaced() {
    let _one_at_a_time = secret_service_lock();
    let Some(service) = keyring_service("legacy") else {
        return;
    };
    let dir = Dir::new("legacy");
    let out = run(
        args(keyring_keyseal(&dir.file(), &service), &["set", "x"]),
        b"y",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let old_recovery = keyseal_keys::Key::generate().unwrap();
    make_legacy_store(&service, &dir.file(), &old_recovery);
    let before = std::fs::read(dir.file()).unwrap();

    let out = run(
        args(keyring_keyseal(&dir.file(), &service), &["rotate-key"]),
        b"",
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("KSR1"), "{}", stderr(&out));
    assert!(stderr(&out).contains("recovery enable"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(dir.file()).unwrap(),
        before,
        "exit 2 changed the store"
    );

    // Replacing the recovery key moves the store to version 3; then it rotates.
    let out = run(
        args(
            keyring_keyseal(&dir.file(), &service),
            &["recovery", "enable"],
        ),
        b"",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).lines().last().unwrap().starts_with("KSR2-"));
    let file = std::fs::read(dir.file()).unwrap();
    assert_eq!(
        keyseal::seal::SealedFile::parse(&file)
            .unwrap()
            .header()
            .version(),
        3
    );
    let out = run(
        args(keyring_keyseal(&dir.file(), &service), &["rotate-key"]),
        b"",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = run(
        args(keyring_keyseal(&dir.file(), &service), &["get", "token"]),
        b"",
    );
    assert_eq!(out.stdout, b"old-value");
    forget_key(&service, &dir.file());
}

#[test]
fn the_docker_agent_preset_moves_items_written_by_99designs_keyring_in_one_command() {
    let _one_at_a_time = secret_service_lock();
    use keyseal_testkit::go_keyring::{
        create_collection, delete_collection, item_json, keys, store_item,
    };
    let Some(store_service) = keyring_service("docker-agent-store") else {
        return;
    };
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        keyseal_testkit::skip("no D-Bus session for docker-agent's items");
        return;
    }
    // docker-agent's collection, under a name of this test's own.
    let legacy = unique("docker-agent-oauth");
    create_collection(&legacy, "pw");
    let token = br#"{"access_token":"gho_x","refresh_token":"ghr_x"}"#;
    store_item(
        &legacy,
        "oauth:tokens",
        &item_json(
            "oauth:tokens",
            br#"{"https://mcp.example/a":{"access_token":"A"}}"#,
        ),
    );
    store_item(
        &legacy,
        "oauth:https://mcp.example/b",
        &item_json("oauth:https://mcp.example/b", token),
    );
    store_item(
        &legacy,
        "oauth:encryption-key",
        &item_json("oauth:encryption-key", &[9u8; 32]),
    );
    let dir = Dir::new("docker-agent");
    // docker-agent's sealed file where it keeps it by default, under a HOME
    // of this test's own: its token for /a is the newest.
    let home = Dir::new("docker-agent-home");
    let cagent = home.path().join(".config").join("cagent");
    std::fs::create_dir_all(&cagent).unwrap();
    let sealed_file = cagent.join("mcp-oauth-tokens.enc");
    keyseal_testkit::docker_agent::write(
        &sealed_file,
        &[9u8; 32],
        br#"{"https://mcp.example/a":{"access_token":"A2"},"https://mcp.example/c":{"access_token":"C"}}"#,
    );
    let sealed_before = std::fs::read(&sealed_file).unwrap();
    let migrate = |extra: &[&str]| {
        let mut cmd = keyring_keyseal(&dir.file(), &store_service);
        // docker-agent's directory from HOME alone, never the runner's own.
        cmd.env("HOME", home.path())
            .env_remove("XDG_CONFIG_HOME")
            .args([
                "migrate",
                "--preset",
                "docker-agent",
                "--from-service",
                &legacy,
            ])
            .args(extra);
        run(cmd, b"")
    };
    let out = migrate(&["--dry-run"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for line in [
        "would move: https://mcp.example/a (from the sealed file)",
        "would move: https://mcp.example/b (from its own item)",
        "would move: https://mcp.example/c (from the sealed file)",
    ] {
        assert!(stderr(&out).contains(line), "{line}: {}", stderr(&out));
    }
    assert!(!dir.file().exists(), "a dry run wrote the store");
    let out = migrate(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let get = |name: &str| {
        run(
            args(keyring_keyseal(&dir.file(), &store_service), &["get", name]),
            b"",
        )
        .stdout
    };
    assert_eq!(get("https://mcp.example/b"), token);
    assert_eq!(get("https://mcp.example/a"), br#"{"access_token":"A2"}"#);
    assert_eq!(get("https://mcp.example/c"), br#"{"access_token":"C"}"#);
    assert_eq!(
        keys(&legacy),
        ["oauth:encryption-key"],
        "the key item must stay"
    );
    assert_eq!(std::fs::read(&sealed_file).unwrap(), sealed_before);
    assert!(stderr(&out).contains("--remove-source"), "{}", stderr(&out));
    let again = migrate(&[]);
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    assert!(
        !stderr(&again).contains("moved") && !stderr(&again).contains("deleted legacy item"),
        "a second run did something: {}",
        stderr(&again)
    );
    // Once docker-agent no longer runs: the file goes first, its key last.
    let out = migrate(&["--remove-source"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!sealed_file.exists());
    assert!(keys(&legacy).is_empty(), "{:?}", keys(&legacy));
    assert_eq!(get("https://mcp.example/a"), br#"{"access_token":"A2"}"#);
    delete_collection(&legacy);
    forget_key(&store_service, &dir.file());
}

#[test]
fn a_docker_agent_sealed_file_that_cannot_be_imported_exits_with_its_code_and_changes_nothing() {
    let _one_at_a_time = secret_service_lock();
    use keyseal_testkit::go_keyring::{
        create_collection, delete_collection, item_json, keys, store_item,
    };
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        keyseal_testkit::skip("no D-Bus session for docker-agent's items");
        return;
    }
    let legacy = unique("docker-agent-oauth");
    create_collection(&legacy, "pw");
    let key = [5u8; 32];
    for (item, data) in [
        ("oauth:encryption-key", &key[..]),
        (
            "oauth:tokens",
            &br#"{"https://mcp.example/a":{"access_token":"A"}}"#[..],
        ),
    ] {
        store_item(&legacy, item, &item_json(item, data));
    }
    let dir = Dir::new("docker-agent-failures");
    let sealed_file = dir.path().join("mcp-oauth-tokens.enc");
    keyseal_testkit::docker_agent::write(
        &sealed_file,
        &key,
        br#"{"https://mcp.example/b":{"access_token":"B"}}"#,
    );
    // A store that exists already, to show it stays byte for byte.
    set(&dir.file(), "kept", b"v");
    let store_before = std::fs::read(dir.file()).unwrap();
    let migrate = |extra: &[&str]| {
        let mut cmd = env_keyseal(&dir.file());
        cmd.args([
            "migrate",
            "--preset",
            "docker-agent",
            "--from-service",
            &legacy,
        ])
        .arg("--sealed-file")
        .arg(&sealed_file)
        .args(extra);
        run(cmd, b"")
    };
    let unchanged = |when: &str| {
        assert_eq!(
            std::fs::read(dir.file()).unwrap(),
            store_before,
            "{when}: the store changed"
        );
        assert_eq!(
            keys(&legacy),
            ["oauth:encryption-key", "oauth:tokens"],
            "{when}: a legacy item went"
        );
        assert!(sealed_file.exists(), "{when}");
    };

    // Its key item missing: exit 4.
    let out = migrate(&["--sealed-file-key", "oauth:no-such-key"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--no-sealed-file"),
        "{}",
        stderr(&out)
    );
    unchanged("key missing");

    // Altered: exit 3, for a migration and for --remove-source alike.
    let good = std::fs::read(&sealed_file).unwrap();
    let mut altered = good.clone();
    altered[20] ^= 1;
    keyseal_testkit::docker_agent::write_bytes(&sealed_file, &altered);
    for extra in [&[][..], &["--remove-source"][..]] {
        let out = migrate(extra);
        assert_eq!(code(&out), 3, "{}", stderr(&out));
        assert!(
            stderr(&out).contains("does not open with its key item's key"),
            "{}",
            stderr(&out)
        );
        unchanged("altered");
    }
    keyseal_testkit::docker_agent::write_bytes(&sealed_file, &good);

    // Its lock held by a running docker-agent: exit 6 after --lock-timeout.
    let mut lock = sealed_file.clone().into_os_string();
    lock.push(".lock");
    let mut holder = Command::new("flock")
        .args(["--exclusive", "--no-fork"])
        .arg(&lock)
        .args(["sleep", "60"])
        .spawn()
        .unwrap();
    let probe = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock)
        .unwrap();
    while probe.try_lock().is_ok() {
        probe.unlock().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let out = migrate(&["--lock-timeout", "0.2"]);
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    assert!(stderr(&out).contains("lock"), "{}", stderr(&out));
    unchanged("lock held");
    holder.kill().unwrap();
    holder.wait().unwrap();

    // --no-sealed-file: the keyring items alone; the file stays as it is.
    let mut cmd = env_keyseal(&dir.file());
    cmd.env("HOME", dir.path())
        .env_remove("XDG_CONFIG_HOME")
        .args([
            "migrate",
            "--preset",
            "docker-agent",
            "--from-service",
            &legacy,
            "--no-sealed-file",
        ]);
    let out = run(cmd, b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(std::fs::read(&sealed_file).unwrap(), good);
    assert_eq!(keys(&legacy), ["oauth:encryption-key"]);
    delete_collection(&legacy);
}
