//! Keyring round trips.

use std::time::Duration;

use keyseal_keys::SessionAlgorithm;

use crate::common::Result;
use crate::keyring::PerItem;

use super::{Bench, nanos, numbers};

/// The mixed workload in a new process, per layout.
#[derive(Debug)]
pub(crate) struct RoundTrips {
    pub(crate) layout: &'static str,
    pub(crate) calls: usize,
    pub(crate) elapsed: Duration,
}

impl Bench {
    pub(crate) fn round_trips(&self) -> Result<Vec<RoundTrips>> {
        // The stores of the per-item comparison: 100 entries each.
        let store_path = self.path("per-item/store.sealed").display().to_string();
        let mut rows = Vec::new();
        for (layout, args) in [
            (
                "keyseal",
                vec!["mixed", "keyseal", &self.keyseal_service(), &store_path],
            ),
            (
                "per-item",
                vec!["mixed", "per-item", &self.per_item_service()],
            ),
        ] {
            let line = self.child_output(&args)?;
            match numbers(&line)?.as_slice() {
                [calls, elapsed] => rows.push(RoundTrips {
                    layout,
                    calls: usize::try_from(*calls)?,
                    elapsed: nanos(*elapsed),
                }),
                _ => return Err(format!("mixed printed {line:?}").into()),
            }
        }
        Ok(rows)
    }

    /// Removes every keyring item the run made.
    pub(crate) fn clean_keyrings(&self) -> Result {
        PerItem::connect(&self.per_item_service(), SessionAlgorithm::default())?.clear()?;
        // Each store's key is an item of its own (`store-key.<key id>`):
        // remove every item of the services the run used.
        let items = keyseal_keys::KeyringItems::new();
        for service in [
            self.keyseal_service(),
            format!("{}-cold-secret-service-plain", self.service),
            format!("{}-cold-secret-service-dh", self.service),
            format!("{}-cli", self.service),
            self.keyring_core_service(),
            format!("{}-native", self.keyring_core_service()),
        ] {
            for name in items.search(&service)? {
                items.delete(&service, &name)?;
            }
        }
        keyseal_testkit::remove_kernel_keys(&format!("{}-cold-kernel", self.service));
        Ok(())
    }
}
