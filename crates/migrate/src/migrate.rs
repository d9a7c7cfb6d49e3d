//! The migration procedure.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use keyseal::{ExposeSecret, Store};
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::sealed_file::Removal;
use crate::{
    DEFAULT_SEALED_FILE_LOCK_TIMEOUT, Layout, LegacySource, SealedFile, SealedFileProblem,
};

/// Result alias with this crate's [`enum@Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Why a migration stopped. Every variant leaves every legacy item in place.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A legacy item could not be read.
    #[error("could not read the legacy item {item:?}; nothing was migrated or deleted")]
    Read {
        /// The item.
        item: String,
        /// The keyring's error.
        #[source]
        source: keyseal_keys::Error,
    },

    /// The legacy service could not be searched.
    #[error("could not list the legacy items of {service:?}; nothing was migrated or deleted")]
    Search {
        /// The service.
        service: String,
        /// The keyring's error.
        #[source]
        source: keyseal_keys::Error,
    },

    /// A bundle or index item is not the JSON the layout says.
    #[error("the legacy item {item:?} is not {expected}; nothing was migrated or deleted")]
    Malformed {
        /// The item.
        item: String,
        /// What it should be.
        expected: &'static str,
    },

    /// The layout's sealed file exists and cannot be imported (its key
    /// missing or malformed, the file not authentic, malformed, not a
    /// regular file, or its lock held past the timeout).
    #[error(
        "the legacy sealed file {} cannot be imported; nothing was migrated or deleted",
        path.display()
    )]
    SealedFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        problem: SealedFileProblem,
    },

    /// A migrated entry did not read back as written.
    #[error(
        "the entry {name:?} did not read back from the store as written; the legacy items were kept"
    )]
    Verify {
        /// The entry.
        name: String,
    },

    /// `--strict`: some entries cannot move; nothing was written or deleted.
    #[error(
        "{} legacy entries cannot move ({}); nothing was migrated or deleted",
        .entries.len(),
        .entries.iter().map(|(name, why)| format!("{name:?}: {why}")).collect::<Vec<_>>().join("; ")
    )]
    NotMigratable {
        /// Each entry that cannot move, with why (never its value).
        entries: Vec<(String, String)>,
    },

    /// The store keeps entries in memory only (its key provider did not
    /// answer and the application chose
    /// [`OnKeyringUnavailable::MemoryOnly`](keyseal::OnKeyringUnavailable)):
    /// nothing would survive the process, so no legacy item was deleted.
    #[error("the store is not saving to disk ({reason}); every legacy item was kept")]
    NotPersisting {
        /// Why the store runs in memory.
        reason: String,
    },

    /// The store failed (persisting, reading back).
    #[error(transparent)]
    Store(#[from] keyseal::Error),
}

/// A legacy value as it is handed to a [`Convert`].
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum LegacyValue<'a> {
    /// The bytes of a per-item entry.
    Item(&'a [u8]),
    /// One value of a bundle item or of a sealed file's JSON object, as
    /// compact JSON text.
    BundleJson(&'a [u8]),
}

impl fmt::Debug for LegacyValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Item(v) => write!(f, "Item([REDACTED; {}])", v.len()),
            Self::BundleJson(v) => write!(f, "BundleJson([REDACTED; {}])", v.len()),
        }
    }
}

/// Turns a legacy value into the bytes the store keeps, or says (without
/// quoting the value) why it cannot.
pub type Convert =
    dyn Fn(&str, LegacyValue<'_>) -> core::result::Result<Zeroizing<Vec<u8>>, String> + Send + Sync;

/// How to migrate.
#[derive(Clone)]
pub struct Options {
    dry_run: bool,
    strict: bool,
    remove_sealed_file: bool,
    sealed_file_lock_timeout: Duration,
    convert: Arc<Convert>,
    entry_name: Arc<EntryName>,
    progress: Option<Arc<ProgressFn>>,
}

/// Names the store entry of a legacy name (see [`Options::entry_names`]).
pub type EntryName = dyn Fn(&str) -> String + Send + Sync;

/// Told how far a migration is (see [`Options::on_progress`]).
pub type ProgressFn = dyn Fn(Progress) + Send + Sync;

/// How far a migration is: `done` of `total` legacy items in `step`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// What is being done.
    pub step: Step,
    /// Items done in this step.
    pub done: usize,
    /// Items in this step.
    pub total: usize,
}

/// A step of a migration that goes item by item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Reading the legacy items (once for the preview, again under the
    /// store's lock).
    Reading,
    /// Deleting the legacy items the store now holds.
    Deleting,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("dry_run", &self.dry_run)
            .field("strict", &self.strict)
            .field("remove_sealed_file", &self.remove_sealed_file)
            .field("sealed_file_lock_timeout", &self.sealed_file_lock_timeout)
            .finish_non_exhaustive()
    }
}

impl Default for Options {
    fn default() -> Self {
        Self::raw()
    }
}

impl Options {
    /// For stores read with the raw API: a per-item value moves as its bytes;
    /// a bundle value that is a JSON string moves as the string's content,
    /// any other bundle value as its compact JSON text.
    pub fn raw() -> Self {
        Self::with_convert(|_name: &str, value: LegacyValue<'_>| {
            Ok(match value {
                LegacyValue::Item(bytes) => Zeroizing::new(bytes.to_vec()),
                LegacyValue::BundleJson(text) => match serde_json::from_slice::<String>(text) {
                    // Moved, not copied, into the zeroizing buffer.
                    Ok(s) => Zeroizing::new(s.into_bytes()),
                    Err(_) => Zeroizing::new(text.to_vec()),
                },
            })
        })
    }

    /// For stores read with `Store::get::<T>`: every legacy value is decoded
    /// as JSON into `T` and stored as `T`'s JSON. A value that does not
    /// decode is reported and left in the legacy keyring.
    pub fn typed<T: DeserializeOwned + Serialize + 'static>() -> Self {
        Self::with_convert(|_name: &str, value: LegacyValue<'_>| {
            let (LegacyValue::Item(bytes) | LegacyValue::BundleJson(bytes)) = value;
            let decoded: T = serde_json::from_slice(bytes).map_err(|e| {
                format!(
                    "does not decode as the application's type (JSON {:?} error at line {}, column {})",
                    e.classify(),
                    e.line(),
                    e.column()
                )
            })?;
            keyseal::json_bytes(&decoded).map_err(|_| "does not encode back to JSON".to_owned())
        })
    }

    /// With a conversion of the application's own.
    pub fn with_convert(
        convert: impl Fn(&str, LegacyValue<'_>) -> core::result::Result<Zeroizing<Vec<u8>>, String>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self {
            dry_run: false,
            strict: false,
            remove_sealed_file: false,
            sealed_file_lock_timeout: DEFAULT_SEALED_FILE_LOCK_TIMEOUT,
            convert: Arc::new(convert),
            entry_name: Arc::new(str::to_owned),
            progress: None,
        }
    }

    /// Only report what would move: no write, no delete, no value shown,
    /// and nothing of the store's created (no store directory, lock file or
    /// key). The layout's sealed file is read under its application's lock,
    /// as for a migration (that lock file is created, as the application
    /// creates it, when the sealed file exists and the lock file does not).
    #[must_use]
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Fail the whole migration, before anything is written, when any entry
    /// cannot move (a bad name, a value that does not convert). Without it
    /// (the default) such entries are reported, stay in the legacy keyring,
    /// and the others move.
    #[must_use]
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Also remove the layout's sealed file and then its key item, once
    /// every entry of the file is in the store with the file's own value
    /// (an entry the store already had with another value keeps the file),
    /// and only if, under the application's lock, the file is still the one
    /// imported (a token the application wrote since is never removed); the
    /// key item goes after the file, with the lock released. Without it (the
    /// default) both are left in place. Use it only once the application no
    /// longer runs: a running docker-agent keeps its key in memory and would
    /// write a new file sealed with the removed key. The lock file stays.
    #[must_use]
    pub fn remove_sealed_file(mut self, remove: bool) -> Self {
        self.remove_sealed_file = remove;
        self
    }

    /// Names each migrated entry `name(legacy)`, where `legacy` is its name
    /// in the legacy layout (a bundle's or sealed file's key, a per-item
    /// item's name without the prefix). By default an entry keeps its
    /// legacy name. Reports, origins and conversions see the new names.
    ///
    /// keyseal-keyring-store's entries, for example, are
    /// `keyseal_keyring_store::entry_name(service, user)`; a per-item layout
    /// with an empty prefix over the keyring-core items of `service` moves
    /// them in with `|user| entry_name(service, user)`.
    #[must_use]
    pub fn entry_names(mut self, name: impl Fn(&str) -> String + Send + Sync + 'static) -> Self {
        self.entry_name = Arc::new(name);
        self
    }

    /// How long the sealed file's lock is waited for (default
    /// [`DEFAULT_SEALED_FILE_LOCK_TIMEOUT`]); after it the migration fails
    /// with [`SealedFileProblem::LockTimeout`] and changes nothing.
    #[must_use]
    pub fn sealed_file_lock_timeout(mut self, timeout: Duration) -> Self {
        self.sealed_file_lock_timeout = timeout;
        self
    }

    /// Calls `report` as the migration reads and deletes legacy items, one
    /// call per item (a command line shows it as a progress line). It must
    /// not block: it runs on the migration's thread, under the store's lock
    /// while items are read for the merge.
    #[must_use]
    pub fn on_progress(mut self, report: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(report));
        self
    }

    fn progress(&self, step: Step, done: usize, total: usize) {
        if let Some(report) = &self.progress {
            report(Progress { step, done, total });
        }
    }
}

/// Where a migrated entry's value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// The layout's sealed file.
    SealedFile,
    /// The bundle item.
    Bundle,
    /// A per-item entry.
    Item,
}

/// What became of the layout's sealed file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SealedFileReport {
    /// The file.
    pub path: PathBuf,
    /// The names it holds.
    pub entries: Vec<String>,
    /// Whether this run removed the file.
    pub removed: bool,
    /// Whether this run removed its key item.
    pub key_item_removed: bool,
    /// Why the file and its key item were kept although their removal was
    /// asked for.
    pub kept: Option<String>,
}

/// What a migration did (or, in a dry run, would do). Names only, never
/// values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Entries written to the store.
    pub moved: Vec<String>,
    /// Where each entry in `moved` and `already_present` was found.
    pub origins: BTreeMap<String, Origin>,
    /// The layout's sealed file, when one was found.
    pub sealed_file: Option<SealedFileReport>,
    /// Entries the store already had; its value is newer and was kept.
    pub already_present: Vec<String>,
    /// Entries that cannot move (a name the store refuses, a value that
    /// does not convert), with why; left in the keyring.
    pub not_converted: Vec<(String, String)>,
    /// Legacy items left alone because they hold key material (a keyseal
    /// key record, or one of the layout's key items), with why.
    pub skipped: Vec<(String, String)>,
    /// Set when the legacy keyring did not answer (no Secret Service on
    /// this session, or it timed out): there was nothing to migrate from
    /// it, and nothing was touched.
    pub source_unavailable: Option<String>,
    /// Legacy items deleted.
    pub deleted: Vec<String>,
    /// Legacy items kept because something in them was not migrated.
    pub kept: Vec<String>,
    /// Legacy items (also in [`kept`](Self::kept)) that held something else
    /// when they were about to be deleted than when they were read: an
    /// application wrote them again meanwhile. The store holds what was read
    /// before; a later run lets the store's entry win and deletes the item,
    /// so stop the application and look at these first.
    pub changed_since_read: Vec<String>,
    /// Legacy items whose deletion failed, with why; retried next run.
    pub delete_failures: Vec<(String, String)>,
}

impl Report {
    /// Whether there was nothing to do.
    pub fn is_noop(&self) -> bool {
        self.moved.is_empty()
            && self.already_present.is_empty()
            && self.not_converted.is_empty()
            && self.skipped.is_empty()
            && self.deleted.is_empty()
            && self.kept.is_empty()
            && self.changed_since_read.is_empty()
            && self.delete_failures.is_empty()
            && self
                .sealed_file
                .as_ref()
                .is_none_or(|f| f.entries.is_empty() && !f.removed && !f.key_item_removed)
    }
}

/// One legacy value to migrate.
struct Candidate {
    name: String,
    value: Zeroizing<Vec<u8>>,
}

/// The sealed file as it was imported.
struct ImportedFile {
    /// Its bytes, to tell at removal whether it changed.
    sealed: Vec<u8>,
    /// Its entry names.
    names: Vec<String>,
}

/// Everything found in the legacy keyring.
#[derive(Default)]
struct Collected {
    /// Converted values: the sealed file's first (they win), then the
    /// bundle's, then per-item entries neither has.
    candidates: Vec<Candidate>,
    /// Where each candidate was found.
    origins: BTreeMap<String, Origin>,
    /// The sealed file, when there is one.
    sealed: Option<ImportedFile>,
    not_converted: Vec<(String, String)>,
    skipped: Vec<(String, String)>,
    /// Bundle entry names, when a bundle item exists.
    bundle_names: Option<Vec<String>>,
    /// Per-item item name -> entry name.
    per_item: BTreeMap<String, String>,
    /// Whether the index item exists.
    index_exists: bool,
    /// Per-item items that could not be read, with why: left in place, and
    /// so is the index that lists them.
    unread: Vec<(String, String)>,
    /// What each keyring item read held (bundle, index, per-item), as a
    /// digest: an item is deleted only while it still holds that (an
    /// application still running may have written it again since).
    read_as: BTreeMap<String, ItemDigest>,
}

/// The SHA-256 of a legacy item's bytes, to tell whether it changed since it
/// was read without keeping a copy of the secret.
type ItemDigest = [u8; 32];

fn digest(bytes: &[u8]) -> ItemDigest {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

/// JSON text without the whitespace between tokens (the form a bundle value
/// is handed over in), into an exactly sized zeroizing buffer. The text is
/// valid JSON already; only whitespace outside strings is dropped.
fn compact_json(text: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(text.len()));
    let (mut in_string, mut escaped) = (false, false);
    for &byte in text {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
        } else if byte == b'"' {
            in_string = true;
        } else if byte.is_ascii_whitespace() {
            continue;
        }
        out.push(byte);
    }
    out
}

impl Collected {
    /// The report of what was found, before anything moved.
    fn report(&self, layout: &Layout, options: &Options) -> Report {
        Report {
            dry_run: options.dry_run,
            not_converted: self
                .not_converted
                .iter()
                .chain(&self.unread)
                .cloned()
                .collect(),
            skipped: self.skipped.clone(),
            origins: self.origins.clone(),
            sealed_file: self.sealed.as_ref().zip(layout.sealed_file.as_ref()).map(
                |(imported, file)| SealedFileReport {
                    path: file.path.clone(),
                    entries: imported.names.clone(),
                    removed: false,
                    key_item_removed: false,
                    kept: None,
                },
            ),
            ..Report::default()
        }
    }
}

/// With `--strict`, any entry that cannot move fails the whole migration.
fn refuse_if_strict(collected: &Collected, options: &Options) -> Result<()> {
    if options.strict && !(collected.not_converted.is_empty() && collected.unread.is_empty()) {
        return Err(Error::NotMigratable {
            entries: collected
                .not_converted
                .iter()
                .chain(&collected.unread)
                .cloned()
                .collect(),
        });
    }
    Ok(())
}

/// What every keyseal key record starts with (`keyseal-keys`' item format).
const KEY_RECORD_PREFIX: &[u8] = b"keyseal-key-v1:";

impl Collected {
    /// Converts one legacy value into a candidate, or records why it cannot
    /// move: a name the store would refuse, or a value that does not convert.
    fn consider(&mut self, name: &str, value: LegacyValue<'_>, origin: Origin, options: &Options) {
        if let Err(e) = keyseal::validate_name(name) {
            let why = match e {
                keyseal::Error::InvalidName { reason } => format!("its name is refused: {reason}"),
                other => other.to_string(),
            };
            self.not_converted.push((name.to_owned(), why));
            return;
        }
        match (options.convert)(name, value) {
            Ok(value) => {
                self.origins.insert(name.to_owned(), origin);
                self.candidates.push(Candidate {
                    name: name.to_owned(),
                    value,
                });
            }
            Err(why) => self.not_converted.push((name.to_owned(), why)),
        }
    }
}

fn read(
    source: &dyn LegacySource,
    layout: &Layout,
    item: &str,
) -> Result<Option<Zeroizing<Vec<u8>>>> {
    source.read(&layout.service, item).map_err(|e| Error::Read {
        item: item.to_owned(),
        source: e,
    })
}

fn sealed_file_error(file: &SealedFile, problem: SealedFileProblem) -> Error {
    Error::SealedFile {
        path: file.path.clone(),
        problem,
    }
}

/// The sealed file's entries, when the file exists: read under its
/// application's lock, opened with its key item, every value handed over as
/// compact JSON. Any failure imports nothing from it and stops the
/// migration: a bundle or item value imported in its place would be older
/// than the file's, and would then win over it.
fn collect_sealed_file(
    source: &dyn LegacySource,
    layout: &Layout,
    file: &SealedFile,
    options: &Options,
    out: &mut Collected,
    taken: &mut BTreeSet<String>,
) -> Result<()> {
    let Some(sealed) = file
        .read(options.sealed_file_lock_timeout)
        .map_err(|p| sealed_file_error(file, p))?
    else {
        // No file here, yet its key exists: the application made its file
        // elsewhere, and the keyring items alone are older than that file.
        if read(source, layout, &file.key_item)?.is_some() {
            return Err(sealed_file_error(
                file,
                SealedFileProblem::FileMissing {
                    key_item: file.key_item.clone(),
                },
            ));
        }
        return Ok(());
    };
    // The file is there: a keyring that does not answer for its key is a
    // failure, never "nothing to migrate" (which would leave its tokens
    // behind while reporting success).
    let key = match source.read(&layout.service, &file.key_item) {
        Ok(Some(key)) => key,
        Ok(None) => {
            return Err(sealed_file_error(
                file,
                SealedFileProblem::KeyMissing {
                    key_item: file.key_item.clone(),
                },
            ));
        }
        Err(e) if not_answering(&e) => {
            return Err(sealed_file_error(
                file,
                SealedFileProblem::KeyUnavailable {
                    key_item: file.key_item.clone(),
                    reason: e.to_string(),
                },
            ));
        }
        Err(e) => {
            return Err(Error::Read {
                item: file.key_item.clone(),
                source: e,
            });
        }
    };
    let opened = file
        .open(sealed, &key)
        .map_err(|p| sealed_file_error(file, p))?;
    let object: BTreeMap<String, &serde_json::value::RawValue> =
        serde_json::from_slice(opened.plaintext.expose_secret()).map_err(|_| {
            sealed_file_error(
                file,
                SealedFileProblem::Malformed {
                    expected: "a JSON object of name -> value",
                },
            )
        })?;
    let mut names = Vec::with_capacity(object.len());
    for (name, value) in &object {
        let text = compact_json(value.get().as_bytes());
        let name = (options.entry_name)(name);
        names.push(name.clone());
        taken.insert(name.clone());
        out.consider(
            &name,
            LegacyValue::BundleJson(&text),
            Origin::SealedFile,
            options,
        );
    }
    out.sealed = Some(ImportedFile {
        sealed: opened.sealed,
        names,
    });
    Ok(())
}

fn collect(source: &dyn LegacySource, layout: &Layout, options: &Options) -> Result<Collected> {
    let mut out = Collected::default();
    let mut taken = BTreeSet::new();

    if let Some(file) = &layout.sealed_file {
        collect_sealed_file(source, layout, file, options, &mut out, &mut taken)?;
    }

    for control in [&layout.bundle_item, &layout.index_item]
        .into_iter()
        .flatten()
        .filter(|item| layout.is_key_item(item))
    {
        out.skipped.push((
            control.clone(),
            "the application's own key item; key material is never migrated".to_owned(),
        ));
    }
    if let Some(bundle_item) = layout
        .bundle_item
        .as_ref()
        .filter(|i| !layout.is_key_item(i))
        && let Some(bytes) = read(source, layout, bundle_item)?
    {
        out.read_as.insert(bundle_item.clone(), digest(&bytes));
        let malformed = || Error::Malformed {
            item: bundle_item.clone(),
            expected: "a JSON object of name -> value",
        };
        // The values stay in the (zeroizing) item bytes: each is borrowed as
        // its raw JSON text and compacted into a zeroizing buffer, never
        // parsed into `serde_json::Value`s that would free unwiped copies.
        let object: std::collections::BTreeMap<String, &serde_json::value::RawValue> =
            serde_json::from_slice(&bytes).map_err(|_| malformed())?;
        let mut names = Vec::with_capacity(object.len());
        for (name, value) in &object {
            let text = compact_json(value.get().as_bytes());
            let name = (options.entry_name)(name);
            names.push(name.clone());
            if taken.insert(name.clone()) {
                out.consider(
                    &name,
                    LegacyValue::BundleJson(&text),
                    Origin::Bundle,
                    options,
                );
            }
        }
        out.bundle_names = Some(names);
    }

    if let Some(prefix) = &layout.item_prefix {
        let mut names = BTreeSet::new();
        if let Some(index_item) = layout
            .index_item
            .as_ref()
            .filter(|i| !layout.is_key_item(i))
            && let Some(bytes) = read(source, layout, index_item)?
        {
            out.index_exists = true;
            out.read_as.insert(index_item.clone(), digest(&bytes));
            let listed: Vec<String> =
                serde_json::from_slice(&bytes).map_err(|_| Error::Malformed {
                    item: index_item.clone(),
                    expected: "a JSON array of names",
                })?;
            names.extend(listed);
        }
        let searched = source.search(&layout.service).map_err(|e| Error::Search {
            service: layout.service.clone(),
            source: e,
        })?;
        for item in searched.unwrap_or_default() {
            if let Some(name) = item.strip_prefix(prefix.as_str())
                && !layout.is_control_item(&item)
            {
                names.insert(name.to_owned());
            }
        }
        let total = names.len();
        for (done, name) in names.into_iter().enumerate() {
            options.progress(Step::Reading, done + 1, total);
            let item = format!("{prefix}{name}");
            // An empty legacy name is an entry only when it is renamed to
            // one (an empty entry name is refused as it is).
            if layout.is_control_item(&item) || (options.entry_name)(&name).is_empty() {
                continue;
            }
            if layout.is_key_item(&item) {
                out.skipped.push((
                    item,
                    "the application's own key item; key material is never migrated".to_owned(),
                ));
                continue;
            }
            // One item that cannot be read (locked by itself, ambiguous,
            // a platform error) stays where it is and blocks nothing else.
            let bytes = match source.read(&layout.service, &item) {
                Ok(Some(bytes)) => bytes,
                Ok(None) => continue, // listed in the index, but gone
                Err(e) => {
                    out.unread.push((item, format!("could not be read: {e}")));
                    continue;
                }
            };
            if bytes.starts_with(KEY_RECORD_PREFIX) {
                out.skipped.push((
                    item,
                    "holds a keyseal store's key; key material is never migrated".to_owned(),
                ));
                continue;
            }
            let name = (options.entry_name)(&name);
            out.read_as.insert(item.clone(), digest(&bytes));
            out.per_item.insert(item, name.clone());
            if taken.insert(name.clone()) {
                out.consider(&name, LegacyValue::Item(&bytes), Origin::Item, options);
            }
        }
    }
    Ok(out)
}

/// Migrates `layout`'s items from `source` into `store` (see the crate docs
/// for the procedure and its guarantees).
///
/// # Errors
/// [`Error::Read`], [`Error::Search`] and [`Error::Malformed`] before
/// anything is written; [`Error::Store`] when persisting or reading back
/// fails; [`Error::Verify`] when an entry does not read back as written. In
/// every case no legacy item was deleted. Failed deletes are not errors: they
/// are listed in [`Report::delete_failures`] and retried by the next run.
pub fn migrate(
    store: &Store,
    source: &dyn LegacySource,
    layout: &Layout,
    options: &Options,
) -> Result<Report> {
    // A first look at the legacy keyring, without the store's lock: a dry
    // run, a migration with nothing to move, and a legacy keyring that does
    // not answer never touch the store.
    let preview = match collect(source, layout, options) {
        Ok(collected) => collected,
        // Unless a legacy sealed file is there: its tokens would be left
        // behind under a report of success.
        Err(Error::Read { source: e, .. } | Error::Search { source: e, .. })
            if not_answering(&e) && !sealed_file_present(layout) =>
        {
            tracing::debug!("the legacy keyring does not answer: {e}");
            return Ok(Report {
                dry_run: options.dry_run,
                source_unavailable: Some(e.to_string()),
                ..Report::default()
            });
        }
        Err(e) => return Err(e),
    };
    refuse_if_strict(&preview, options)?;
    let nothing_there = preview.candidates.is_empty()
        && preview.per_item.is_empty()
        && preview.bundle_names.is_none()
        && !preview.index_exists
        && preview.unread.is_empty()
        && preview.sealed.is_none();
    if nothing_there || options.dry_run {
        let mut report = preview.report(layout, options);
        if options.dry_run {
            // Names only: the index is read (with the key, when a file
            // exists), no value is decrypted, nothing is created.
            for c in &preview.candidates {
                if store.contains(&c.name)? {
                    report.already_present.push(c.name.clone());
                } else {
                    report.moved.push(c.name.clone());
                }
            }
        }
        return Ok(report);
    }

    // Collect again and merge under the store's lock: a second process
    // migrating at the same time waits, then finds the items gone or every
    // name already present, instead of racing the first one's deletes. A
    // failure writes nothing.
    let mut too_large: Vec<(String, String)> = Vec::new();
    let (collected, moved, already_present) = loop {
        let merged = store.transaction(|tx| -> Result<_> {
            let mut collected = collect(source, layout, options)?;
            refuse_if_strict(&collected, options)?;
            collected
                .candidates
                .retain(|c| !too_large.iter().any(|(name, _)| *name == c.name));
            let mut moved = Vec::new();
            let mut present = Vec::new();
            for c in &collected.candidates {
                if tx.contains(&c.name)? {
                    present.push(c.name.clone());
                } else {
                    tx.set_bytes(&c.name, &c.value)?;
                    moved.push(c.name.clone());
                }
            }
            Ok((collected, moved, present))
        });
        match merged {
            // Too much for the store's size limit (nothing was written):
            // leave the largest value that would be written in the legacy
            // keyring and try the rest, unless every entry must move.
            Err(
                error @ Error::Store(keyseal::Error::Storage {
                    source: keyseal::blob::Error::WriteTooLarge { .. },
                }),
            ) if !options.strict => {
                let mut largest: Option<&Candidate> = None;
                for c in &preview.candidates {
                    let left_out = too_large.iter().any(|(name, _)| *name == c.name);
                    let bigger = largest.is_none_or(|l| c.value.len() > l.value.len());
                    if bigger && !left_out && !store.contains(&c.name)? {
                        largest = Some(c);
                    }
                }
                // Nothing new to leave out: the store is full as it is.
                let Some(largest) = largest else {
                    return Err(error);
                };
                too_large.push((
                    largest.name.clone(),
                    "with it the store would outgrow its size limit".to_owned(),
                ));
            }
            other => break other?,
        }
    };
    tracing::debug!(
        "migration from {:?}: {} moved, {} already in the store, {} not converted",
        layout.service,
        moved.len(),
        already_present.len(),
        collected.not_converted.len()
    );
    let mut report = collected.report(layout, options);
    report.not_converted.extend(too_large);
    report.moved = moved;
    report.already_present = already_present;
    if let Some(reason) = store.degraded() {
        return Err(Error::NotPersisting { reason });
    }

    // Read back from disk and verify before deleting anything.
    store.reload()?;
    for c in &collected.candidates {
        let stored = store.get_bytes(&c.name)?;
        let ok = match stored {
            Some(stored) if report.moved.contains(&c.name) => {
                stored.expose_secret() == c.value.as_slice()
            }
            Some(_) => true,
            None => false,
        };
        if !ok {
            return Err(Error::Verify {
                name: c.name.clone(),
            });
        }
    }

    // Delete what the store now holds; keep what it does not.
    let stored: BTreeSet<String> = report
        .moved
        .iter()
        .chain(&report.already_present)
        .cloned()
        .collect();
    let delete = |item: &str, report: &mut Report| -> bool {
        // Still what was read? An application still running (an older
        // docker-agent refreshing its bundle) may have written it again since:
        // then it is kept and reported. The next run finds its entry in the
        // store and lets the store win (see `Report::changed_since_read`).
        match source.read(&layout.service, item) {
            Ok(Some(now)) if collected.read_as.get(item) == Some(&digest(&now)) => {}
            Ok(None) => {
                tracing::debug!("the legacy item {item:?} was deleted by someone else");
                return true;
            }
            Ok(Some(_)) => {
                tracing::debug!("the legacy item {item:?} changed since it was read; kept");
                report.kept.push(item.to_owned());
                report.changed_since_read.push(item.to_owned());
                return false;
            }
            Err(e) => {
                report
                    .delete_failures
                    .push((item.to_owned(), e.to_string()));
                return false;
            }
        }
        match source.delete(&layout.service, item) {
            Ok(_) => {
                tracing::debug!("deleted the legacy item {item:?}");
                report.deleted.push(item.to_owned());
                true
            }
            // Another process migrating at the same time may have deleted
            // it under us (the keyring then reports an error for an item
            // that vanished mid-call): gone is gone.
            Err(_) if matches!(source.read(&layout.service, item), Ok(None)) => {
                tracing::debug!("the legacy item {item:?} was deleted by someone else");
                true
            }
            Err(e) => {
                report
                    .delete_failures
                    .push((item.to_owned(), e.to_string()));
                false
            }
        }
    };
    let mut all_per_item_gone = collected.unread.is_empty();
    for (item, _) in &collected.unread {
        report.kept.push(item.clone());
    }
    let total = collected.per_item.len();
    for (done, (item, name)) in collected.per_item.iter().enumerate() {
        options.progress(Step::Deleting, done + 1, total);
        if stored.contains(name) {
            all_per_item_gone &= delete(item, &mut report);
        } else {
            report.kept.push(item.clone());
            all_per_item_gone = false;
        }
    }
    if let (Some(bundle_item), Some(names)) = (&layout.bundle_item, &collected.bundle_names) {
        if names.iter().all(|n| stored.contains(n)) {
            delete(bundle_item, &mut report);
        } else {
            report.kept.push(bundle_item.clone());
        }
    }
    if let Some(index_item) = &layout.index_item
        && collected.index_exists
    {
        if all_per_item_gone {
            delete(index_item, &mut report);
        } else {
            report.kept.push(index_item.clone());
        }
    }
    if options.remove_sealed_file
        && let Some(imported) = &collected.sealed
    {
        remove_sealed_source(
            store,
            source,
            layout,
            &collected,
            imported,
            options,
            &mut report,
        );
    }
    Ok(report)
}

/// `--remove-source`: removes the layout's sealed file, if every entry it
/// holds is in the store with the file's value (an entry the store already
/// had with another value keeps the file: it may be docker-agent's newer
/// token) and it is still the file imported (checked under the
/// application's lock), then its key item, after the lock is released.
/// Failures keep what they did not remove and are reported, never fatal:
/// the store already holds every entry.
fn remove_sealed_source(
    store: &Store,
    source: &dyn LegacySource,
    layout: &Layout,
    collected: &Collected,
    imported: &ImportedFile,
    options: &Options,
    report: &mut Report,
) {
    let Some(file) = &layout.sealed_file else {
        return;
    };
    let mut outcome = SealedFileReport {
        path: file.path.clone(),
        entries: imported.names.clone(),
        removed: false,
        key_item_removed: false,
        kept: None,
    };
    let mut differing = Vec::new();
    for name in &imported.names {
        let from_file = collected
            .candidates
            .iter()
            .find(|c| c.name == *name && collected.origins.get(name) == Some(&Origin::SealedFile));
        let stored = match store.get_bytes(name) {
            Ok(stored) => stored,
            Err(e) => {
                outcome.kept = Some(format!(
                    "the store could not be read back ({e}); the file and its key item were kept"
                ));
                report.sealed_file = Some(outcome);
                return;
            }
        };
        let same = match (from_file, stored) {
            (Some(c), Some(stored)) => stored.expose_secret() == c.value.as_slice(),
            _ => false,
        };
        if !same {
            differing.push(format!("{name:?}"));
        }
    }
    if !differing.is_empty() {
        outcome.kept = Some(format!(
            "the store does not hold the file's value of {}; the file and its key item were kept",
            differing.join(", ")
        ));
        report.sealed_file = Some(outcome);
        return;
    }
    match file.remove_if_unchanged(&imported.sealed, options.sealed_file_lock_timeout) {
        Ok(Removal::Removed) => outcome.removed = true,
        Ok(Removal::Gone) => {
            outcome.kept = Some(
                "another process removed it meanwhile; its key item was left to that process"
                    .to_owned(),
            );
        }
        Ok(Removal::Changed) => {
            outcome.kept = Some(
                "the application wrote it again after it was read; it and its key item were kept (run the migration again)"
                    .to_owned(),
            );
        }
        Err(problem) => {
            outcome.kept = Some(format!(
                "it could not be removed ({problem}); it and its key item were kept"
            ));
        }
    }
    if outcome.removed {
        // The key item last, once the file it seals is gone.
        match source.delete(&layout.service, &file.key_item) {
            Ok(existed) => {
                outcome.key_item_removed = existed;
                if existed {
                    report.deleted.push(file.key_item.clone());
                }
            }
            Err(e) => report.delete_failures.push((
                file.key_item.clone(),
                format!(
                    "{e}; the file it sealed is removed, so delete this keyring item yourself (a later run would report the file missing)"
                ),
            )),
        }
    }
    report.sealed_file = Some(outcome);
}

/// Whether the layout names a legacy sealed file and something is at its
/// path.
fn sealed_file_present(layout: &Layout) -> bool {
    layout
        .sealed_file
        .as_ref()
        .is_some_and(|file| std::fs::symlink_metadata(&file.path).is_ok())
}

/// Whether a keyring error means the keyring did not answer at all (no
/// service on this session, or no answer in time): nothing to migrate from.
fn not_answering(e: &keyseal_keys::Error) -> bool {
    matches!(
        e.unavailable_reason(),
        Some(
            keyseal_keys::UnavailableReason::NoService
                | keyseal_keys::UnavailableReason::TimedOut(_)
        )
    )
}
