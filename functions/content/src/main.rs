//! Content Lambda: sites, their navigation, announcements and promoted searches, themes,
//! layouts, reports, page metadata, the trash, and the one-query site config.

use canopy_shared::{bootstrap, http, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_json();
    let state = bootstrap::lambda_state().await?;
    lambda_http::run(http::finish(http::content::routes(), state)).await
}
