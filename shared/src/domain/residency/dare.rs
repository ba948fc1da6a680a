//! Atlassian's realm-migration hooks (CONNECT.md §5) on the residency engine: `schedule` records
//! the move, `start` copies (non-destructive), `status` reports readiness, `commit` switches,
//! `rollback` discards the copy and thaws the source.

use serde::{Deserialize, Serialize};

use super::engine::{cancel, not_scheduled, request, spawn_drive, start_scheduled, switch};
use super::model::{DarePlan, Kind, Migration, Phase, Progress};
use super::routing::view;
use crate::domain::data::Stack;
use crate::kernel::error::{Error, Result};
use crate::kernel::tenant_key::TenantKey;

/// The `schedule` body (seen in Avisi's implementation: `location`, `startTime`, `endTime`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleBody {
    pub location: String,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub end_time: Option<String>,
}

/// `status`: `status` is what the migration service reads (`ready-to-commit` when it may commit;
/// Atlassian documents no enum, see CONNECT.md §5), the rest is for people.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DareStatus {
    pub status: &'static str,
    pub phase: Option<Phase>,
    pub progress: Option<Progress>,
}

/// The Canopy region of an Atlassian realm (`EU` → `eu`), if Canopy runs there.
pub fn region_of_realm(state: &Stack, realm: &str) -> Result<String> {
    let name = realm.trim().to_ascii_lowercase();
    if state.regions.get(&name).is_some() {
        return Ok(name);
    }
    Err(Error::invalid(
        "unsupported_realm",
        format!("Canopy has no deployment in realm {realm:?}; regions: {}.", state.regions.names().join(", ")),
    ))
}

pub async fn schedule(state: &Stack, tenant: &TenantKey, body: ScheduleBody) -> Result<Migration> {
    let to = region_of_realm(state, &body.location)?;
    let plan = DarePlan { location: body.location, start_time: body.start_time, end_time: body.end_time };
    request(state, tenant, &to, Kind::Dare, Some(plan)).await
}

pub async fn start(state: &Stack, tenant: &TenantKey) -> Result<Migration> {
    let m = start_scheduled(state, tenant).await?;
    spawn_drive(state, tenant);
    Ok(m)
}

pub async fn status(state: &Stack, tenant: &TenantKey) -> Result<DareStatus> {
    let view = view(state, tenant).await?;
    let Some(m) = view.migration.filter(|m| m.kind == Kind::Dare) else {
        return Ok(DareStatus { status: "not-scheduled", phase: None, progress: None });
    };
    let status = match m.phase {
        Phase::Scheduled => "scheduled",
        Phase::Copying | Phase::ReadOnly => "in-progress",
        Phase::Ready => "ready-to-commit",
        Phase::Switched => "committed",
        Phase::Cancelled => "rolled-back",
        Phase::Failed => "failed",
    };
    Ok(DareStatus { status, phase: Some(m.phase), progress: Some(m.progress) })
}

pub async fn commit(state: &Stack, tenant: &TenantKey) -> Result<Migration> {
    switch(state, tenant).await
}

pub async fn rollback(state: &Stack, tenant: &TenantKey) -> Result<Migration> {
    let view = view(state, tenant).await?;
    match view.migration {
        Some(m) if m.kind == Kind::Dare && m.phase == Phase::Switched => Err(Error::conflict(
            "already_committed",
            "The realm migration was committed; the tenant now lives in the new region.",
        )),
        Some(m) if m.kind == Kind::Dare => {
            cancel(state, tenant, Phase::Cancelled, "Atlassian rolled the realm migration back.").await
        }
        _ => Err(not_scheduled()),
    }
}
