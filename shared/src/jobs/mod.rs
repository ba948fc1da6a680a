//! Scheduled entry points: what EventBridge invokes and every `lambda_runtime` type.

pub mod schedule;
