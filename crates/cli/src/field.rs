//! One field of a JSON value: `get --field` and `run --env VAR=NAME#FIELD`.
//!
//! A path that starts with `/` is a JSON pointer (RFC 6901: `/a/0/b`, `~1`
//! for `/` and `~0` for `~` in a key); any other path is dotted (`a.0.b`),
//! where a segment of digits indexes an array. A key with a `.` in it needs
//! the pointer form.

use serde_json::Value;
use zeroize::Zeroizing;

/// Why a field could not be taken from a value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FieldError {
    /// The value is not JSON.
    NotJson,
    /// The path names nothing in the value.
    Missing,
    /// The path is not a path (empty, or a pointer with a bad escape).
    BadPath(&'static str),
}

impl FieldError {
    /// The reason, for a message that names the entry and the path.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Self::NotJson => "its value is not JSON",
            Self::Missing => "it has no such field",
            Self::BadPath(why) => why,
        }
    }
}

/// The field at `path` in the JSON `value`: a string as its text (no
/// quotes), anything else as compact JSON.
pub(crate) fn select(value: &[u8], path: &str) -> Result<Zeroizing<Vec<u8>>, FieldError> {
    let segments = segments(path)?;
    // The parsed value is dropped without wiping (serde_json frees its
    // strings as they are); the field's bytes go out in a zeroizing buffer.
    let parsed: Value = serde_json::from_slice(value).map_err(|_| FieldError::NotJson)?;
    let mut at = &parsed;
    for segment in &segments {
        at = match at {
            Value::Object(map) => map.get(segment.as_str()),
            Value::Array(items) => index(segment).and_then(|i| items.get(i)),
            _ => None,
        }
        .ok_or(FieldError::Missing)?;
    }
    Ok(Zeroizing::new(match at {
        Value::String(text) => text.as_bytes().to_vec(),
        other => other.to_string().into_bytes(),
    }))
}

fn segments(path: &str) -> Result<Vec<String>, FieldError> {
    if path.is_empty() {
        return Err(FieldError::BadPath("the field path is empty"));
    }
    if let Some(pointer) = path.strip_prefix('/') {
        return pointer
            .split('/')
            .map(|token| {
                unescape(token).ok_or(FieldError::BadPath("a JSON pointer's ~ must be ~0 or ~1"))
            })
            .collect();
    }
    let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
    if segments.iter().any(String::is_empty) {
        return Err(FieldError::BadPath(
            "a dotted path has an empty segment; use a JSON pointer for a key that is empty or has a dot",
        ));
    }
    Ok(segments)
}

/// An array index as RFC 6901 writes one: digits, no leading zero.
fn index(segment: &str) -> Option<usize> {
    let digits = !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
    let canonical = segment == "0" || !segment.starts_with('0');
    if digits && canonical {
        segment.parse().ok()
    } else {
        None
    }
}

/// A pointer token with `~1` as `/` and `~0` as `~`.
fn unescape(token: &str) -> Option<String> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &[u8] =
        br#"{"access_token":"gho_x","expires_in":3600,"scopes":["repo","gist"],"a/b":{"c.d":true}}"#;

    fn text(path: &str) -> Result<String, FieldError> {
        select(TOKEN, path).map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    #[test]
    fn dotted_paths_and_pointers_select_the_same_fields() {
        assert_eq!(text("access_token").as_deref(), Ok("gho_x"));
        assert_eq!(text("/access_token").as_deref(), Ok("gho_x"));
        assert_eq!(text("expires_in").as_deref(), Ok("3600"));
        assert_eq!(text("scopes.1").as_deref(), Ok("gist"));
        assert_eq!(text("/scopes/0").as_deref(), Ok("repo"));
        assert_eq!(text("scopes").as_deref(), Ok(r#"["repo","gist"]"#));
        assert_eq!(text("/a~1b/c.d").as_deref(), Ok("true"));
    }

    #[test]
    fn missing_fields_bad_paths_and_non_json_are_errors() {
        assert_eq!(text("refresh_token"), Err(FieldError::Missing));
        assert_eq!(text("scopes.9"), Err(FieldError::Missing));
        assert_eq!(text("access_token.x"), Err(FieldError::Missing));
        assert!(matches!(text(""), Err(FieldError::BadPath(_))));
        assert!(matches!(text("/a~2b"), Err(FieldError::BadPath(_))));
        assert!(matches!(text("scopes..0"), Err(FieldError::BadPath(_))));
        assert!(matches!(text("scopes."), Err(FieldError::BadPath(_))));
        assert_eq!(text("/scopes/01"), Err(FieldError::Missing));
        assert_eq!(text("scopes.+1"), Err(FieldError::Missing));
        assert_eq!(select(b"not json", "a"), Err(FieldError::NotJson));
    }
}
