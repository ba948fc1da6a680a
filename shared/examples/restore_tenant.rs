//! Restores one tenant from a table restored to a point in time into the live table
//! (docs/OPERATIONS.md, "Restoring a tenant"). Run from an operator machine with credentials that
//! may read the restored table and write the live one:
//!
//!   cargo run --release -p canopy-shared --example restore_tenant -- \
//!     --from-table canopy-us-restore-2026-01-15 --to-table <TableName> --bucket <MediaBucketName> \
//!     --tenant <clientKey>
//!
//! The AWS region comes from the environment (`AWS_REGION`).

use std::sync::Arc;

use canopy_shared::TenantKey;
use canopy_shared::adapters::aws;
use canopy_shared::adapters::media::s3::S3MediaStore;
use canopy_shared::adapters::store::dynamo::DynamoItemStore;
use canopy_shared::domain::regions::Region;
use canopy_shared::domain::residency::restore::restore_tenant;
use canopy_shared::kernel::config::regions::RegionSpec;

fn arg(name: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| panic!("missing {name} (see the comment at the top of restore_tenant.rs)"))
}

#[tokio::main]
async fn main() {
    let (from, to, bucket, tenant) = (arg("--from-table"), arg("--to-table"), arg("--bucket"), arg("--tenant"));
    let tenant = TenantKey::from_verified(&tenant).expect("a valid clientKey");
    let sdk = aws::sdk_config().await;
    let media = Arc::new(S3MediaStore::new(S3MediaStore::client(&sdk, None), bucket));
    let spec = RegionSpec::new("restore", "https://localhost");
    let store = |table: String| Arc::new(DynamoItemStore::new(DynamoItemStore::client(&sdk, None), table));
    let restored = Region { spec: spec.clone(), store: store(from), media: media.clone() };
    let live = Region { spec, store: store(to), media };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
    let done = restore_tenant(&restored, &live, &tenant, now).await.expect("restore");
    println!(
        "restored {tenant}: {} items, {} written back, {} created since deleted",
        done.items, done.put, done.deleted
    );
}
