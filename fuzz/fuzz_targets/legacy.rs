//! Legacy-layout parsing: arbitrary bundle, index and item contents run
//! through a whole migration into an in-memory store. Never a panic, and no
//! legacy item is deleted unless everything it held reads back from the store.
#![no_main]

use keyseal::Store;
use keyseal::blob::MemoryBlobStore;
use keyseal::keys::MemoryKeyProvider;
use keyseal_migrate::{Layout, MemorySource, Options, migrate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Split the input into a bundle, an index and two items.
    let mut parts = data.splitn(4, |&b| b == 0xff);
    let bundle = parts.next().unwrap_or_default();
    let index = parts.next().unwrap_or_default();
    let item_a = parts.next().unwrap_or_default();
    let item_b = parts.next().unwrap_or_default();
    let source = MemorySource::unsearchable();
    source.insert("svc", "bundle", bundle);
    source.insert("svc", "p:_index", index);
    source.insert("svc", "p:a", item_a);
    source.insert("svc", "p:b", item_b);
    let layout = Layout::new("svc")
        .with_bundle_item("bundle")
        .with_item_prefix("p:")
        .with_index_item("p:_index");
    let store = Store::builder(MemoryKeyProvider::new(), MemoryBlobStore::new(), "fuzz").build();
    let typed = data.first().is_some_and(|b| b & 1 == 1);
    let options = if typed { Options::typed::<std::collections::BTreeMap<String, String>>() } else { Options::raw() };
    match migrate(&store, &source, &layout, &options) {
        Ok(report) => {
            for item in &report.deleted {
                assert!(!source.names("svc").contains(item), "{item} reported deleted but present");
            }
            for name in &report.moved {
                assert!(store.get_bytes(name).expect("read back").is_some(), "{name} moved but missing");
            }
        }
        Err(_) => {
            // Nothing may have been deleted.
            assert_eq!(source.names("svc").len(), 4, "a failed migration deleted legacy items");
        }
    }
});
