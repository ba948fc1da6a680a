//! Media Lambda: presigned uploads to the region's bucket, completion checks, downloads, deletion.

use canopy_shared::kernel::telemetry;
use canopy_shared::{bootstrap, http};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_json();
    let state = bootstrap::lambda_state().await?;
    lambda_http::run(http::finish(http::media::routes(), state)).await
}
