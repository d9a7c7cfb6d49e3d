//! Rollback detection: the newest generation of a store that has been seen,
//! and the keys that sealed it.
//!
//! Every write raises a file's generation. A version with a lower generation
//! than one already seen, sealed by a key of the same store, is an old copy
//! put back (a backup restore, a sync tool): [`Error::Rollback`](crate::Error::Rollback)
//! until someone accepts it. A lower generation under a key the store never
//! had is another store (a new one after a deletion or a quarantine) and
//! starts a new lineage.
//!
//! In memory this covers one process. With [`RollbackMarks`], the lineage is
//! also kept in a small file per store, named by a hash of the store's
//! canonical path, outside the store's directory (the user's state
//! directory by default), so that a new process, which has seen nothing yet,
//! notices too. Someone who can write both the store and the mark can still
//! roll back unnoticed: see `docs/THREAT-MODEL.md`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use keyseal_seal::KeyId;
use sha2::{Digest, Sha256};

/// The most key ids a lineage remembers (one per rotation).
const MAX_KEYS: usize = 16;

/// What a mark file starts with.
const MAGIC: &str = "keyseal-high-water-v1";

/// The newest generation seen of one store, and the keys of its history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Lineage {
    generation: u64,
    key_ids: Vec<KeyId>,
}

impl Lineage {
    /// The lineage of a store whose newest version is `generation`, sealed
    /// by `key_id`, and nothing before.
    pub(crate) fn starting(generation: u64, key_id: KeyId) -> Self {
        Self {
            generation,
            key_ids: vec![key_id],
        }
    }

    /// The newest generation seen, when a version of `generation` sealed by
    /// `key_id` is older than it and of this store: a rollback.
    pub(crate) fn rolled_back(&self, generation: u64, key_id: KeyId) -> Option<u64> {
        (generation < self.generation && self.key_ids.contains(&key_id)).then_some(self.generation)
    }

    /// The lineage after someone accepted the version of `generation` sealed
    /// by `key_id` as the newest: older versions under any key of the
    /// history (this one included) stay rollbacks.
    pub(crate) fn accepting(&self, generation: u64, key_id: KeyId) -> Self {
        let mut key_ids: Vec<KeyId> = self
            .key_ids
            .iter()
            .copied()
            .filter(|id| *id != key_id)
            .collect();
        key_ids.push(key_id);
        let skip = key_ids.len().saturating_sub(MAX_KEYS);
        Self {
            generation,
            key_ids: key_ids.into_iter().skip(skip).collect(),
        }
    }

    /// Whether `other` is newer than or as new as this lineage, of the same
    /// store (they share a key).
    fn covers(&self, other: &Self) -> bool {
        self.generation >= other.generation
            && self.key_ids.iter().any(|id| other.key_ids.contains(id))
    }

    /// Records a version that opened (or was written); returns whether the
    /// lineage changed.
    pub(crate) fn observe(&mut self, generation: u64, key_id: KeyId) -> bool {
        let known = self.key_ids.contains(&key_id);
        if generation < self.generation && !known {
            // Another store lives at this place now.
            *self = Self::starting(generation, key_id);
            return true;
        }
        let mut changed = false;
        if generation > self.generation {
            self.generation = generation;
            changed = true;
        }
        if !known {
            self.key_ids.push(key_id);
            if self.key_ids.len() > MAX_KEYS {
                self.key_ids.remove(0);
            }
            changed = true;
        }
        changed
    }

    fn encode(&self) -> String {
        let mut text = format!("{MAGIC} {}", self.generation);
        for id in &self.key_ids {
            text.push(' ');
            text.push_str(&id.to_string());
        }
        text.push('\n');
        text
    }

    fn decode(text: &str) -> Option<Self> {
        let mut words = text.split_ascii_whitespace();
        if words.next()? != MAGIC {
            return None;
        }
        let generation = words.next()?.parse().ok()?;
        let key_ids = words
            .take(MAX_KEYS)
            .map(str::parse)
            .collect::<Result<Vec<KeyId>, _>>()
            .ok()?;
        Some(Self {
            generation,
            key_ids,
        })
    }
}

/// Where stores' rollback marks are kept: one small file per store (named
/// by a hash of the store's location), outside the stores' directories.
///
/// [`Store::new`](crate::Store::new) uses [`RollbackMarks::in_state_dir`];
/// a store from [`Store::builder`](crate::Store::builder) detects rollbacks
/// within its process only unless given marks with
/// [`StoreBuilder::rollback_marks`](crate::StoreBuilder::rollback_marks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollbackMarks {
    dir: PathBuf,
}

impl RollbackMarks {
    /// Marks in `dir` (created 0700 when first needed).
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Marks in `<state dir>/keyseal-rollback-marks` (see
    /// [`state_dir`](crate::state_dir)), a directory of its own beside any
    /// application's, so that restoring an application's folder never
    /// restores its marks with it; `None` when there is no state directory.
    pub fn in_state_dir() -> Option<Self> {
        crate::paths::state_dir().map(|d| Self::in_dir(d.join("keyseal-rollback-marks")))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_for(&self, location: &str) -> PathBuf {
        let digest = Sha256::digest(location.as_bytes());
        let name: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        self.dir.join(name)
    }

    /// The lineage recorded for the store at `location`; empty when there is
    /// none or the mark cannot be read (said in the log).
    pub(crate) fn load(&self, location: &str) -> Lineage {
        let path = self.path_for(location);
        match read_mark(&path) {
            Ok(text) => Lineage::decode(&text).unwrap_or_else(|| {
                tracing::warn!(
                    "the rollback mark {} is not one; ignoring it",
                    path.display()
                );
                Lineage::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Lineage::default(),
            Err(e) => {
                tracing::warn!("could not read the rollback mark {}: {e}", path.display());
                Lineage::default()
            }
        }
    }

    /// Records `lineage` for the store at `location`, unless the mark on disk
    /// is already as new (another process recorded a newer version of the
    /// same store meanwhile: a mark never goes back). Best effort: a mark
    /// that cannot be written weakens only the detection of rollbacks, never
    /// a read or a write (said in the log).
    pub(crate) fn save(&self, location: &str, lineage: &Lineage) {
        if self.load(location).covers(lineage) {
            return;
        }
        if let Err(e) = self.replace(location, lineage) {
            tracing::warn!(
                "could not record the rollback mark in {}: {e}",
                self.dir.display()
            );
        }
    }

    /// Replaces the mark of the store at `location` with `lineage`, whatever
    /// is there (an acceptance, or a new store).
    ///
    /// # Errors
    /// The file system's.
    pub(crate) fn replace(&self, location: &str, lineage: &Lineage) -> std::io::Result<()> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&self.dir)?;
        let path = self.path_for(location);
        let mut random = [0u8; 8];
        // Only a temporary name: the pid is in it too, and `create_new`
        // refuses a collision.
        let _ = getrandom::fill(&mut random);
        let temp = path.with_extension(format!(
            "tmp-{}-{}",
            std::process::id(),
            u64::from_ne_bytes(random)
        ));
        let result = keyseal_blob::local_file::no_follow_options()
            .write(true)
            .create_new(true)
            .open(&temp)
            .and_then(|mut f| f.write_all(lineage.encode().as_bytes()))
            .and_then(|()| std::fs::rename(&temp, &path));
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result
    }
}

/// The longest rollback mark read: a mark is a few short lines, so anything
/// longer is not one.
const MAX_MARK_LEN: u64 = 64 * 1024;

/// A mark's text, opened as the store opens its own files (never through a
/// symbolic link, never blocking on a FIFO), and at most
/// [`MAX_MARK_LEN`] bytes of it.
fn read_mark(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let file = keyseal_blob::local_file::no_follow_options()
        .read(true)
        .open(path)?;
    let kind = file.metadata()?.file_type();
    if let Some(kind) = keyseal_blob::local_file::not_regular_kind(&kind) {
        return Err(std::io::Error::other(format!("it is {kind}")));
    }
    let mut text = String::new();
    file.take(MAX_MARK_LEN + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_MARK_LEN {
        return Err(std::io::Error::other("it is longer than any mark"));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> KeyId {
        KeyId::from_bytes([n; 16])
    }

    #[test]
    fn an_older_version_under_a_known_key_is_a_rollback_and_under_a_new_key_a_new_store() {
        let mut lineage = Lineage::default();
        assert!(lineage.observe(5, id(1)));
        assert!(!lineage.observe(5, id(1)));
        assert_eq!(lineage.rolled_back(3, id(1)), Some(5));
        assert_eq!(lineage.rolled_back(5, id(1)), None);
        // A rotation: a newer version under a new key joins the lineage.
        assert!(lineage.observe(6, id(2)));
        assert_eq!(lineage.rolled_back(4, id(1)), Some(6));
        // Another store (a new key, a low generation) starts over.
        assert_eq!(lineage.rolled_back(1, id(9)), None);
        assert!(lineage.observe(1, id(9)));
        assert_eq!(lineage, Lineage::starting(1, id(9)));
    }

    #[test]
    fn marks_round_trip_and_garbage_is_ignored() {
        let mut lineage = Lineage::default();
        for n in 0..20u8 {
            lineage.observe(u64::from(n) + 1, id(n));
        }
        assert_eq!(Lineage::decode(&lineage.encode()), Some(lineage.clone()));
        assert_eq!(lineage.key_ids.len(), MAX_KEYS);
        for bad in [
            "",
            "keyseal-high-water-v1",
            "other 5",
            "keyseal-high-water-v1 x",
            "keyseal-high-water-v1 5 zz",
        ] {
            assert_eq!(Lineage::decode(bad), None, "{bad:?}");
        }
    }
}
