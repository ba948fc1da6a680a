//! `canopy-local <job> [flags]` (`cli.rs` declares them): runs a scheduled job once against the data dir, as its Lambda
//! would on schedule, and prints what it did.
//!
//! - `privacy-report`: reports the stored accountIds of every tenant due (CONNECT.md §7) and
//!   erases closed accounts. Exits non-zero if a tenant met an error.
//! - `retention-sweep [--budget-secs N]`: the retention sweep, with a progress line.
//! - `delete-tenant --client-key KEY [--budget-secs N]`: one uninstalled tenant deleted now, on
//!   request; prints the receipt (or how far it got) as JSON.
//! - `residency-status [--tenant KEY] [--server URL] [--watch]`: a tenant's region and migration
//!   progress, asked of the running server (`residency.rs`; the one job that needs it running).
//! - `usage-snapshot [--date yyyy-mm-dd]`: takes the day's usage snapshot (default: today, UTC);
//!   a day already taken is left as it is.
//!
//! The other flags are the server's (`--data-dir`, …). The embedded store belongs to one process:
//! stop the server on that data dir first.

use anyhow::{Context, bail};
use canopy_shared::adapters::http::http_client;
use canopy_shared::domain::usage;
use canopy_shared::jobs::privacy::{self, PrivacyJob};
use canopy_shared::kernel::clock::{Clock, SystemClock};
use canopy_shared::state::AppState;

use crate::cli::Command;
use crate::settings::Settings;

/// Runs one job once over the settings' data dir (or, for `residency-status`, against the server).
pub async fn run(job: Command, settings: Settings) -> anyhow::Result<()> {
    match job {
        Command::Openapi => unreachable!("main prints the document"),
        Command::PrivacyReport => privacy_report(&settings).await,
        Command::UsageSnapshot { date } => usage_snapshot(&settings, date).await,
        Command::RetentionSweep { budget_secs } => crate::retention::run(&settings, budget_secs).await,
        Command::DeleteTenant { client_key, budget_secs } => {
            crate::retention::delete_tenant(&settings, &client_key, budget_secs).await
        }
        Command::ResidencyStatus { tenant, server, watch } => {
            let server = server.unwrap_or_else(|| format!("http://{}", settings.listen));
            crate::residency::run(&tenant, server.trim_end_matches('/'), watch).await
        }
    }
}

pub async fn open_state(settings: &Settings) -> anyhow::Result<AppState> {
    let (state, _) =
        settings.open_state(canopy_shared::bootstrap::LocalDirectory::nobody()).await.with_context(|| {
            format!("opening {} (is the local server running on it? stop it first)", settings.data_dir.display())
        })?;
    Ok(state)
}

async fn privacy_report(settings: &Settings) -> anyhow::Result<()> {
    let state = open_state(settings).await?;
    let job = PrivacyJob::new(state, http_client()?);
    let r = privacy::run(&job).await?;
    println!(
        "privacy-report: {} tenants due: {} completed, {} paused, {} rate limited, {} failed, {} skipped, {} errors",
        r.tenants_due, r.completed, r.paused, r.rate_limited, r.failed, r.skipped, r.errors
    );
    println!(
        "  reports sent {}, accounts reported {}, closed {} (user records erased {}, feedback contacts erased {}, \
         items no longer naming them {}), updated {}",
        r.reports_sent,
        r.accounts_reported,
        r.closed,
        r.users_erased,
        r.contacts_erased,
        r.editors_forgotten,
        r.updated
    );
    if r.errors > 0 {
        bail!("{} tenants met an error (see the log)", r.errors);
    }
    Ok(())
}

async fn usage_snapshot(settings: &Settings, date: Option<String>) -> anyhow::Result<()> {
    let date = match date {
        Some(value) => Some(usage::parse_date(&value).map_err(|_| anyhow::anyhow!("--date {value}: not yyyy-mm-dd"))?),
        None => None,
    };
    let state = open_state(settings).await?;
    let date = match date {
        Some(date) => date,
        None => usage::day_of(SystemClock.now_secs())?,
    };
    let report = usage::snapshot(&state, date).await?;
    let s = &report.summary;
    let what =
        if report.written { "written".to_owned() } else { format!("already taken at {}, unchanged", s.taken_at) };
    println!("usage-snapshot {}: {what}", s.date);
    println!(
        "  tenants {}, sites {}, themes {}, custom domains {}, spaces {}",
        s.tenants, s.totals.sites, s.totals.themes, s.totals.custom_domains, s.totals.spaces
    );
    Ok(())
}
