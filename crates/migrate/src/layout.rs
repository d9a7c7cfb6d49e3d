//! Legacy layouts, described as data.

use crate::SealedFile;

/// Where an application kept its secrets in the OS keyring before keyseal.
///
/// Any combination of the parts may be present at once.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Layout {
    /// The keyring service all the items belong to.
    pub service: String,
    /// One item holding a JSON object `name -> value` for all secrets.
    pub bundle_item: Option<String>,
    /// One item per secret, named `<prefix><name>`.
    pub item_prefix: Option<String>,
    /// One item holding a JSON array of names (without the prefix), for
    /// keyrings that cannot be searched.
    pub index_item: Option<String>,
    /// Items that hold the application's own key material (for example the
    /// key that seals its file): never read as a secret, moved or deleted,
    /// whatever prefix they match. Items holding a keyseal key record are
    /// recognised by their content and skipped in every layout.
    pub key_items: Vec<String>,
    /// The application's own sealed file, opened with one of its key items
    /// (docker-agent's `mcp-oauth-tokens.enc`): its values win over the
    /// bundle's and the per-item entries'.
    pub sealed_file: Option<SealedFile>,
}

impl Layout {
    /// A layout with only a service; add parts with the `with_` methods.
    pub fn new(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            bundle_item: None,
            item_prefix: None,
            index_item: None,
            key_items: Vec::new(),
            sealed_file: None,
        }
    }

    /// Marks `item` as holding the application's key material: it is left
    /// alone, and shown as skipped.
    #[must_use]
    pub fn with_key_item(mut self, item: impl Into<String>) -> Self {
        self.key_items.push(item.into());
        self
    }

    /// Adds the application's sealed file; its key item becomes one of the
    /// layout's key items (never migrated as a secret).
    #[must_use]
    pub fn with_sealed_file(mut self, file: SealedFile) -> Self {
        if !self.is_key_item(&file.key_item) {
            self.key_items.push(file.key_item.clone());
        }
        self.sealed_file = Some(file);
        self
    }

    /// Adds a bundle item.
    #[must_use]
    pub fn with_bundle_item(mut self, item: impl Into<String>) -> Self {
        self.bundle_item = Some(item.into());
        self
    }

    /// Adds per-item entries named `<prefix><name>`.
    #[must_use]
    pub fn with_item_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.item_prefix = Some(prefix.into());
        self
    }

    /// Adds an index item listing the per-item names.
    #[must_use]
    pub fn with_index_item(mut self, item: impl Into<String>) -> Self {
        self.index_item = Some(item.into());
        self
    }

    /// docker-agent: service `docker-agent-oauth`; its sealed file
    /// `mcp-oauth-tokens.enc` in its configuration directory (see
    /// [`SealedFile::docker_agent`]; resource URL -> token object), the
    /// bundle `oauth:tokens` (the same shape), older per-resource items
    /// `oauth:<url>`, the index `oauth:_index`; its key item
    /// `oauth:encryption-key`, which seals the file, is never migrated.
    pub fn docker_agent() -> Self {
        use crate::docker_agent as names;
        let layout = Self::new(names::SERVICE)
            .with_bundle_item(names::BUNDLE_ITEM)
            .with_item_prefix(names::ITEM_PREFIX)
            .with_index_item(names::INDEX_ITEM)
            .with_key_item(names::KEY_ITEM);
        match SealedFile::docker_agent() {
            Some(file) => layout.with_sealed_file(file),
            None => layout,
        }
    }

    /// goose: service `goose`, one bundle item `secrets`.
    pub fn goose() -> Self {
        Self::new("goose").with_bundle_item("secrets")
    }

    /// A preset by name: `docker-agent` or `goose`.
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "docker-agent" => Some(Self::docker_agent()),
            "goose" => Some(Self::goose()),
            _ => None,
        }
    }

    /// Whether `item` is one of the layout's own control items (bundle or
    /// index), which are never read as per-item entries.
    pub(crate) fn is_control_item(&self, item: &str) -> bool {
        self.bundle_item.as_deref() == Some(item) || self.index_item.as_deref() == Some(item)
    }

    /// Whether `item` is one of the layout's key items.
    pub(crate) fn is_key_item(&self, item: &str) -> bool {
        self.key_items.iter().any(|k| k == item)
    }
}
