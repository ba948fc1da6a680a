//! Personal-data reporting (CONNECT.md §7): a scheduled job reports the accountIds Canopy stores
//! (`USER#…` records) to each tenant's report-accounts API and acts on the answer.
//!
//! - Which tenants: those whose `PRIVACY#REPORT` state is due on the due index ([`crate::domain::privacy::state`]); a
//!   tenant is enrolled when its first user record is written, and each completed cycle is due
//!   again one `Cycle-Period` later (7 days until Atlassian says otherwise).
//! - How: the tenant's users in key order, [`MAX_ACCOUNTS_PER_REPORT`] per call; the cursor (the
//!   last reported key) is saved after every call, so a run that stops anywhere resumes there and
//!   a repeated batch is harmless (erasure is idempotent).
//! - `closed`: everything Canopy holds for the account in that tenant goes: the contact on
//!   feedback (live and trashed) first, then the account as last editor or deleter of content
//!   ([`crate::domain::privacy::editors`], through its pointers; content written before the
//!   pointers existed is indexed once, before the tenant's first report), the user record last, so a partial erasure is reported and
//!   finished again. Other tenants holding the same account report it in their own cycle and erase
//!   it then (within one cycle); there is deliberately no cross-tenant index of accountIds.
//! - `updated`: Canopy caches no profile data, so there is nothing to refresh; it is counted.
//! - `429`: the tenant stops and is due again after `Retry-After`; 5xx, 4xx, garbage or an
//!   unreachable site: due again after a backoff (15 minutes doubling to a day). Nothing is erased
//!   on any answer but a well-formed 200.
//! - Bounds per run ([`RunBounds`]): [`MAX_REPORTS_PER_RUN`] calls overall and
//!   [`MAX_REPORTS_PER_TENANT_RUN`] per tenant (so one large tenant cannot starve the rest); a
//!   tenant cut short stays due and resumes at its cursor.

use std::collections::HashSet;

use serde::Serialize;

use crate::adapters::product::report_accounts::{Answer, ReportedAccount};
pub use crate::adapters::product::report_accounts::{MAX_ACCOUNTS_PER_REPORT, ReportAccountsClient};
use crate::domain::privacy::erase_account;
use crate::domain::privacy::state::{self, ReportState};
use crate::domain::users;

use crate::domain::tenants::{self, TenantState};
use crate::jobs::schedule::ScheduledEvent;
use crate::kernel::clock::rfc3339;
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::PageRequest;
use crate::state::AppState;

/// Report calls per run: at ~0.2 s each this stays well inside the function's timeout.
pub const MAX_REPORTS_PER_RUN: u32 = 500;
/// Report calls per tenant per run (4 500 accounts).
pub const MAX_REPORTS_PER_TENANT_RUN: u32 = 50;
/// Due tenants read per index query.
const DUE_PAGE: u32 = 100;
/// Backoff after failed attempts: 15 minutes, doubling, at most a day.
pub const FAILURE_RETRY_BASE_SECS: i64 = 900;
pub const MAX_FAILURE_RETRY_SECS: i64 = 86_400;

/// How much one run may do (defaults: [`MAX_REPORTS_PER_RUN`], [`MAX_REPORTS_PER_TENANT_RUN`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunBounds {
    pub reports_per_run: u32,
    pub reports_per_tenant_run: u32,
}

impl Default for RunBounds {
    fn default() -> Self {
        Self { reports_per_run: MAX_REPORTS_PER_RUN, reports_per_tenant_run: MAX_REPORTS_PER_TENANT_RUN }
    }
}

/// The job and the clients it runs with, built once per process.
#[derive(Clone)]
pub struct PrivacyJob {
    pub state: AppState,
    pub reporter: ReportAccountsClient,
    pub bounds: RunBounds,
}

impl PrivacyJob {
    pub fn new(state: AppState, http: reqwest::Client) -> Self {
        let reporter =
            ReportAccountsClient::new(state.config.app_key.clone(), state.config.product_hosts.clone(), http);
        Self { state, reporter, bounds: RunBounds::default() }
    }
}

/// What a run did, in counts (logged, printed by the CLI, returned by the Lambda).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    pub tenants_due: u32,
    pub completed: u32,
    /// Cut short by a run bound; due again at once.
    pub paused: u32,
    pub rate_limited: u32,
    pub failed: u32,
    /// Stale index entries, uninstalled tenants, or a tenant another run was handling.
    pub skipped: u32,
    /// Tenants that met a store or internal error (the run goes on with the others).
    pub errors: u32,
    pub reports_sent: u32,
    pub accounts_reported: u32,
    pub closed: u32,
    pub updated: u32,
    pub users_erased: u32,
    pub contacts_erased: u32,
    /// Items that named a closed account as last editor or deleter.
    pub editors_forgotten: u32,
}

enum Outcome {
    Completed,
    Paused,
    RateLimited,
    Failed,
    Skipped,
}

/// The Lambda entry point: one run per scheduled event. A run in which some tenant met an error
/// fails the invocation (EventBridge retries, then the dead-letter queue keeps it).
pub async fn on_schedule(job: &PrivacyJob, event: ScheduledEvent) -> Result<RunReport> {
    tracing::info!(event_id = event.id.as_deref().unwrap_or(""), scheduled = %event.time, "privacy report run");
    let report = run(job).await?;
    if report.errors > 0 {
        return Err(Error::internal(format!("{} tenants failed with errors: {report:?}", report.errors)));
    }
    Ok(report)
}

/// One run over every tenant due now.
pub async fn run(job: &PrivacyJob) -> Result<RunReport> {
    let now = job.state.clock.now_secs();
    let mut report = RunReport::default();
    let mut seen = HashSet::new();
    let mut after = None;
    loop {
        let page = job
            .state
            .store
            .due(crate::kernel::keys::PRIVACY_REPORT_DUE_KIND, now, PageRequest { limit: DUE_PAGE, after })
            .await?;
        for entry in page.items {
            if entry.sk != keys::PRIVACY_REPORT || !seen.insert(entry.tenant.clone()) {
                continue;
            }
            if report.reports_sent >= job.bounds.reports_per_run {
                tracing::info!("privacy report run bound reached; the rest stays due");
                return Ok(finish(report));
            }
            report.tenants_due += 1;
            match report_tenant(job, &entry.tenant, now, &mut report).await {
                Ok(Outcome::Completed) => report.completed += 1,
                Ok(Outcome::Paused) => report.paused += 1,
                Ok(Outcome::RateLimited) => report.rate_limited += 1,
                Ok(Outcome::Failed) => report.failed += 1,
                Ok(Outcome::Skipped) | Err(Error::WriteConflict) => report.skipped += 1,
                Err(error) => {
                    tracing::error!(tenant = %entry.tenant, %error, "privacy report of a tenant failed");
                    report.errors += 1;
                }
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(finish(report)),
        }
    }
}

fn finish(report: RunReport) -> RunReport {
    tracing::info!(?report, "privacy report run done");
    report
}

fn backoff_secs(failures: u32) -> i64 {
    let doublings = failures.saturating_sub(1).min(16);
    (FAILURE_RETRY_BASE_SECS << doublings).min(MAX_FAILURE_RETRY_SECS)
}

/// Reports one tenant from its cursor until its users are done, a bound is hit, or Atlassian
/// says stop.
async fn report_tenant(job: &PrivacyJob, tenant: &TenantKey, now: i64, report: &mut RunReport) -> Result<Outcome> {
    let app = &job.state;
    let Some((mut progress, mut version)) = state::load(app, tenant).await? else { return Ok(Outcome::Skipped) };
    // The index is eventually consistent: trust the item, not the entry.
    if progress.next_due_at > now {
        return Ok(Outcome::Skipped);
    }
    let install = match tenants::load(app, tenant).await? {
        Some((install, _)) if install.state != TenantState::Uninstalled => install,
        _ => {
            // Its data is purged with it; nothing to report meanwhile.
            progress.next_due_at = now + progress.cycle_period_secs;
            progress.last_outcome = Some("skipped: not installed".into());
            save(app, tenant, &progress, &mut version).await?;
            return Ok(Outcome::Skipped);
        }
    };
    if !install.has_connect_install() {
        // No shared secret to sign a Connect app token with: a Forge-only site reports through
        // Forge's own privacy API, which Canopy does not call yet.
        progress.next_due_at = now + progress.cycle_period_secs;
        progress.last_outcome = Some("skipped: Forge-only tenant".into());
        save(app, tenant, &progress, &mut version).await?;
        return Ok(Outcome::Skipped);
    }
    if !progress.editors_indexed {
        let pointers = crate::domain::privacy::editors::index_existing(app, tenant).await?;
        tracing::info!(tenant = %tenant, pointers, "editor pointers of earlier content written");
        progress.editors_indexed = true;
        save(app, tenant, &progress, &mut version).await?;
    }
    progress.cycle_started_at.get_or_insert(now);
    let mut sent = 0;
    loop {
        if sent >= job.bounds.reports_per_tenant_run || report.reports_sent >= job.bounds.reports_per_run {
            progress.next_due_at = now;
            progress.last_outcome = Some("paused: run bound".into());
            save(app, tenant, &progress, &mut version).await?;
            return Ok(Outcome::Paused);
        }
        let request = PageRequest { limit: MAX_ACCOUNTS_PER_REPORT as u32, after: progress.cursor.clone() };
        let page = app.store.query(tenant, keys::USER_PREFIX, request, app.clock.now_secs()).await?;
        let Some(last) = page.items.last().map(|item| item.sk.clone()) else {
            return complete(app, tenant, progress, version, now).await;
        };
        let accounts: Vec<ReportedAccount> = page
            .items
            .iter()
            .map(|item| ReportedAccount {
                account_id: item.sk[keys::USER_PREFIX.len()..].to_owned(),
                updated_at: rfc3339(item.updated_at),
            })
            .collect();
        sent += 1;
        report.reports_sent += 1;
        report.accounts_reported += accounts.len() as u32;
        let cycle_secs = match job.reporter.report(&install, &accounts).await {
            Answer::RateLimited { retry_after_secs } => {
                tracing::warn!(tenant = %tenant, retry_after_secs, "report-accounts rate-limited us");
                progress.next_due_at = now + retry_after_secs;
                progress.last_outcome = Some(format!("rate limited: retry after {retry_after_secs} s"));
                save(app, tenant, &progress, &mut version).await?;
                return Ok(Outcome::RateLimited);
            }
            Answer::Failed { reason } => {
                progress.failures += 1;
                let delay = backoff_secs(progress.failures);
                tracing::warn!(tenant = %tenant, %reason, failures = progress.failures, delay, "report-accounts failed");
                progress.next_due_at = now + delay;
                progress.last_outcome = Some(format!("failed: {reason}"));
                save(app, tenant, &progress, &mut version).await?;
                return Ok(Outcome::Failed);
            }
            Answer::NothingToDo { cycle_secs } => cycle_secs,
            Answer::Accounts { accounts, cycle_secs } => {
                act_on(app, tenant, &accounts, report).await?;
                cycle_secs
            }
        };
        if let Some(cycle_secs) = cycle_secs {
            progress.cycle_period_secs = cycle_secs;
        }
        progress.failures = 0;
        progress.cursor = Some(last);
        if page.next.is_none() {
            return complete(app, tenant, progress, version, now).await;
        }
        save(app, tenant, &progress, &mut version).await?;
    }
}

async fn act_on(
    app: &AppState,
    tenant: &TenantKey,
    accounts: &[crate::adapters::product::report_accounts::AccountStatus],
    report: &mut RunReport,
) -> Result<()> {
    for account in accounts {
        match account.status.as_str() {
            // Not an id Canopy could have stored, so nothing to erase.
            "closed" if !users::is_storable_account_id(&account.account_id) => {
                tracing::warn!(tenant = %tenant, "report-accounts closed an accountId Canopy cannot hold");
            }
            "closed" => {
                let erasure = erase_account(app, tenant, &account.account_id).await?;
                report.closed += 1;
                report.users_erased += u32::from(erasure.user_record);
                report.contacts_erased += erasure.contacts;
                report.editors_forgotten += erasure.editor_items;
            }
            "updated" => report.updated += 1,
            other => tracing::warn!(tenant = %tenant, status = other, "report-accounts answered an unknown status"),
        }
    }
    Ok(())
}

async fn complete(
    app: &AppState,
    tenant: &TenantKey,
    mut progress: ReportState,
    mut version: u64,
    now: i64,
) -> Result<Outcome> {
    progress.cursor = None;
    progress.cycle_started_at = None;
    progress.failures = 0;
    progress.next_due_at = now + progress.cycle_period_secs;
    progress.last_completed_at = Some(now);
    progress.last_outcome = Some("completed".into());
    save(app, tenant, &progress, &mut version).await?;
    Ok(Outcome::Completed)
}

async fn save(app: &AppState, tenant: &TenantKey, progress: &ReportState, version: &mut u64) -> Result<()> {
    let write = state::save(tenant, progress, Some(*version), app.clock.now_millis())?;
    app.store.transact(vec![write], app.clock.now_secs()).await?;
    *version += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_from_fifteen_minutes_to_a_day() {
        assert_eq!(backoff_secs(1), 900);
        assert_eq!(backoff_secs(2), 1_800);
        assert_eq!(backoff_secs(7), 57_600);
        assert_eq!(backoff_secs(8), MAX_FAILURE_RETRY_SECS);
        assert_eq!(backoff_secs(u32::MAX), MAX_FAILURE_RETRY_SECS);
    }
}
