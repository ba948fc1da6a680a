//! The retention sweep's scheduled entry point (hourly): the site-liveness pass, then the sweep,
//! within the invocation's deadline.

use std::time::Duration;

use lambda_runtime::LambdaEvent;

use super::schedule::ScheduledEvent;
use crate::domain::data::Stack;
use crate::domain::retention::{Budget, SweepReport, liveness, sweep};
use crate::kernel::error::{Error, Result};

/// Time kept back from Lambda's deadline to record progress and answer.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(15);

/// The scheduled Lambda's handler: sweeps until the invocation's deadline, less a margin; what is
/// left is due again for the next run.
pub async fn on_schedule(
    state: &Stack,
    probe: &dyn liveness::SiteProbe,
    event: LambdaEvent<ScheduledEvent>,
) -> Result<SweepReport> {
    let remaining = event.context.deadline().duration_since(std::time::SystemTime::now()).unwrap_or_default();
    let budget = Budget::new(remaining.saturating_sub(DEADLINE_MARGIN));
    let checked = liveness::check_sites(state, probe, state.config.liveness_grace_days, &budget).await?;
    tracing::info!(
        checked = checked.checked,
        denied = checked.denied,
        uninstalled = checked.uninstalled,
        errors = checked.errors,
        "site liveness"
    );
    let report = sweep(state, &budget, &mut |_| {}).await?;
    tracing::info!(
        scheduled_for = %event.payload.time,
        tenants = report.tenants_purged,
        sources = report.sources_purged,
        items = report.items_deleted,
        objects = report.objects_deleted,
        trash = report.trash_purged,
        pending_uploads = report.pending_uploads_removed,
        expired = report.expired_records_removed,
        more = report.more,
        "retention sweep"
    );
    // The sweep ran whatever the checks met; a failed check still fails the invocation, so the
    // function's error alarm shows it.
    if checked.errors > 0 {
        return Err(Error::internal(format!("{} site liveness checks failed", checked.errors)));
    }
    Ok(report)
}
