//! Retention Lambda (EventBridge schedule): purges what fell due — tenants 30 days after
//! uninstall, migrated sources after 7 days, trash after 30 days, uploads never completed —
//! within the invocation's time; the rest stays due for the next run (`canopy_shared::domain::retention`).
//! Invoked by an operator with `{"deleteTenantNow": {"clientKey": "…"}}`, it deletes that tenant now.

use canopy_shared::adapters::http::http_client;
use canopy_shared::adapters::product::site_probe::ConnectSiteProbe;
use canopy_shared::bootstrap;
use canopy_shared::jobs::retention;
use canopy_shared::kernel::telemetry;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_json();
    let state = &bootstrap::lambda_state().await?;
    let probe = &ConnectSiteProbe {
        client: http_client()?,
        app_key: state.config.app_key.clone(),
        hosts: state.config.product_hosts.clone(),
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        retention::on_event(state, probe, event)
    }))
    .await
}
