//! The shared test helpers.

pub use keyseal_testkit::*;
