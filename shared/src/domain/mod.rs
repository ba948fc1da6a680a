//! The domain: tenants, content, media, feedback, users, privacy, usage, residency and retention, over the ports only.

pub mod access;
pub mod connect;
pub mod content;
pub mod data;
pub mod feedback;
pub mod forge;
pub mod lease;
pub mod media;
pub mod privacy;
pub mod rate_limit;
pub mod records;
pub mod regions;
pub mod residency;
pub mod retention;
pub mod tenants;
pub mod usage;
pub mod users;
