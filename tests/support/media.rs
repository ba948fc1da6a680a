//! Media stores for tests: the local adapter served on a loopback port (as the local server
//! serves it), and the S3 adapter on a fresh bucket of the s3s-fs server `scripts/test` starts.

use std::sync::Arc;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use canopy_shared::adapters::media::local::{self, LocalMediaStore};
use canopy_shared::adapters::media::s3::S3MediaStore;
use canopy_shared::ports::media::MediaStore;

pub struct Served {
    pub store: Arc<dyn MediaStore>,
    _dir: Option<tempfile::TempDir>,
}

/// The local adapter with its signed-URL routes on 127.0.0.1.
pub async fn local_served() -> Served {
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let store = LocalMediaStore::open(dir.path(), &base).expect("local media");
    let app: axum::Router = local::routes(store.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Served { store: Arc::new(store), _dir: Some(dir) }
}

fn env(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => panic!("{name} is not set: run the tests with scripts/test, which starts the local S3 server"),
    }
}

/// The S3 adapter over a bucket of its own on s3s-fs, with the server's real credentials (it
/// verifies every signature).
pub async fn s3_served() -> Served {
    let credentials =
        Credentials::new(env("CANOPY_TEST_S3_ACCESS_KEY"), env("CANOPY_TEST_S3_SECRET_KEY"), None, None, "tests");
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials)
        .endpoint_url(env("CANOPY_TEST_S3_ENDPOINT"))
        .force_path_style(true)
        .http_client(canopy_shared::adapters::aws::https_client())
        .build();
    let client = aws_sdk_s3::Client::from_conf(config);
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let bucket = format!(
        "test-{}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or_default(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    client.create_bucket().bucket(&bucket).send().await.unwrap_or_else(|e| panic!("create bucket {bucket}: {e:?}"));
    Served { store: Arc::new(S3MediaStore::new(client, bucket)), _dir: None }
}

/// A tiny valid PNG (1×1, transparent).
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00,
    0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// Sends an upload as a browser would: the presigned URL and exactly the signed headers,
/// optionally overriding one of them.
pub async fn put(upload: &serde_json::Value, body: Vec<u8>, content_type_override: Option<&str>) -> u16 {
    let client = reqwest::Client::new();
    let mut request = client.put(upload["url"].as_str().expect("url"));
    for pair in upload["headers"].as_array().expect("headers") {
        let (name, value) = (pair[0].as_str().expect("name"), pair[1].as_str().expect("value"));
        if name.eq_ignore_ascii_case("content-length") {
            continue; // reqwest sets it from the body: a different body is a different length
        }
        let value =
            if name.eq_ignore_ascii_case("content-type") { content_type_override.unwrap_or(value) } else { value };
        request = request.header(name, value);
    }
    request.body(body).send().await.expect("PUT").status().as_u16()
}
