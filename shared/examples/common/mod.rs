//! What the store benchmarks share: isolated DynamoDB Local and s3s-fs clients from the
//! endpoints their scripts (`scripts/bench-purge`, `scripts/bench-residency`) start.

use std::sync::Arc;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use canopy_shared::media::port::MediaStore;
use canopy_shared::media::s3::S3MediaStore;
use canopy_shared::store::ItemStore;
use canopy_shared::store::dynamo::DynamoItemStore;

pub fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the benchmark through its scripts/bench-* script"))
}

pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{prefix}{nanos:x}")
}

/// A fresh table in a namespace of its own (a unique access key) on DynamoDB Local.
pub async fn dynamo() -> Arc<dyn ItemStore> {
    let credentials = Credentials::new(unique("bench"), "benchsecret", None, None, "bench");
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials)
        .endpoint_url(env("CANOPY_TEST_DYNAMODB_ENDPOINT"))
        .http_client(canopy_shared::aws::https_client())
        .build();
    let store = DynamoItemStore::new(aws_sdk_dynamodb::Client::from_conf(config), "canopy-bench");
    store.create_table().await.expect("create table");
    Arc::new(store)
}

/// A fresh bucket on s3s-fs, with the server's credentials (it checks every signature).
pub async fn s3() -> Arc<dyn MediaStore> {
    let credentials =
        Credentials::new(env("CANOPY_TEST_S3_ACCESS_KEY"), env("CANOPY_TEST_S3_SECRET_KEY"), None, None, "bench");
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials)
        .endpoint_url(env("CANOPY_TEST_S3_ENDPOINT"))
        .force_path_style(true)
        .http_client(canopy_shared::aws::https_client())
        .build();
    let client = aws_sdk_s3::Client::from_conf(config);
    let bucket = unique("bench-");
    client.create_bucket().bucket(&bucket).send().await.expect("bucket");
    Arc::new(S3MediaStore::new(client, bucket))
}
