//! What the store benchmarks share: isolated DynamoDB Local and s3s-fs clients from the
//! endpoints their scripts (`scripts/bench-purge`, `scripts/bench-residency`) start.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use canopy_shared::TenantKey;
use canopy_shared::adapters::media::s3::S3MediaStore;
use canopy_shared::adapters::store::dynamo::DynamoItemStore;
use canopy_shared::ports::media::{MediaStore, ObjectKey};
use canopy_shared::ports::store::{Condition, Item, ItemStore, Write};

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
    dynamo_store().await
}

/// [`dynamo`] as the adapter itself, for the figures only it keeps.
pub async fn dynamo_store() -> Arc<DynamoItemStore> {
    let credentials = Credentials::new(unique("bench"), "benchsecret", None, None, "bench");
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials)
        .endpoint_url(env("CANOPY_TEST_DYNAMODB_ENDPOINT"))
        .http_client(canopy_shared::adapters::aws::https_client())
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
        .http_client(canopy_shared::adapters::aws::https_client())
        .build();
    let client = aws_sdk_s3::Client::from_conf(config);
    let bucket = unique("bench-");
    client.create_bucket().bucket(&bucket).send().await.expect("bucket");
    Arc::new(S3MediaStore::new(client, bucket))
}

/// A version-1 item of `tenant` with `body`, as the seeds write them.
pub fn item(tenant: &TenantKey, sk: String, body: serde_json::Value) -> Item {
    Item {
        tenant: tenant.clone(),
        sk,
        version: 1,
        updated_at: 0,
        updated_by: None,
        due: None,
        expires_at: None,
        body: body.into(),
    }
}

/// Writes `items` in transactions of `per_transaction`, eight at a time.
pub async fn put_all(store: &Arc<dyn ItemStore>, items: Vec<Item>, per_transaction: usize, now: i64) {
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in items.chunks(per_transaction) {
        let writes: Vec<Write> =
            chunk.iter().map(|item| Write::Put { item: item.clone(), condition: Condition::None }).collect();
        let store = store.clone();
        tasks.spawn(async move { store.transact(writes, now).await.expect("seed") });
        while tasks.len() >= 8 {
            tasks.join_next().await;
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// `count` 64-byte objects `obj00000…` of `tenant`, uploaded through presigned PUTs as browsers do.
pub async fn upload_objects(media: &dyn MediaStore, tenant: &TenantKey, count: usize) {
    let client = reqwest::Client::new();
    for i in 0..count {
        let key = ObjectKey::upload(tenant, &format!("obj{i:05}"));
        let upload = media.presign_upload(&key, "image/png", 64, Duration::from_secs(300)).await.expect("presign");
        let mut request = client.put(&upload.url).body(vec![0u8; 64]);
        for (name, value) in &upload.headers {
            if !name.eq_ignore_ascii_case("content-length") {
                request = request.header(name, value);
            }
        }
        assert!(request.send().await.expect("put").status().is_success());
    }
}
