//! Where a per-application store lives by default.

use std::path::PathBuf;

/// The platform's per-user configuration directory: `$XDG_CONFIG_HOME` (if
/// absolute) or `~/.config` on Linux and other Unix systems,
/// `~/Library/Application Support` on macOS, `%APPDATA%` on Windows.
/// `None` when the environment does not say.
pub fn config_dir() -> Option<PathBuf> {
    user_dir("APPDATA", "XDG_CONFIG_HOME", &[".config"])
}

/// A per-user directory: `%<windows>%` on Windows,
/// `~/Library/Application Support` on macOS, else `$<xdg>` (if absolute) or
/// `~/<home_parts>`; `None` when the environment does not say.
fn user_dir(windows: &str, xdg: &str, home_parts: &[&str]) -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| {
        let p = PathBuf::from(v);
        p.is_absolute().then_some(p)
    };
    if cfg!(windows) {
        return std::env::var_os(windows).and_then(absolute);
    }
    let home = std::env::var_os("HOME").and_then(absolute);
    if cfg!(target_os = "macos") {
        return home.map(|h| h.join("Library").join("Application Support"));
    }
    std::env::var_os(xdg)
        .and_then(absolute)
        .or_else(|| home.map(|h| home_parts.iter().fold(h, |p, part| p.join(part))))
}

/// The sealed file's name in an application's directory
/// ([`default_path`]).
pub const STORE_FILE_NAME: &str = "store.sealed";

/// The keyring item name of the store's key in `Store::open` and
/// `Store::new`: one item per key, `store-key.<key id>`, under the
/// application's service.
pub const KEY_ITEM_NAME: &str = "store-key";

/// `<config dir>/<app>/store.sealed`: where an application's store lives by
/// default. `None` when there is no configuration directory.
pub fn default_path(app: &str) -> Option<PathBuf> {
    config_dir().map(|dir| dir.join(app).join(STORE_FILE_NAME))
}

/// The platform's per-user state directory, for what keyseal keeps about
/// stores outside their directories (rollback marks): `$XDG_STATE_HOME` (if
/// absolute) or `~/.local/state` on Linux and other Unix systems,
/// `~/Library/Application Support` on macOS, `%LOCALAPPDATA%` on Windows.
/// `None` when the environment does not say.
pub fn state_dir() -> Option<PathBuf> {
    user_dir("LOCALAPPDATA", "XDG_STATE_HOME", &[".local", "state"])
}
