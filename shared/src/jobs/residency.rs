//! The residency worker's scheduled entry point: drives every migration in flight.

use super::schedule::ScheduledEvent;
use crate::domain::data::Stack;
use crate::domain::residency::resume_all;
use crate::kernel::error::Result;

/// The scheduled worker's handler (every minute, one instance at a time): on Lambda a migration
/// started by an HTTP request is not driven after the response, so this drives every migration
/// in flight to its next resting point.
pub async fn on_schedule(state: &Stack, event: ScheduledEvent) -> Result<u64> {
    let driven = resume_all(state).await?;
    tracing::info!(scheduled_for = %event.time, driven, "residency worker");
    Ok(driven)
}
