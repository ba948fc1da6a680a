//! The retention function's entry point: on EventBridge's hourly schedule, the site-liveness
//! pass and the sweep, side by side; on an operator's request (`{"deleteTenantNow": {"clientKey": "…"}}`,
//! sent with `aws lambda invoke`, so IAM decides who may), one tenant's deletion now. Both within
//! the invocation's deadline.

use std::time::Duration;

use lambda_runtime::LambdaEvent;
use serde::Deserialize;
use serde_json::Value;

use super::schedule::ScheduledEvent;
use crate::domain::data::Stack;
use crate::domain::retention::{Budget, SweepReport, liveness, on_request, sweep};
use crate::kernel::error::{Error, Result};

/// Time kept back from Lambda's deadline to record progress and answer.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(15);

/// An operator's request to delete one tenant now (`events/retention/delete-tenant-now.json`).
#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteTenantNow {
    pub client_key: String,
}

/// What the retention function is invoked with.
#[derive(Debug)]
pub enum RetentionEvent {
    Scheduled(Box<ScheduledEvent>),
    DeleteTenantNow(DeleteTenantNow),
}

/// The operator's field decides: a payload naming `deleteTenantNow` is that request and nothing
/// else (a malformed one is refused, never taken for a schedule); anything else must be
/// EventBridge's scheduled event.
impl TryFrom<Value> for RetentionEvent {
    type Error = Error;

    fn try_from(payload: Value) -> Result<Self> {
        let malformed = |what: &str, e: serde_json::Error| Error::invalid("invalid_event", format!("{what}: {e}"));
        match payload {
            Value::Object(mut fields) if fields.contains_key("deleteTenantNow") => {
                if fields.len() != 1 {
                    return Err(Error::invalid("invalid_event", "deleteTenantNow comes alone in the payload."));
                }
                let request = fields.remove("deleteTenantNow").unwrap_or_default();
                serde_json::from_value(request)
                    .map(Self::DeleteTenantNow)
                    .map_err(|e| malformed("deleteTenantNow takes {\"clientKey\": \"…\"}", e))
            }
            other => serde_json::from_value(other)
                .map(|event| Self::Scheduled(Box::new(event)))
                .map_err(|e| malformed("not a scheduled event", e)),
        }
    }
}

/// The retention Lambda's handler for either kind of event.
pub async fn on_event(state: &Stack, probe: &dyn liveness::SiteProbe, event: LambdaEvent<Value>) -> Result<Value> {
    let budget = invocation_budget(&event.context);
    match RetentionEvent::try_from(event.payload)? {
        RetentionEvent::Scheduled(scheduled) => {
            let report = on_schedule(state, probe, &scheduled, &budget).await?;
            serde_json::to_value(report).map_err(Error::internal)
        }
        RetentionEvent::DeleteTenantNow(request) => {
            let tenant = on_request::parse_client_key(&request.client_key)?;
            let deletion = on_request::delete_now(state, &tenant, &budget).await?;
            tracing::info!(tenant_hash = %&crate::kernel::keys::tenant_hash(&tenant)[..16], ?deletion, "tenant deleted on request");
            serde_json::to_value(deletion).map_err(Error::internal)
        }
    }
}

fn invocation_budget(context: &lambda_runtime::Context) -> Budget {
    let remaining = context.deadline().duration_since(std::time::SystemTime::now()).unwrap_or_default();
    Budget::new(remaining.saturating_sub(DEADLINE_MARGIN))
}

/// The hourly run: sweeps until the budget ends; what is left is due again for the next run.
pub async fn on_schedule(
    state: &Stack,
    probe: &dyn liveness::SiteProbe,
    event: &ScheduledEvent,
    budget: &Budget,
) -> Result<SweepReport> {
    // The liveness pass probes installed tenants, the sweep works on what is due (tenants
    // uninstalled 30 days ago, trash, uploads): they never act on the same item, so they run
    // together and a cold start waits for one round of queries, not two in a row. A tenant the
    // pass uninstalls now is due for its purge in 30 days, never in this sweep.
    let mut no_progress = |_: &SweepReport| {};
    let (checked, report) = tokio::join!(
        liveness::check_sites(state, probe, state.config.liveness_grace_days, budget),
        sweep(state, budget, &mut no_progress)
    );
    let (checked, report) = (checked?, report?);
    tracing::info!(
        checked = checked.checked,
        denied = checked.denied,
        uninstalled = checked.uninstalled,
        errors = checked.errors,
        "site liveness"
    );
    tracing::info!(
        scheduled_for = %event.time,
        tenants = report.tenants_purged,
        sources = report.sources_purged,
        items = report.items_deleted,
        objects = report.objects_deleted,
        trash = report.trash_purged,
        pending_uploads = report.pending_uploads_removed,
        upload_objects = report.upload_objects_swept,
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parsed(payload: Value) -> Result<RetentionEvent> {
        RetentionEvent::try_from(payload)
    }

    #[test]
    fn the_samples_are_a_schedule_and_a_deletion_request() {
        let scheduled: Value = serde_json::from_str(include_str!("../../../events/retention/scheduled.json")).unwrap();
        assert!(matches!(parsed(scheduled), Ok(RetentionEvent::Scheduled(_))));
        let request: Value =
            serde_json::from_str(include_str!("../../../events/retention/delete-tenant-now.json")).unwrap();
        let Ok(RetentionEvent::DeleteTenantNow(request)) = parsed(request) else { panic!("a deletion request") };
        assert_eq!(request.client_key, "events-sample-tenant");
    }

    #[test]
    fn a_malformed_deletion_request_is_refused_never_taken_for_a_schedule() {
        for payload in [
            json!({"deleteTenantNow": {}}),
            json!({"deleteTenantNow": {"clientkey": "k"}}),
            json!({"deleteTenantNow": {"clientKey": "k", "force": true}}),
            json!({"deleteTenantNow": "k"}),
            json!({"deleteTenantNow": {"clientKey": "k"}, "time": "2026-11-21T01:00:00Z"}),
        ] {
            let error = parsed(payload.clone()).expect_err("refused");
            assert_eq!(error.code(), "invalid_event", "{payload}");
        }
        assert_eq!(parsed(json!({"hello": 1})).expect_err("not a schedule").code(), "invalid_event");
    }
}
