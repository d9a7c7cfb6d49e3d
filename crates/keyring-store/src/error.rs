//! keyseal's errors as keyring-core's variants, the keyseal error kept as
//! the source (never a secret: keyseal's errors quote none).

use keyring_core::Error as CoreError;

/// keyring-core's variant for a keyseal error.
///
/// - The key provider does not answer, is locked or refuses
///   (`KeyringUnavailable`), the store's key is missing from it, or it holds
///   another key (`KeyMissing`, `WrongKey`): `NoStorageAccess`, since the
///   sealed file cannot be opened with what the keyring gives.
/// - The file is not a store, tampered, corrupt, of an unsupported
///   version, rolled back, or any other storage failure: `PlatformFailure`,
///   never `NoEntry`: its entries exist but cannot be read, and nothing is
///   written over them.
/// - A `(service, user)` pair whose entry name is too long: `TooLong`.
pub(crate) fn core_error(e: keyseal::Error) -> CoreError {
    match e {
        keyseal::Error::KeyringUnavailable { .. }
        | keyseal::Error::KeyMissing { .. }
        | keyseal::Error::WrongKey { .. } => CoreError::NoStorageAccess(Box::new(e)),
        keyseal::Error::InvalidName { .. } => too_long(),
        keyseal::Error::Storage {
            source: keyseal::blob::Error::WriteTooLarge { .. },
        }
        | keyseal::Error::Seal {
            source: keyseal::seal::Error::TooLarge { .. },
        } => CoreError::Invalid(
            "secret".to_owned(),
            "with it the sealed file would outgrow its size limit; nothing was written".to_owned(),
        ),
        other => CoreError::PlatformFailure(Box::new(other)),
    }
}

/// A `(service, user)` pair whose escaped entry name is over keyseal's
/// [`MAX_NAME_LEN`](keyseal::MAX_NAME_LEN).
pub(crate) fn too_long() -> CoreError {
    CoreError::TooLong(
        "service and user (as an escaped entry name)".to_owned(),
        u32::try_from(keyseal::MAX_NAME_LEN).unwrap_or(u32::MAX),
    )
}

/// The wrapped store stopped saving to disk (its key provider did not
/// answer and it runs in memory, under `OnKeyringUnavailable::MemoryOnly`),
/// or moved an unreadable file aside (`OnUnreadable::Quarantine`): its
/// answers would show credentials as missing, and writes would not last.
#[derive(Debug)]
pub(crate) struct NotTheStoredCredentials {
    pub(crate) why: String,
}

impl std::fmt::Display for NotTheStoredCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the keyseal store no longer shows its stored credentials ({}); refusing to answer from or write to it",
            self.why
        )
    }
}

impl std::error::Error for NotTheStoredCredentials {}
