//! Operator Lambda: IAM-authorised routes for Canopy's operators (usage figures per customer).

use canopy_shared::http::ops::{self, OperatorAccess};
use canopy_shared::kernel::telemetry;
use canopy_shared::{bootstrap, http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_json();
    let state = bootstrap::lambda_state().await?;
    lambda_http::run(http::finish(ops::routes(OperatorAccess::Iam), state)).await
}
