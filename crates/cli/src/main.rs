//! `keyseal`: the command-line face of a keyseal sealed store.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool reports on its own output streams"
)]

mod demo;
mod doctor;
mod exit;
mod field;
mod input;
mod manual;
mod migrate_report;
mod output;
mod prompt;
mod run;
mod style;
mod target;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use keyseal::{ExposeSecret, RecoveryKey};
use keyseal_migrate::{KeyringSource, Layout, Options, SealedFile};

use crate::exit::Failure;
use crate::target::Target;

const AFTER_HELP: &str = "\
Values never appear on the command line: `set` reads the value from standard
input, byte for byte (at a terminal it asks for it once, without echo);
`get` writes it to standard output with nothing added.

Exit codes:
  0  success
    1  no such entry (get or rm of a missing name), or no store to act on;
     also a missing --field, or an entry `run` needs
  2  usage error; also a change that would make the store file outgrow its
     size limit (a large value in a nearly full store; a value on standard
     input that is itself over the limit is exit 6), and rotate-key on a
     store whose recovery key is an old KSR1 key (replace it first with
     `recovery enable`, or turn recovery off with `recovery disable`)
  3  the store file is unreadable or unsafe to use: not a keyseal file,
     corrupt or tampered, unsupported version, rolled back, too large, not
     readable by this user, not a regular file (a directory, FIFO, socket or
     device), or in a directory other users can write to (see
     --shared-directory); for a PostgreSQL store, also a refused password,
     a server whose TLS certificate does not verify, or a table that is
     missing or not keyseal's; from `migrate`, also a legacy sealed file
     (docker-agent's) that does not open with its key or is not one
  4  the key does not match the store (wrong key), or the store's key is
     missing from the keyring; from `migrate`, also a legacy sealed file
     whose key item is missing or not a 32-byte key
  5  key provider unavailable or misconfigured (no keyring answering,
     KEYSEAL_KEY missing or malformed, a key file missing, malformed or
     readable by other users); from `migrate`, also a legacy keyring that
     does not answer for the key item of a legacy sealed file that is there
  6  lock timeout or other I/O error, including standard output that
     cannot be written (a closed pipe ends a command quietly) and a
     PostgreSQL server that does not answer; from `migrate`, also
     docker-agent's lock held past --lock-timeout; and an internal error
     (a keyseal bug: please report it)

`run` exits with its command's status (127: no such command, 126: it
cannot run); 130 is a hidden prompt cancelled (Ctrl-C).

A command that exits non-zero leaves the store file byte for byte as it
was, with these exceptions, each said in its message: exit 6 when the change
was written but the disk did not confirm it durable, or when a PostgreSQL
store could not confirm the commit (the connection broke during it, or the
server warned that its synchronous standby may not have it); from `migrate`, exit 6
when the migrated entries were written but reading them back failed (every
legacy item is then kept), and exit 6 from `migrate --json` when the
migration was done but its report could not be written. Commands that
change the store report on standard error.";

/// Keep secrets in one sealed file; the OS keyring holds only its key.
#[derive(Debug, Parser)]
#[command(name = "keyseal", version, after_help = AFTER_HELP)]
struct Cli {
    /// The sealed file [default: keyseal/store.sealed in the config
    /// directory], or a store in PostgreSQL:
    /// postgres://USER@HOST/DB?store=NAME (see the README; a password goes
    /// in KEYSEAL_STORE or PGPASSWORD, never on the command line).
    #[arg(long, env = "KEYSEAL_STORE", global = true, value_name = "PATH|URL")]
    store: Option<PathBuf>,

    /// Where the store's key lives. With `env`, the key is read from
    /// KEYSEAL_KEY: standard base64 of exactly 32 bytes. With `file`, from
    /// the file --key-file names.
    #[arg(long, env = "KEYSEAL_KEYS", global = true, value_enum, default_value_t = Keys::Keyring)]
    keys: Keys,

    /// The key file of --keys file: 32 raw bytes or their standard base64,
    /// readable by its owner only (a Kubernetes or Docker secret, a systemd
    /// credential).
    #[arg(long, env = "KEYSEAL_KEY_FILE", global = true, value_name = "PATH")]
    key_file: Option<PathBuf>,

    /// Accept a key file its group may read (0440), where the orchestrator
    /// gives secrets to a group (Kubernetes fsGroup, systemd credentials
    /// shown through an ACL); group write and any access for others stay
    /// refused.
    #[arg(long, env = "KEYSEAL_KEY_FILE_GROUP_READABLE", global = true)]
    key_file_group_readable: bool,

    /// The keyring service name.
    #[arg(
        long,
        env = "KEYSEAL_SERVICE",
        global = true,
        default_value = "keyseal"
    )]
    service: String,

    /// The store's context string (a file opens only under its own context).
    #[arg(
        long,
        env = "KEYSEAL_CONTEXT",
        global = true,
        default_value = "keyseal-cli"
    )]
    context: String,

    /// How long to wait for another process's lock, in seconds (the store's,
    /// and for `migrate` docker-agent's lock on its sealed file).
    #[arg(
        long,
        env = "KEYSEAL_LOCK_TIMEOUT",
        global = true,
        default_value_t = 10.0,
        value_name = "SECONDS"
    )]
    lock_timeout: f64,

    /// Use a store whose directory (or a directory above it) other users can
    /// write to or own, or whose lock file another user owns. Refused by
    /// default: such users could replace, delete or roll back the store, or
    /// block its lock. Only for a shared set-up whose every user is trusted.
    #[arg(long, env = "KEYSEAL_SHARED_DIRECTORY", global = true)]
    shared_directory: bool,

    /// How the key crosses the session bus from the Secret Service: `dh`
    /// (the default: Diffie-Hellman transport encryption, as libsecret) or
    /// `plain` (about 8 ms faster per command; the secret crosses the bus
    /// as it is). What is stored and where does not change;
    /// docs/THREAT-MODEL.md says more.
    #[arg(
        long,
        env = "KEYSEAL_SECRET_SERVICE_SESSION",
        global = true,
        default_value = "dh",
        value_name = "dh|plain"
    )]
    secret_service_session: keyseal_keys::SessionAlgorithm,

    /// Say what the store does (lock waits, reloads, migrations); repeat for more.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Keys {
    /// The OS keyring (Linux: Secret Service if it answers, else the kernel keyring).
    Keyring,
    /// The KEYSEAL_KEY environment variable (read-only).
    Env,
    /// A key file, --key-file or KEYSEAL_KEY_FILE (read-only).
    File,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Store standard input, byte for byte, under NAME. At a terminal it
    /// asks for the value once, without echo (Enter stores it, Ctrl-C
    /// cancels), and says what it stored: the name and the length.
    Set {
        /// The entry's name.
        name: String,
    },
    /// Write the value of NAME to standard output, byte for byte.
    Get {
        /// The entry's name.
        name: String,
        /// Print one field of a JSON value instead: a JSON pointer
        /// (/token/access_token, with ~1 for / and ~0 for ~ in a key) or a
        /// dotted path (token.access_token; a segment of digits indexes an
        /// array). A string prints as its text, anything else as JSON; a
        /// value that is not JSON, or has no such field, is exit 1.
        #[arg(long, value_name = "PATH")]
        field: Option<String>,
    },
    /// Run CMD with entries as environment variables.
    ///
    /// Every value is read first: a missing entry or field is exit 1 and
    /// CMD does not start. Then keyseal runs CMD in its own place (exec), so
    /// CMD gets the signals sent to it and exits with its own status; 127
    /// when there is no such command, 126 when it cannot run. keyseal
    /// prints no value.
    ///
    /// The trade-off: an environment variable is readable by every process
    /// of the same user through /proc/PID/environ while CMD runs, and CMD's
    /// children inherit it. Where CMD can read a file or standard input,
    /// `keyseal get NAME | CMD` keeps the value out of the environment.
    Run {
        /// VAR=NAME sets VAR to the value of entry NAME; VAR=NAME#FIELD to
        /// one field of its JSON value (see `get --field`). Repeat for more.
        #[arg(long = "env", value_name = "VAR=NAME[#FIELD]")]
        env: Vec<String>,
        /// As --env, but a missing entry or field leaves VAR unset.
        #[arg(long = "optional-env", value_name = "VAR=NAME[#FIELD]")]
        optional_env: Vec<String>,
        /// The command and its arguments, after --.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<std::ffi::OsString>,
    },
    /// Print a shell completion script: bash, zsh, fish or powershell.
    ///
    /// bash: `source <(keyseal completions bash)`; zsh: put the output in a
    /// directory of $fpath as _keyseal; fish: in
    /// ~/.config/fish/completions/keyseal.fish.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), as `cargo xtask release` ships it.
    #[command(hide = true)]
    Man,
    /// List the entry names, one per line, sorted.
    List {
        /// Print a JSON array of {"name", "updated", "size"} objects instead.
        #[arg(long)]
        json: bool,
    },
    /// Remove NAME.
    Rm {
        /// The entry's name.
        name: String,
    },
    /// Replace the store's key and data key (crash-safe) and reseal the
    /// file; a recovery key stays valid. A store with an old (KSR1) recovery
    /// key must replace it (`recovery enable`) or remove it (`recovery
    /// disable`) first.
    RotateKey,
    /// Enable or disable the recovery key.
    Recovery {
        #[command(subcommand)]
        action: RecoveryAction,
    },
    /// Open a store whose key is gone with its recovery key (read from
    /// standard input; at a terminal, asked for without echo), and give it
    /// a fresh keyring key.
    Recover {
        /// Also replace the recovery key; the new one is printed.
        #[arg(long)]
        rotate_recovery: bool,
    },
    /// Move secrets from a legacy keyring layout into the store.
    Migrate {
        /// The legacy keyring service.
        #[arg(long, required_unless_present = "preset", value_name = "S")]
        from_service: Option<String>,
        /// An item holding a JSON object name -> value.
        #[arg(long, value_name = "ITEM")]
        bundle_item: Option<String>,
        /// Per-secret items are named P followed by the secret's name.
        #[arg(long, value_name = "P")]
        item_prefix: Option<String>,
        /// An item holding a JSON array of the per-secret names.
        #[arg(long, value_name = "ITEM")]
        index_item: Option<String>,
        /// An item holding the legacy application's own key material: never
        /// read as a secret, moved or deleted (repeat for several; the
        /// presets name their applications' key items already).
        #[arg(long, value_name = "ITEM")]
        key_item: Vec<String>,
        /// A known application's layout.
        #[arg(long, value_enum)]
        preset: Option<Preset>,
        /// How the legacy items are laid out in the keyring: `keyring` (the
        /// keyring crates' and Python keyring's attributes service/username)
        /// or `go-keyring` (github.com/99designs/keyring: a collection of its
        /// own, attribute `profile`, JSON items). Default: the preset's
        /// (`go-keyring` for docker-agent), else `keyring`.
        #[arg(long, value_enum, value_name = "LAYOUT")]
        item_layout: Option<ItemLayoutArg>,
        /// How long each call to the legacy keyring may take, in seconds
        /// (default 5). A locked collection's unlock prompt must be
        /// answered within it: raise it (for example --keyring-timeout 120)
        /// to type the collection's password.
        #[arg(long, value_name = "SECS", default_value_t = 5.0)]
        keyring_timeout: f64,
        /// A file sealed the way docker-agent seals `mcp-oauth-tokens.enc`
        /// (a JSON object name -> value, AES-256-GCM under the 32 raw bytes
        /// of --sealed-file-key), read under its lock `PATH.lock`; its values
        /// win over the keyring items'. Default with --preset docker-agent:
        /// mcp-oauth-tokens.enc in docker-agent's configuration directory
        /// ($XDG_CONFIG_HOME/cagent, else the platform's, ~/.config/cagent
        /// on Linux; the older ~/.config/cagent while that does not exist).
        #[arg(long, value_name = "PATH", conflicts_with = "no_sealed_file")]
        sealed_file: Option<PathBuf>,
        /// The keyring item holding the sealed file's key [default:
        /// oauth:encryption-key]; never migrated as a secret.
        #[arg(long, value_name = "ITEM", requires = "sealed_file")]
        sealed_file_key: Option<String>,
        /// Leave the preset's sealed file out (for example when its key is
        /// gone): only the keyring items are migrated.
        #[arg(long)]
        no_sealed_file: bool,
        /// Only once docker-agent no longer runs: also remove the sealed
        /// file and then its key item, when every entry of the file is in
        /// the store with the file's value and the file is unchanged since
        /// it was read (checked under its lock). Without it both stay. A
        /// running docker-agent keeps its key in memory and would write a
        /// new file sealed with the removed key.
        #[arg(long)]
        remove_source: bool,
        /// Report what would move (names and where each was found) and
        /// change nothing: no store file, directory, lock or key is created,
        /// and no legacy item is deleted (a sealed file is read under its
        /// lock, whose file is created if missing, as docker-agent does).
        #[arg(long)]
        dry_run: bool,
        /// Fail, before anything is written, when any entry cannot move;
        /// without it such entries are reported on stderr, stay in the
        /// legacy keyring, and the others move.
        #[arg(long)]
        strict: bool,
        /// Print the report as one JSON object instead.
        #[arg(long)]
        json: bool,
    },
    /// Accept the store file as it is now after exit 3 said it was rolled
    /// back (an older copy than one seen before was put back, on purpose).
    AcceptRollback,
    /// Check the key providers and the store, in plain words. Never prints a secret.
    Doctor {
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Show keyseal at work on a throwaway store, in a few seconds.
    Demo,
}

#[derive(Debug, Subcommand)]
enum RecoveryAction {
    /// Add a recovery key (replacing any earlier one) and print it once,
    /// alone on the last line. The data key is replaced too, so an earlier
    /// recovery key opens no version written from now on.
    Enable,
    /// Remove the recovery key from the store, with a new data key.
    Disable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ItemLayoutArg {
    /// Attributes service and username (keyring-core, the `keyring` crate, Python keyring).
    Keyring,
    /// github.com/99designs/keyring (docker-agent).
    GoKeyring,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Preset {
    /// docker-agent: its sealed file mcp-oauth-tokens.enc (see --sealed-file), then github.com/99designs/keyring's layout (collection docker-agent-oauth): bundle oauth:tokens, items oauth:URL, index oauth:_index; its key item oauth:encryption-key is never migrated.
    DockerAgent,
    /// goose: service goose, bundle secrets.
    Goose,
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // The demo uses a throwaway environment key unless a keyring is asked for.
    let explicit_keys =
        (matches.value_source("keys") != Some(ValueSource::DefaultValue)).then_some(cli.keys);
    if cli.verbose > 0 {
        let level = if cli.verbose > 1 {
            tracing::Level::TRACE
        } else {
            tracing::Level::DEBUG
        };
        tracing_subscriber::fmt()
            .with_max_level(level)
            .with_writer(std::io::stderr)
            .with_target(false)
            .without_time()
            .init();
    }
    let store_on_command_line = matches.value_source("store") == Some(ValueSource::CommandLine);
    match run(&cli, explicit_keys, store_on_command_line) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                output::note(&format!("keyseal: {}", failure.message));
            }
            ExitCode::from(failure.code)
        }
    }
}

/// The most `set` reads from standard input: the file store's size limit,
/// which no single value can exceed.
const VALUE_LIMIT: usize = keyseal_blob::DEFAULT_MAX_SIZE as usize;

/// The most `recover` reads: a recovery key is under 100 characters.
const RECOVERY_TEXT_LIMIT: usize = 4096;

/// Prints a recovery key alone on its line, flushed; a closed pipe or any
/// other output error is exit 6, since the key did not reach anyone.
fn show_recovery_key(key: &RecoveryKey) -> Result<(), Failure> {
    output::line(key.to_text().as_str()).map_err(|f| {
        if f.code == 0 {
            Failure::io(
                "could not show the recovery key: standard output is closed; nothing changed",
            )
        } else {
            Failure {
                from_store: false,
                code: f.code,
                message: format!("{}; nothing changed", f.message),
            }
        }
    })
}

/// A failure after a recovery key was shown: that key is not in use, except
/// when the file was written and only its durability is unconfirmed.
fn recovery_failed(e: keyseal::Error) -> Failure {
    let written = matches!(
        e,
        keyseal::Error::Storage {
            source: keyseal_blob::Error::NotDurable { .. }
        }
    );
    let failure = Failure::from(e);
    let what = if written {
        "The recovery key shown above IS in the file now (only the disk's confirmation failed): keep it."
    } else {
        "The recovery key shown above is NOT in use; the store still opens with the previous one."
    };
    Failure {
        from_store: false,
        code: failure.code,
        message: format!("{} {what}", failure.message),
    }
}

/// The OS keyring provider of the store's key, as the options say.
fn keyring_provider(cli: &Cli) -> keyseal_keys::KeyringProviderBuilder {
    keyseal_keys::KeyringProvider::builder(&cli.service, keyseal::KEY_ITEM_NAME)
        .secret_service_session(cli.secret_service_session)
}

/// `--lock-timeout` as a duration.
fn lock_timeout(cli: &Cli) -> Result<std::time::Duration, Failure> {
    std::time::Duration::try_from_secs_f64(cli.lock_timeout)
        .map_err(|_| Failure::usage("--lock-timeout must be a non-negative number of seconds, for example --lock-timeout 10"))
}

fn run(cli: &Cli, explicit_keys: Option<Keys>, store_on_command_line: bool) -> Result<(), Failure> {
    match &cli.command {
        Command::Demo => return demo::run(explicit_keys),
        Command::Completions { shell } => return manual::completions(*shell),
        Command::Man => return manual::man_page(),
        _ => {}
    }
    let target = Target::from_cli(cli, store_on_command_line)?;
    let (store, location) = target.open(cli)?;
    in_store(command(cli, &store, &target, &location), &location)
}

/// A failure names the store it happened to: its message gets the store's
/// location in front when it does not say it already.
fn in_store(result: Result<(), Failure>, location: &str) -> Result<(), Failure> {
    result.map_err(|mut failure| {
        if failure.from_store && !failure.message.is_empty() && !failure.message.contains(location)
        {
            failure.message = format!("{location}: {}", failure.message);
        }
        failure
    })
}

/// Runs one command on the open store.
fn command(
    cli: &Cli,
    store: &keyseal::Store,
    target: &Target,
    location: &str,
) -> Result<(), Failure> {
    let location = location.to_owned();
    match &cli.command {
        Command::Set { name } => {
            keyseal::validate_name(name)?;
            if prompt::is_terminal() {
                let value =
                    prompt::hidden(&format!("Value for {name} (input hidden): "), VALUE_LIMIT)?;
                if value.is_empty() {
                    return Err(Failure::usage(
                        "nothing was typed; nothing was stored. Type the value at the prompt, or pipe it in: printf %s \"$VALUE\" | keyseal set NAME",
                    ));
                }
                store.set_bytes(name, &value)?;
                output::note(&format!(
                    "stored {name} ({} bytes) in {location}",
                    value.len()
                ));
            } else {
                let value = input::secret(VALUE_LIMIT, "the value")?;
                store.set_bytes(name, &value)?;
            }
        }
        Command::Get { name, field } => {
            let Some(value) = store.get_bytes(name)? else {
                return Err(Failure::missing(name, &location));
            };
            match field {
                None => output::bytes(value.expose_secret(), "the value")?,
                Some(path) => {
                    let selected = field::select(value.expose_secret(), path).map_err(|e| Failure {
                        from_store: false,
                        code: if matches!(e, field::FieldError::BadPath(_)) { 2 } else { 1 },
                        message: format!(
                            "cannot take field {path:?} of entry {name:?} in {location}: {}. See `keyseal get --help` for field paths.",
                            e.reason()
                        ),
                    })?;
                    output::bytes(&selected, "the field")?;
                }
            }
        }
        Command::Run {
            env,
            optional_env,
            command,
        } => {
            let code = run::run(store, &location, env, optional_env, command)?;
            if code != 0 {
                return Err(Failure {
                    from_store: false,
                    code,
                    message: String::new(),
                });
            }
        }
        Command::List { json } => {
            if *json {
                let entries: Vec<serde_json::Value> = store
                    .entries()?
                    .into_iter()
                    .map(|e| {
                        let updated = e
                            .updated
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_secs());
                        serde_json::json!({ "name": e.name, "updated": updated, "size": e.size })
                    })
                    .collect();
                output::line(&serde_json::Value::Array(entries).to_string())?;
            } else {
                for name in store.list()? {
                    output::line(&migrate_report::escaped(&name))?;
                }
            }
        }
        Command::Rm { name } => {
            if !store.remove(name)? {
                return Err(Failure::missing(name, &location));
            }
        }
        Command::RotateKey => {
            let progress = style::Progress::on_terminal();
            progress.show(
                &format!("rotate-key: resealing {location} with a new key…"),
                true,
            );
            let rotation = store.rotate_key();
            progress.finish();
            let rotation = rotation?;
            output::note(&format!(
                "rotated the key of {location}: {} -> {} (new data key; the old key opens no version written from now on)",
                rotation
                    .previous_key_id
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
                rotation.key_id,
            ));
            if !rotation.previous_key_retired {
                output::note(
                    "keyseal: the previous key could not be deleted from the keyring; the file no longer uses it (see -v for why)",
                );
            }
        }
        Command::Recovery {
            action: RecoveryAction::Enable,
        } => {
            // The key is shown (written out and flushed) before the file
            // names it: a failed write changes nothing.
            let key = RecoveryKey::generate()?;
            output::note(&format!(
                "Recovery is being enabled for {location}. Store the recovery key below in a password \
                 manager: it opens the store without the keyring, and it is not shown again."
            ));
            show_recovery_key(&key)?;
            store.enable_recovery_with(&key).map_err(recovery_failed)?;
        }
        Command::Recovery {
            action: RecoveryAction::Disable,
        } => {
            if store.disable_recovery()? {
                output::note(&format!(
                    "recovery disabled for {location}; the old recovery key no longer opens new versions of it"
                ));
            } else {
                output::note(&format!("recovery was not enabled for {location}"));
            }
        }
        Command::Recover { rotate_recovery } => {
            let text = if prompt::is_terminal() {
                prompt::hidden("Recovery key (input hidden): ", RECOVERY_TEXT_LIMIT)?
            } else {
                input::secret(RECOVERY_TEXT_LIMIT, "the recovery key")?
            };
            let text = std::str::from_utf8(&text)
                .map_err(|_| Failure::usage("the recovery key on standard input is not text. Give the KSR2-… text it was shown as"))?;
            let key = RecoveryKey::parse(text.trim())?;
            let replacement = if *rotate_recovery {
                let new_key = RecoveryKey::generate()?;
                // Checked before the new key is shown: a wrong key changes
                // nothing and prints nothing.
                store.check_recovery_key(&key)?;
                output::note(
                    "The old recovery key will no longer work. Store the new one below; it is not shown again.",
                );
                show_recovery_key(&new_key)?;
                Some(new_key)
            } else {
                None
            };
            match &replacement {
                Some(new_key) => store
                    .recover_and_rotate_recovery_to(&key, new_key)
                    .map_err(recovery_failed)?,
                None => store.recover(&key)?,
            }
            if key.is_symmetric() && replacement.is_none() {
                output::note(
                    "keyseal: this is an old (KSR1) recovery key; it still works, but the store cannot rotate its key until it is replaced. \
                     Replace it with `keyseal recovery enable` (or `recover --rotate-recovery`).",
                );
            }
            output::note(&match cli.keys {
                Keys::Keyring => {
                    format!("{location} is open again with a fresh key in the keyring.")
                }
                Keys::Env => {
                    format!("{location} is open again, sealed for the key in KEYSEAL_KEY.")
                }
                Keys::File => {
                    format!("{location} is open again, sealed for the key in the key file.")
                }
            });
        }
        Command::Migrate {
            from_service,
            bundle_item,
            item_prefix,
            index_item,
            key_item,
            preset,
            item_layout,
            keyring_timeout,
            sealed_file,
            sealed_file_key,
            no_sealed_file,
            remove_source,
            dry_run,
            strict,
            json,
        } => {
            let mut layout = match preset {
                Some(Preset::DockerAgent) => Layout::docker_agent(),
                Some(Preset::Goose) => Layout::goose(),
                None => Layout::new(from_service.clone().unwrap_or_default()),
            };
            if let Some(service) = from_service {
                layout.service.clone_from(service);
            }
            if bundle_item.is_some() {
                layout.bundle_item.clone_from(bundle_item);
            }
            if item_prefix.is_some() {
                layout.item_prefix.clone_from(item_prefix);
            }
            if index_item.is_some() {
                layout.index_item.clone_from(index_item);
            }
            for item in key_item {
                layout = layout.with_key_item(item.clone());
            }
            if *no_sealed_file {
                layout.sealed_file = None;
            }
            if let Some(path) = sealed_file {
                let file = match sealed_file_key {
                    Some(key) => SealedFile::new(path, key),
                    None => SealedFile::docker_agent_at(path),
                };
                layout = layout.with_sealed_file(file);
            }
            let options = Options::raw()
                .dry_run(*dry_run)
                .strict(*strict)
                .remove_sealed_file(*remove_source)
                .sealed_file_lock_timeout(lock_timeout(cli)?);
            let progress = std::sync::Arc::new(style::Progress::on_terminal());
            let shown = std::sync::Arc::clone(&progress);
            let options = options.on_progress(move |p| {
                let step = match p.step {
                    keyseal_migrate::Step::Reading => "reading",
                    _ => "deleting",
                };
                shown.show(
                    &format!("migrate: {step} legacy items {}/{}", p.done, p.total),
                    p.done == p.total,
                );
            });
            let item_layout = match item_layout.or(match preset {
                Some(Preset::DockerAgent) => Some(ItemLayoutArg::GoKeyring),
                _ => None,
            }) {
                Some(ItemLayoutArg::GoKeyring) => keyseal_keys::ItemLayout::GoKeyring,
                Some(ItemLayoutArg::Keyring) | None => keyseal_keys::ItemLayout::Keyring,
            };
            let keyring_timeout = std::time::Duration::try_from_secs_f64(*keyring_timeout)
                .ok()
                .filter(|t| !t.is_zero())
                .ok_or_else(|| {
                    Failure::usage(
                        "--keyring-timeout must be a positive number of seconds, for example --keyring-timeout 120",
                    )
                })?;
            let source = KeyringSource::with_items(
                keyseal_keys::KeyringItems::new()
                    .with_layout(item_layout)
                    .with_timeout(keyring_timeout),
            );
            let report = keyseal_migrate::migrate(store, &source, &layout, &options);
            progress.finish();
            let report = report?;
            migrate_report::print(&report, &layout.service, *json).map_err(|f| {
                if *dry_run || f.code == 0 {
                    f
                } else {
                    Failure {
                        from_store: false,
                        code: f.code,
                        message: format!(
                            "{} The migration itself was done; only its report is missing (run `keyseal migrate --dry-run --json` to see the state).",
                            f.message
                        ),
                    }
                }
            })?;
        }
        Command::AcceptRollback => {
            store.accept_rollback()?;
            output::note(&format!(
                "accepted {location} as it is now; only newer versions are accepted from here on"
            ));
        }
        Command::Doctor { json } => doctor::run(store, cli, target, &location, *json)?,
        Command::Demo | Command::Completions { .. } | Command::Man => {}
    }
    Ok(())
}
