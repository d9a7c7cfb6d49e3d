//! A full file system, for real: a 64 KiB tmpfs mounted by the test (root
//! only; skipped with a printed reason otherwise, and never skipped under
//! `cargo xtask ci`, which runs as root).
#![cfg(test)]
#![cfg(target_os = "linux")]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use keyseal_blob::{BlobStore, Decision, Error, FileStore};
use support::TempDir;

struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path) -> Result<Self, String> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| format!("could not run mount: {e}"))?;
        if out.status.success() {
            Ok(Self(at.to_path_buf()))
        } else {
            Err(format!(
                "mount failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn write(store: &FileStore, bytes: &[u8]) -> keyseal_blob::Result<()> {
    store
        .update(&mut |_| Decision::Write(bytes.to_vec()))
        .map(|_| ())
}

#[test]
fn an_update_that_does_not_fit_is_no_space_and_keeps_the_previous_blob() {
    if !support::is_root() {
        support::skip("mounting a tmpfs needs root");
        return;
    }
    let dir = TempDir::new("nospace");
    let mount = match Tmpfs::mount(dir.path()) {
        Ok(m) => m,
        Err(reason) => {
            support::skip(&reason);
            return;
        }
    };
    let store = FileStore::new(mount.0.join("store.sealed"));
    // 36 KiB fits in 64 KiB; a second 36 KiB copy beside it (the temporary
    // file of the next update) does not.
    let first = vec![1u8; 36 * 1024];
    write(&store, &first).unwrap();
    match write(&store, &vec![2u8; 36 * 1024]) {
        Err(Error::NoSpace { path, .. }) => {
            assert!(path.starts_with(&mount.0), "{}", path.display());
        }
        other => panic!("expected NoSpace, got {other:?}"),
    }
    assert!(
        store.read().unwrap().unwrap().bytes() == first,
        "the previous blob changed"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&mount.0)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "the failed write left {leftovers:?}");
    // The store still works for what fits.
    write(&store, b"small").unwrap();
    assert_eq!(store.read().unwrap().unwrap().bytes(), b"small");
    drop(mount);
}
