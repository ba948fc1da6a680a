//! Sites deleted without an uninstall: Atlassian sends no event then (CONNECT.md §7), so the
//! sweep asks each installed tenant's site, at most once a day, whether the app still has
//! access. After `CANOPY_LIVENESS_GRACE_DAYS` of answers that deny it (401, 403, 404, 410), the
//! tenant is uninstalled like an uninstall event would, and purged 30 days later. Outages (5xx,
//! timeouts) prove nothing either way and are not counted.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::Budget;
use crate::domain::data::Stack;
use crate::domain::tenants::{self, Tenant, TenantState};
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::keys::REGISTRY_DUE_KIND;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Body, Condition, Item, PageRequest, Write};

/// A site is asked at most this often.
pub const CHECK_INTERVAL_SECS: i64 = 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Granted,
    Denied,
}

/// Asks a tenant's site whether the app can still reach it.
#[async_trait]
pub trait SiteProbe: Send + Sync {
    /// `Err` when the answer proves nothing (outage, timeout).
    async fn probe(&self, tenant: &Tenant) -> Result<Access>;
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Liveness {
    checked_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    denied_since: Option<i64>,
}

#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LivenessReport {
    pub checked: u64,
    pub denied: u64,
    pub uninstalled: u64,
    /// Tenants whose check failed (a record that does not load, a store error): logged and
    /// skipped, so one tenant never stops the checks of the others or the sweep after them.
    pub errors: u64,
    pub more: bool,
}

/// Probes every installed tenant not checked in the last day.
pub async fn check_sites(
    ctx: &Stack,
    probe: &dyn SiteProbe,
    grace_days: i64,
    budget: &Budget,
) -> Result<LivenessReport> {
    let mut report = LivenessReport::default();
    let now = ctx.clock.now_secs();
    let mut after = None;
    loop {
        let page = ctx.store.due(REGISTRY_DUE_KIND, now, PageRequest { limit: 1000, after }).await?;
        for entry in &page.items {
            if budget.exhausted() {
                report.more = true;
                return Ok(report);
            }
            if let Err(error) = check_one(ctx, probe, &entry.tenant, grace_days, &mut report).await {
                tracing::error!(tenant = %entry.tenant, %error, "site liveness check failed");
                report.errors += 1;
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(report),
        }
    }
}

async fn check_one(
    ctx: &Stack,
    probe: &dyn SiteProbe,
    key: &TenantKey,
    grace_days: i64,
    report: &mut LivenessReport,
) -> Result<()> {
    let now = ctx.clock.now_secs();
    let stored = ctx.store.get(key, keys::LIVENESS, now).await?;
    let (mut liveness, version) = match &stored {
        Some(item) => (item.body.decode::<Liveness>().map_err(Error::internal)?, Some(item.version)),
        None => (Liveness::default(), None),
    };
    if stored.is_some() && now - liveness.checked_at < CHECK_INTERVAL_SECS {
        return Ok(());
    }
    let Some((tenant, _)) = tenants::load(ctx, key).await? else { return Ok(()) };
    if tenant.state == TenantState::Uninstalled || !tenant.has_connect_install() {
        return Ok(());
    }
    let access = match probe.probe(&tenant).await {
        Ok(access) => access,
        Err(error) => {
            tracing::warn!(tenant = %key, %error, "liveness probe inconclusive");
            return Ok(());
        }
    };
    report.checked += 1;
    liveness.checked_at = now;
    match access {
        Access::Granted => liveness.denied_since = None,
        Access::Denied => {
            report.denied += 1;
            let since = *liveness.denied_since.get_or_insert(now);
            if now - since >= grace_days * 86_400 {
                tenants::uninstall(ctx, key).await?;
                tracing::info!(tenant = %key, days = grace_days, "site unreachable: scheduled for purge like an uninstall");
                report.uninstalled += 1;
            }
        }
    }
    let item = Item {
        tenant: key.clone(),
        sk: keys::LIVENESS.into(),
        version: version.map_or(1, |v| v + 1),
        updated_at: ctx.clock.now_millis(),
        updated_by: None,
        due: None,
        expires_at: None,
        body: Body::of(&liveness)?,
    };
    let condition = version.map_or(Condition::Absent, Condition::Version);
    match ctx.store.transact(vec![Write::Put { item, condition }], now).await {
        Ok(()) | Err(Error::WriteConflict) => Ok(()),
        Err(other) => Err(other),
    }
}
