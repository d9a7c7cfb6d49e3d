//! One MCP client process: rmcp's `AuthorizationManager` with a credential
//! store, asking for a valid access token again and again (each time a
//! refresh: the server's tokens expire at once).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use keyseal_rmcp::KeysealCredentialStore;
use rmcp::transport::{
    AuthError, AuthorizationManager, CredentialStore, InMemoryCredentialStore, StoredCredentials,
};

use super::{CLIENT_ID, KEY, KEY_VAR, store_at};

/// Which credential store the clients use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// keyseal-rmcp, with its refresh guard.
    Keyseal,
    /// The same sealed store without a refresh guard (what a file store
    /// that does not coordinate refreshes does).
    Unguarded,
    /// rmcp's own in-memory store, each process with its copy.
    Memory,
}

impl Mode {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Keyseal => "keyseal",
            Self::Unguarded => "unguarded",
            Self::Memory => "memory",
        }
    }

    fn parse(name: &str) -> Self {
        match name {
            "keyseal" => Self::Keyseal,
            "unguarded" => Self::Unguarded,
            _ => Self::Memory,
        }
    }
}

/// keyseal-rmcp's store without its refresh guard.
struct Unguarded(KeysealCredentialStore);

#[async_trait]
impl CredentialStore for Unguarded {
    async fn load(&self) -> Result<Option<StoredCredentials>, AuthError> {
        self.0.load().await
    }
    async fn save(&self, credentials: StoredCredentials) -> Result<(), AuthError> {
        self.0.save(credentials).await
    }
    async fn clear(&self) -> Result<(), AuthError> {
        self.0.clear().await
    }
    async fn on_refresh_token_rejected(&self, c: &StoredCredentials) -> Result<(), AuthError> {
        self.0.on_refresh_token_rejected(c).await
    }
}

/// What one client process did.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Access tokens obtained.
    pub(crate) ok: usize,
    /// Told to authorize again (its refresh was rejected): logged out.
    pub(crate) logged_out: bool,
    /// Other errors.
    pub(crate) errors: usize,
    /// The access token it holds at the end, when it holds one.
    pub(crate) final_token: Option<String>,
}

impl Outcome {
    fn line(&self) -> String {
        format!(
            "RESULT ok={} logged_out={} errors={} final={}",
            self.ok,
            self.logged_out,
            self.errors,
            self.final_token.as_deref().unwrap_or("-")
        )
    }

    fn parse(line: &str) -> Option<Self> {
        let rest = line.split("RESULT ").nth(1)?;
        let mut out = Self::default();
        for field in rest.split_whitespace() {
            let (k, v) = field.split_once('=')?;
            match k {
                "ok" => out.ok = v.parse().ok()?,
                "logged_out" => out.logged_out = v == "true",
                "errors" => out.errors = v.parse().ok()?,
                "final" => out.final_token = (v != "-").then(|| v.to_owned()),
                _ => {}
            }
        }
        Some(out)
    }
}

/// The child: reads its orders from the environment, prints one
/// `RESULT …` line.
pub(crate) fn child_main() {
    let env = |name: &str| std::env::var(name).unwrap();
    let mode = Mode::parse(&env("KEYSEAL_RMCP_MODE"));
    let mcp_url = env("KEYSEAL_RMCP_URL");
    let path = PathBuf::from(env("KEYSEAL_RMCP_STORE"));
    let start = PathBuf::from(env("KEYSEAL_RMCP_START"));
    let rounds: usize = env("KEYSEAL_RMCP_ROUNDS").parse().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let outcome = runtime.block_on(async move {
        let mut manager = AuthorizationManager::new(mcp_url.as_str()).await.unwrap();
        let resolution = manager.resolve_metadata().await.unwrap();
        manager.set_metadata(resolution.metadata);
        manager.configure_client_id(CLIENT_ID).unwrap();
        let keyseal = KeysealCredentialStore::new(store_at(&path), &mcp_url)
            .unwrap()
            .with_refresh_timeout(Duration::from_secs(120));
        match mode {
            Mode::Keyseal => manager.set_credential_store(keyseal),
            Mode::Unguarded => manager.set_credential_store(Unguarded(keyseal)),
            Mode::Memory => {
                // Each process starts from its own copy of the credentials.
                let memory = InMemoryCredentialStore::new();
                memory
                    .save(keyseal.load().await.unwrap().unwrap())
                    .await
                    .unwrap();
                manager.set_credential_store(memory);
            }
        }
        // All processes start together, so their refreshes collide.
        while !start.exists() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut outcome = Outcome::default();
        for _ in 0..rounds {
            match manager.get_access_token().await {
                Ok(_) => outcome.ok += 1,
                Err(AuthError::AuthorizationRequired) => {
                    outcome.logged_out = true;
                    break;
                }
                Err(e) => {
                    eprintln!("client error: {e}");
                    outcome.errors += 1;
                }
            }
        }
        if !outcome.logged_out {
            outcome.final_token = manager.get_access_token().await.ok();
        }
        outcome
    });
    println!("{}", outcome.line());
}

/// Runs `processes` clients in `mode` against the server at `mcp_url`
/// over the store at `path`, each for `rounds` tokens, and returns what
/// each did.
pub(crate) fn run_clients(
    child_test: &str,
    mode: Mode,
    processes: usize,
    rounds: usize,
    mcp_url: &str,
    path: &Path,
) -> Vec<Outcome> {
    let start = path.with_extension("start");
    let _ = std::fs::remove_file(&start);
    let children: Vec<_> = (0..processes)
        .map(|_| {
            keyseal_testkit::child(child_test)
                .env(KEY_VAR, KEY)
                .env("KEYSEAL_RMCP_MODE", mode.name())
                .env("KEYSEAL_RMCP_URL", mcp_url)
                .env("KEYSEAL_RMCP_STORE", path)
                .env("KEYSEAL_RMCP_START", &start)
                .env("KEYSEAL_RMCP_ROUNDS", rounds.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap()
        })
        .collect();
    std::fs::write(&start, b"go").unwrap();
    let outcomes = children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(out.status.success(), "a client failed: {text}");
            text.lines()
                .find_map(Outcome::parse)
                .unwrap_or_else(|| panic!("no RESULT line in {text:?}"))
        })
        .collect();
    let _ = std::fs::remove_file(&start);
    outcomes
}

/// One whole run: a fresh server whose token endpoint takes `delay`, a
/// store seeded with a first login, and `processes` clients in `mode`
/// asking for `rounds` tokens each.
pub(crate) struct Run {
    pub(crate) server: super::auth_server::AuthServer,
    pub(crate) path: PathBuf,
    pub(crate) outcomes: Vec<Outcome>,
    _dir: keyseal_testkit::TempDir,
}

impl Run {
    pub(crate) fn new(mode: Mode, processes: usize, rounds: usize, delay: Duration) -> Self {
        let server = super::auth_server::AuthServer::start(delay);
        let dir = keyseal_testkit::TempDir::new("rmcp-run");
        let path = dir.file();
        super::seeded(&server, &path);
        let outcomes = run_clients(
            "child_client",
            mode,
            processes,
            rounds,
            &server.mcp_url(),
            &path,
        );
        Self {
            server,
            path,
            outcomes,
            _dir: dir,
        }
    }

    /// The processes that were logged out.
    pub(crate) fn logged_out(&self) -> usize {
        self.outcomes.iter().filter(|o| o.logged_out).count()
    }

    /// The store's entry holds the newest token: the refresh token that
    /// works now.
    pub(crate) fn store_holds_the_newest_token(&self) -> bool {
        let (current, _) = self.server.family(0);
        super::stored_refresh_token(&self.path, &self.server.mcp_url()).as_deref()
            == Some(current.as_str())
    }
}
