//! The file store on a real file system.
#![cfg(test)]

mod support;

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use keyseal_blob::{BlobStore, Decision, Error, FileStore, conformance};
use support::TempDir;

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn write(store: &FileStore, bytes: &[u8]) -> keyseal_blob::Result<()> {
    store
        .update(&mut |_| Decision::Write(bytes.to_vec()))
        .map(|_| ())
}

#[test]
fn file_store_passes_the_conformance_suite() {
    let dir = TempDir::new("conformance");
    conformance::run_all(&FileStore::new(dir.path().join("store.sealed")));
}

#[test]
fn data_and_lock_files_are_0600_and_a_new_directory_is_0700() {
    let dir = TempDir::new("perms");
    let nested = dir.path().join("config").join("keyseal");
    let store = FileStore::new(nested.join("store.sealed"));
    assert!(!nested.exists(), "creating a store must not touch the disk");
    write(&store, b"blob").unwrap();
    assert_eq!(mode(&nested), 0o700);
    assert_eq!(mode(&dir.path().join("config")), 0o700);
    assert_eq!(mode(store.path()), 0o600);
    assert_eq!(mode(store.lock_path()), 0o600);
    // Every replacement is a new file, created 0600 again.
    write(&store, b"blob 2").unwrap();
    assert_eq!(mode(store.path()), 0o600);
    // The lock file is never deleted.
    assert!(store.lock_path().exists());
}

#[test]
fn a_held_lock_times_out_with_an_error_naming_the_lock_file() {
    let dir = TempDir::new("lock");
    let store = FileStore::new(dir.path().join("store.sealed"))
        .with_lock_timeout(Duration::from_millis(300));
    write(&store, b"before").unwrap();

    // Another open file description of the lock file, as another process has.
    let holder = File::options()
        .read(true)
        .write(true)
        .open(store.lock_path())
        .unwrap();
    holder.lock().unwrap();
    let started = Instant::now();
    match write(&store, b"during") {
        Err(Error::LockTimeout { lock_path, waited }) => {
            assert_eq!(lock_path, store.lock_path());
            assert!(waited >= Duration::from_millis(300), "{waited:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(matches!(
        store.quarantine("x", None),
        Err(Error::LockTimeout { .. })
    ));
    // Readers take no lock.
    assert_eq!(store.read().unwrap().unwrap().bytes(), b"before");
    holder.unlock().unwrap();
    write(&store, b"after").unwrap();
    assert_eq!(store.read().unwrap().unwrap().bytes(), b"after");
}

#[test]
fn stale_temporary_files_are_removed_by_a_new_handle_and_every_64th_update() {
    let dir = TempDir::new("stale");
    let path = dir.path().join("store.sealed");
    write(&FileStore::new(&path), b"committed").unwrap();
    let stale = dir.path().join(".store.sealed.tmp-999999-00000000deadbeef");
    let other = dir.path().join(".other.tmp-1-2");
    fs::write(&stale, b"half a write").unwrap();
    fs::write(&other, b"not ours").unwrap();
    // A process that starts after a crash cleans up at its first update.
    let store = FileStore::new(&path);
    write(&store, b"next").unwrap();
    assert!(!stale.exists(), "the crash leftover is still there");
    assert!(other.exists(), "a file of another store was removed");
    assert_eq!(store.read().unwrap().unwrap().bytes(), b"next");
    // A long-lived handle looks again every 64 updates.
    fs::write(&stale, b"another crash").unwrap();
    for i in 1..64 {
        write(&store, format!("{i}").as_bytes()).unwrap();
    }
    assert!(stale.exists(), "looked before the 64th update");
    write(&store, b"64th").unwrap();
    assert!(!stale.exists(), "the 64th update did not clean up");
}

#[test]
fn a_directory_at_the_store_path_is_never_replaced_nor_moved() {
    let dir = TempDir::new("unreadable");
    let path = dir.path().join("store.sealed");
    fs::create_dir(&path).unwrap();
    fs::write(path.join("inside"), b"precious").unwrap();
    let store = FileStore::new(&path);
    for _ in 0..2 {
        assert!(matches!(
            write(&store, b"clobber"),
            Err(Error::NotAFile {
                kind: "a directory",
                ..
            })
        ));
        assert!(matches!(store.read(), Err(Error::NotAFile { .. })));
    }
    // Not a store file at all: not for a quarantine to move either.
    assert!(matches!(
        store.quarantine("unreadable", None),
        Err(Error::NotAFile { .. })
    ));
    assert_eq!(fs::read(path.join("inside")).unwrap(), b"precious");
    assert!(!store.lock_path().exists(), "a lock file was created");
}

#[test]
fn quarantine_keeps_earlier_quarantined_files() {
    let dir = TempDir::new("quarantine");
    let store = FileStore::new(dir.path().join("store.sealed"));
    let mut moved = Vec::new();
    for i in 0..3 {
        write(&store, format!("generation {i}").as_bytes()).unwrap();
        moved.push(store.quarantine("wrong-key", None).unwrap().unwrap());
    }
    for (i, path) in moved.iter().enumerate() {
        assert_eq!(
            fs::read(path).unwrap(),
            format!("generation {i}").as_bytes(),
            "{path}"
        );
        assert_eq!(mode(std::path::Path::new(path)), 0o600);
    }
}

#[test]
fn an_oversized_file_is_refused_and_kept() {
    let dir = TempDir::new("large");
    let store = FileStore::new(dir.path().join("store.sealed")).with_max_size(1024);
    fs::write(store.path(), vec![7u8; 4096]).unwrap();
    assert!(matches!(
        store.read(),
        Err(Error::TooLarge {
            size: 4096,
            limit: 1024,
            ..
        })
    ));
    assert!(matches!(write(&store, b"x"), Err(Error::TooLarge { .. })));
    assert_eq!(fs::read(store.path()).unwrap().len(), 4096);
}

#[test]
fn a_write_over_the_limit_is_refused_and_the_file_kept() {
    let dir = TempDir::new("large-write");
    let store = FileStore::new(dir.path().join("store.sealed")).with_max_size(1024);
    write(&store, &[1u8; 1024]).unwrap();
    let before = store.version().unwrap();
    match write(&store, &[2u8; 1025]) {
        Err(Error::WriteTooLarge {
            size: 1025,
            limit: 1024,
            path,
        }) => assert_eq!(path, store.path()),
        other => panic!("expected WriteTooLarge, got {other:?}"),
    }
    assert_eq!(fs::read(store.path()).unwrap(), vec![1u8; 1024]);
    assert_eq!(store.version().unwrap(), before);
    assert_eq!(store.read().unwrap().unwrap().bytes(), &[1u8; 1024][..]);
}

#[test]
fn the_version_tracks_replacements_by_other_handles() {
    let dir = TempDir::new("version");
    let path = dir.path().join("store.sealed");
    let writer = FileStore::new(&path);
    let reader = FileStore::new(&path);
    assert_eq!(reader.version().unwrap(), None);
    write(&writer, b"one").unwrap();
    let seen = reader.read().unwrap().unwrap();
    assert_eq!(reader.version().unwrap(), Some(seen.version()));
    write(&writer, b"two").unwrap();
    assert_ne!(reader.version().unwrap(), Some(seen.version()));
}

#[test]
#[ignore = "child process of permission_denied_is_its_own_error"]
fn child_permission_denied() {
    if !support::is_child() {
        return;
    }
    let path = std::env::var("KEYSEAL_TEST_PATH").unwrap();
    let store = FileStore::new(&path);
    assert!(
        matches!(store.read(), Err(Error::PermissionDenied { .. })),
        "{:?}",
        store.read()
    );
    assert!(matches!(
        write(&store, b"x"),
        Err(Error::PermissionDenied { .. })
    ));
}

#[test]
fn permission_denied_is_its_own_error() {
    // Root reads everything, so the refused reader runs as user nobody.
    if !support::is_root() {
        support::skip("needs root to run a child as another user");
        return;
    }
    if std::process::Command::new("setpriv")
        .arg("--version")
        .output()
        .is_err()
    {
        support::skip("setpriv (util-linux) is not installed");
        return;
    }
    let dir = TempDir::new("denied");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let store = FileStore::new(dir.path().join("store.sealed"));
    write(&store, b"root's blob").unwrap();
    // The test binary must be reachable by nobody: it is, under target/.
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(exe)
        .args([
            "child_permission_denied",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("KEYSEAL_TEST_CHILD", "1")
        .env("KEYSEAL_TEST_PATH", store.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !stdout.contains("1 passed")
        && String::from_utf8_lossy(&out.stderr).contains("Permission denied")
        && !stdout.contains("running")
    {
        support::skip("the test binary is not executable by nobody here");
        return;
    }
    assert!(
        stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(store.read().unwrap().unwrap().bytes(), b"root's blob");
}

#[test]
fn a_symbolic_link_where_the_file_should_be_is_refused_and_left_alone() {
    let dir = TempDir::new("symlink");
    let real = dir.path().join("elsewhere.sealed");
    fs::write(&real, b"someone else's file").unwrap();
    let store = FileStore::new(dir.path().join("store.sealed"));
    std::os::unix::fs::symlink(&real, store.path()).unwrap();
    assert!(matches!(store.read(), Err(Error::Unreadable { .. })));
    assert!(matches!(write(&store, b"x"), Err(Error::Unreadable { .. })));
    assert!(
        fs::symlink_metadata(store.path())
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read(&real).unwrap(), b"someone else's file");
}

#[test]
fn an_update_expecting_the_current_version_reads_only_the_ends() {
    use keyseal_blob::Current;
    let dir = TempDir::new("ends");
    let store = FileStore::new(dir.path().join("store.sealed"));
    write(&store, &[5u8; 4096]).unwrap();
    let version = store.version().unwrap();
    let mut seen = Vec::new();
    store
        .update_expecting(version, 16, 16, &mut |current| {
            seen.push(match current {
                Current::Unchanged { len, head, tail } => {
                    assert_eq!((len, head.len(), tail.len()), (4096, 16, 16));
                    "unchanged"
                }
                Current::Read(_) => "read",
                _ => "other",
            });
            Decision::Keep
        })
        .unwrap();
    assert_eq!(seen, ["unchanged"]);
}
