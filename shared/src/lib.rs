//! Canopy's shared library, in layers (docs/ARCHITECTURE.md; `scripts/check-layers` keeps them):
//!
//! - `kernel`: errors, clock, ids, keys, the tenant key, configuration; imports nothing else.
//! - `ports`: the traits the domain calls (item store, media store, secrets, key sources).
//! - `domain`: the use cases, over the ports and the contexts `domain::data::{Data, Stack}`.
//! - `adapters`: the ports' implementations (DynamoDB, redb, S3, files, KMS, Atlassian).
//! - `jobs` and `http`: the entry points (scheduled events, routers).
//! - `state` and `bootstrap`: the only wiring; only the binaries choose adapters.

pub mod adapters;
pub mod bootstrap;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod kernel;
pub mod ports;
pub mod state;

pub use crate::kernel::error::{Error, Result};
pub use crate::kernel::tenant_key::TenantKey;
