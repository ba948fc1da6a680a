//! A tenant's personal-data reporting ctx (`PRIVACY#REPORT`): where the current cycle stands
//! (the last reported user's key), the cycle Atlassian asked for, and when the next report is
//! due: the item sits on the due index (kind [`keys::PRIVACY_REPORT_DUE_KIND`]) at that time, so the job finds due
//! tenants with one index query and never scans.

use serde::{Deserialize, Serialize};

use crate::domain::data::Data;
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Body, Condition, Due, Item, Write};

/// Atlassian's default reporting cycle when no `Cycle-Period` was received yet.
pub const DEFAULT_CYCLE_SECS: i64 = 7 * 86_400;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportState {
    /// Sort key of the last user reported in the running cycle; `None` between cycles.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Unix seconds the running cycle began; `None` between cycles.
    #[serde(default)]
    pub cycle_started_at: Option<i64>,
    /// The last `Cycle-Period` Atlassian sent (seconds).
    pub cycle_period_secs: i64,
    /// Unix seconds; also the item's due-index time.
    pub next_due_at: i64,
    /// Failed attempts in a row (they back off).
    #[serde(default)]
    pub failures: u32,
    /// What the last attempt did, for operators (no accountIds).
    #[serde(default)]
    pub last_outcome: Option<String>,
    #[serde(default)]
    pub last_completed_at: Option<i64>,
    /// Whether the content written before the editor pointers existed has been indexed
    /// (`privacy::editors::index_existing`); done once, before the tenant's first report.
    #[serde(default)]
    pub editors_indexed: bool,
}

impl ReportState {
    fn new(next_due_at: i64) -> Self {
        Self {
            cursor: None,
            cycle_started_at: None,
            cycle_period_secs: DEFAULT_CYCLE_SECS,
            next_due_at,
            failures: 0,
            last_outcome: None,
            last_completed_at: None,
            // Content may predate enrolment (and the pointers); indexing it once is idempotent.
            editors_indexed: false,
        }
    }
}

pub async fn load(ctx: &Data, tenant: &TenantKey) -> Result<Option<(ReportState, u64)>> {
    let Some(item) = ctx.store.get(tenant, keys::PRIVACY_REPORT, ctx.clock.now_secs()).await? else {
        return Ok(None);
    };
    let report = item.body.decode().map_err(|e| Error::internal(format!("privacy state: {e}")))?;
    Ok(Some((report, item.version)))
}

/// The write that stores `report` over `version` (`None`: create), due at its `next_due_at`.
pub fn save(tenant: &TenantKey, report: &ReportState, version: Option<u64>, now_millis: i64) -> Result<Write> {
    let item = Item {
        tenant: tenant.clone(),
        sk: keys::PRIVACY_REPORT.into(),
        version: version.map_or(1, |v| v + 1),
        updated_at: now_millis,
        updated_by: None,
        due: Some(Due { kind: keys::PRIVACY_REPORT_DUE_KIND.into(), at: report.next_due_at }),
        expires_at: None,
        body: Body::of(&report)?,
    };
    Ok(Write::Put { item, condition: version.map_or(Condition::Absent, Condition::Version) })
}

/// Enrols a tenant when its first user record is written: its first report is due at once, so a
/// broken reporting path shows within the hour rather than a cycle later. `None` if enrolled.
pub async fn enrolment(ctx: &Data, tenant: &TenantKey, now_millis: i64) -> Result<Option<Write>> {
    if ctx.store.get(tenant, keys::PRIVACY_REPORT, now_millis.div_euclid(1000)).await?.is_some() {
        return Ok(None);
    }
    save(tenant, &ReportState::new(now_millis.div_euclid(1000)), None, now_millis).map(Some)
}
