//! A fresh, isolated DynamoDB Local-backed store per call.
//!
//! DynamoDB Local namespaces tables by access key + region, so a unique alphanumeric access key
//! per call gives each test an empty database; the table is then created as production has it.
//! The endpoint comes from `CANOPY_TEST_DYNAMODB_ENDPOINT`, which `scripts/test` exports after
//! starting DynamoDB Local. Without it the tests fail loudly: they never skip.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use canopy_shared::adapters::store::dynamo::DynamoItemStore;
use canopy_shared::ports::store::ItemStore;

pub const ENDPOINT_VAR: &str = "CANOPY_TEST_DYNAMODB_ENDPOINT";
const TABLE: &str = "canopy-test";

/// The endpoint of the DynamoDB Local `scripts/test` started.
pub fn endpoint() -> String {
    match std::env::var(ENDPOINT_VAR) {
        Ok(endpoint) if !endpoint.trim().is_empty() => endpoint,
        _ => panic!("{ENDPOINT_VAR} is not set: run the tests with scripts/test, which starts DynamoDB Local"),
    }
}

/// An access key no other call (in this process or another) uses: DynamoDB Local gives it an
/// empty database. Alphanumeric only: DynamoDB Local refuses keys with `-`.
fn unique_access_key() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("test{:x}x{nanos:x}x{n:x}", std::process::id())
}

/// A client of DynamoDB Local with static credentials of its own (never the environment's).
pub fn isolated_client() -> aws_sdk_dynamodb::Client {
    isolated_client_at(&endpoint())
}

/// [`isolated_client`] of a DynamoDB Local at another endpoint (a private one, or a proxy).
pub fn isolated_client_at(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let credentials = Credentials::new(unique_access_key(), "canopytestsecret", None, None, "canopy-tests");
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .http_client(DynamoItemStore::https_client())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// A `DynamoItemStore` over a fresh, empty table in its own DynamoDB Local namespace.
pub async fn fresh_dynamo() -> DynamoItemStore {
    let store = DynamoItemStore::new(isolated_client(), TABLE);
    if let Err(err) = store.create_table().await {
        panic!("creating the test table in DynamoDB Local at {} failed: {err}", endpoint());
    }
    store
}

/// A `DynamoItemStore` over a fresh table of the DynamoDB Local at `endpoint`.
pub async fn fresh_dynamo_at(endpoint: &str) -> DynamoItemStore {
    let store = DynamoItemStore::new(isolated_client_at(endpoint), TABLE);
    if let Err(err) = store.create_table().await {
        panic!("creating the test table in DynamoDB Local at {endpoint} failed: {err}");
    }
    store
}

/// [`fresh_dynamo`] behind the port, for the contract suite.
pub async fn fresh_dynamo_store() -> Arc<dyn ItemStore> {
    Arc::new(fresh_dynamo().await)
}

/// DynamoDB requests actually sent, counted by an SDK interceptor (below the port, so an
/// adapter that paged internally would show it).
#[derive(Debug, Default)]
pub struct SentRequests {
    pub queries: std::sync::atomic::AtomicUsize,
    pub others: std::sync::atomic::AtomicUsize,
}

#[derive(Debug)]
struct CountRequests(Arc<SentRequests>);

impl aws_sdk_dynamodb::config::Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "CountRequests"
    }

    fn read_before_execution(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let counter = if context.input().downcast_ref::<aws_sdk_dynamodb::operation::query::QueryInput>().is_some() {
            &self.0.queries
        } else {
            &self.0.others
        };
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// [`fresh_dynamo_store`] whose client counts the requests it sends.
pub async fn fresh_dynamo_counted() -> (Arc<dyn ItemStore>, Arc<SentRequests>) {
    let sent = Arc::new(SentRequests::default());
    let config = isolated_client().config().to_builder().interceptor(CountRequests(sent.clone())).build();
    let store = DynamoItemStore::new(aws_sdk_dynamodb::Client::from_conf(config), TABLE);
    if let Err(err) = store.create_table().await {
        panic!("creating the test table in DynamoDB Local at {} failed: {err}", endpoint());
    }
    (Arc::new(store), sent)
}
