//! The in-memory provider: the conformance suite and its given keys.
#![cfg(test)]

use std::sync::Arc;

use keyseal_keys::conformance::{self, Capabilities};
use keyseal_keys::{KeyLifetime, KeyProvider, MemoryKeyProvider, ProviderKind};

#[test]
fn memory_provider_passes_the_conformance_suite() {
    conformance::run_all(&MemoryKeyProvider::new(), Capabilities::WRITABLE);
}

#[test]
fn memory_provider_works_as_a_shared_trait_object() {
    let provider: Arc<dyn KeyProvider> = Arc::new(MemoryKeyProvider::new());
    conformance::run_all(&provider, Capabilities::WRITABLE);
}

#[test]
fn memory_provider_reports_a_process_lifetime() {
    let info = MemoryKeyProvider::new().info();
    assert_eq!(info.kind, ProviderKind::Memory);
    assert_eq!(info.lifetime, KeyLifetime::Process);
}

#[test]
fn a_given_key_seals_new_files_and_answers_ids_it_does_not_hold() {
    let key = keyseal_keys::Key::generate().unwrap();
    let id = key.id();
    let provider = MemoryKeyProvider::given(key);
    assert_eq!(provider.given().unwrap().unwrap().id(), id);
    let other = keyseal_keys::Key::generate().unwrap().id();
    assert_eq!(
        provider.load(&other).unwrap().id(),
        id,
        "not like an environment variable"
    );
    let created = provider.create().unwrap();
    assert_eq!(provider.load(&created.id()).unwrap().id(), created.id());
}
