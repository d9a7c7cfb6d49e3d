//! Section 11: keyseal-rmcp beside rmcp's in-memory credential store: a
//! warm `load` (the store already open, its key loaded), and the refresh
//! guard's acquire and release.

use keyseal_keys::MemoryKeyProvider;
use keyseal_rmcp::KeysealCredentialStore;
use rmcp::transport::{CredentialStore, InMemoryCredentialStore, StoredCredentials};

use super::{Bench, Compared, compare};
use crate::common::{Result, contender, interleave, store_at};
use crate::stats::Summary;

/// What section 11 measured.
#[derive(Debug)]
pub(crate) struct RmcpRow {
    /// `load` through keyseal-rmcp beside rmcp's in-memory store.
    pub(crate) load: Compared,
    /// `acquire_refresh_guard` and dropping the guard.
    pub(crate) guard: Summary,
}

const SERVER: &str = "https://mcp.example/mcp";

fn credentials() -> Result<StoredCredentials> {
    Ok(serde_json::from_value(serde_json::json!({
        "client_id": "bench-client",
        "token_response": {
            "access_token": "a".repeat(1200),
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": "r".repeat(400),
        },
        "granted_scopes": ["read", "write"],
        "token_received_at": 1,
        "issuer": "https://auth.example",
    }))?)
}

impl Bench {
    pub(crate) fn rmcp(&self) -> Result<RmcpRow> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let store = store_at(&self.path("rmcp/store.sealed"), MemoryKeyProvider::new());
        let keyseal = KeysealCredentialStore::new(store, SERVER)?;
        let memory = InMemoryCredentialStore::new();
        runtime.block_on(async {
            keyseal.save(credentials()?).await?;
            memory.save(credentials()?).await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })?;
        let rounds = self.plan.rounds(400);
        let [keyseal_loads, memory_loads, guards] = interleave(
            20,
            rounds,
            [
                contender("keyseal-rmcp load", |_| {
                    std::hint::black_box(runtime.block_on(keyseal.load())?);
                    Ok(())
                }),
                contender("in-memory load", |_| {
                    std::hint::black_box(runtime.block_on(memory.load())?);
                    Ok(())
                }),
                contender("refresh guard", |_| {
                    drop(runtime.block_on(keyseal.acquire_refresh_guard())?);
                    Ok(())
                }),
            ],
        )?;
        let guard = Summary::of_millis(&guards).ok_or("no measurements")?;
        Ok(RmcpRow {
            load: compare(&keyseal_loads, &memory_loads)?,
            guard,
        })
    }
}
