//! The migration record (`RESIDENCY`): its kinds, phases and progress, and how it and the install
//! record it changes are read and written in a region's store.

use serde::{Deserialize, Serialize};

use crate::domain::data::Stack;
use crate::domain::regions::Region;
use crate::domain::tenants::Tenant;
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Body, Condition, Due, Item, Write};

/// How long the source copy is kept (read-only, unreachable but for rollback) after a switch.
pub const ROLLBACK_WINDOW_SECS: i64 = 7 * 86_400;
/// `Retry-After` of a write refused during the read-only phase.
pub const READ_ONLY_RETRY_AFTER_SECS: u64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Asked for by a tenant admin.
    Migration,
    /// Back to the region a migration left, within its 7 days.
    Rollback,
    /// Atlassian's realm migration (`dare-migration` hooks).
    Dare,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// A realm migration Atlassian scheduled; nothing copied yet.
    Scheduled,
    Copying,
    ReadOnly,
    /// A realm migration copied and verified, waiting for Atlassian's commit (still read-only).
    Ready,
    Switched,
    /// A realm migration Atlassian rolled back before its commit.
    Cancelled,
    Failed,
}

impl Phase {
    pub fn in_flight(self) -> bool {
        matches!(self, Self::Scheduled | Self::Copying | Self::ReadOnly | Self::Ready)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Items of the source partition at the last pass.
    pub items_total: u64,
    /// Items put into the target over all passes.
    pub items_copied: u64,
    /// Items deleted from the target because the source no longer had them.
    pub items_deleted: u64,
    pub objects_copied: u64,
    pub passes: u32,
}

/// What Atlassian's `schedule` hook said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DarePlan {
    pub location: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
}

/// The stored state machine (`RESIDENCY`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Migration {
    pub id: String,
    pub kind: Kind,
    pub from: String,
    pub to: String,
    pub phase: Phase,
    pub requested_at: String,
    pub progress: Progress,
    /// Unix ms the read-only phase began, and how long it lasted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_since_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_ms: Option<i64>,
    /// Items and SHA-256 verified equal on both sides before the switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<Verified>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switched_at: Option<String>,
    /// Unix seconds until which a rollback is possible (the source copy is kept until then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_until_secs: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dare: Option<DarePlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verified {
    pub items: u64,
    pub sha256: String,
}

/// `GET /api/residency`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResidencyView {
    pub region: String,
    pub regions: Vec<String>,
    pub migration: Option<Migration>,
    /// RFC 3339 end of the rollback window, while a rollback is possible.
    pub rollback_until: Option<String>,
}

/// 503 `tenant_read_only` for a write during the read-only phase.
pub fn read_only_error() -> Error {
    Error::ReadOnly { retry_after_secs: READ_ONLY_RETRY_AFTER_SECS }
}

pub(super) async fn load_in(region: &Region, tenant: &TenantKey, now: i64) -> Result<Option<(Migration, u64)>> {
    let Some(item) = region.store.get(tenant, keys::RESIDENCY, now).await? else { return Ok(None) };
    let migration = item.body.decode().map_err(|e| Error::internal(format!("residency: {e}")))?;
    Ok(Some((migration, item.version)))
}

pub(super) async fn load_tenant_in(region: &Region, tenant: &TenantKey, now: i64) -> Result<Option<(Tenant, Item)>> {
    let Some(item) = region.store.get(tenant, keys::TENANT_RECORD, now).await? else { return Ok(None) };
    let record = item.body.decode().map_err(|e| Error::internal(format!("tenant: {e}")))?;
    Ok(Some((record, item)))
}

pub(super) fn residency_item(state: &Stack, tenant: &TenantKey, migration: &Migration, version: u64) -> Result<Item> {
    Ok(Item {
        tenant: tenant.clone(),
        sk: keys::RESIDENCY.into(),
        version,
        updated_at: state.clock.now_millis(),
        updated_by: None,
        due: migration.phase.in_flight().then(|| Due { kind: keys::RESIDENCY_DUE_KIND.into(), at: 0 }),
        expires_at: None,
        body: Body::of(migration)?,
    })
}

pub(super) fn residency_write(
    state: &Stack,
    tenant: &TenantKey,
    migration: &Migration,
    read_version: Option<u64>,
) -> Result<Write> {
    let (version, condition) = match read_version {
        Some(v) => (v + 1, Condition::Version(v)),
        None => (1, Condition::Absent),
    };
    Ok(Write::Put { item: residency_item(state, tenant, migration, version)?, condition })
}

pub(super) fn tenant_item(
    state: &Stack,
    tenant: &TenantKey,
    record: &Tenant,
    version: u64,
    due: Option<Due>,
) -> Result<Item> {
    Ok(Item {
        tenant: tenant.clone(),
        sk: keys::TENANT_RECORD.into(),
        version,
        updated_at: state.clock.now_millis(),
        updated_by: None,
        due,
        expires_at: None,
        body: Body::of(&record)?,
    })
}
