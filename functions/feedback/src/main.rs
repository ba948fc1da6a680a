//! Feedback Lambda: users' feedback on sites and pages (admins list, export, delete it) and the
//! caller's own record (`/api/me`).

use canopy_shared::kernel::telemetry;
use canopy_shared::{bootstrap, http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_json();
    let state = bootstrap::lambda_state().await?;
    lambda_http::run(http::finish(http::feedback::routes(), state)).await
}
