//! Exit codes and the one- or two-sentence messages that go with them.

use keyseal::Error;

/// A failed command: its exit code and what to tell the person.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
    /// The store's own error: its message gets the store's location in
    /// front when it does not name it (see `in_store` in main.rs).
    pub(crate) from_store: bool,
}

impl Failure {
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            from_store: false,
            code: 2,
            message: message.into(),
        }
    }

    /// Ends the command with exit 0 and no message: the reader of standard
    /// output went away (a closed pipe), so there is no one to tell.
    pub(crate) fn quiet() -> Self {
        Self {
            from_store: false,
            code: 0,
            message: String::new(),
        }
    }

    pub(crate) fn io(message: impl Into<String>) -> Self {
        Self {
            from_store: false,
            code: 6,
            message: message.into(),
        }
    }

    pub(crate) fn missing(name: &str, location: &str) -> Self {
        Self {
            from_store: false,
            code: 1,
            message: format!(
                "there is no entry named {name:?} in {location}. Run `keyseal list` to see the names it has."
            ),
        }
    }
}

impl From<String> for Failure {
    /// A step that failed for a reason given in words: exit 6.
    fn from(message: String) -> Self {
        Self::io(message)
    }
}

/// The exit code of a kind of failure (the README's list).
fn exit_code(kind: keyseal::ErrorKind) -> u8 {
    use keyseal::ErrorKind as K;
    match kind {
        K::NotFound => 1,
        K::Usage => 2,
        K::UnusableFile => 3,
        K::Key => 4,
        K::Configuration => 5,
        _ => 6,
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let hint = match &e {
            Error::NotAStore { .. } | Error::Tampered { .. } | Error::Corrupt { .. } => {
                "Restore it from a backup, or move it aside to start a new store."
            }
            Error::UnsupportedVersion { .. } => "Use a newer keyseal to read it.",
            Error::Storage {
                source:
                    keyseal_blob::Error::Unreadable { .. }
                    | keyseal_blob::Error::TooLarge { .. }
                    | keyseal_blob::Error::NotAFile { .. },
            } => "Move it aside (or point --store at the store file) to go on.",
            Error::Storage {
                source: keyseal_blob::Error::PermissionDenied { .. },
            } => {
                "Check the owner and mode of the store file and its directory: they must be this user's."
            }
            Error::Storage {
                source: keyseal_blob::Error::Unsafe { .. },
            } => {
                "Fix the owner or mode named above, or pass --shared-directory if every user who can write there is trusted."
            }
            Error::Storage {
                source: keyseal_blob::Error::NotDurable { .. },
            } => {
                "The change is in the file and other processes see it; a power loss before the disk catches up could undo it. Check the disk."
            }
            Error::Storage {
                source: keyseal_blob::Error::WriteTooLarge { .. },
            } => {
                "The store would outgrow its size limit with this change; nothing was written. Remove entries it no longer needs (`keyseal rm NAME`), or keep large values elsewhere."
            }
            Error::Storage {
                source: keyseal_blob::Error::InvalidPath { .. },
            } => "--store must name a file, for example dir/store.sealed.",
            Error::Storage {
                source: keyseal_blob::Error::Unreachable { .. },
            } => {
                "Check that the server is up and that the URL's hosts and ports (--store or KEYSEAL_STORE) are right; nothing was written."
            }
            Error::Storage {
                source: keyseal_blob::Error::Unconfirmed { .. },
            } => {
                "The change may or may not be in the store: run the same command again (set and rm can be repeated safely), or check with `keyseal get` or `keyseal list`."
            }
            Error::Storage {
                source: keyseal_blob::Error::AuthenticationFailed { .. },
            } => "Check the user and password of the URL (in KEYSEAL_STORE, or PGPASSWORD).",
            Error::Storage {
                source: keyseal_blob::Error::Tls { .. },
            } => {
                "Give the server's CA with sslrootcert=PATH in the URL, and connect by a host name its certificate names; sslmode=disable only on a network you trust."
            }
            Error::Storage {
                source: keyseal_blob::Error::Schema { .. },
            } => {
                "Point table= at keyseal's table, or run the schema.sql of keyseal-postgres as the table's owner (docs/FLEET.md)."
            }
            Error::Storage {
                source: keyseal_blob::Error::Server { .. },
            } => "The server's reason is in the message; the store is unchanged.",
            Error::Rollback { .. } => {
                "An older copy than one seen before was put back (a backup restore, a sync tool). If that was on purpose, run `keyseal accept-rollback`; entries written since are not in it."
            }
            Error::KeyMissing { .. } => {
                "If recovery was enabled, run `keyseal recover` with the recovery key on standard input."
            }
            Error::WrongKey { .. } => {
                "Check --service and --keys (or KEYSEAL_KEY): they must name the key this store was created with."
            }
            Error::WrongRecoveryKey { .. } => "Check that this is the recovery key of this store.",
            Error::KeyringUnavailable {
                source: keyseal::keys::Error::Unavailable { location, .. },
                ..
            } if location.starts_with("key file ") => {
                "Check that the key file exists and that this user may read it (--key-file or KEYSEAL_KEY_FILE)."
            }
            Error::KeyringUnavailable {
                reason: keyseal::keys::UnavailableReason::NotConfigured,
                ..
            } => {
                "Set KEYSEAL_KEY to the standard base64 of 32 random bytes (for example: head -c 32 /dev/urandom | base64)."
            }
            Error::KeyringUnavailable {
                reason: keyseal::keys::UnavailableReason::NoService,
                ..
            } => {
                "No Secret Service answers here, and the kernel keyring does not hold the key (it forgets keys at reboot). Start the keyring the store was made with, run `keyseal recover` with the recovery key on standard input, or use --keys env with KEYSEAL_KEY set."
            }
            Error::KeyringUnavailable { .. } => {
                "Start or unlock a keyring (Secret Service), or use --keys env with KEYSEAL_KEY set."
            }
            Error::Key {
                source: keyseal::keys::Error::Unsafe { .. },
                ..
            } => "",
            Error::Key {
                source: keyseal::keys::Error::ReadOnly { .. },
                ..
            } => {
                "keyseal cannot replace a key it does not keep (KEYSEAL_KEY, a key file). To move to a new key: with recovery enabled, give the new key (KEYSEAL_KEY or the key file) and run `keyseal recover` with the recovery key on standard input."
            }
            Error::Key { .. } => {
                "Set KEYSEAL_KEY to the standard base64 of exactly 32 bytes (for example: head -c 32 /dev/urandom | base64), or, with --keys file, give a key file of 32 raw bytes or their standard base64."
            }
            Error::LockTimeout { .. } => "Another keyseal process is using the store; try again.",
            Error::InvalidName { .. } => {
                "Pick a name of 1 to 4,096 bytes without control characters."
            }
            Error::InvalidRecoveryKey { .. } => {
                "Recovery keys look like KSR2-XXXX-XXXX-… (or, made before, KSR1-…): Check it for typos and give it whole on standard input."
            }
            Error::NoStore { .. } => "Store an entry first with `keyseal set NAME`.",
            Error::RecoveryKeyOutdated { .. } => {
                "See docs/MIGRATION.md, \"Recovery keys made before format version 3\"."
            }
            _ => {
                "Run `keyseal doctor` to see what is wrong, or repeat the command with -v for detail."
            }
        };
        // The whole chain, each cause once: a server's or TLS library's
        // reason is often two levels down. No cause carries a secret.
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            let detail = cause.to_string();
            if !message.contains(&detail) {
                message = format!("{message} ({detail})");
            }
            source = cause.source();
        }
        if !message.ends_with('.') {
            message.push('.');
        }
        if !hint.is_empty() {
            message = format!("{message} {hint}");
        }
        Self {
            from_store: true,
            code: exit_code(e.kind()),
            message,
        }
    }
}

impl From<keyseal_migrate::Error> for Failure {
    fn from(e: keyseal_migrate::Error) -> Self {
        match e {
            keyseal_migrate::Error::Store(e) => e.into(),
            keyseal_migrate::Error::Read { source, .. }
            | keyseal_migrate::Error::Search { source, .. }
                if source.unavailable_reason().is_none() =>
            {
                Self {
                    from_store: false,
                    code: 5,
                    message: format!(
                        "the legacy keyring answered with something keyseal cannot use ({source}); nothing changed."
                    ),
                }
            }
            e @ (keyseal_migrate::Error::Read { .. } | keyseal_migrate::Error::Search { .. }) => {
                let detail = std::error::Error::source(&e)
                    .map(ToString::to_string)
                    .unwrap_or_default();
                Self {
                    from_store: false,
                    code: 5,
                    message: format!(
                        "{e} ({detail}). The legacy keyring is not usable (locked, denied or failing); nothing changed."
                    ),
                }
            }
            e @ keyseal_migrate::Error::NotMigratable { .. } => Self {
                from_store: false,
                code: 2,
                message: format!(
                    "{e}. Rename or fix them in the legacy keyring, or run without --strict to move the rest."
                ),
            },
            keyseal_migrate::Error::SealedFile { path, problem } => {
                sealed_file_failure(&path, &problem)
            }
            e @ keyseal_migrate::Error::NotPersisting { .. } => Self {
                from_store: false,
                code: 5,
                message: format!("{e}."),
            },
            e => Self {
                from_store: false,
                code: 6,
                message: format!("{e}."),
            },
        }
    }
}

/// A legacy sealed file (docker-agent's) that cannot be imported: what is
/// wrong, and what to do next. Nothing was migrated or deleted.
fn sealed_file_failure(
    path: &std::path::Path,
    problem: &keyseal_migrate::SealedFileProblem,
) -> Failure {
    use keyseal_migrate::SealedFileProblem as P;
    let (code, next) = match problem {
        P::KeyMissing { .. } | P::KeyMalformed { .. } => (
            4,
            "Without its key the file cannot be opened. Check --from-service and the key item, or run with --no-sealed-file to migrate the keyring items alone (the file stays).",
        ),
        P::KeyUnavailable { .. } => (
            5,
            "Start or unlock the legacy keyring (the desktop session's Secret Service) and run the migration again; its key item is needed to open the file.",
        ),
        P::NotAuthentic | P::Malformed { .. } => (
            3,
            "Keep the file as it is. Check that --sealed-file and --sealed-file-key belong together, or run with --no-sealed-file to migrate the keyring items alone.",
        ),
        P::NotRegularFile { .. } | P::TooLarge { .. } => (
            3,
            "Point --sealed-file at docker-agent's mcp-oauth-tokens.enc, or run with --no-sealed-file.",
        ),
        P::FileMissing { .. } => (
            3,
            "Give --sealed-file PATH where docker-agent keeps it (its configuration directory, or the one given to its --config-dir), or, if the file is gone for good (an earlier --remove-source removed it), run with --no-sealed-file.",
        ),
        P::LockFile { .. } => (
            3,
            "Remove that lock file (docker-agent makes it again) and run the migration again.",
        ),
        P::LockTimeout { .. } => (
            6,
            "Stop docker-agent (or wait for it to finish) and run the migration again, or raise --lock-timeout.",
        ),
        _ => (
            6,
            "Check the file's permissions and run the migration again.",
        ),
    };
    let mut message = format!(
        "the legacy sealed file {} cannot be imported: {problem}",
        path.display()
    );
    if let Some(detail) = std::error::Error::source(problem) {
        message = format!("{message} ({detail})");
    }
    Failure {
        from_store: false,
        code,
        message: format!("{message}; nothing was migrated or deleted. {next}"),
    }
}
