//! Residency worker Lambda (EventBridge rule, every minute, reserved concurrency 1): drives every
//! migration and rollback in flight (`canopy_shared::domain::residency::resume_all`), since the HTTP
//! function that starts one is frozen once it has answered.

use canopy_shared::bootstrap;
use canopy_shared::jobs::residency;
use canopy_shared::jobs::schedule::ScheduledEvent;
use canopy_shared::kernel::telemetry;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_json();
    let state = &bootstrap::lambda_state().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ScheduledEvent>| {
        residency::on_schedule(state, event.payload)
    }))
    .await
}
