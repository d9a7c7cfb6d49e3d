//! Items laid out by the Go library `github.com/99designs/keyring` on the
//! Secret Service ([`ItemLayout::GoKeyring`](super::ItemLayout::GoKeyring)),
//! read from its `secretservice.go`:
//!
//! - a collection of its own, created by that library and labelled after
//!   the service; the library finds it by its object path,
//!   `/org/freedesktop/secrets/collection/<service>` with the path's `_XX`
//!   escapes decoded (gnome-keyring names a collection's path after its
//!   label), and so does this module, or by its label;
//! - each item labelled with its key, with the attribute `profile` = key
//!   (gnome-keyring may add `xdg:schema` once an item is rewritten, so
//!   items are matched on `profile` alone);
//! - the secret is the JSON of the library's `Item` struct
//!   (`{"Key":…,"Data":<standard base64>,"Label":…,…}`), unwrapped here to
//!   `Data`'s bytes. A secret that is not such JSON is reported as
//!   malformed, never guessed at.
//!
//! A locked collection is unlocked through the Secret Service's prompt where
//! it has one; otherwise the call fails as `Locked`, naming the collection.

use std::collections::HashMap;

use base64ct::{Base64, Encoding};
use secret_service::blocking::{Collection, SecretService};
use zeroize::Zeroizing;

use super::secret_service::{map_error, vanished};
use super::{Item, Op, Outcome};
use crate::{Error, Result, UnavailableReason};

const COLLECTION_PATH: &str = "/org/freedesktop/secrets/collection/";

/// The part of the library's `Item` JSON this reads: `Data` stays borrowed
/// from the zeroizing secret (base64 has no escapes to undo).
#[derive(serde::Deserialize)]
struct GoItem<'a> {
    /// Required: the library always writes it.
    #[serde(rename = "Key", borrow)]
    _key: std::borrow::Cow<'a, str>,
    #[serde(rename = "Data", borrow, default)]
    data: Option<&'a str>,
}

pub(super) fn call(
    ss: &SecretService<'static>,
    item: &Item,
    op: &Op,
    location: &str,
) -> Result<Outcome> {
    let map = |e: secret_service::Error| map_error(&e, location);
    let Some(collection) = find_collection(ss, &item.service, location)? else {
        return match op {
            Op::Search => Ok(Outcome::Names(Vec::new())),
            _ => Err(Error::NotFound {
                location: location.to_owned(),
            }),
        };
    };
    if collection.is_locked().map_err(map)? {
        collection
            .unlock()
            .map_err(|e| locked(&e, &item.service, location))?;
        if collection.is_locked().map_err(map)? {
            return Err(Error::Unavailable {
                location: location.to_owned(),
                reason: UnavailableReason::Locked,
                source: Some(crate::PlatformError(format!(
                    "the Secret Service collection \"{}\" is locked and was not unlocked",
                    item.service
                ))),
            });
        }
    }
    let profile: HashMap<&str, &str> = [("profile", item.name.as_str())].into_iter().collect();
    match op {
        Op::ReadRaw => {
            // Every match is read: a delete removes them all, so a second
            // item holding other data must not go unread. Items are told
            // apart by their data, not by their JSON (a label may differ).
            let mut values: Vec<Zeroizing<Vec<u8>>> = Vec::new();
            for found in collection.search_items(profile).map_err(map)? {
                let secret = match found.get_secret() {
                    Ok(secret) => Zeroizing::new(secret),
                    // Deleted by another process since the search.
                    Err(e) if vanished(&e) => continue,
                    Err(e) => return Err(map(e)),
                };
                let value = unwrap_item(&secret, location)?;
                if !values.contains(&value) {
                    values.push(value);
                }
            }
            match values.len() {
                0 => Err(Error::NotFound {
                    location: location.to_owned(),
                }),
                1 => values
                    .pop()
                    .map(Outcome::Raw)
                    .ok_or_else(|| super::unexpected(location)),
                more => Err(Error::Malformed {
                    location: location.to_owned(),
                    reason: format!(
                        "{more} keyring items with this profile hold different data; keep one"
                    ),
                }),
            }
        }
        Op::Search => {
            let mut names = Vec::new();
            for found in collection.get_all_items().map_err(map)? {
                let attributes = match found.get_attributes() {
                    Ok(attributes) => attributes,
                    Err(e) if vanished(&e) => continue,
                    Err(e) => return Err(map(e)),
                };
                match attributes.get("profile") {
                    Some(name) => names.push(name.clone()),
                    None => match found.get_label() {
                        Ok(label) => names.push(label),
                        Err(e) if vanished(&e) => {}
                        Err(e) => return Err(map(e)),
                    },
                }
            }
            names.sort();
            names.dedup();
            Ok(Outcome::Names(names))
        }
        Op::Delete => {
            let found = collection.search_items(profile).map_err(map)?;
            if found.is_empty() {
                return Err(Error::NotFound {
                    location: location.to_owned(),
                });
            }
            for item in &found {
                match item.delete() {
                    Err(e) if !vanished(&e) => return Err(map(e)),
                    _ => {}
                }
            }
            Ok(Outcome::Done)
        }
        Op::Load | Op::Create(_) => Err(Error::Unavailable {
            location: location.to_owned(),
            reason: UnavailableReason::Platform,
            source: Some(crate::PlatformError(
                "keyseal keeps no keys in the 99designs/keyring layout".to_owned(),
            )),
        }),
    }
}

/// The collection of `service`: by its object path, as the library finds
/// it, else by its label.
fn find_collection<'a>(
    ss: &'a SecretService<'static>,
    service: &str,
    location: &str,
) -> Result<Option<Collection<'a>>> {
    let all = ss
        .get_all_collections()
        .map_err(|e| map_error(&e, location))?;
    let wanted = format!("{COLLECTION_PATH}{service}");
    let mut by_label = None;
    for collection in all {
        if decode_path(collection.collection_path.as_str()) == wanted {
            return Ok(Some(collection));
        }
        if by_label.is_none() && collection.get_label().is_ok_and(|label| label == service) {
            by_label = Some(collection);
        }
    }
    Ok(by_label)
}

/// An object path with its `_XX` hex escapes decoded, as the library's
/// `decodeKeyringString` does (an escape that does not decode is kept).
fn decode_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escaped = (b == b'_')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(decoded) => {
                out.push(decoded);
                i += 3;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `Data`'s bytes of the library's JSON `Item` (`null` or absent: empty).
fn unwrap_item(secret: &[u8], location: &str) -> Result<Zeroizing<Vec<u8>>> {
    let malformed = |reason: &str| Error::Malformed {
        location: location.to_owned(),
        reason: reason.to_owned(),
    };
    let not_an_item =
        || malformed("the secret is not the JSON of a github.com/99designs/keyring Item");
    // An object, never an array (serde would read a struct from a sequence).
    if secret.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(not_an_item());
    }
    let item: GoItem<'_> = serde_json::from_slice(secret).map_err(|_| not_an_item())?;
    let data = item.data.unwrap_or_default();
    let mut out = Zeroizing::new(vec![0u8; data.len()]);
    let len = Base64::decode(data.as_bytes(), &mut out)
        .map_err(|_| malformed("the item's Data is not standard base64"))?
        .len();
    out.truncate(len);
    Ok(out)
}

/// A failed unlock of `service`'s collection, named.
fn locked(error: &secret_service::Error, service: &str, location: &str) -> Error {
    Error::Unavailable {
        location: location.to_owned(),
        reason: UnavailableReason::Locked,
        source: Some(crate::PlatformError(format!(
            "the Secret Service collection \"{service}\" is locked and could not be unlocked: {error}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_decode_as_the_go_library_decodes_them() {
        assert_eq!(
            decode_path("/org/freedesktop/secrets/collection/docker_2dagent_2doauth"),
            "/org/freedesktop/secrets/collection/docker-agent-oauth"
        );
        assert_eq!(decode_path("/a/_zz/b_"), "/a/_zz/b_");
    }

    #[test]
    fn an_item_unwraps_to_its_data_and_anything_else_is_malformed() {
        let json = br#"{"Key":"oauth:tokens","Data":"eyJhIjoxfQ==","Label":"","Description":"","KeychainNotTrustApplication":false,"KeychainNotSynchronizable":false}"#;
        assert_eq!(unwrap_item(json, "x").unwrap().as_slice(), br#"{"a":1}"#);
        let empty = br#"{"Key":"k","Data":null}"#;
        assert!(unwrap_item(empty, "x").unwrap().is_empty());
        for bad in [
            &b"raw token bytes"[..],
            br#"{"Key":"k","Data":"not base64!"}"#,
            br#"["k", "Data"]"#,
            br#"{"Data":"eyJhIjoxfQ=="}"#,
            b"",
        ] {
            assert!(matches!(
                unwrap_item(bad, "x"),
                Err(Error::Malformed { .. })
            ));
        }
    }
}
