//! What other users (or a careless user) can put at or around the store's
//! paths: FIFOs, sockets, devices, directories, symbolic links, shared
//! directories, another user's lock file. Each is a typed error at once;
//! nothing blocks, nothing is created or changed.
#![cfg(test)]
#![cfg(unix)]

mod support;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use keyseal_blob::{BlobStore, Decision, Error, FileStore};
use support::TempDir;

fn write(store: &FileStore, bytes: &[u8]) -> keyseal_blob::Result<()> {
    store
        .update(&mut |_| Decision::Write(bytes.to_vec()))
        .map(|_| ())
}

/// Runs `f` on a thread and fails the test if it has not returned after
/// 30 s: a call that blocks on a FIFO never returns at all.
fn returns<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("{what} blocked"))
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn expect_not_a_file<T: std::fmt::Debug>(result: keyseal_blob::Result<T>, kind: &str, what: &str) {
    match result {
        Err(Error::NotAFile { kind: found, .. }) => assert_eq!(found, kind, "{what}"),
        other => panic!("{what}: expected NotAFile({kind}), got {other:?}"),
    }
}

#[test]
fn a_fifo_at_the_store_path_is_refused_at_once_by_every_operation() {
    let dir = TempDir::new("fifo");
    let path = dir.path().join("store.sealed");
    mkfifo(&path);
    let before = listing(dir.path());
    let store = FileStore::new(&path);
    let s = store.clone();
    expect_not_a_file(returns("read", move || s.read()), "a FIFO", "read");
    let s = store.clone();
    expect_not_a_file(returns("version", move || s.version()), "a FIFO", "version");
    let s = store.clone();
    expect_not_a_file(returns("write", move || write(&s, b"x")), "a FIFO", "write");
    let s = store.clone();
    expect_not_a_file(
        returns("quarantine", move || s.quarantine("x", None)),
        "a FIFO",
        "quarantine",
    );
    assert_eq!(
        listing(dir.path()),
        before,
        "a lock file or anything else was created"
    );
}

#[test]
fn a_fifo_at_the_lock_path_is_refused_and_the_store_is_unchanged() {
    let dir = TempDir::new("fifolock");
    let store = FileStore::new(dir.path().join("store.sealed"));
    write(&store, b"blob").unwrap();
    fs::remove_file(store.lock_path()).unwrap();
    mkfifo(store.lock_path());
    let s = store.clone();
    expect_not_a_file(returns("write", move || write(&s, b"y")), "a FIFO", "write");
    assert_eq!(store.read().unwrap().unwrap().bytes(), b"blob");
}

#[test]
fn a_socket_a_device_and_a_directory_at_the_store_path_are_not_files() {
    let dir = TempDir::new("special");
    let socket = dir.path().join("socket.sealed");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let directory = dir.path().join("dir.sealed");
    fs::create_dir(&directory).unwrap();
    for (path, kind) in [
        (socket, "a socket"),
        (PathBuf::from("/dev/null"), "a device"),
        (directory, "a directory"),
    ] {
        let store = FileStore::new(&path);
        expect_not_a_file(store.read(), kind, &path.display().to_string());
        let s = store.clone();
        expect_not_a_file(returns("write", move || write(&s, b"x")), kind, "write");
        let lock = store.lock_path().to_path_buf();
        assert!(
            !lock.exists(),
            "{}: a lock file was created",
            path.display()
        );
    }
}

#[test]
fn a_path_that_names_no_file_is_refused_and_creates_nothing() {
    let dir = TempDir::new("nofile");
    let with_slash = format!("{}/", dir.path().join("sub").display());
    for path in [PathBuf::from("/"), PathBuf::from(&with_slash)] {
        let store = FileStore::new(&path);
        assert!(
            matches!(write(&store, b"x"), Err(Error::InvalidPath { .. })),
            "{}",
            path.display()
        );
        assert!(matches!(store.read(), Err(Error::InvalidPath { .. })));
    }
    assert!(listing(dir.path()).is_empty(), "{:?}", listing(dir.path()));
    assert!(!Path::new("/.lock").exists() && !Path::new("/blob.lock").exists());
}

#[test]
fn a_symbolic_link_at_the_lock_path_is_refused_and_its_target_never_created() {
    let dir = TempDir::new("locklink");
    let store = FileStore::new(dir.path().join("store.sealed"));
    let target = dir.path().join("planted-target");
    std::os::unix::fs::symlink(&target, store.lock_path()).unwrap();
    match write(&store, b"x") {
        Err(Error::Unsafe { path, .. }) => assert_eq!(path, store.lock_path()),
        other => panic!("{other:?}"),
    }
    assert!(!target.exists(), "the link's target was created");
    assert!(!store.path().exists());
}

#[test]
fn a_directory_others_can_write_to_is_refused_unless_shared_is_allowed() {
    let dir = TempDir::new("shared");
    let shared = dir.path().join("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
    let path = shared.join("store.sealed");
    let store = FileStore::new(&path);
    match write(&store, b"x") {
        Err(Error::Unsafe { path: p, reason }) => {
            assert_eq!(p, shared);
            assert!(reason.contains("0777"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(listing(&shared).is_empty(), "something was created");
    let allowed = FileStore::new(&path).with_shared_directory(true);
    write(&allowed, b"x").unwrap();
    assert!(matches!(store.read(), Err(Error::Unsafe { .. })));
    assert_eq!(allowed.read().unwrap().unwrap().bytes(), b"x");
}

/// The uid of `nobody`, when this test runs as root (only root can give a
/// file to another user).
fn other_user() -> Option<u32> {
    let me = fs::metadata("/proc/self").ok()?.uid();
    if me != 0 {
        support::skip("needs root to give a file to another user");
        return None;
    }
    Some(65534)
}

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), None).unwrap();
}

#[test]
fn a_lock_file_or_directory_of_another_user_is_refused() {
    let Some(nobody) = other_user() else {
        return;
    };
    let dir = TempDir::new("foreign");
    let store = FileStore::new(dir.path().join("store.sealed"));
    write(&store, b"mine").unwrap();
    chown(store.lock_path(), nobody);
    match write(&store, b"x") {
        Err(Error::Unsafe { path, reason }) => {
            assert_eq!(path, store.lock_path());
            assert!(reason.contains("65534"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(store.read().unwrap().unwrap().bytes(), b"mine");
    chown(store.lock_path(), 0);

    let theirs = dir.path().join("theirs");
    fs::create_dir(&theirs).unwrap();
    fs::set_permissions(&theirs, fs::Permissions::from_mode(0o755)).unwrap();
    chown(&theirs, nobody);
    let store = FileStore::new(theirs.join("store.sealed"));
    assert!(matches!(write(&store, b"x"), Err(Error::Unsafe { .. })));
    assert!(listing(&theirs).is_empty());
}

#[test]
fn modification_times_are_never_in_the_future() {
    let dir = TempDir::new("mtime");
    let store = FileStore::new(dir.path().join("store.sealed"));
    for i in 0..50u8 {
        write(&store, &[i]).unwrap();
        let modified = fs::metadata(store.path()).unwrap().modified().unwrap();
        let now = SystemTime::now();
        assert!(modified <= now, "write {i}: {modified:?} is after {now:?}");
    }
}

#[test]
fn a_directory_above_the_store_that_others_can_write_to_is_refused_unless_sticky() {
    let dir = TempDir::new("ancestor");
    let open = dir.path().join("open");
    fs::create_dir(&open).unwrap();
    fs::create_dir(open.join("mine")).unwrap();
    fs::set_permissions(open.join("mine"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let store = FileStore::new(open.join("mine").join("store.sealed"));
    match write(&store, b"x") {
        Err(Error::Unsafe { path, .. }) => assert_eq!(path, open),
        other => panic!("{other:?}"),
    }
    assert!(fs::read_dir(open.join("mine")).unwrap().next().is_none());
    // Sticky, as /tmp is: others cannot move what is not theirs.
    fs::set_permissions(&open, fs::Permissions::from_mode(0o1777)).unwrap();
    write(&store, b"x").unwrap();
    assert_eq!(store.read().unwrap().unwrap().bytes(), b"x");
}

#[test]
fn a_symbolic_link_of_another_user_on_the_way_to_the_store_is_refused() {
    let Some(nobody) = other_user() else {
        return;
    };
    let dir = TempDir::new("linkpath");
    let real = dir.path().join("real");
    fs::create_dir(&real).unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(nobody), None).unwrap();
    let store = FileStore::new(link.join("store.sealed"));
    match write(&store, b"x") {
        Err(Error::Unsafe { path, reason }) => {
            assert_eq!(path, link);
            assert!(reason.contains("symbolic link"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(fs::read_dir(&real).unwrap().next().is_none());
    // The user's own link is followed as any path is.
    std::os::unix::fs::lchown(&link, Some(0), None).unwrap();
    write(&store, b"x").unwrap();
}

#[test]
fn a_named_lock_never_follows_a_planted_link_and_never_blocks_on_a_fifo() {
    let dir = TempDir::new("named-hostile");
    let path = dir.path().join("store.sealed");
    let store = FileStore::new(&path);
    let short = Duration::from_millis(100);
    // The lock directory a symbolic link to elsewhere: refused, nothing made there.
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, dir.path().join("store.sealed.locks")).unwrap();
    assert!(matches!(
        store.named_lock("n", short),
        Err(Error::Unsafe { .. })
    ));
    assert!(listing(&elsewhere).is_empty());
    fs::remove_file(dir.path().join("store.sealed.locks")).unwrap();
    // A FIFO where the lock file goes: refused at once, not waited on.
    drop(store.named_lock("n", short).unwrap());
    let lock = fs::read_dir(dir.path().join("store.sealed.locks"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    fs::remove_file(&lock).unwrap();
    mkfifo(&lock);
    let moved = store.clone();
    let result = returns("a named lock on a FIFO", move || {
        moved
            .named_lock("n", Duration::from_millis(100))
            .map(|_| ())
    });
    expect_not_a_file(result, "a FIFO", "named lock");
}
