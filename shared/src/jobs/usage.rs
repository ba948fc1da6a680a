//! The daily usage snapshot's scheduled entry point.

use super::schedule::ScheduledEvent;
use crate::domain::data::Data;
use crate::domain::usage::{SnapshotReport, day_of, snapshot};
use crate::kernel::error::Result;

/// The Lambda entry point: the snapshot of the day the schedule fired for (its `time`, UTC), so a
/// retried or late invocation still files under the right day.
pub async fn on_schedule(ctx: &Data, event: ScheduledEvent) -> Result<SnapshotReport> {
    tracing::info!(event_id = event.id.as_deref().unwrap_or(""), scheduled = %event.time, "usage snapshot run");
    let report = snapshot(ctx, day_of(event.time.timestamp())?).await?;
    tracing::info!(?report, "usage snapshot done");
    Ok(report)
}
