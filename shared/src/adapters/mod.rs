//! Adapters: the implementations of the ports (DynamoDB, redb, S3, local files, KMS, Atlassian products).

pub mod admins;
pub mod answer_cache;
pub mod aws;
pub mod forge_keys;
pub mod groups;
pub mod http;
pub mod install_keys;
pub mod media;
pub mod product;
pub mod secrets;
pub mod store;
