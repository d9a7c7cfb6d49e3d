//! Section 12: keyseal-postgres beside the file store and beside the
//! database's own floor (a committed single-row `UPDATE` of the same
//! bytes) on the same throwaway server in the same run, and 8 replica
//! processes against 1.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use keyseal_testkit::postgres::{PgOptions, PgServer};

use super::{Bench, Compared, ContentionRow, compare};
use crate::children::{CONTEND_SLOTS, contend_name, contend_value};
use crate::common::{Result, contender, interleave, name, seed, store_at, value};

/// What section 12 measured.
#[derive(Debug)]
pub(crate) struct PostgresRow {
    /// A set through keyseal-postgres beside a set through the file store.
    pub(crate) set_vs_file: Compared,
    /// A set through keyseal-postgres beside the database's floor.
    pub(crate) set_vs_floor: Compared,
    /// A warm get through keyseal-postgres beside one through the file store.
    pub(crate) get_vs_file: Compared,
    /// 1 and 8 replica processes.
    pub(crate) replicas: Vec<ContentionRow>,
    /// The sealed blob's size.
    pub(crate) blob_len: u64,
}

impl Bench {
    /// `None` when PostgreSQL is not installed (outside CI).
    pub(crate) fn postgres(&self, entries: usize) -> Result<Option<PostgresRow>> {
        let Some(server) = PgServer::start(PgOptions::default()) else {
            return Ok(None);
        };
        // The password comes from PGPASSWORD (children get it from `child`).
        let url = server
            .url("bench")
            .replace(&format!(":{}@", keyseal_testkit::postgres::PASSWORD), "@");
        let with_password = server.url("bench");
        let provider = self.key.provider();
        let pg = store_at(Path::new(&with_password), Arc::clone(&provider));
        let file = store_at(
            &self.path("postgres-file/store.sealed"),
            Arc::clone(&provider),
        );
        std::fs::create_dir_all(self.path("postgres-file"))?;
        seed(&pg, entries)?;
        seed(&file, entries)?;
        let blob_len: u64 = server
            .psql("SELECT octet_length(blob) FROM keyseal_blobs WHERE name = 'bench'")
            .trim()
            .parse()?;
        let floor = Floor::new(&with_password)?;
        let rounds = self.plan.rounds(200);
        let set = |store: &keyseal::Store, token: u64| -> Result {
            let i = usize::try_from(token).unwrap_or(0) % entries;
            store.set(&name(i), &value(i, token))?;
            Ok(())
        };
        let [pg_sets, file_sets, floor_updates] = interleave(
            10,
            rounds,
            [
                contender("keyseal-postgres set", |t| set(&pg, t)),
                contender("file store set", |t| set(&file, t)),
                contender("UPDATE floor", |t| floor.update(t)),
            ],
        )?;
        let get = |store: &keyseal::Store, token: u64| -> Result {
            let i = usize::try_from(token).unwrap_or(0) % entries;
            std::hint::black_box(store.get::<String>(&name(i))?);
            Ok(())
        };
        let [pg_gets, file_gets] = interleave(
            10,
            rounds,
            [
                contender("keyseal-postgres get", |t| get(&pg, t)),
                contender("file store get", |t| get(&file, t)),
            ],
        )?;
        let replicas = self.postgres_replicas(&url, &with_password, &pg)?;
        Ok(Some(PostgresRow {
            set_vs_file: compare(&pg_sets, &file_sets)?,
            set_vs_floor: compare(&pg_sets, &floor_updates)?,
            get_vs_file: compare(&pg_gets, &file_gets)?,
            replicas,
            blob_len,
        }))
    }

    /// 1 and 8 replica processes setting entries of the one store, rounds
    /// alternating.
    fn postgres_replicas(
        &self,
        url: &str,
        with_password: &str,
        pg: &keyseal::Store,
    ) -> Result<Vec<ContentionRow>> {
        let counts = [1usize, 8];
        for w in 0..8 {
            for slot in 0..CONTEND_SLOTS {
                pg.set(&contend_name(w, slot), &contend_value(w, 0))?;
            }
        }
        self.contention_rounds(&PathBuf::from(url), &PathBuf::from(with_password), &counts)
    }
}

/// The database's floor: one committed `UPDATE` of a row with the store's
/// own sealed bytes (incompressible, as a sealed blob is: PostgreSQL
/// compresses what it can), one byte changed each time, on a connection of
/// its own.
struct Floor {
    runtime: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
    bytes: std::cell::RefCell<Vec<u8>>,
}

impl Floor {
    fn new(url: &str) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let plain = url.split('?').next().unwrap_or(url).to_owned() + "?sslmode=disable";
        let (client, bytes) = runtime.block_on(async {
            let (client, connection) =
                tokio_postgres::connect(&plain, tokio_postgres::NoTls).await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            client
                .batch_execute(
                    "CREATE TABLE bench_floor (name text PRIMARY KEY, blob bytea); \
                     INSERT INTO bench_floor SELECT 'floor', blob FROM keyseal_blobs \
                     WHERE name = 'bench';",
                )
                .await?;
            let row = client
                .query_one("SELECT blob FROM bench_floor WHERE name = 'floor'", &[])
                .await?;
            let bytes: Vec<u8> = row.try_get(0)?;
            Ok::<_, tokio_postgres::Error>((client, bytes))
        })?;
        Ok(Self {
            runtime,
            client,
            bytes: std::cell::RefCell::new(bytes),
        })
    }

    fn update(&self, round: u64) -> Result {
        let mut bytes = self.bytes.borrow_mut();
        let at = usize::try_from(round).unwrap_or(0) % bytes.len().max(1);
        if let Some(b) = bytes.get_mut(at) {
            *b ^= 0x5a;
        }
        self.runtime.block_on(self.client.execute(
            "UPDATE bench_floor SET blob = $1 WHERE name = 'floor'",
            &[&*bytes],
        ))?;
        Ok(())
    }
}
