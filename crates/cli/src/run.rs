//! `keyseal run`: a command with entries in its environment.
//!
//! On Unix keyseal execs the command in its own place once every value is
//! read: the command has keyseal's process id, so signals sent to it reach
//! the command itself and its exit status is the command's, and no keyseal
//! process stays behind holding the values. Elsewhere keyseal starts the
//! command, waits, and exits with its code.

use std::ffi::OsString;

use keyseal::{ExposeSecret, Store};

use crate::exit::Failure;
use crate::field;

/// One `--env VAR=NAME[#FIELD]`.
struct Mapping {
    var: String,
    name: String,
    field: Option<String>,
    optional: bool,
}

impl Mapping {
    fn parse(spec: &str, optional: bool) -> Result<Self, Failure> {
        let usage = |why: &str| {
            Failure::usage(format!(
                "--env {spec:?}: {why}; write VAR=NAME or VAR=NAME#FIELD, for example --env GITHUB_TOKEN=github#access_token"
            ))
        };
        let (var, entry) = spec.split_once('=').ok_or_else(|| usage("there is no ="))?;
        let portable = var
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !portable {
            return Err(usage(
                "the variable's name must be letters, digits and _, not starting with a digit",
            ));
        }
        let (name, field) = match entry.split_once('#') {
            Some((name, field)) => (name, Some(field.to_owned())),
            None => (entry, None),
        };
        keyseal::validate_name(name)?;
        Ok(Self {
            var: var.to_owned(),
            name: name.to_owned(),
            field,
            optional,
        })
    }
}

/// Reads every mapped value, then runs `command` with them. Returns only
/// on failure (Unix) or with the command's exit code (elsewhere).
pub(crate) fn run(
    store: &Store,
    location: &str,
    env: &[String],
    optional: &[String],
    command: &[OsString],
) -> Result<u8, Failure> {
    let mappings: Vec<Mapping> = env
        .iter()
        .map(|spec| Mapping::parse(spec, false))
        .chain(optional.iter().map(|spec| Mapping::parse(spec, true)))
        .collect::<Result<_, _>>()?;
    let Some((program, args)) = command.split_first() else {
        return Err(Failure::usage(
            "run needs a command after --, for example: keyseal run --env TOKEN=github -- ./deploy.sh",
        ));
    };
    let mut child = std::process::Command::new(program);
    child.args(args);
    // keyseal's own credentials stay with keyseal: the store's key
    // (KEYSEAL_KEY), a URL that may hold a database password, the key
    // file's path, PGPASSWORD. A mapping below may set one on purpose.
    for (var, _) in std::env::vars_os() {
        let name = var.to_string_lossy();
        if name.starts_with("KEYSEAL_") || name == "PGPASSWORD" {
            child.env_remove(&var);
        }
    }
    for mapping in &mappings {
        let Some(value) = store.get_bytes(&mapping.name)? else {
            if mapping.optional {
                child.env_remove(&mapping.var);
                continue;
            }
            return Err(Failure {
                from_store: false,
                code: 1,
                message: format!(
                    "there is no entry named {:?} in {location} for {}; nothing was run. Store it with `keyseal set {}`, or pass it with --optional-env to run without it.",
                    mapping.name, mapping.var, mapping.name
                ),
            });
        };
        let bytes = match &mapping.field {
            None => zeroize::Zeroizing::new(value.expose_secret().to_vec()),
            Some(path) => match field::select(value.expose_secret(), path) {
                Ok(bytes) => bytes,
                Err(field::FieldError::Missing) if mapping.optional => {
                    child.env_remove(&mapping.var);
                    continue;
                }
                Err(e) => {
                    return Err(Failure {
                        from_store: false,
                        code: if matches!(e, field::FieldError::BadPath(_)) {
                            2
                        } else {
                            1
                        },
                        message: format!(
                            "{} cannot take field {path:?} of entry {:?} in {location}: {}; nothing was run. See `keyseal get --help` for field paths.",
                            mapping.var,
                            mapping.name,
                            e.reason()
                        ),
                    });
                }
            },
        };
        if bytes.contains(&0) {
            return Err(Failure {
                from_store: false,
                code: 1,
                message: format!(
                    "the value of {:?} holds a NUL byte, which an environment variable cannot; nothing was run. Use `keyseal get {}` into a file or pipe instead.",
                    mapping.name, mapping.name
                ),
            });
        }
        child.env(&mapping.var, os_string(&bytes));
    }
    start(child, program)
}

#[cfg(unix)]
fn os_string(bytes: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStringExt;
    OsString::from_vec(bytes.to_vec())
}

#[cfg(not(unix))]
fn os_string(bytes: &[u8]) -> OsString {
    OsString::from(String::from_utf8_lossy(bytes).into_owned())
}

/// What could not start: exit 127 when there is no such command, 126 when
/// it cannot be run (as shells do).
fn not_started(program: &OsString, e: &std::io::Error) -> Failure {
    let code = if e.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    };
    Failure {
        from_store: false,
        code,
        message: format!(
            "could not run {}: {e}. Check the command's name and that it is executable (it is looked up in PATH).",
            program.to_string_lossy()
        ),
    }
}

#[cfg(unix)]
fn start(mut child: std::process::Command, program: &OsString) -> Result<u8, Failure> {
    use std::os::unix::process::CommandExt;
    // Returns only if the command could not be started.
    let e = child.exec();
    Err(not_started(program, &e))
}

#[cfg(not(unix))]
fn start(mut child: std::process::Command, program: &OsString) -> Result<u8, Failure> {
    let status = child.status().map_err(|e| not_started(program, &e))?;
    Ok(status
        .code()
        .and_then(|c| u8::try_from(c).ok())
        .unwrap_or(1))
}
