//! The Linux kernel keyring: a `user` key in the user keyring (`@u`).
//!
//! Never the persistent keyring: containers often refuse links to it with
//! `EACCES` while the user and session keyrings work. The key is given
//! possessor-all and same-user view/read/write/search/setattr permissions so
//! that every process of the user can read it, even one whose session keyring
//! does not link the user keyring.

use keyseal_seal::Key;
use linux_keyutils::{KeyError, KeyPermissionsBuilder, KeyRing, KeyRingIdentifier, Permission};
use zeroize::Zeroizing;

use super::{Concrete, Item, Op, Outcome};
use crate::{Error, Result, UnavailableReason};

pub(super) fn call(item: &Item, op: &Op) -> Result<Outcome> {
    let location = item.location(Concrete::Kernel);
    let description = item.kernel_description();
    let map = |e| map_error(e, &location);
    if matches!(op, Op::ReadRaw | Op::Search) {
        return Err(Error::Unavailable {
            location,
            reason: UnavailableReason::NoService,
            source: Some(crate::PlatformError(
                "legacy items are not read from the kernel keyring".to_owned(),
            )),
        });
    }
    let ring = KeyRing::from_special_id(KeyRingIdentifier::User, true).map_err(map)?;
    let found = match ring.search(&description) {
        Ok(key) => Some(key),
        Err(KeyError::KeyDoesNotExist | KeyError::KeyExpired | KeyError::KeyRevoked) => None,
        Err(e) => return Err(map(e)),
    };
    match (op, found) {
        (Op::Load, Some(key)) => {
            let bytes = Zeroizing::new(key.read_to_vec().map_err(map)?);
            crate::record::decode(&bytes, &location).map(Outcome::Key)
        }
        (Op::Load | Op::Delete, None) => Err(Error::NotFound { location }),
        (Op::Create(_), Some(_)) => Err(Error::AlreadyExists { location }),
        (Op::Create(key), None) => {
            put(&ring, &description, key, &location)?;
            Ok(Outcome::Done)
        }
        (Op::Delete, Some(key)) => key.invalidate().map(|()| Outcome::Done).map_err(map),
        (Op::ReadRaw | Op::Search, _) => Err(Error::NotFound { location }),
    }
}

/// Adds (or updates) the key, readable by every process of the user.
fn put(ring: &KeyRing, description: &str, key: &Key, location: &str) -> Result<()> {
    let map = |e| map_error(e, location);
    let stored = ring
        .add_key(description, &*crate::record::encode(key))
        .map_err(map)?;
    let perms = KeyPermissionsBuilder::builder()
        .posessor(Permission::ALL)
        .user(
            Permission::VIEW
                | Permission::READ
                | Permission::WRITE
                | Permission::SEARCH
                | Permission::SETATTR,
        )
        .build();
    if let Err(e) = stored.set_perms(perms) {
        // A key others of this user cannot read is no use; take it back.
        let _ = stored.invalidate();
        return Err(map(e));
    }
    Ok(())
}

fn map_error(error: KeyError, location: &str) -> Error {
    let reason = match error {
        KeyError::KeyDoesNotExist | KeyError::KeyExpired | KeyError::KeyRevoked => {
            return Error::NotFound {
                location: location.to_owned(),
            };
        }
        KeyError::AccessDenied | KeyError::PermissionDenied => UnavailableReason::AccessDenied,
        KeyError::OperationNotSupported => UnavailableReason::NoService,
        _ => UnavailableReason::Platform,
    };
    Error::Unavailable {
        location: location.to_owned(),
        reason,
        source: Some(crate::PlatformError(format!("keyutils: {error}"))),
    }
}
