//! docker-agent's names: what its token store is called in the keyring and
//! on disk. They are a compatibility contract (docker-agent reads and writes
//! them), so each is spelled once, here.

/// The keyring service (github.com/99designs/keyring's `ServiceName`, which
/// also labels its Secret Service collection).
pub const SERVICE: &str = "docker-agent-oauth";

/// The keyring item whose 32 raw bytes seal [`SEALED_FILE`]; never migrated.
pub const KEY_ITEM: &str = "oauth:encryption-key";

/// The bundle item: a JSON object resource URL -> token object.
pub const BUNDLE_ITEM: &str = "oauth:tokens";

/// The prefix of the older per-resource items `oauth:<url>`.
pub const ITEM_PREFIX: &str = "oauth:";

/// The index item: a JSON array of the per-resource items' URLs.
pub const INDEX_ITEM: &str = "oauth:_index";

/// The sealed file, in docker-agent's configuration directory.
pub const SEALED_FILE: &str = "mcp-oauth-tokens.enc";

/// docker-agent's configuration directory's name, under the platform's
/// configuration directory (or `~/.config`).
pub const CONFIG_DIR: &str = "cagent";
