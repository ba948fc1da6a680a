//! `canopy-local retention-sweep [--budget-secs N] [flags]`: runs the retention sweep once against
//! the data dir (as the scheduled Lambda does) with a live progress line: tenants and items done,
//! the rate, and whether work is left. `canopy-local delete-tenant --client-key KEY`: what an
//! operator's `deleteTenantNow` request to the retention Lambda does, against the data dir.

use std::io::Write;
use std::time::{Duration, Instant};

use canopy_shared::adapters::http::http_client;
use canopy_shared::domain::retention::{self, Budget, SweepReport, liveness, on_request};

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

pub async fn delete_tenant(settings: &Settings, client_key: &str, budget_secs: u64) -> anyhow::Result<()> {
    let state = crate::jobs::open_state(settings).await?;
    let tenant = on_request::parse_client_key(client_key)?;
    let deletion = on_request::delete_now(&state, &tenant, &Budget::new(Duration::from_secs(budget_secs))).await?;
    println!("{}", serde_json::to_string_pretty(&deletion)?);
    if let on_request::Deletion::InProgress { .. } = deletion {
        println!("time ran out: run the same command again to carry on");
    }
    Ok(())
}
