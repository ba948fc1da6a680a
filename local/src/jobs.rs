//! `canopy-local <job> [flags]`: runs a scheduled job once against the data dir, as its Lambda
//! would on schedule, and prints what it did.
//!
//! - `privacy-report`: reports the stored accountIds of every tenant due (CONNECT.md §7) and
//!   erases closed accounts. Exits non-zero if a tenant met an error.
//! - `retention-sweep [--budget-secs N]`: the retention sweep, with a progress line.
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

use crate::settings::Settings;

/// Runs the job named by the first argument; `None` when it names none (start the server).
pub async fn run_from_args() -> Option<anyhow::Result<()>> {
    let mut args = std::env::args().skip(1);
    let job = args.next()?;
    let rest: Vec<String> = args.collect();
    match job.as_str() {
        "privacy-report" => Some(privacy_report(rest).await),
        "usage-snapshot" => Some(usage_snapshot(rest).await),
        "retention-sweep" => Some(crate::retention::run(rest).await),
        "residency-status" => Some(crate::residency::run(rest).await),
        _ => None,
    }
}

async fn open_state(args: Vec<String>) -> anyhow::Result<AppState> {
    let settings = Settings::from_env_and_args(args.into_iter())?;
    let (state, _) = settings.open_state([]).await.with_context(|| {
        format!("opening {} (is the local server running on it? stop it first)", settings.data_dir.display())
    })?;
    Ok(state)
}

async fn privacy_report(args: Vec<String>) -> anyhow::Result<()> {
    let state = open_state(args).await?;
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

async fn usage_snapshot(args: Vec<String>) -> anyhow::Result<()> {
    let mut date = None;
    let mut rest = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--date" {
            let value = args.next().context("--date needs a value (yyyy-mm-dd)")?;
            date = Some(usage::parse_date(&value).map_err(|_| anyhow::anyhow!("--date {value}: not yyyy-mm-dd"))?);
        } else {
            rest.push(arg);
        }
    }
    let state = open_state(rest).await?;
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
