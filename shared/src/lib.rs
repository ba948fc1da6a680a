//! Canopy's shared library: domain, ports, adapters, HTTP routers and jobs.
//!
//! Dependencies point one way: `http` → domain (`tenants`) → ports (`store`, `connect::keys`)
//! ← adapters. Only the binaries choose adapters and wire them together through [`state`].

pub mod admins;
pub mod aws;
pub mod bootstrap;
pub mod clock;
pub mod config;
pub mod connect;
pub mod content;
pub mod error;
pub mod feedback;
pub mod forge;
pub mod http;
pub mod ids;
pub mod keys;
pub mod media;
pub mod privacy;
pub mod rate_limit;
pub mod regions;
pub mod residency;
pub mod restore;
pub mod retention;
pub mod schedule;
pub mod secrets;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tenant_key;
pub mod tenants;
pub mod usage;
pub mod users;

pub use error::{Error, Result};
pub use tenant_key::TenantKey;
