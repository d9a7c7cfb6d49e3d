//! How a keyring-core `(service, user)` pair names a keyseal entry.
//!
//! `keyring-core/<service>/<user>`, where each part is written with `%`,
//! `/` and every control character escaped as `%XX` (uppercase hex of each
//! UTF-8 byte) and every other character as it is. The one unescaped `/`
//! between the parts and the escaping of `%` make it reversible and
//! collision-free for any two strings, empty ones included; the prefix keeps
//! these entries apart from any the application stores through keyseal's
//! own API.

use std::fmt::Write as _;

/// What every entry name of this store starts with.
pub const PREFIX: &str = "keyring-core/";

/// The entry name of `(service, user)`.
pub fn entry_name(service: &str, user: &str) -> String {
    let mut name = String::with_capacity(PREFIX.len() + service.len() + user.len() + 1);
    name.push_str(PREFIX);
    escape_into(&mut name, service);
    name.push('/');
    escape_into(&mut name, user);
    name
}

/// The `(service, user)` an entry name stands for; `None` for a name this
/// encoding does not produce (another application's entry, say).
pub fn specifiers(name: &str) -> Option<(String, String)> {
    let rest = name.strip_prefix(PREFIX)?;
    let (service, user) = rest.split_once('/')?;
    let (service, user) = (unescape(service)?, unescape(user)?);
    // Only the canonical form: any other spelling is not ours.
    (entry_name(&service, &user) == name).then_some((service, user))
}

fn escape_into(out: &mut String, part: &str) {
    for c in part.chars() {
        if c == '%' || c == '/' || c.is_control() {
            let mut bytes = [0u8; 4];
            for byte in c.encode_utf8(&mut bytes).bytes() {
                // Writing to a String cannot fail.
                let _ = write!(out, "%{byte:02X}");
            }
        } else {
            out.push(c);
        }
    }
}

fn unescape(part: &str) -> Option<String> {
    if part.contains('/') {
        return None;
    }
    let mut bytes = Vec::with_capacity(part.len());
    let mut rest = part.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'%' {
            let hex = tail.get(..2)?;
            let hex = std::str::from_utf8(hex).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = tail.get(2..)?;
        } else {
            bytes.push(first);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::{entry_name, specifiers};

    #[test]
    fn names_are_reversible_and_distinct_for_tricky_strings() {
        let parts = [
            "", "a", "/", "//", "%", "%2F", "a/b", "a%2Fb", "\n", "\u{7f}", "é", "🦀", " ",
        ];
        let mut seen = std::collections::HashMap::new();
        for service in parts {
            for user in parts {
                let name = entry_name(service, user);
                keyseal::validate_name(&name).unwrap();
                assert_eq!(
                    specifiers(&name),
                    Some((service.to_owned(), user.to_owned())),
                    "{name:?}"
                );
                if let Some(earlier) = seen.insert(name.clone(), (service, user)) {
                    panic!("{name:?} names both {earlier:?} and {:?}", (service, user));
                }
            }
        }
        assert_eq!(entry_name("svc", "a/b"), "keyring-core/svc/a%2Fb");
    }

    #[test]
    fn names_not_made_here_are_not_read_as_specifiers() {
        for name in [
            "token",
            "keyring-core/",
            "keyring-core/svc",
            "keyring-core/a/b/c",
            "keyring-core/a%2/b",
            "keyring-core/a%zz/b",
            "keyring-core/%2f/b",
            "keyring-core/%FF/b",
        ] {
            assert_eq!(specifiers(name), None, "{name:?}");
        }
    }
}
