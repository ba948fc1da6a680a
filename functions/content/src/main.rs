//! Content Lambda: sites, their navigation, announcements and promoted searches, themes,
//! layouts, reports, page metadata, the trash, the one-query site config, and the admin console's
//! static files (`/console/`).

use canopy_shared::kernel::telemetry;
use canopy_shared::{bootstrap, http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_json();
    let state = bootstrap::lambda_state().await?;
    lambda_http::run(http::finish(http::content::routes().merge(http::console::routes()), state)).await
}
