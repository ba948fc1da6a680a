//! A proxy in front of DynamoDB Local that refuses writes as DynamoDB does when another
//! transaction is in flight on one of their items: TransactWriteItems cancelled with reason
//! `TransactionConflict`, PutItem and DeleteItem with `TransactionConflictException`. DynamoDB
//! Local never answers either (it runs each TransactWriteItems under a lock on its tables), so
//! this is how the adapter's retry meets real answers through the real SDK.
//!
//! Each distinct write (its body without the idempotency token, which every send renews) is
//! refused its first `refusals` sends, so the retries a run must make are exact.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::Value;

const CANCELLED_BODY: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]","CancellationReasons":[{"Code":"None"},{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"}]}"#;
const CONFLICT_BODY: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionConflictException","message":"Transaction is ongoing for the item"}"#;

#[derive(Default)]
pub struct Contention {
    refusals: AtomicU64,
    sends: Mutex<HashMap<String, u64>>,
    /// Refusals answered.
    pub injected: AtomicU64,
}

impl Contention {
    /// Refuse each write's first `refusals` sends (`u64::MAX`: every send).
    pub fn set(&self, refusals: u64) {
        self.refusals.store(refusals, Ordering::SeqCst);
        self.sends.lock().expect("lock").clear();
    }

    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }

    /// The refusal for this request, if it is a write still to be refused.
    fn refusal(&self, headers: &HeaderMap, body: &Bytes) -> Option<&'static str> {
        let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let answer = match target.rsplit('.').next() {
            Some("TransactWriteItems") => CANCELLED_BODY,
            Some("PutItem" | "DeleteItem") => CONFLICT_BODY,
            _ => return None,
        };
        let mut write: Value = serde_json::from_slice(body).ok()?;
        write.as_object_mut()?.remove("ClientRequestToken");
        let mut sends = self.sends.lock().expect("lock");
        let count = sends.entry(format!("{target} {write}")).or_default();
        *count += 1;
        (*count <= self.refusals.load(Ordering::SeqCst)).then_some(answer)
    }
}

/// Starts the proxy on loopback in front of `upstream`; answers its endpoint.
pub async fn proxy(upstream: String) -> (Arc<Contention>, String) {
    let contention = Arc::new(Contention::default());
    let client = reqwest::Client::new();
    let state = contention.clone();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let (contention, client, upstream) = (state.clone(), client.clone(), upstream.clone());
        async move {
            if let Some(answer) = contention.refusal(&headers, &body) {
                contention.injected.fetch_add(1, Ordering::SeqCst);
                return (StatusCode::BAD_REQUEST, [("content-type", "application/x-amz-json-1.0")], answer)
                    .into_response();
            }
            super::throttle::forward(&client, &upstream, method, uri, headers, body).await
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (contention, endpoint)
}
