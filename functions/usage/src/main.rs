//! Usage snapshot Lambda (daily EventBridge schedule): per-customer figures and totals for the
//! scheduled day, kept in the operator partition (`canopy_shared::domain::usage`).

use canopy_shared::bootstrap;
use canopy_shared::jobs::schedule::ScheduledEvent;
use canopy_shared::jobs::usage;
use canopy_shared::kernel::telemetry;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_json();
    let state = &bootstrap::lambda_state().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ScheduledEvent>| usage::on_schedule(state, event.payload)))
        .await
}
