//! Media store adapters: S3 and local files.

pub mod local;
pub mod s3;
