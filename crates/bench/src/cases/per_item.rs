//! One keyring item per secret.

use std::hint::black_box;

use keyseal_keys::{Backend, SessionAlgorithm};

use crate::children::{self};
use crate::common::{self, Result, contender, interleave, name, seed, value};
use crate::keyring::PerItem;

use super::{Bench, Compared, compare};

/// keyseal beside one Secret Service item per secret.
#[derive(Debug)]
pub(crate) struct PerItemResult {
    pub(crate) set: Compared,
    pub(crate) get: Compared,
    /// A new process reading 20 secrets, each layout with each Secret
    /// Service session algorithm (keyseal's default first).
    pub(crate) read20: Vec<Read20Row>,
}

/// A new process reading 20 secrets, both layouts with one session
/// algorithm.
#[derive(Debug)]
pub(crate) struct Read20Row {
    pub(crate) algorithm: SessionAlgorithm,
    pub(crate) compared: Compared,
}

impl Bench {
    pub(crate) fn per_item(&self, entries: usize) -> Result<PerItemResult> {
        common::fresh_dir(&self.path("per-item"))?;
        let store_path = self.path("per-item/store.sealed");
        let items = PerItem::connect(&self.per_item_service(), SessionAlgorithm::default())?;
        for i in 0..entries {
            items.set(&name(i), value(i, 0).as_bytes())?;
        }
        let keyseal_service = self.keyseal_service();
        let (store, _) = children::keyring_store(
            (Backend::SecretService, SessionAlgorithm::default()),
            &keyseal_service,
            &store_path,
        );
        seed(&store, entries)?;

        let which = |round: u64| name(usize::try_from(round).unwrap_or(0) % entries);
        let [set, item_set] = interleave(
            2,
            self.plan.rounds(40),
            [
                contender("keyseal set", |r| {
                    Ok(store.set(&which(r), &value(0, r + 1))?)
                }),
                contender("per-item set", |r| {
                    items.set(&which(r), value(0, r + 1).as_bytes())
                }),
            ],
        )?;
        let [get, item_get] = interleave(
            5,
            self.plan.rounds(200),
            [
                contender("keyseal get", |r| {
                    let v: Option<String> = store.get(&which(r))?;
                    black_box(v.ok_or("missing")?);
                    Ok(())
                }),
                contender("per-item get", |r| {
                    black_box(items.get(&which(r))?.ok_or("missing")?);
                    Ok(())
                }),
            ],
        )?;
        let per_item_service = self.per_item_service();
        let store_arg = store_path.display().to_string();
        let mut read20 = Vec::new();
        for algorithm in SessionAlgorithm::ALL {
            let algorithm_arg = algorithm.to_string();
            let algorithm_arg = algorithm_arg.as_str();
            let [keyseal_reads, per_item_reads] = interleave(
                1,
                if self.plan.quick { 5 } else { 20 },
                [
                    contender("keyseal process reading 20", |_| {
                        self.child_output(&[
                            "read20",
                            "keyseal",
                            algorithm_arg,
                            &keyseal_service,
                            &store_arg,
                        ])?;
                        Ok(())
                    }),
                    contender("per-item process reading 20", |_| {
                        self.child_output(&[
                            "read20",
                            "per-item",
                            algorithm_arg,
                            &per_item_service,
                        ])?;
                        Ok(())
                    }),
                ],
            )?;
            read20.push(Read20Row {
                algorithm,
                compared: compare(&keyseal_reads, &per_item_reads)?,
            });
        }
        Ok(PerItemResult {
            set: compare(&set, &item_set)?,
            get: compare(&get, &item_get)?,
            read20,
        })
    }
}
