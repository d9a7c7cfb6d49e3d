//! Where the store is (a sealed file, or a row in PostgreSQL) and where its
//! key comes from, as the options say.

use std::path::PathBuf;

use keyseal::Store;
use keyseal_blob::BlobStore;
use keyseal_keys::KeyProvider;

use crate::exit::Failure;
use crate::{Cli, Keys};

/// The store the options name.
pub(crate) enum Target {
    /// A sealed file.
    File(PathBuf),
    /// A row of a PostgreSQL table (`postgres://…`).
    Postgres(String),
}

impl Target {
    /// `--store` (or `KEYSEAL_STORE`), or the default file. A URL with a
    /// password typed on the command line is refused: every other user can
    /// read a command line.
    pub(crate) fn from_cli(cli: &Cli, from_command_line: bool) -> Result<Self, Failure> {
        let Some(store) = &cli.store else {
            return keyseal::default_path("keyseal")
                .map(Self::File)
                .ok_or_else(|| {
                    Failure::usage(
                        "there is no configuration directory (HOME is not set); pass --store PATH",
                    )
                });
        };
        match store.to_str() {
            Some(url) if keyseal_postgres::is_postgres_url(url) => {
                if from_command_line && keyseal_postgres::has_password(url) {
                    return Err(Failure::usage(
                        "--store has a password in it, and command lines are visible to other users. \
                         Give the URL in KEYSEAL_STORE instead, or leave the password out and set PGPASSWORD.",
                    ));
                }
                Ok(Self::Postgres(url.to_owned()))
            }
            _ => Ok(Self::File(store.clone())),
        }
    }

    /// The file's path, for the checks only a file has.
    pub(crate) fn file(&self) -> Option<&PathBuf> {
        match self {
            Self::File(path) => Some(path),
            Self::Postgres(_) => None,
        }
    }

    fn blob(&self, cli: &Cli) -> Result<Box<dyn BlobStore>, Failure> {
        let timeout = crate::lock_timeout(cli)?;
        Ok(match self {
            Self::File(path) => Box::new(
                keyseal_blob::FileStore::new(path)
                    .with_lock_timeout(timeout)
                    .with_shared_directory(cli.shared_directory),
            ),
            Self::Postgres(url) => Box::new(
                keyseal_postgres::PostgresStore::new(url)
                    .map_err(|e| Failure::usage(e.to_string()))?
                    .with_lock_timeout(timeout),
            ),
        })
    }

    /// The store, and its location for messages (a path, or the URL
    /// without its password).
    pub(crate) fn open(&self, cli: &Cli) -> Result<(Store, String), Failure> {
        let blob = self.blob(cli)?;
        let location = match self {
            Self::File(path) => path.display().to_string(),
            Self::Postgres(_) => blob.location(),
        };
        let store = Store::builder(key_provider(cli)?, blob, &cli.context)
            .rollback_marks(keyseal::RollbackMarks::in_state_dir())
            .build();
        Ok((store, location))
    }
}

/// The key provider `--keys` names.
fn key_provider(cli: &Cli) -> Result<Box<dyn KeyProvider>, Failure> {
    Ok(match cli.keys {
        Keys::Keyring => Box::new(crate::keyring_provider(cli).build()),
        Keys::Env => Box::new(keyseal_keys::EnvKeyProvider::new("KEYSEAL_KEY")),
        Keys::File => match &cli.key_file {
            Some(path) => Box::new(
                keyseal_keys::KeyFileProvider::new(path)
                    .allow_group_read(cli.key_file_group_readable),
            ),
            None => {
                return Err(Failure {
                    from_store: false,
                    code: 5,
                    message: "--keys file needs the key file's path: pass --key-file PATH or set KEYSEAL_KEY_FILE."
                        .to_owned(),
                });
            }
        },
    })
}
