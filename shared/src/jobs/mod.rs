//! Scheduled entry points: what EventBridge invokes and every `lambda_runtime` type.

pub mod privacy;
pub mod residency;
pub mod retention;
pub mod schedule;
pub mod usage;
