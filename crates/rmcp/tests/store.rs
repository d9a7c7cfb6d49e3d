//! `KeysealCredentialStore` as rmcp's `CredentialStore`: what each method
//! does, the refresh guard's exclusion (per server, across processes,
//! bounded, released by a killed holder), and no blocking on the runtime.
#![cfg(test)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use keyseal_rmcp::KeysealCredentialStore;
use keyseal_testkit::{TempDir, is_child};
use rmcp::transport::{AuthError, CredentialStore, StoredCredentials};

const SERVER: &str = "https://mcp.example/a";

fn credentials(refresh: &str) -> StoredCredentials {
    serde_json::from_value(serde_json::json!({
        "client_id": "client-1",
        "token_response": {
            "access_token": format!("access-for-{refresh}"),
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": refresh,
        },
        "granted_scopes": ["read"],
        "token_received_at": 1,
        "issuer": "https://auth.example",
    }))
    .unwrap()
}

fn refresh_of(c: &StoredCredentials) -> Option<String> {
    let json = serde_json::to_value(c).unwrap();
    json["token_response"]["refresh_token"]
        .as_str()
        .map(str::to_owned)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn load_save_clear_go_through_the_store_and_see_what_another_process_saved() {
    let dir = TempDir::new("rmcp-store");
    let path = dir.file();
    runtime().block_on(async {
        let a = KeysealCredentialStore::new(support::parent_store(&path), SERVER).unwrap();
        // Another process: its own store handle on the same file.
        let b = KeysealCredentialStore::new(support::parent_store(&path), SERVER).unwrap();
        assert!(a.load().await.unwrap().is_none());
        a.save(credentials("r1")).await.unwrap();
        assert_eq!(
            refresh_of(&b.load().await.unwrap().unwrap()).as_deref(),
            Some("r1")
        );
        b.save(credentials("r2")).await.unwrap();
        // Never a stale copy.
        assert_eq!(
            refresh_of(&a.load().await.unwrap().unwrap()).as_deref(),
            Some("r2")
        );
        // One entry per server, named by its URL.
        let other =
            KeysealCredentialStore::new(support::parent_store(&path), "https://mcp.example/b")
                .unwrap();
        assert!(other.load().await.unwrap().is_none());
        a.clear().await.unwrap();
        assert!(b.load().await.unwrap().is_none());
        a.clear().await.unwrap();
    });
    assert!(support::parent_store(&path).list().unwrap().is_empty());
    assert!(KeysealCredentialStore::new(support::parent_store(&path), "").is_err());
}

#[test]
fn a_rejected_refresh_token_is_dropped_unless_another_process_replaced_it() {
    let dir = TempDir::new("rmcp-rejected");
    let path = dir.file();
    runtime().block_on(async {
        let store = KeysealCredentialStore::new(support::parent_store(&path), SERVER).unwrap();
        store.save(credentials("dead")).await.unwrap();
        store
            .on_refresh_token_rejected(&credentials("dead"))
            .await
            .unwrap();
        let left = store.load().await.unwrap().unwrap();
        assert!(left.token_response.is_none(), "the dead token stayed");
        assert_eq!(
            left.client_id, "client-1",
            "the client id is kept for the next login"
        );
        assert_eq!(left.granted_scopes, ["read"]);
        assert_eq!(left.issuer.as_deref(), Some("https://auth.example"));

        // The same refresh token beside another access token (a provider
        // that does not rotate, and rmcp kept the old refresh token): still
        // the dead one, so it goes.
        let mut same_refresh = credentials("dead");
        let mut token = serde_json::to_value(&same_refresh.token_response).unwrap();
        token["access_token"] = serde_json::json!("another-access-token");
        same_refresh.token_response = serde_json::from_value(token).unwrap();
        store.save(same_refresh).await.unwrap();
        store
            .on_refresh_token_rejected(&credentials("dead"))
            .await
            .unwrap();
        assert!(
            store
                .load()
                .await
                .unwrap()
                .unwrap()
                .token_response
                .is_none(),
            "a dead refresh token stayed beside a newer access token"
        );

        // Another process saved a fresh token meanwhile: left alone.
        store.save(credentials("fresh")).await.unwrap();
        store
            .on_refresh_token_rejected(&credentials("dead"))
            .await
            .unwrap();
        assert_eq!(
            refresh_of(&store.load().await.unwrap().unwrap()).as_deref(),
            Some("fresh")
        );
    });
}

#[test]
fn the_refresh_guard_excludes_its_server_only_bounds_the_wait_and_lets_load_and_save_run() {
    let dir = TempDir::new("rmcp-guard");
    let path = dir.file();
    runtime().block_on(async {
        let a = KeysealCredentialStore::new(support::parent_store(&path), SERVER)
            .unwrap()
            .with_refresh_timeout(Duration::from_millis(200));
        let same = KeysealCredentialStore::new(support::parent_store(&path), SERVER)
            .unwrap()
            .with_refresh_timeout(Duration::from_millis(200));
        let other =
            KeysealCredentialStore::new(support::parent_store(&path), "https://mcp.example/b")
                .unwrap()
                .with_refresh_timeout(Duration::from_millis(200));
        let guard = a.acquire_refresh_guard().await.unwrap().expect("a guard");
        // load and save inside the guard (rmcp's refresh does both).
        a.save(credentials("r1")).await.unwrap();
        assert!(a.load().await.unwrap().is_some());
        match same.acquire_refresh_guard().await {
            Err(AuthError::CredentialStoreError(message)) => {
                assert!(message.contains("gave up waiting"), "{message}");
                assert!(message.contains(SERVER), "{message}");
            }
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("two guards for one server"),
        }
        let b = other.acquire_refresh_guard().await.unwrap();
        assert!(b.is_some(), "another server waited");
        drop(guard);
        assert!(same.acquire_refresh_guard().await.unwrap().is_some());
    });
}

#[test]
fn waiting_for_the_guard_never_blocks_the_runtime() {
    let dir = TempDir::new("rmcp-runtime");
    let path = dir.file();
    // The holder is another process, so the waiter gets past this
    // process's turn and waits for the cross-process lock itself.
    let mut holder = HeldByChild::start(&path);
    // One runtime thread: a blocking wait there would stop the ticker.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let waiter = KeysealCredentialStore::new(support::parent_store(&path), SERVER)
            .unwrap()
            .with_refresh_timeout(Duration::from_millis(500));
        let ticks = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&ticks);
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        assert_gave_up(waiter.acquire_refresh_guard().await);
        ticker.abort();
        let ticked = ticks.load(Ordering::Relaxed);
        assert!(
            ticked >= 10,
            "the runtime stalled while waiting: {ticked} ticks"
        );
    });
    holder.kill();
}

/// A child process holding the refresh guard of [`SERVER`] until killed.
struct HeldByChild {
    child: std::process::Child,
}

impl HeldByChild {
    fn start(path: &std::path::Path) -> Self {
        use std::io::BufRead as _;
        let mut child = keyseal_testkit::child("child_hold_the_guard")
            .env(support::KEY_VAR, support::KEY)
            .env("KEYSEAL_RMCP_STORE", path)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let holding = std::io::BufReader::new(child.stdout.take().unwrap())
            .lines()
            .any(|l| l.is_ok_and(|l| l.contains("holding")));
        assert!(holding, "the child did not take the guard");
        Self { child }
    }

    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for HeldByChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The answer of a waiter that gave up: the error says so.
fn assert_gave_up(answer: Result<Option<rmcp::transport::CredentialRefreshGuard>, AuthError>) {
    match answer {
        Err(AuthError::CredentialStoreError(message)) => {
            assert!(message.contains("gave up waiting"), "{message}");
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a guard while another process holds it"),
    }
}

#[test]
#[ignore = "child process: holds the refresh guard for the tests that need another process to hold it"]
fn child_hold_the_guard() {
    if !is_child() {
        return;
    }
    let path = std::path::PathBuf::from(std::env::var("KEYSEAL_RMCP_STORE").unwrap());
    runtime().block_on(async {
        let store = KeysealCredentialStore::new(support::store_at(&path), SERVER).unwrap();
        let _guard = store.acquire_refresh_guard().await.unwrap();
        println!("holding");
        tokio::time::sleep(Duration::from_secs(120)).await;
    });
}

#[test]
fn a_process_killed_while_refreshing_releases_the_guard() {
    let dir = TempDir::new("rmcp-killed");
    let path = dir.file();
    let mut holder = HeldByChild::start(&path);
    runtime().block_on(async {
        let store = KeysealCredentialStore::new(support::parent_store(&path), SERVER)
            .unwrap()
            .with_refresh_timeout(Duration::from_millis(200));
        assert_gave_up(store.acquire_refresh_guard().await);
        holder.kill();
        let store = store.with_refresh_timeout(Duration::from_secs(10));
        assert!(store.acquire_refresh_guard().await.unwrap().is_some());
    });
}

#[test]
fn a_damaged_store_is_a_credential_store_error_never_none_and_quotes_no_secret() {
    let dir = TempDir::new("rmcp-damaged");
    let path = dir.file();
    runtime().block_on(async {
        let store = KeysealCredentialStore::new(support::parent_store(&path), SERVER).unwrap();
        store
            .save(credentials("secret-refresh-token"))
            .await
            .unwrap();
    });
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    runtime().block_on(async {
        let store = KeysealCredentialStore::new(support::parent_store(&path), SERVER).unwrap();
        for result in [
            store.load().await.map(|_| ()),
            store.save(credentials("new")).await,
            store.clear().await,
        ] {
            match result {
                Err(AuthError::CredentialStoreError(message)) => {
                    assert!(message.contains(SERVER), "{message}");
                    assert!(!message.contains("secret-refresh-token"), "{message}");
                }
                other => panic!("{other:?}"),
            }
        }
    });
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "a damaged file was written over"
    );
    // A value that is not rmcp's credentials is an error too, not "none".
    let dir = TempDir::new("rmcp-foreign");
    let path = dir.file();
    support::parent_store(&path)
        .set_bytes(SERVER, b"not json")
        .unwrap();
    runtime().block_on(async {
        let store = KeysealCredentialStore::new(support::parent_store(&path), SERVER).unwrap();
        assert!(matches!(
            store.load().await,
            Err(AuthError::CredentialStoreError(_))
        ));
    });
}

#[test]
fn a_store_that_went_to_memory_or_moved_its_file_aside_never_answers_no_credentials() {
    use keyseal::{OnKeyringUnavailable, OnUnreadable, Store};
    let dir = TempDir::new("rmcp-detached");
    let path = dir.file();
    runtime().block_on(async {
        let store = KeysealCredentialStore::new(support::parent_store(&path), SERVER).unwrap();
        store.save(credentials("kept")).await.unwrap();
    });
    let before = std::fs::read(&path).unwrap();
    // The key provider does not answer; the store goes on in memory.
    let in_memory = Store::builder(
        keyseal::keys::EnvKeyProvider::new(keyseal_testkit::unique("KEYSEAL_TEST_UNSET")),
        keyseal::blob::FileStore::new(&path),
        "com.example.test/rmcp",
    )
    .on_keyring_unavailable(OnKeyringUnavailable::MemoryOnly)
    .build();
    // The file damaged; the store moves it aside and starts empty.
    let mut damaged = before.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    let quarantine_dir = TempDir::new("rmcp-quarantine");
    let quarantined_path = quarantine_dir.file();
    std::fs::write(&quarantined_path, &damaged).unwrap();
    let quarantining = Store::builder(
        keyseal::keys::MemoryKeyProvider::given(
            keyseal::seal::Key::from_slice(&(0u8..32).collect::<Vec<_>>()).unwrap(),
        ),
        keyseal::blob::FileStore::new(&quarantined_path),
        "com.example.test/rmcp",
    )
    .on_unreadable(OnUnreadable::Quarantine)
    .build();
    runtime().block_on(async {
        for (what, store) in [("in memory", in_memory), ("moved aside", quarantining)] {
            let store = KeysealCredentialStore::new(store, SERVER).unwrap();
            match store.load().await {
                Err(AuthError::CredentialStoreError(message)) => {
                    assert!(
                        message.contains("no longer shows its file"),
                        "{what}: {message}"
                    );
                }
                other => panic!("{what}: {other:?}"),
            }
            assert!(
                matches!(
                    store.save(credentials("lost")).await,
                    Err(AuthError::CredentialStoreError(_))
                ),
                "{what}: a save that would not last succeeded"
            );
        }
    });
    assert_eq!(std::fs::read(&path).unwrap(), before);
}
