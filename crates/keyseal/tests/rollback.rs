//! Rollback detection: an old copy put back is refused, in this process and
//! (with rollback marks) in a new one, until it is accepted; a new store at
//! the same place is not a rollback.
#![cfg(test)]

mod support;

use std::sync::Arc;

use keyseal::blob::FileStore;
use keyseal::keys::MemoryKeyProvider;
use keyseal::{Error, OnUnreadable, RollbackMarks, Store};
use support::TempDir;

const CONTEXT: &str = "com.example.test/rollback";

fn store(keys: &Arc<MemoryKeyProvider>, dir: &TempDir, marks: &TempDir) -> Store {
    Store::builder(Arc::clone(keys), FileStore::new(dir.file()), CONTEXT)
        .rollback_marks(Some(RollbackMarks::in_dir(marks.path())))
        .build()
}

#[test]
fn a_new_process_refuses_an_old_copy_put_back_until_it_is_accepted() {
    let (dir, marks) = (TempDir::new("rb"), TempDir::new("rb-marks"));
    let keys = Arc::new(MemoryKeyProvider::new());
    let first = store(&keys, &dir, &marks);
    first.set("token", "v1").unwrap();
    let old = std::fs::read(dir.file()).unwrap();
    first.set("token", "v2").unwrap();
    first.set("token", "v3").unwrap();
    drop(first);
    std::fs::write(dir.file(), &old).unwrap();

    // A process that has seen nothing yet: the mark tells it.
    let second = store(&keys, &dir, &marks);
    match second.get::<String>("token") {
        Err(Error::Rollback { found, seen, .. }) => assert_eq!((found, seen), (1, 3)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        second.set("token", "v4"),
        Err(Error::Rollback { .. })
    ));
    assert_eq!(std::fs::read(dir.file()).unwrap(), old, "written over");

    second.accept_rollback().unwrap();
    assert_eq!(
        second.get::<String>("token").unwrap().as_deref(),
        Some("v1")
    );
    second.set("token", "v4").unwrap();
    // Accepted for every process.
    let third = store(&keys, &dir, &marks);
    assert_eq!(third.get::<String>("token").unwrap().as_deref(), Some("v4"));
}

#[test]
fn without_marks_only_the_process_that_saw_the_newer_version_notices() {
    let dir = TempDir::new("rb-process");
    let keys = Arc::new(MemoryKeyProvider::new());
    let builder = || Store::builder(Arc::clone(&keys), FileStore::new(dir.file()), CONTEXT);
    let first = builder().build();
    first.set("token", "v1").unwrap();
    let old = std::fs::read(dir.file()).unwrap();
    first.set("token", "v2").unwrap();
    std::fs::write(dir.file(), &old).unwrap();
    assert!(matches!(
        first.get::<String>("token"),
        Err(Error::Rollback { .. })
    ));
    let fresh = builder().build();
    assert_eq!(fresh.get::<String>("token").unwrap().as_deref(), Some("v1"));
}

#[test]
fn a_new_store_after_a_quarantine_or_a_deletion_is_not_a_rollback() {
    for marks in [false, true] {
        let (dir, mark_dir) = (TempDir::new("rb-new"), TempDir::new("rb-new-marks"));
        let keys = Arc::new(MemoryKeyProvider::new());
        let make = |quarantine: bool| {
            let builder = Store::builder(Arc::clone(&keys), FileStore::new(dir.file()), CONTEXT)
                .rollback_marks(marks.then(|| RollbackMarks::in_dir(mark_dir.path())));
            if quarantine {
                builder.on_unreadable(OnUnreadable::Quarantine).build()
            } else {
                builder.build()
            }
        };
        let (a, b) = (make(true), make(false));
        for i in 0..5 {
            a.set("n", &i).unwrap();
        }
        assert_eq!(b.get::<i32>("n").unwrap(), Some(4));
        // The file is damaged; a quarantines it and starts a new store.
        std::fs::write(dir.file(), b"damaged").unwrap();
        a.set("fresh", "start").unwrap();
        assert_eq!(a.status().quarantined.len(), 1);
        // b, which saw generation 5 of the old store, reads and writes the
        // new one (generation 1, another key).
        assert_eq!(
            b.get::<String>("fresh").unwrap().as_deref(),
            Some("start"),
            "marks {marks}"
        );
        b.set("from-b", "ok").unwrap();
        assert_eq!(a.get::<String>("from-b").unwrap().as_deref(), Some("ok"));

        // Deleted outright and started again by another process.
        std::fs::remove_file(dir.file()).unwrap();
        make(false).set("again", "1").unwrap();
        assert_eq!(b.get::<String>("again").unwrap().as_deref(), Some("1"));
        assert_eq!(a.get::<String>("again").unwrap().as_deref(), Some("1"));
    }
}

fn kernel(service: &str) -> keyseal::keys::KeyringProvider {
    keyseal::keys::KeyringProvider::builder(service, "store-key")
        .backend(keyseal::keys::Backend::KernelKeyring)
        .build()
}

#[test]
#[ignore = "child process of a_process_that_saw_the_old_store_reads_the_new_one_another_process_made"]
fn child_quarantine_and_write() {
    if !support::is_child() {
        return;
    }
    let path = std::env::var("KEYSEAL_TEST_PATH").unwrap();
    let service = std::env::var("KEYSEAL_TEST_SERVICE").unwrap();
    let store = Store::builder(kernel(&service), FileStore::new(&path), CONTEXT)
        .on_unreadable(OnUnreadable::Quarantine)
        .build();
    store.set("fresh", "from the other process").unwrap();
    assert_eq!(store.status().quarantined.len(), 1);
}

#[test]
fn a_process_that_saw_the_old_store_reads_the_new_one_another_process_made() {
    let service = support::unique("rb-two");
    if let Err(e) = keyseal::keys::KeyProvider::load(
        &kernel(&service),
        &keyseal::seal::Key::generate().unwrap().id(),
    ) && !e.is_not_found()
    {
        support::skip(&format!("the kernel keyring is not usable: {e}"));
        return;
    }
    let dir = TempDir::new("rb-two");
    let store = Store::builder(kernel(&service), FileStore::new(dir.file()), CONTEXT).build();
    for i in 0..5 {
        store.set("n", &i).unwrap();
    }
    // The file is damaged; another process quarantines it and starts a new
    // store (generation 1, a new key).
    std::fs::write(dir.file(), b"damaged").unwrap();
    support::run_child(
        "child_quarantine_and_write",
        &[
            ("KEYSEAL_TEST_PATH", &dir.file().display().to_string()),
            ("KEYSEAL_TEST_SERVICE", &service),
        ],
        &[],
    );
    // This process saw generation 5 of the old store: the new one is not a
    // rollback, and it reads and writes it.
    assert_eq!(
        store.get::<String>("fresh").unwrap().as_deref(),
        Some("from the other process")
    );
    store.set("n", &6).unwrap();
    support::remove_kernel_keys(&service);
}

#[test]
fn marks_are_named_by_the_canonical_path_so_stores_are_told_apart_and_links_found_the_same() {
    let marks = TempDir::new("rb-names-marks");
    let (a, b) = (TempDir::new("rb-name-a"), TempDir::new("rb-name-b"));
    let key = keyseal::seal::Key::generate().unwrap();
    let at = |path: std::path::PathBuf| {
        Store::builder(
            MemoryKeyProvider::given(key.duplicate()),
            FileStore::new(path),
            CONTEXT,
        )
        .rollback_marks(Some(RollbackMarks::in_dir(marks.path())))
        .build()
    };
    // Two stores named store.sealed, one key: generation 5 here, 1 there.
    for i in 0..5 {
        at(a.file()).set("n", &i).unwrap();
    }
    at(b.file()).set("n", &0).unwrap();
    assert_eq!(at(b.file()).get::<i32>("n").unwrap(), Some(0), "told apart");
    // The same store through a symbolic link shares its mark.
    let link = a.path().join("link");
    std::os::unix::fs::symlink(a.path(), &link).unwrap();
    let old = std::fs::read(a.file()).unwrap();
    at(a.file()).set("n", &5).unwrap();
    std::fs::write(a.file(), &old).unwrap();
    assert!(matches!(
        at(link.join("store.sealed")).get::<i32>("n"),
        Err(Error::Rollback { .. })
    ));
}

#[test]
fn an_accepted_copy_keeps_the_history_so_an_older_copy_is_still_refused() {
    let (dir, marks) = (TempDir::new("rb-accept"), TempDir::new("rb-accept-marks"));
    let keys = Arc::new(MemoryKeyProvider::new());
    let s = store(&keys, &dir, &marks);
    s.set("n", &1).unwrap();
    let before_rotation = std::fs::read(dir.file()).unwrap();
    s.rotate_key().unwrap();
    s.set("n", &2).unwrap();
    let second = std::fs::read(dir.file()).unwrap();
    s.set("n", &3).unwrap();
    // An older copy put back on purpose, and accepted.
    std::fs::write(dir.file(), &second).unwrap();
    let fresh = store(&keys, &dir, &marks);
    assert!(matches!(fresh.get::<i32>("n"), Err(Error::Rollback { .. })));
    fresh.accept_rollback().unwrap();
    assert_eq!(fresh.get::<i32>("n").unwrap(), Some(2));
    // A copy from before the rotation is still older than the history.
    std::fs::write(dir.file(), &before_rotation).unwrap();
    assert!(matches!(
        store(&keys, &dir, &marks).get::<i32>("n"),
        Err(Error::Rollback { .. })
    ));
}

#[test]
fn accepting_fails_when_the_mark_cannot_be_recorded_or_the_file_does_not_open() {
    let dir = TempDir::new("rb-accept-fail");
    let not_a_dir = TempDir::new("rb-accept-file");
    let blocked = not_a_dir.path().join("marks");
    std::fs::write(&blocked, b"a file where the marks' directory should be").unwrap();
    let keys = Arc::new(MemoryKeyProvider::new());
    let s = Store::builder(Arc::clone(&keys), FileStore::new(dir.file()), CONTEXT)
        .rollback_marks(Some(RollbackMarks::in_dir(&blocked)))
        .build();
    s.set("n", &1).unwrap();
    assert!(matches!(s.accept_rollback(), Err(Error::Storage { .. })));
    // A file that does not open with the store's key is not accepted.
    std::fs::write(dir.file(), b"keyseal\0 not really").unwrap();
    assert!(s.accept_rollback().is_err());
}

#[cfg(unix)]
#[test]
fn a_fifo_or_a_link_in_place_of_a_mark_is_ignored_without_blocking() {
    for kind in ["fifo", "symlink"] {
        let (dir, marks) = (TempDir::new("rb-fifo"), TempDir::new("rb-fifo-marks"));
        let keys = Arc::new(MemoryKeyProvider::new());
        store(&keys, &dir, &marks).set("token", "v1").unwrap();
        let mark = std::fs::read_dir(marks.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_none())
            .expect("the store recorded a mark");
        std::fs::remove_file(&mark).unwrap();
        match kind {
            "fifo" => assert!(
                std::process::Command::new("mkfifo")
                    .arg(&mark)
                    .status()
                    .unwrap()
                    .success()
            ),
            _ => std::os::unix::fs::symlink(dir.file(), &mark).unwrap(),
        }
        // A new process reads its mark first: it must answer, not wait for
        // a writer on the FIFO or read the file the link points at.
        let (done, answer) = std::sync::mpsc::channel();
        let (keys, file, marks_dir) = (Arc::clone(&keys), dir.file(), marks.path().to_owned());
        std::thread::spawn(move || {
            let store = Store::builder(keys, FileStore::new(file), CONTEXT)
                .rollback_marks(Some(RollbackMarks::in_dir(marks_dir)))
                .build();
            let _ = done.send(store.get::<String>("token"));
        });
        let got = answer
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{kind}: the read is stuck on the mark"));
        assert_eq!(got.unwrap().as_deref(), Some("v1"), "{kind}");
    }
}
