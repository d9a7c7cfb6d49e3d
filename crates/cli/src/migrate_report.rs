//! How `keyseal migrate` reports what it did: names and reasons, never a
//! value. Entries that cannot move go to standard error (they need the
//! person's attention); the rest to standard output.

use keyseal_migrate::Report;
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
            "delete_failures": pairs(&report.delete_failures),
            "source_unavailable": report.source_unavailable,
        });
        return output::line(&value.to_string());
    }
    if let Some(why) = &report.source_unavailable {
        output::note(&format!(
            "keyseal: the legacy keyring did not answer ({why}); nothing to migrate from service {service:?}, and nothing changed"
        ));
        return Ok(());
    }
    let verb = if report.dry_run {
        "would move"
    } else {
        "moved"
    };
    for name in &report.moved {
        output::line(&format!("{verb}: {}", escaped(name)))?;
    }
    for name in &report.already_present {
        output::line(&format!(
            "already in the store (kept its value): {}",
            escaped(name)
        ))?;
    }
    for (item, why) in &report.skipped {
        output::line(&format!("skipped: {}: {why}", escaped(item)))?;
    }
    for (name, why) in &report.not_converted {
        output::note(&format!(
            "keyseal: not migrated, left in the legacy keyring: {}: {why}",
            escaped(name)
        ));
    }
    for item in &report.deleted {
        output::line(&format!("deleted legacy item: {}", escaped(item)))?;
    }
    for (item, why) in &report.delete_failures {
        output::note(&format!(
            "keyseal: could not delete legacy item {} (will retry): {why}",
            escaped(item)
        ));
    }
    if report.is_noop() {
        output::line(&format!("nothing to migrate from service {service:?}"))?;
    }
    Ok(())
}

/// A name with control characters escaped (`\n`, `\u{1b}`), as `list`
/// shows names.
pub(crate) fn escaped(name: &str) -> String {
    if name.chars().any(char::is_control) {
        name.escape_debug().to_string()
    } else {
        name.to_owned()
    }
}
