//! The key-file provider on real files: the forms orchestrators mount, and
//! every file it must refuse.
#![cfg(test)]

mod support;

use std::path::{Path, PathBuf};

use keyseal_keys::conformance::{self, Capabilities};
use keyseal_keys::{
    Error, KeyFileProvider, KeyLifetime, KeyProvider, ProviderKind, UnavailableReason,
};
use support::TempDir;

/// The 32 bytes 0x00..=0x1f, and their standard base64.
const RAW: [u8; 32] = {
    let mut key = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        key[i] = i as u8;
        i += 1;
    }
    key
};
const BASE64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn any_id() -> keyseal_keys::KeyId {
    keyseal_keys::Key::generate().unwrap().id()
}

/// Writes `bytes` to `dir/name` with `mode`.
fn key_file(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// The error for the file at `path`, checked not to echo `contents`.
fn refusal(path: &Path, contents: &[u8]) -> Error {
    let err = KeyFileProvider::new(path)
        .load(&any_id())
        .expect_err("this key file must be refused");
    let shown = format!("{err} / {err:?}");
    assert!(
        shown.contains(&path.display().to_string()),
        "the error does not name the file: {shown}"
    );
    let text = String::from_utf8_lossy(contents);
    if text.trim().len() >= 8 {
        assert!(
            !shown.contains(text.trim()),
            "the error echoes the file: {shown}"
        );
    }
    err
}

#[test]
fn raw_and_base64_key_files_pass_the_read_only_conformance_suite() {
    let dir = TempDir::new("key-file");
    for (name, bytes, mode) in [
        ("raw", &RAW[..], 0o600),
        ("base64", format!("{BASE64}\n").as_bytes(), 0o400),
        ("base64-bare", BASE64.as_bytes(), 0o600),
    ] {
        let path = key_file(dir.path(), name, bytes, mode);
        let provider = KeyFileProvider::new(&path);
        conformance::run_all(&provider, Capabilities::READ_ONLY);
        let key = provider.load(&any_id()).unwrap();
        assert_eq!(key.expose_secret(), &RAW, "{name}");
        let given = provider.given().unwrap().unwrap();
        assert_eq!(given.id(), key.id(), "{name}");
        let info = provider.info();
        assert_eq!(info.kind, ProviderKind::KeyFile);
        assert_eq!(info.lifetime, KeyLifetime::External);
        assert!(info.location.contains(name), "{}", info.location);
        // The path, never the key, in Debug.
        assert!(!format!("{provider:?}").contains(BASE64));
    }
}

#[test]
fn a_kubernetes_style_symlinked_secret_is_followed() {
    // kubelet mounts `key -> ..data/key`, `..data -> ..2026_12_01_…`.
    let dir = TempDir::new("key-file-k8s");
    let stamped = dir.path().join("..2026_12_01_00_00_00.1");
    std::fs::create_dir(&stamped).unwrap();
    key_file(&stamped, "store-key", BASE64.as_bytes(), 0o400);
    std::os::unix::fs::symlink("..2026_12_01_00_00_00.1", dir.path().join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/store-key", dir.path().join("store-key")).unwrap();
    let key = KeyFileProvider::new(dir.path().join("store-key"))
        .load(&any_id())
        .unwrap();
    assert_eq!(key.expose_secret(), &RAW);
}

#[test]
fn a_file_other_users_can_read_or_write_is_refused() {
    let dir = TempDir::new("key-file-mode");
    for mode in [0o644, 0o640, 0o604, 0o620, 0o602, 0o444] {
        let path = key_file(
            dir.path(),
            &format!("key-{mode:o}"),
            BASE64.as_bytes(),
            mode,
        );
        match refusal(&path, BASE64.as_bytes()) {
            Error::Unsafe { reason, .. } => {
                assert!(reason.contains("chmod"), "no next step in: {reason}");
                assert!(reason.contains(&format!("{mode:04o}")), "{reason}");
            }
            other => panic!("mode {mode:o}: {other:?}"),
        }
    }
    // A link to such a file is judged by the file, not the link.
    let open = key_file(dir.path(), "open", BASE64.as_bytes(), 0o644);
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&open, &link).unwrap();
    assert!(matches!(
        KeyFileProvider::new(&link).load(&any_id()),
        Err(Error::Unsafe { .. })
    ));
}

#[test]
fn malformed_key_files_are_malformed_and_never_echoed() {
    let dir = TempDir::new("key-file-bad");
    let cases: [(&str, Vec<u8>, &str); 6] = [
        ("empty", Vec::new(), "empty"),
        ("blank", b"\n \n".to_vec(), "empty"),
        ("short-raw", RAW[..31].to_vec(), "raw bytes"),
        ("long-raw", [&RAW[..], b"\x00"].concat(), "raw bytes"),
        (
            "not-base64",
            b"this-is-a-password-not-a-key!".to_vec(),
            "base64",
        ),
        (
            "short-base64",
            b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==".to_vec(),
            "31 bytes",
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = key_file(dir.path(), name, &bytes, 0o600);
        match refusal(&path, &bytes) {
            Error::Malformed { reason, .. } => {
                assert!(reason.contains(expected), "{name}: {reason}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    let big = key_file(dir.path(), "big", &vec![b'A'; 5000], 0o600);
    assert!(matches!(
        refusal(&big, b""),
        Error::Malformed { reason, .. } if reason.contains("5000 bytes")
    ));
}

#[test]
fn a_fifo_a_directory_and_a_missing_file_are_refused_without_blocking() {
    let dir = TempDir::new("key-file-kinds");
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg("-m")
        .arg("600")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // No writer ever opens the FIFO: a blocking open would hang here.
    assert!(matches!(
        refusal(&fifo, b""),
        Error::Malformed { reason, .. } if reason.contains("not a regular file")
    ));
    let sub = dir.path().join("dir");
    std::fs::create_dir(&sub).unwrap();
    assert!(matches!(
        refusal(&sub, b""),
        Error::Malformed { .. } | Error::Unavailable { .. }
    ));
    assert!(matches!(
        refusal(&dir.path().join("missing"), b""),
        Error::Unavailable {
            reason: UnavailableReason::NotConfigured,
            ..
        }
    ));
}

#[test]
fn create_and_delete_never_touch_the_file() {
    let dir = TempDir::new("key-file-ro");
    let path = key_file(dir.path(), "key", BASE64.as_bytes(), 0o600);
    let provider = KeyFileProvider::new(&path);
    assert!(matches!(provider.create(), Err(Error::ReadOnly { .. })));
    assert!(matches!(
        provider.delete(&any_id()),
        Err(Error::ReadOnly { .. })
    ));
    assert_eq!(std::fs::read(&path).unwrap(), BASE64.as_bytes());
}

#[test]
fn group_read_is_accepted_only_when_allowed_and_never_group_write_or_others() {
    let dir = TempDir::new("key-file-group");
    let group = key_file(dir.path(), "group", BASE64.as_bytes(), 0o440);
    assert!(matches!(
        KeyFileProvider::new(&group).load(&any_id()),
        Err(Error::Unsafe { reason, .. }) if reason.contains("group")
    ));
    let key = KeyFileProvider::new(&group)
        .allow_group_read(true)
        .load(&any_id())
        .unwrap();
    assert_eq!(key.expose_secret(), &RAW);
    for mode in [0o460, 0o444, 0o404, 0o640 | 0o002] {
        let path = key_file(dir.path(), &format!("g-{mode:o}"), BASE64.as_bytes(), mode);
        assert!(
            matches!(
                KeyFileProvider::new(&path)
                    .allow_group_read(true)
                    .load(&any_id()),
                Err(Error::Unsafe { .. })
            ),
            "mode {mode:o} was accepted"
        );
    }
}

#[test]
fn a_key_file_another_user_owns_is_refused() {
    if !support::is_root() {
        eprintln!("skipped: changing a file's owner needs root");
        return;
    }
    let dir = TempDir::new("key-file-owner");
    let path = key_file(dir.path(), "theirs", BASE64.as_bytes(), 0o600);
    std::os::unix::fs::chown(&path, Some(4242), None).unwrap();
    match refusal(&path, BASE64.as_bytes()) {
        Error::Unsafe { reason, .. } => assert!(reason.contains("4242"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn thirty_two_bytes_of_text_are_refused_as_ambiguous() {
    let dir = TempDir::new("key-file-text");
    for (name, text) in [
        ("hex", &b"0123456789abcdef0123456789abcdef"[..]),
        ("short-b64", b"AAECAwQFBgcICQoLDA0ODxAREhMUFRY="),
        ("line", b"0123456789abcdef0123456789abcde\n"),
    ] {
        let path = key_file(dir.path(), name, text, 0o600);
        match refusal(&path, text) {
            Error::Malformed { reason, .. } => assert!(reason.contains("text"), "{name}: {reason}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}
