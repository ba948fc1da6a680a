//! The leaf kernel: errors, time, ids, keys, RS256 signing, the tenant key, configuration, the trusted product URLs, telemetry. Imports nothing else of the crate.

pub mod clock;
pub mod config;
pub mod error;
pub mod ids;
pub mod jwt;
pub mod keys;
pub mod private_fs;
pub mod product_url;
pub mod telemetry;
pub mod tenant_key;
