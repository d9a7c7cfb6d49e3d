//! `keyseal doctor`: what is reachable, what the store looks like, and what
//! is wrong, in plain words. Never a secret.

use std::path::{Path, PathBuf};

use keyseal::Store;
use keyseal::keys::{Backend, EnvKeyProvider, KeyId, KeyProvider};
use serde_json::{Value, json};

use crate::Cli;
use crate::exit::Failure;
use crate::target::Target;

/// One key provider probe: does it answer, and does it hold `key_id` (the
/// key the store's file names; with no file, any id shows whether the
/// provider answers).
fn probe(name: &str, provider: &dyn KeyProvider, key_id: Option<KeyId>) -> Value {
    let info = provider.info();
    let asked = key_id.unwrap_or_else(|| {
        keyseal::keys::Key::generate()
            .map(|k| k.id())
            .unwrap_or_else(|_| KeyId::from_bytes([0; 16]))
    });
    let (reachable, state) = match (provider.load(&asked), key_id) {
        (Ok(key), Some(id)) if key.id() == id => {
            (true, format!("answers; holds this store's key {id}"))
        }
        (Ok(key), _) => (
            true,
            format!("answers; holds key {}, not this store's", key.id()),
        ),
        (Err(keyseal::keys::Error::NotFound { .. }), Some(id)) => (
            true,
            format!("answers; does not hold this store's key {id}"),
        ),
        (Err(keyseal::keys::Error::NotFound { .. }), None) => (
            true,
            "answers (no store file yet, so no key to look for)".to_owned(),
        ),
        (Err(e), _) => (false, e.to_string()),
    };
    json!({
        "provider": name,
        "reachable": reachable,
        "state": state,
        "location": info.location,
        "lifetime": info.lifetime.to_string(),
    })
}

#[cfg(unix)]
fn mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn mode(_path: &Path) -> Option<u32> {
    None
}

/// Writes one formatted line to standard output, or returns the failure.
macro_rules! say {
    ($($arg:tt)*) => {
        crate::output::line(&format!($($arg)*))?
    };
}

/// # Errors
/// Only an output failure: what the store or a provider reports is part of
/// the report, not an error.
pub(crate) fn run(
    store: &Store,
    cli: &Cli,
    target: &Target,
    location: &str,
    as_json: bool,
) -> Result<(), Failure> {
    let mut problems: Vec<String> = Vec::new();
    let status = store.status();
    let key_id = status.key_id;
    let mut providers = vec![
        probe(
            "Secret Service",
            &crate::keyring_provider(cli)
                .backend(Backend::SecretService)
                .build(),
            key_id,
        ),
        probe(
            "kernel keyring",
            &crate::keyring_provider(cli)
                .backend(Backend::KernelKeyring)
                .build(),
            key_id,
        ),
        probe(
            "environment (KEYSEAL_KEY)",
            &EnvKeyProvider::new("KEYSEAL_KEY"),
            key_id,
        ),
    ];

    if let Some(path) = &cli.key_file {
        providers.push(probe(
            "key file (KEYSEAL_KEY_FILE)",
            &keyseal::keys::KeyFileProvider::new(path)
                .allow_group_read(cli.key_file_group_readable),
            key_id,
        ));
    }
    let path = target.file().map(PathBuf::as_path);
    let file_mode = path.and_then(mode);
    let dir_mode = path.and_then(Path::parent).and_then(mode);
    if let Some(m) = file_mode
        && m & 0o077 != 0
    {
        problems.push(format!(
            "{location} is readable or writable by others (mode {m:04o}); run chmod 600 on it"
        ));
    }
    if let Some(m) = dir_mode
        && m & 0o022 != 0
    {
        problems.push(format!(
            "the directory of {location} is writable by others (mode {m:04o}); they could replace the store"
        ));
    }
    if let Some(problem) = &status.problem {
        problems.push(problem.to_string());
    }
    if let Some(degraded) = &status.degraded {
        problems.push(degraded.clone());
    }
    for q in &status.quarantined {
        problems.push(format!(
            "a store was moved aside to {}: {}",
            q.location, q.reason
        ));
    }
    if status.provider.lifetime == keyseal::keys::KeyLifetime::UntilReboot
        && status.recovery_key_id.is_none()
        && status.exists
    {
        problems.push(
            "the key lives in the kernel keyring, which forgets it at reboot, and recovery is not enabled: run `keyseal recovery enable`"
                .to_owned(),
        );
    }

    let report = json!({
        "store": {
            "path": path.map(|p| p.display().to_string()),
            "location": location,
            "exists": status.exists,
            "mode": file_mode.map(|m| format!("{m:04o}")),
            "directory_mode": dir_mode.map(|m| format!("{m:04o}")),
            "format_version": status.format_version,
            "algorithm": status.algorithm.map(|a| a.name()),
            "key_id": status.key_id.map(|id| id.to_string()),
            "recovery_key_id": status.recovery_key_id.map(|id| id.to_string()),
            "generation": status.generation,
            "entries": status.entries,
        },
        "key_provider": {
            "kind": status.provider.kind.to_string(),
            "location": status.provider.location,
            "lifetime": status.provider.lifetime.to_string(),
        },
        "providers": providers,
        "problems": problems,
    });
    if as_json {
        say!("{report}");
        return Ok(());
    }
    say!("store:        {location}");
    if status.exists {
        if path.is_some() {
            say!(
                "              mode {}, directory mode {}",
                file_mode.map_or_else(|| "?".to_owned(), |m| format!("{m:04o}")),
                dir_mode.map_or_else(|| "?".to_owned(), |m| format!("{m:04o}"))
            );
        }
        say!(
            "format:       v{}, {}, generation {}",
            status
                .format_version
                .map_or_else(|| "?".to_owned(), |v| v.to_string()),
            status.algorithm.map_or("?", |a| a.name()),
            status
                .generation
                .map_or_else(|| "?".to_owned(), |g| g.to_string())
        );
        say!(
            "key id:       {}{}",
            status.key_id.map(|id| id.to_string()).unwrap_or_default(),
            status
                .recovery_key_id
                .map(|id| format!(" (recovery key {id})"))
                .unwrap_or_else(|| " (no recovery key)".to_owned())
        );
    } else {
        say!("              does not exist yet (the first `keyseal set` creates it)");
    }
    if let Some(n) = status.entries {
        say!("entries:      {n}");
    }
    say!(
        "key provider: {} at {}; key lifetime: {}",
        status.provider.kind,
        status.provider.location,
        status.provider.lifetime
    );
    say!("reachable:");
    for p in &providers {
        let field = |k: &str| {
            p.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        say!(
            "  {:<26} {} ({})",
            field("provider"),
            field("state"),
            field("lifetime")
        );
    }
    let colour = crate::style::colour_on_stdout();
    if problems.is_empty() {
        say!("problems:     {}", crate::style::green("none", colour));
    } else {
        say!("problems:");
        for p in &problems {
            say!("  - {}", crate::style::red(p, colour));
        }
    }
    Ok(())
}
