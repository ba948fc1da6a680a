//! Canopy's local server: every function's router in one process on 127.0.0.1, over the
//! embedded store under a data dir, with dev routes that play Atlassian for a dev tenant.

mod dev;
mod document;
mod jobs;
mod retention;
mod settings;

use canopy_shared::{bootstrap, http, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init_pretty();
    if std::env::args().nth(1).as_deref() == Some("openapi") {
        document::print();
        return Ok(());
    }
    if let Some(outcome) = jobs::run_from_args().await {
        return outcome;
    }
    let settings = settings::Settings::from_env_and_args(std::env::args().skip(1))?;
    let (state, local_media) =
        bootstrap::local_state(settings.app_config()?, &settings.data_dir, [dev::DEV_ADMIN_ACCOUNT_ID.to_owned()])?;
    // Migrations a previous run left in flight finish now (each step is idempotent).
    {
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(error) = canopy_shared::residency::resume_all(&state).await {
                tracing::error!(%error, "resuming residency migrations");
            }
        });
    }
    let listener = tokio::net::TcpListener::bind(&settings.listen).await?;
    let address = listener.local_addr()?;
    let (routes, _) = document::routes_and_document(address);
    let app = http::finish_router(routes, state.clone()).merge(canopy_shared::media::local::routes(local_media));

    println!("Canopy local server listening on http://{address}");
    println!("  base URL        {}", state.config.base_url);
    println!("  data dir        {}", settings.data_dir.display());
    println!("  install keys    {}", state.config.connect_keys_url);
    println!("  descriptor      http://{address}/atlassian-connect.json");
    println!("  API document    http://{address}{}", http::openapi::DOCUMENT_PATH);
    println!("  dev tenant      curl -s -X POST http://{address}/dev/install");
    println!("  forge keys      {}  (dev FITs: POST http://{address}/dev/forge-token)", state.config.forge_jwks_url);
    println!("  usage (ops)     http://{address}/ops/usage   jobs: canopy-local privacy-report | usage-snapshot");
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await?;
    Ok(())
}

async fn shutdown() {
    let _ = tokio::signal::ctrl_c().await;
}
