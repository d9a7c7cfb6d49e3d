//! How `keyseal migrate` reports what it did: names and reasons, never a
//! value. The report for people goes to standard error, like every message
//! of a command that changes the store, so that a failing standard output
//! never turns a finished migration into a failed command; `--json` writes
//! its one object to standard output.

use keyseal_migrate::{Origin, Report};
use serde_json::json;

use crate::exit::Failure;
use crate::output;

/// Prints `report` for the legacy `service`, as lines or one JSON object.
///
/// # Errors
/// An output failure (see [`output`]).
pub(crate) fn print(report: &Report, service: &str, as_json: bool) -> Result<(), Failure> {
    if as_json {
        let pairs = |list: &[(String, String)]| {
            list.iter()
                .map(|(name, why)| json!({ "name": name, "reason": why }))
                .collect::<Vec<_>>()
        };
        let value = json!({
            "service": service,
            "dry_run": report.dry_run,
            "moved": report.moved,
            "already_present": report.already_present,
            "not_migrated": pairs(&report.not_converted),
            "skipped": pairs(&report.skipped),
            "deleted": report.deleted,
            "kept": report.kept,
            "changed_since_read": report.changed_since_read,
            "delete_failures": pairs(&report.delete_failures),
            "source_unavailable": report.source_unavailable,
            "origins": report
                .origins
                .iter()
                .map(|(name, origin)| (name.clone(), json!(origin_word(*origin))))
                .collect::<serde_json::Map<_, _>>(),
            "sealed_file": report.sealed_file.as_ref().map(|file| json!({
                "path": file.path.display().to_string(),
                "entries": file.entries,
                "removed": file.removed,
                "key_item_removed": file.key_item_removed,
                "kept": file.kept,
            })),
        });
        return output::line(&value.to_string());
    }
    if let Some(why) = &report.source_unavailable {
        output::note(&format!(
            "the legacy keyring did not answer ({why}); nothing to migrate from service {service:?}, and nothing changed"
        ));
        return Ok(());
    }
    let verb = if report.dry_run {
        "would move"
    } else {
        "moved"
    };
    let from = |name: &str| {
        report
            .origins
            .get(name)
            .map(|origin| format!(" (from {})", origin_phrase(*origin)))
            .unwrap_or_default()
    };
    for name in &report.moved {
        output::note(&format!("{verb}: {}{}", escaped(name), from(name)));
    }
    for name in &report.already_present {
        output::note(&format!(
            "already in the store (kept its value): {}{}",
            escaped(name),
            from(name)
        ));
    }
    for (item, why) in &report.skipped {
        output::note(&format!("skipped: {}: {why}", escaped(item)));
    }
    for (name, why) in &report.not_converted {
        output::note(&format!(
            "not migrated, left in the legacy keyring: {}: {why}",
            escaped(name)
        ));
    }
    for item in &report.deleted {
        output::note(&format!("deleted legacy item: {}", escaped(item)));
    }
    for item in &report.changed_since_read {
        output::note(&format!(
            "kept legacy item {}: it was written again while the migration ran (the store holds the value read before; stop the application and check it before running migrate again, which would let the store's value win)",
            escaped(item)
        ));
    }
    for (item, why) in &report.delete_failures {
        output::note(&format!(
            "could not delete legacy item {} (will retry): {why}",
            escaped(item)
        ));
    }
    if let Some(file) = &report.sealed_file {
        let path = file.path.display();
        if file.removed {
            output::note(&format!("removed the legacy sealed file {path}"));
        } else if let Some(why) = &file.kept {
            output::note(&format!("kept the legacy sealed file {path}: {why}"));
        } else if !file.entries.is_empty() && !report.dry_run {
            output::note(&format!(
                "left the legacy sealed file {path} and its key item in place (remove both with --remove-source once the application no longer runs)"
            ));
        }
    }
    if report.is_noop() {
        output::note(&format!("nothing to migrate from service {service:?}"));
    }
    Ok(())
}

/// An origin in the JSON report.
fn origin_word(origin: Origin) -> &'static str {
    match origin {
        Origin::SealedFile => "sealed-file",
        Origin::Bundle => "bundle",
        _ => "item",
    }
}

/// An origin in words.
fn origin_phrase(origin: Origin) -> &'static str {
    match origin {
        Origin::SealedFile => "the sealed file",
        Origin::Bundle => "the bundle item",
        _ => "its own item",
    }
}

/// A name as `list` shows it: as it is, unless it holds a control
/// character or a backslash; then with Rust's escapes (`\n`, `\u{1b}`,
/// `\\`), so no name can move the terminal's cursor or pass for another.
pub(crate) fn escaped(name: &str) -> String {
    if name.chars().any(|c| c.is_control() || c == '\\') {
        name.escape_debug().to_string()
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::escaped;

    #[test]
    fn names_with_control_characters_or_backslashes_are_escaped_and_others_kept() {
        assert_eq!(
            escaped("https://mcp.example/a b"),
            "https://mcp.example/a b"
        );
        assert_eq!(escaped("a\nb"), "a\\nb");
        assert_eq!(escaped("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escaped("back\\slash"), "back\\\\slash");
        // Two different names never print alike.
        assert_ne!(escaped("a\nb"), escaped("a\\nb"));
    }
}
