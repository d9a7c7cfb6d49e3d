#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod errors;
mod schema;
mod store;
mod tls;
mod url;

pub use crate::schema::{SCHEMA_SQL, schema_sql};
pub use crate::store::{DEFAULT_CONNECT_TIMEOUT, PostgresStore};
pub use crate::url::{DEFAULT_STORE, DEFAULT_TABLE, InvalidUrl, has_password, is_postgres_url};
