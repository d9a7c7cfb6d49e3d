//! One bundle item.

use keyseal_keys::SessionAlgorithm;

use crate::common::{self, Result, name, value};
use crate::keyring::PerItem;
use crate::stats::Summary;

use super::Bench;

/// One size of the bundle layout.
#[derive(Debug)]
pub(crate) struct BundleRow {
    pub(crate) entries: usize,
    pub(crate) bytes: usize,
    pub(crate) set: Option<Summary>,
    pub(crate) get: Option<Summary>,
    /// What the keyring answered when it refused.
    pub(crate) refused: Option<String>,
}

impl Bench {
    pub(crate) fn bundle(&self) -> Result<Vec<BundleRow>> {
        let items = PerItem::connect(
            &format!("{}-bundle", self.service),
            SessionAlgorithm::default(),
        )?;
        let sizes: &[usize] = if self.plan.quick {
            &[1, 10, 100, 1000]
        } else {
            &[1, 10, 100, 1000, 2500, 5000, 10_000]
        };
        let mut rows = Vec::new();
        for &entries in sizes {
            let map: std::collections::BTreeMap<String, String> =
                (0..entries).map(|i| (name(i), value(i, 0))).collect();
            let json = serde_json::to_vec(&map)?;
            let rounds = match (self.plan.quick, entries) {
                (_, 0..=100) => 5,
                (true, _) | (false, 1001..) => 2,
                (false, _) => 3,
            };
            let mut sets = Vec::new();
            let mut gets = Vec::new();
            let mut refused = None;
            for _ in 0..rounds {
                match common::time(|| items.set("bundle", &json)) {
                    Ok(took) => sets.push(took),
                    Err(e) => {
                        refused = Some(e.to_string());
                        break;
                    }
                }
                match common::time(|| {
                    let got = items.get("bundle")?.ok_or("the bundle item is missing")?;
                    if got.len() == json.len() {
                        Ok(())
                    } else {
                        Err("the bundle came back with another size".into())
                    }
                }) {
                    Ok(took) => gets.push(took),
                    Err(e) => {
                        refused = Some(e.to_string());
                        break;
                    }
                }
            }
            let stop = refused.is_some();
            rows.push(BundleRow {
                entries,
                bytes: json.len(),
                set: Summary::of_millis(&sets),
                get: Summary::of_millis(&gets),
                refused,
            });
            if stop {
                break;
            }
        }
        items.clear()?;
        Ok(rows)
    }
}
