//! Canopy's shared library: domain, ports, adapters, HTTP routers and jobs.
//!
//! Dependencies point one way: `http` → domain (`tenants`) → ports (`store`, `connect::keys`)
//! ← adapters. Only the binaries choose adapters and wire them together through [`state`].

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
