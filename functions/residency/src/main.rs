//! Residency Lambda: a tenant's data moves to another region and back within 7 days
//! (`/api/residency…`), and Atlassian's realm-migration hooks (`/lifecycle/dare-migration/…`).

use canopy_shared::kernel::telemetry;
use canopy_shared::{bootstrap, http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_json();
    let state = bootstrap::lambda_state().await?;
    lambda_http::run(http::finish(http::residency::routes(), state)).await
}
