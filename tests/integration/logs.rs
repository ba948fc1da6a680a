//! What reaches the logs: the caller's IP is the only personal data. A request carrying an
//! accountId, a JWT, a shared secret and a body goes through the real router with the JSON log
//! format the Lambdas use; the captured lines hold none of them, and do hold the IP.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use support::app::*;
use tower::ServiceExt;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_hold_the_ip_and_nothing_else_personal() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = TestApp::new();
    let secret = "a-shared-secret-that-must-never-be-logged";
    let install = sign_install(&install_claims("log-tenant", "/lifecycle/installed", app.now_secs()));
    assert_eq!(
        app.send(post("/lifecycle/installed", Some(&install), &install_payload("log-tenant", secret))).await.0,
        204
    );

    let account = "557058:a-person-who-must-not-appear";
    let token = context_token_as("log-tenant", secret, Some(account), app.now_secs());
    let body = json!({"name": "A body that must not appear in logs", "visibility": "public"});
    let event = json!({
        "version": "2.0", "routeKey": "POST /api/sites", "rawPath": "/api/sites", "rawQueryString": "",
        "headers": {"authorization": format!("JWT {token}"), "content-type": "application/json", "host": "canopy.example.com"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "canopy.example.com", "domainPrefix": "canopy",
            "http": {"method": "POST", "path": "/api/sites", "protocol": "HTTP/1.1", "sourceIp": "198.51.100.77", "userAgent": "test"},
            "requestId": "req-1", "routeKey": "POST /api/sites", "stage": "$default", "time": "15/Jan/2026:00:00:00 +0000", "timeEpoch": 0
        },
        "body": body.to_string(), "isBase64Encoded": false
    });
    let request = lambda_http::request::from_str(&event.to_string()).expect("event");
    let response = app.router.clone().oneshot(request).await.expect("answer");
    assert_eq!(response.status(), 403, "a non-admin account: the request is logged with its refusal");

    let logs = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf8");
    assert!(logs.contains("198.51.100.77"), "the caller's IP is logged:\n{logs}");
    assert!(logs.contains("req-1"), "with the request id");
    for secret_thing in [token.as_str(), install.as_str(), secret, account, "A body that must not appear"] {
        assert!(!logs.contains(secret_thing), "{secret_thing:?} leaked into the logs:\n{logs}");
    }
}
