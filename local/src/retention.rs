//! `canopy-local retention-sweep [--budget-secs N] [flags]`: runs the retention sweep once against
//! the data dir (as the scheduled Lambda does) with a live progress line: tenants and items done,
//! the rate, and whether work is left.

use std::io::Write;
use std::time::{Duration, Instant};

use canopy_shared::adapters::http::http_client;
use canopy_shared::domain::retention::{self, Budget, SweepReport, liveness};

use crate::settings::Settings;

pub async fn run(settings: &Settings, budget_secs: u64) -> anyhow::Result<()> {
    let state = crate::jobs::open_state(settings).await?;
    let budget = Budget::new(Duration::from_secs(budget_secs));
    let probe = canopy_shared::adapters::product::site_probe::ConnectSiteProbe {
        client: http_client()?,
        app_key: state.config.app_key.clone(),
        hosts: state.config.product_hosts.clone(),
    };
    let checked = liveness::check_sites(&state, &probe, state.config.liveness_grace_days, &budget).await?;
    println!(
        "liveness: {} sites asked, {} denying access, {} treated as uninstalled",
        checked.checked, checked.denied, checked.uninstalled
    );

    let started = Instant::now();
    let mut show = |r: &SweepReport| {
        let rate = r.items_deleted as f64 / started.elapsed().as_secs_f64().max(0.001);
        print!(
            "\rretention-sweep: {} tenants, {} items ({rate:.0}/s), {} objects, {} trash, {} pending uploads",
            r.tenants_purged + r.sources_purged,
            r.items_deleted,
            r.objects_deleted,
            r.trash_purged,
            r.pending_uploads_removed
        );
        let _ = std::io::stdout().flush();
    };
    let report = retention::sweep(&state, &budget, &mut show).await?;
    show(&report);
    println!();
    println!(
        "done in {:.1}s; {} expired records removed; {}",
        started.elapsed().as_secs_f64(),
        report.expired_records_removed,
        if report.more { "work is left for the next run" } else { "nothing left due" }
    );
    Ok(())
}
