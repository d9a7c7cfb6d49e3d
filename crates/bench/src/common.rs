//! What every comparison shares: entries, stores, the write floor, timing.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::hint::black_box;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding as _};
use keyseal::Store;
use keyseal_blob::FileStore;
use keyseal_keys::{EnvKeyProvider, KeyProvider, MemoryKeyProvider};
use keyseal_seal::Key;

pub(crate) type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The size of every entry's value, as most benchmarks use it.
pub(crate) const VALUE_LEN: usize = 4096;

/// The context string of every benchmark store.
pub(crate) const CONTEXT: &str = "keyseal-bench";

/// The environment variable through which child processes get the key of
/// the stores that do not use a keyring (never a command-line argument).
pub(crate) const KEY_VAR: &str = "KEYSEAL_BENCH_KEY";

/// The name of entry `i`.
pub(crate) fn name(i: usize) -> String {
    format!("server-{i:05}")
}

/// A 4 KiB secret-like value (printable, incompressible-looking), different
/// for every `(i, round)`.
pub(crate) fn value(i: usize, round: u64) -> String {
    value_of_len(i, round, VALUE_LEN)
}

pub(crate) fn value_of_len(i: usize, round: u64, len: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut state = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ round.wrapping_add(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(ALPHABET.get((state % 64) as usize).copied().unwrap_or(b'A'))
        })
        .collect()
}

/// A small deterministic generator for workloads.
#[derive(Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % (n.max(1) as u64)).unwrap_or(0)
    }
}

/// The key of the benchmark's keyring-free stores, and its base64 for the
/// children's environment.
#[derive(Debug)]
pub(crate) struct BenchKey {
    key: Key,
    pub(crate) base64: String,
}

impl BenchKey {
    pub(crate) fn generate() -> Result<Self> {
        let key = Key::generate()?;
        let base64 = Base64::encode_string(key.expose_secret());
        Ok(Self { key, base64 })
    }

    /// A provider giving this key, as the children's environment does.
    pub(crate) fn provider(&self) -> Arc<MemoryKeyProvider> {
        Arc::new(MemoryKeyProvider::given(self.key.duplicate()))
    }
}

/// The file size limit of the benchmark's stores: the default (16 MiB, about
/// 4,000 entries of 4 KiB) would refuse the 10,000-entry scaling point.
pub(crate) const MAX_SIZE: u64 = 64 << 20;

/// A store at `path` sealed with `provider`'s key.
pub(crate) fn store_at(path: &Path, provider: impl KeyProvider + 'static) -> Store {
    Store::builder(provider, blob_at(path), CONTEXT).build()
}

/// The blob store at `path`: a file, or (section 12) a PostgreSQL store
/// when the "path" is a `postgres://` URL.
fn blob_at(path: &Path) -> Box<dyn keyseal_blob::BlobStore> {
    #[cfg(target_os = "linux")]
    if let Some(url) = path
        .to_str()
        .filter(|p| keyseal_postgres::is_postgres_url(p))
        && let Ok(store) = keyseal_postgres::PostgresStore::new(url)
    {
        return Box::new(
            store
                .with_max_size(MAX_SIZE)
                .with_lock_timeout(Duration::from_secs(60)),
        );
    }
    Box::new(FileStore::new(path).with_max_size(MAX_SIZE))
}

/// In a child process: the store at `path` with the key from [`KEY_VAR`].
pub(crate) fn env_store(path: &Path) -> Store {
    store_at(path, EnvKeyProvider::new(KEY_VAR))
}

/// Fills `store` with entries `0..n` in one write.
pub(crate) fn seed(store: &Store, n: usize) -> Result {
    let values: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| Ok((name(i), serde_json::to_vec(&value(i, 0))?)))
        .collect::<Result<_>>()?;
    store.transaction(|tx| {
        values
            .iter()
            .try_for_each(|(name, json)| tx.set_bytes(name, json))
            .map_err(Into::into)
    })
}

/// The write floor: `bytes` to a new temporary file, fsync, rename over
/// `path`, fsync of the directory. No encryption, no lock, no read.
pub(crate) fn atomic_write(path: &Path, bytes: &[u8]) -> Result {
    let dir = path.parent().ok_or("a file path has a directory")?;
    let temp = path.with_extension("tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temp, path)?;
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// A file kept open for appends: the append floor's contender.
#[derive(Debug)]
pub(crate) struct AppendFile {
    file: File,
}

impl AppendFile {
    pub(crate) fn create(path: &Path) -> Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(path)?;
        Ok(Self { file })
    }

    /// Appends `bytes` and waits until they are on the disk (`fdatasync`).
    pub(crate) fn append(&mut self, bytes: &[u8]) -> Result {
        self.file.write_all(bytes)?;
        self.file.sync_data()?;
        Ok(())
    }
}

/// What several tools fall back to: every secret in one plaintext JSON
/// object, replaced atomically (no lock).
#[derive(Debug)]
pub(crate) struct JsonFile {
    pub(crate) path: PathBuf,
}

impl JsonFile {
    pub(crate) fn create(path: PathBuf, n: usize) -> Result<Self> {
        let map: BTreeMap<String, String> = (0..n).map(|i| (name(i), value(i, 0))).collect();
        atomic_write(&path, &serde_json::to_vec(&map)?)?;
        Ok(Self { path })
    }

    fn load(&self) -> Result<BTreeMap<String, String>> {
        Ok(serde_json::from_slice(&fs::read(&self.path)?)?)
    }

    /// Read, change one entry, write back atomically.
    pub(crate) fn set(&self, name: &str, value: &str) -> Result {
        let mut map = self.load()?;
        map.insert(name.to_owned(), value.to_owned());
        atomic_write(&self.path, &serde_json::to_vec(&map)?)
    }

    /// A cold read: the file from disk, parsed, one entry out.
    pub(crate) fn get(&self, name: &str) -> Result<Option<String>> {
        Ok(self.load()?.remove(name))
    }
}

/// Times one call.
pub(crate) fn time(f: impl FnOnce() -> Result) -> Result<Duration> {
    let started = Instant::now();
    f()?;
    Ok(black_box(started.elapsed()))
}

/// A contender in an interleaved comparison: its name, and what it runs
/// once a round (given the round's number).
pub(crate) struct Contender<'a> {
    label: &'a str,
    run: Box<dyn FnMut(u64) -> Result + 'a>,
}

/// A labelled contender for [`interleave`].
pub(crate) fn contender<'a>(label: &'a str, run: impl FnMut(u64) -> Result + 'a) -> Contender<'a> {
    Contender {
        label,
        run: Box::new(run),
    }
}

/// Runs every contender once per round, in an order that rotates from round
/// to round, after `warmup` rounds that are not kept. Returns each
/// contender's durations in the contenders' order, round by round, so that
/// entry `i` of two contenders was measured back to back.
pub(crate) fn interleave<const N: usize>(
    warmup: usize,
    rounds: usize,
    mut contenders: [Contender<'_>; N],
) -> Result<[Vec<Duration>; N]> {
    let times = interleave_all(warmup, rounds, &mut contenders)?;
    <[Vec<Duration>; N]>::try_from(times).map_err(|_| "a contender has no durations".into())
}

/// [`interleave`] for a number of contenders known only at run time.
pub(crate) fn interleave_all(
    warmup: usize,
    rounds: usize,
    contenders: &mut [Contender<'_>],
) -> Result<Vec<Vec<Duration>>> {
    let count = contenders.len();
    let mut times = vec![Vec::with_capacity(rounds); count];
    for round in 0..warmup + rounds {
        for k in 0..count {
            let at = (k + round) % count;
            let Some(Contender { label, run }) = contenders.get_mut(at) else {
                continue;
            };
            let token = round as u64;
            let took =
                time(|| run(token)).map_err(|e| format!("{label} failed in round {round}: {e}"))?;
            if round >= warmup
                && let Some(list) = times.get_mut(at)
            {
                list.push(took);
            }
        }
    }
    Ok(times)
}

/// Creates `dir` (0700), empty.
pub(crate) fn fresh_dir(dir: &Path) -> Result<PathBuf> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    Ok(dir.to_owned())
}

/// The size of the file at `path`.
pub(crate) fn file_len(path: &Path) -> Result<u64> {
    Ok(fs::metadata(path)?.len())
}

/// `len` bytes that do not compress, for the floor's writes.
pub(crate) fn filler(len: u64) -> Vec<u8> {
    let len = usize::try_from(len).unwrap_or(0);
    value_of_len(7, 7, len).into_bytes()
}
