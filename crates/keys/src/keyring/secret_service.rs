//! The freedesktop Secret Service, spoken directly (the `secret-service`
//! crate over one D-Bus connection per provider), with the session
//! algorithm the builder chose ([`SessionAlgorithm`]).
//!
//! Items live in the default collection with the attributes keyring-core's
//! Secret Service store uses (`service`, `username`) and its content type,
//! so an item written by either is found by the other, and by Python's
//! `keyring` (which adds `application`: a search matches a subset).
//!
//! A load is three messages after the connection: `OpenSession` (made once
//! per provider), `SearchItems`, `GetSecret`. Nothing is asked before the
//! first real call, and no call is made that the next one would repeat.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use secret_service::EncryptionType;
use secret_service::blocking::{Item as SsItem, SecretService};
use zeroize::Zeroizing;

use super::{Concrete, Item, ItemLayout, Op, Outcome, SessionAlgorithm};
use crate::{Error, Result, UnavailableReason};

/// The content type keyring-core's store writes, kept for its readers.
const CONTENT_TYPE: &str = "application/octet-stream";

/// The `secret-service` crate's name for the algorithm.
fn encryption(algorithm: SessionAlgorithm) -> EncryptionType {
    match algorithm {
        SessionAlgorithm::Plain => EncryptionType::Plain,
        SessionAlgorithm::DiffieHellman => EncryptionType::Dh,
    }
}

/// One provider's connection and session, made at its first call.
#[derive(Default)]
pub(crate) struct Connection {
    open: Mutex<Option<Arc<SecretService<'static>>>>,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

impl Connection {
    fn reset(&self) {
        *self.open.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn get(
        &self,
        algorithm: SessionAlgorithm,
        location: &str,
    ) -> Result<Arc<SecretService<'static>>> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(ss) = open.as_ref() {
            return Ok(Arc::clone(ss));
        }
        let ss = Arc::new(
            SecretService::connect(encryption(algorithm)).map_err(|e| map_error(&e, location))?,
        );
        *open = Some(Arc::clone(&ss));
        Ok(ss)
    }
}

/// Runs `op` on `item` in the Secret Service. A connection or session the
/// Secret Service no longer knows (it restarted) is dropped and made again,
/// once.
pub(crate) fn call(
    connection: &Connection,
    algorithm: SessionAlgorithm,
    item: &Item,
    op: &Op,
) -> Result<Outcome> {
    match call_once(connection, algorithm, item, op) {
        Err(Error::Unavailable {
            source: Some(ref why),
            ..
        }) if stale(&why.0) => {
            connection.reset();
            call_once(connection, algorithm, item, op)
        }
        other => other,
    }
}

/// Whether an error says the cached connection or session is dead.
fn stale(text: &str) -> bool {
    [
        "NoSession",
        "No such session",
        "connection closed",
        "Disconnected",
        "Broken pipe",
    ]
    .iter()
    .any(|t| text.contains(t))
}

fn call_once(
    connection: &Connection,
    algorithm: SessionAlgorithm,
    item: &Item,
    op: &Op,
) -> Result<Outcome> {
    let location = item.location(Concrete::SecretService);
    let map = |e: secret_service::Error| map_error(&e, &location);
    let ss = connection.get(algorithm, &location)?;
    if item.layout == ItemLayout::GoKeyring {
        return super::go_keyring::call(&ss, item, op, &location);
    }
    let attributes: HashMap<&str, &str> = [
        ("service", item.service.as_str()),
        ("username", item.name.as_str()),
    ]
    .into_iter()
    .collect();
    match op {
        Op::Load => {
            let secret = one_secret(&ss, attributes, &location)?;
            crate::record::decode(&secret, &location).map(Outcome::Key)
        }
        Op::ReadRaw => one_secret(&ss, attributes, &location).map(Outcome::Raw),
        Op::Create(key) => {
            // The item is named by a new key's id, so it cannot exist; the
            // check keeps the contract even if it somehow did.
            if !matching(&ss, attributes.clone(), &location)?.is_empty() {
                return Err(Error::AlreadyExists { location });
            }
            let collection = ss.get_default_collection().map_err(|e| match e {
                secret_service::Error::NoResult => Error::Unavailable {
                    location: location.clone(),
                    reason: UnavailableReason::Platform,
                    source: Some(crate::PlatformError(
                        "the Secret Service has no default collection (no \"default\" alias) to create the key in"
                            .to_owned(),
                    )),
                },
                other => map(other),
            })?;
            // A locked collection is unlocked through the Secret Service's
            // prompt, as keyring-core's store did.
            if collection.is_locked().map_err(map)? {
                collection.unlock().map_err(map)?;
            }
            let record = crate::record::encode(key);
            collection
                .create_item(&item.label, attributes, &record, false, CONTENT_TYPE)
                .map_err(map)?;
            Ok(Outcome::Done)
        }
        Op::Delete => {
            let found = matching(&ss, attributes, &location)?;
            if found.is_empty() {
                return Err(Error::NotFound { location });
            }
            for item in &found {
                // Gone already (another process deleted it): deleted.
                match item.delete() {
                    Err(e) if !vanished(&e) => return Err(map(e)),
                    _ => {}
                }
            }
            Ok(Outcome::Done)
        }
        Op::Search => {
            let spec: HashMap<&str, &str> =
                [("service", item.service.as_str())].into_iter().collect();
            let mut names: Vec<String> = Vec::new();
            for found in matching(&ss, spec, &location)? {
                // An item another process deleted since the search is not
                // listed.
                let attributes = match found.get_attributes() {
                    Ok(attributes) => attributes,
                    Err(e) if vanished(&e) => continue,
                    Err(e) => return Err(map(e)),
                };
                if attributes.get("service") == Some(&item.service)
                    && let Some(name) = attributes.get("username")
                {
                    names.push(name.clone());
                }
            }
            names.sort();
            names.dedup();
            Ok(Outcome::Names(names))
        }
    }
}

/// The items with exactly these attributes among theirs, locked ones
/// unlocked first (a prompt, where the Secret Service has one).
pub(super) fn matching<'a>(
    ss: &'a SecretService<'static>,
    attributes: HashMap<&str, &str>,
    location: &str,
) -> Result<Vec<SsItem<'a>>> {
    let found = ss
        .search_items(attributes)
        .map_err(|e| map_error(&e, location))?;
    if !found.locked.is_empty() {
        let locked: Vec<&SsItem<'_>> = found.locked.iter().collect();
        ss.unlock_all(&locked)
            .map_err(|e| map_error(&e, location))?;
    }
    Ok(found.unlocked.into_iter().chain(found.locked).collect())
}

/// The secret of the one item with these attributes.
fn one_secret(
    ss: &SecretService<'static>,
    attributes: HashMap<&str, &str>,
    location: &str,
) -> Result<Zeroizing<Vec<u8>>> {
    let found = matching(ss, attributes, location)?;
    match found.as_slice() {
        [] => Err(Error::NotFound {
            location: location.to_owned(),
        }),
        [item] => match item.get_secret() {
            Ok(secret) => Ok(Zeroizing::new(secret)),
            // Deleted by another process since the search.
            Err(e) if vanished(&e) => Err(Error::NotFound {
                location: location.to_owned(),
            }),
            Err(e) => Err(map_error(&e, location)),
        },
        more => Err(Error::Malformed {
            location: location.to_owned(),
            reason: format!("{} keyring items match it; keep one", more.len()),
        }),
    }
}

/// Whether `error` says the object is gone: an item another process
/// deleted between a search and the next call on it. gnome-keyring answers
/// "No such interface … on object at path …" or "Object does not exist at
/// path …" for an object that no longer exists; other services
/// `UnknownObject`. A method a live object lacks
/// ("No such method") is not this.
pub(super) fn vanished(error: &secret_service::Error) -> bool {
    let text = error.to_string();
    text.contains("UnknownObject")
        || text.contains("No such object")
        || text.contains("Object does not exist at path")
        || (text.contains("No such interface") && text.contains("on object at path"))
}

/// Maps a Secret Service error to ours; never carries a stored value.
pub(super) fn map_error(error: &secret_service::Error, location: &str) -> Error {
    let reason = super::platform::classify(error).unwrap_or(UnavailableReason::Platform);
    Error::Unavailable {
        location: location.to_owned(),
        reason,
        source: Some(crate::PlatformError(error.to_string())),
    }
}
