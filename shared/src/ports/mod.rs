//! Ports: the small traits the domain calls (item store, media store, secret sealer, admin directory, key sources).

pub mod item_body;
pub mod keys;
pub mod media;
pub mod secrets;
pub mod store;
