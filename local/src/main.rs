//! Canopy's local server: every function's router in one process on 127.0.0.1, over the
//! embedded store under a data dir (or a DynamoDB table, `CANOPY_STORE=dynamodb`), with dev
//! routes that play Atlassian for a dev tenant.

mod dev;
mod jobs;
mod retention;
mod settings;

use canopy_shared::{http, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init_pretty();
    if let Some(outcome) = jobs::run_from_args().await {
        return outcome;
    }
    let settings = settings::Settings::from_env_and_args(std::env::args().skip(1))?;
    let (state, local_media) = settings.open_state([dev::DEV_ADMIN_ACCOUNT_ID.to_owned()]).await?;
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
    let routes = http::lifecycle::routes()
        .merge(http::content::routes())
        .merge(http::media::routes())
        .merge(http::feedback::routes())
        .merge(http::residency::routes())
        .merge(http::ops::routes(http::ops::OperatorAccess::Local))
        .merge(dev::routes(address));
    let app = http::finish(routes, state.clone()).merge(canopy_shared::media::local::routes(local_media));

    println!("Canopy local server listening on http://{address}");
    println!("  base URL        {}", state.config.base_url);
    println!("  data dir        {}", settings.data_dir.display());
    if let settings::StoreChoice::Dynamo { endpoint, table } = &settings.store {
        println!("  store           DynamoDB table {table} at {}", endpoint.as_deref().unwrap_or("AWS"));
    }
    println!("  install keys    {}", state.config.connect_keys_url);
    println!("  descriptor      http://{address}/atlassian-connect.json");
    println!("  dev tenant      curl -s -X POST http://{address}/dev/install");
    println!("  forge keys      {}  (dev FITs: POST http://{address}/dev/forge-token)", state.config.forge_jwks_url);
    println!("  usage (ops)     http://{address}/ops/usage   jobs: canopy-local privacy-report | usage-snapshot");
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await?;
    Ok(())
}

async fn shutdown() {
    let _ = tokio::signal::ctrl_c().await;
}
