//! Lifecycle Lambda: the app descriptor, Atlassian's lifecycle callbacks, `GET /api/tenant`.

use canopy_shared::kernel::telemetry;
use canopy_shared::{bootstrap, http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_json();
    let state = bootstrap::lambda_state().await?;
    lambda_http::run(http::finish(http::lifecycle::routes(), state)).await
}
