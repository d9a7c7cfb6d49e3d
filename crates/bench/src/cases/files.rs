//! The write floor and a plaintext JSON file.

use std::hint::black_box;
use std::sync::Arc;

use crate::common::{
    self, JsonFile, Result, atomic_write, contender, file_len, filler, interleave, name, seed,
    store_at, value,
};

use super::{Bench, Compared, compare};

/// keyseal beside the write floor and a plaintext JSON file, at 100
/// entries of 4 KiB.
#[derive(Debug)]
pub(crate) struct Files {
    pub(crate) entries: usize,
    pub(crate) file_bytes: u64,
    pub(crate) json_bytes: u64,
    /// keyseal's set beside the write floor.
    pub(crate) floor: Compared,
    /// keyseal's set beside the append floor: 4 KiB appended to an open
    /// file and `fdatasync`, the least a durable one-entry write can cost.
    pub(crate) append: Compared,
    /// keyseal's set beside the JSON file's.
    pub(crate) json_set: Compared,
    /// keyseal's cold get beside the JSON file's.
    pub(crate) json_get: Compared,
}

impl Bench {
    pub(crate) fn files(&self, entries: usize) -> Result<Files> {
        let store_path = self.path("files/store.sealed");
        common::fresh_dir(&self.path("files"))?;
        let provider = self.key.provider();
        let store = store_at(&store_path, Arc::clone(&provider));
        seed(&store, entries)?;
        let file_bytes = file_len(&store_path)?;
        let floor_path = self.path("files/floor.bin");
        let bytes = filler(file_bytes);
        let mut appended = common::AppendFile::create(&self.path("files/append.bin"))?;
        let entry = filler(4096);
        let json = JsonFile::create(self.path("files/secrets.json"), entries)?;
        let json_bytes = file_len(&json.path)?;

        let rounds = self.plan.rounds(60);
        let which = |round: u64| name(usize::try_from(round).unwrap_or(0) % entries);
        let [floor, append, set, json_set] = interleave(
            3,
            rounds,
            [
                contender("write floor", |_| atomic_write(&floor_path, &bytes)),
                contender("append floor", |_| appended.append(&entry)),
                contender("keyseal set", |r| {
                    Ok(store.set(&which(r), &value(0, r + 1))?)
                }),
                contender("JSON file set", |r| json.set(&which(r), &value(0, r + 1))),
            ],
        )?;

        let rounds = self.plan.rounds(200);
        let [cold_get, json_get] = interleave(
            5,
            rounds,
            [
                contender("keyseal cold get", |r| {
                    // A new store: nothing cached, the key already in
                    // memory (keyring loads are measured separately).
                    let store = store_at(&store_path, Arc::clone(&provider));
                    let v: Option<String> = store.get(&which(r))?;
                    black_box(v.ok_or("missing")?);
                    Ok(())
                }),
                contender("JSON file get", |r| {
                    black_box(json.get(&which(r))?.ok_or("missing")?);
                    Ok(())
                }),
            ],
        )?;
        Ok(Files {
            entries,
            file_bytes,
            json_bytes,
            floor: compare(&set, &floor)?,
            append: compare(&set, &append)?,
            json_set: compare(&set, &json_set)?,
            json_get: compare(&cold_get, &json_get)?,
        })
    }
}
