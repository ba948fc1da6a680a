//! Content: what customers store for their sites, as typed models (`model`) over the item
//! store, with versions, the trash, exact counters and the one-query site config.

pub mod config_cache;
pub mod counters;
pub mod library;
pub mod model;
pub mod pages;
pub mod portability;
pub mod product_events;
pub mod site_config;
pub mod site_items;
pub mod sites;
pub mod trash;
