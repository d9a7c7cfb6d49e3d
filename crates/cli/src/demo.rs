//! `keyseal demo`: the README's main job. A throwaway store, several
//! processes writing at once, and a look at what is on disk.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64ct::{Base64, Encoding};
use keyseal::keys::KeyProvider;
use keyseal::seal::{Key, SealedFile};
use keyseal::{ExposeSecret, Store};
use zeroize::Zeroizing;

use crate::Keys;
use crate::exit::Failure;

const CONTEXT: &str = "keyseal-demo";

/// Pretend MCP servers and their pretend tokens.
const SERVERS: [(&str, &str); 6] = [
    (
        "https://mcp.github.example",
        "gho_demo0000000000000000000000000000",
    ),
    (
        "https://mcp.linear.example",
        "lin_api_demo000000000000000000000000",
    ),
    (
        "https://mcp.notion.example",
        "secret_demo00000000000000000000000000",
    ),
    (
        "https://mcp.slack.example",
        "xoxp-demo-0000000000-0000000000000",
    ),
    (
        "https://mcp.sentry.example",
        "sntrys_demo000000000000000000000000",
    ),
    (
        "https://mcp.figma.example",
        "figd_demo0000000000000000000000000000",
    ),
];

fn token_json(token: &str) -> String {
    format!(r#"{{"access_token":"{token}","refresh_token":"{token}_refresh","expires_in":3600}}"#)
}

struct Cleanup {
    dir: PathBuf,
    keyring: Option<keyseal::keys::KeyringProvider>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(provider) = &self.keyring {
            // The store's key is the item its file names.
            let sealed_for = keyseal::Store::builder(
                keyseal::keys::MemoryKeyProvider::new(),
                keyseal::blob::FileStore::new(self.dir.join(keyseal::STORE_FILE_NAME)),
                "demo",
            )
            .build()
            .status()
            .key_id;
            if let Some(id) = sealed_for {
                let _ = provider.delete(&id);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `keys` is the provider the person asked for explicitly, if any.
/// Writes one formatted line to standard output, or returns the failure.
macro_rules! say {
    ($($arg:tt)*) => {
        crate::output::line(&format!($($arg)*))?
    };
}

/// # Errors
/// A step of the demo that failed, or an output failure.
pub(crate) fn run(keys: Option<Keys>) -> Result<(), Failure> {
    let started = Instant::now();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tag = format!("{}-{nanos:08x}", std::process::id());
    let dir = std::env::temp_dir().join(format!("keyseal-demo-{tag}"));
    let path = dir.join(keyseal::STORE_FILE_NAME);
    let service = format!("keyseal-demo-{tag}");
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find the keyseal binary: {e}"))?;

    // The key: a random one in an environment variable, unless a keyring is
    // asked for explicitly.
    let use_keyring = keys == Some(Keys::Keyring);
    let demo_key = if use_keyring {
        None
    } else {
        let key = Key::generate().map_err(|e| e.to_string())?;
        Some((
            key.id(),
            Zeroizing::new(Base64::encode_string(key.expose_secret())),
        ))
    };
    let cleanup = Cleanup {
        dir: dir.clone(),
        keyring: use_keyring.then(|| {
            keyseal::keys::KeyringProvider::builder(&service, keyseal::KEY_ITEM_NAME).build()
        }),
    };

    say!(
        "keyseal demo: a throwaway sealed store in {}",
        dir.display()
    );
    match &demo_key {
        Some((id, _)) => say!(
            "  Its key is 32 random bytes handed to every process in the KEYSEAL_KEY environment\n  \
             variable (key id {id}); no keyring is touched. (`keyseal --keys keyring demo` uses the OS keyring.)"
        ),
        None => say!(
            "  Its key goes into the OS keyring under service {service:?}, item \"store-key.<key id>\"."
        ),
    }

    // 1. Several processes store tokens at once.
    say!(
        "\n1. {} `keyseal set` processes store OAuth tokens for pretend MCP servers, all at once.",
        SERVERS.len()
    );
    say!(
        "   Each one takes the file lock, reloads the file, adds its entry and replaces the file atomically."
    );
    let mut children = Vec::new();
    for (server, token) in SERVERS {
        let mut cmd = Command::new(&exe);
        cmd.args(["set", server])
            .env("KEYSEAL_STORE", &path)
            .env("KEYSEAL_CONTEXT", CONTEXT)
            .env("KEYSEAL_SERVICE", &service)
            .env_remove("KEYSEAL_KEY")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match &demo_key {
            Some((_, b64)) => {
                cmd.env("KEYSEAL_KEYS", "env")
                    .env("KEYSEAL_KEY", b64.as_str());
            }
            None => {
                cmd.env("KEYSEAL_KEYS", "keyring");
            }
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("could not start `keyseal set`: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(token_json(token).as_bytes())
                .map_err(|e| format!("could not send a token to `keyseal set`: {e}"))?;
        }
        children.push((server, child));
    }
    for (server, child) in children {
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "`keyseal set {server}` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
    }

    // 2. Read them back through a store of this process.
    let store = open(&path, &service, demo_key.as_ref().map(|(_, b64)| b64));
    say!(
        "\n2. Reading them back in this process: one key load, then every read is from the decrypted cache."
    );
    for (server, token) in SERVERS {
        let value = store.get_bytes(server).map_err(|e| e.to_string())?;
        let ok = value
            .as_ref()
            .is_some_and(|v| v.expose_secret() == token_json(token).as_bytes());
        say!(
            "   {server:<30} {}",
            if ok { "intact" } else { "MISSING OR DIFFERENT" }
        );
        if !ok {
            return Err(format!("the entry {server} did not read back").into());
        }
    }

    // 3. What is on disk.
    let bytes =
        std::fs::read(&path).map_err(|e| format!("could not read {}: {e}", path.display()))?;
    let sealed = SealedFile::parse(&bytes).map_err(|e| e.to_string())?;
    let header = sealed.header();
    let plaintext: usize = SERVERS
        .iter()
        .map(|(s, t)| s.len() + token_json(t).len())
        .sum();
    // The header ends where the records begin.
    let header_len = sealed.records().start;
    say!(
        "\n3. On disk: {} is {} bytes for {} bytes of names and tokens; format v{}, {}, generation {}.",
        path.display(),
        bytes.len(),
        plaintext,
        header.version(),
        header.algorithm(),
        header.generation()
    );
    say!(
        "   Its {header_len}-byte header (magic, version, algorithm, generation, the wrapped data key):"
    );
    for (row, chunk) in bytes
        .iter()
        .take(header_len)
        .collect::<Vec<_>>()
        .chunks(16)
        .enumerate()
    {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let text: String = chunk
            .iter()
            .map(|&&b| {
                if b.is_ascii_graphic() {
                    char::from(b)
                } else {
                    '.'
                }
            })
            .collect();
        say!("   {:04x}  {:<47}  {text}", row * 16, hex.join(" "));
    }
    let leaked = SERVERS
        .iter()
        .filter(|(s, t)| contains(&bytes, s.as_bytes()) || contains(&bytes, t.as_bytes()))
        .count();
    say!(
        "   The remaining {} bytes are ciphertext: {} of {} server names or tokens appear in the file.",
        bytes.len() - header_len,
        leaked,
        SERVERS.len()
    );
    if leaked > 0 {
        return Err("plaintext found in the sealed file".to_owned().into());
    }

    // 4. What protects it.
    let status = store.status();
    say!(
        "\n4. What protects it: one key, {}.",
        match &demo_key {
            Some((id, _)) => format!(
                "in the KEYSEAL_KEY environment variable (key id {id}); nothing in any keyring"
            ),
            None => format!(
                "one item in the {} ({}), key id {}, kept {}",
                status.provider.kind,
                status.provider.location,
                status.key_id.map(|id| id.to_string()).unwrap_or_default(),
                status.provider.lifetime
            ),
        }
    );
    say!(
        "   The file names that key by id ({}), so a wrong or missing key is reported as such.",
        status.key_id.map(|id| id.to_string()).unwrap_or_default()
    );

    // 5. Clean up.
    drop(store);
    drop(cleanup);
    say!(
        "\n5. Removed the throwaway store{} ({} ms in all).",
        if use_keyring {
            " and its keyring item"
        } else {
            ""
        },
        started.elapsed().as_millis()
    );
    Ok(())
}

fn open(path: &Path, service: &str, env_key: Option<&Zeroizing<String>>) -> Store {
    let blob = keyseal::blob::FileStore::new(path);
    match env_key {
        Some(b64) => {
            let mut raw = Zeroizing::new([0u8; 32]);
            let key = Base64::decode(b64.as_bytes(), &mut raw[..])
                .map_err(|_| ())
                .and_then(|k| Key::from_slice(k).map_err(|_| ()));
            match key {
                Ok(key) => {
                    Store::builder(keyseal::keys::MemoryKeyProvider::given(key), blob, CONTEXT)
                        .build()
                }
                Err(_) => {
                    Store::builder(keyseal::keys::MemoryKeyProvider::new(), blob, CONTEXT).build()
                }
            }
        }
        None => Store::builder(
            keyseal::keys::KeyringProvider::builder(service, keyseal::KEY_ITEM_NAME).build(),
            blob,
            CONTEXT,
        )
        .build(),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
