//! A proxy in front of DynamoDB Local that answers some requests as DynamoDB does when it
//! throttles (`400` with `ThrottlingException`), so the real SDK, its retries and the adapter's
//! error mapping meet real throttling answers. Everything else is forwarded unchanged.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

const THROTTLED_BODY: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#;

#[derive(Default)]
pub struct Throttle {
    /// Of every `throttled + passed` requests, the first `throttled` are refused.
    throttled: AtomicU64,
    passed: AtomicU64,
    seen: AtomicU64,
    /// Throttling answers sent.
    pub injected: AtomicU64,
}

impl Throttle {
    pub fn set(&self, throttled: u64, passed: u64) {
        self.throttled.store(throttled, Ordering::SeqCst);
        self.passed.store(passed, Ordering::SeqCst);
        self.seen.store(0, Ordering::SeqCst);
    }

    fn refuses_next(&self) -> bool {
        let (throttled, passed) = (self.throttled.load(Ordering::SeqCst), self.passed.load(Ordering::SeqCst));
        let period = throttled + passed;
        period > 0 && self.seen.fetch_add(1, Ordering::SeqCst) % period < throttled
    }

    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }
}

/// Starts the proxy on loopback in front of `upstream`; answers its endpoint.
pub async fn proxy(upstream: String) -> (Arc<Throttle>, String) {
    let throttle = Arc::new(Throttle::default());
    let client = reqwest::Client::new();
    let state = throttle.clone();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let (throttle, client, upstream) = (state.clone(), client.clone(), upstream.clone());
        async move {
            if throttle.refuses_next() {
                throttle.injected.fetch_add(1, Ordering::SeqCst);
                return (StatusCode::BAD_REQUEST, [("content-type", "application/x-amz-json-1.0")], THROTTLED_BODY)
                    .into_response();
            }
            forward(&client, &upstream, method, uri, headers, body).await
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (throttle, endpoint)
}

/// Sends a request on to `upstream` and answers what it answered.
pub async fn forward(
    client: &reqwest::Client,
    upstream: &str,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = client.request(method, format!("{upstream}{path}")).body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let Ok(answer) = request.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let mut response = Response::builder().status(answer.status().as_u16());
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            response = response.header(name.as_str(), value.as_bytes());
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    response.body(Body::from(bytes)).expect("response")
}
