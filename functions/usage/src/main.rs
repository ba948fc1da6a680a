//! Usage snapshot Lambda (daily EventBridge schedule): per-customer figures and totals for the
//! scheduled day, kept in the operator partition (`canopy_shared::usage`).

use canopy_shared::schedule::ScheduledEvent;
use canopy_shared::{bootstrap, telemetry, usage};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_json();
    let state = &bootstrap::lambda_state().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ScheduledEvent>| usage::on_schedule(state, event.payload)))
        .await
}
