//! Personal-data reporting Lambda (hourly EventBridge schedule): reports the accountIds Canopy
//! stores to each due tenant and erases closed accounts (`canopy_shared::domain::privacy`).

use canopy_shared::adapters::http::http_client;
use canopy_shared::bootstrap;
use canopy_shared::jobs::privacy::{self, PrivacyJob};
use canopy_shared::jobs::schedule::ScheduledEvent;
use canopy_shared::kernel::telemetry;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_json();
    let job = &PrivacyJob::new(bootstrap::lambda_state().await?, http_client()?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ScheduledEvent>| privacy::on_schedule(job, event.payload)))
        .await
}
