//! The shared test helpers.

pub(crate) use keyseal_testkit::*;
