//! Canopy's integration tests, one module per concern, in one binary: the app through its
//! routers on both store adapters (and both media adapters), the scheduled jobs, the deployment's
//! promises, and the faults and races. What they share is the `support` library (`../support`).
//! The adapter contracts are binaries of their own (`store_contract`, `media_contract`).
//!
//! Filter by concern with the module path, e.g. `cargo nextest run -p canopy-tests --test
//! integration content::`.

mod access;
mod admins;
mod concurrency;
mod connect_vectors;
mod console;
mod content;
mod cross_tenant;
mod data_statement;
mod deploy;
mod events;
mod faults;
mod feedback;
mod fence_contention;
mod forge;
mod forge_manifest;
mod lifecycle;
mod logs;
mod media;
mod membership;
mod openapi;
mod privacy;
mod product_events;
mod repository;
mod residency;
mod restore;
mod retention;
mod secrets;
mod security_probes;
mod template;
mod tenant_cache;
mod usage;
