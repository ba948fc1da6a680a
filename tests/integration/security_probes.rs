//! Security probes in the spirit of Atlassian's security requirements tester, on EVERY operation
//! of the OpenAPI document (a new route is probed without touching this file): forged HS256,
//! `alg: none`, RS256 with an unknown `kid`, expired tokens, tokens issued in the future, FITs of
//! another Forge environment, the wrong scheme, context tokens on
//! request-bound routes, no token: all 401 with the one uniform body. Every answer, errors
//! included, carries the security headers, and HSTS exactly when deployed (HTTPS base URL).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request};
use base64::Engine;
use canopy_shared::domain::connect::jwt::{ConnectClaims, sign_rs256};
use canopy_shared::domain::connect::qsh::CONTEXT_QSH;
use canopy_shared::domain::forge::fit;
use canopy_shared::http::headers::HSTS;
use canopy_shared::http::openapi::Caller;
use canopy_shared::kernel::config::AppConfig;
use serde_json::{Value, json};
use support::app::*;

const TENANT: &str = "probe-tenant";
const SECRET: &str = "probe-tenant-secret";

fn uniform_401() -> Value {
    json!({"error": {"code": "unauthenticated", "message": "Authentication failed."}})
}

/// A path of the template with plausible ids.
fn concrete(template: &str) -> String {
    template
        .replace("{hook}", "start")
        .replace("{date}", "2026-01-15")
        .replace("{page_id}", "12345")
        .split('/')
        .map(|segment| if segment.starts_with('{') { "01JB0000000000000000000000" } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}

enum Credential {
    None,
    Header(String),
    Query(String),
}

fn request(method: &Method, template: &str, credential: &Credential) -> Request<Body> {
    let mut uri = concrete(template);
    let mut builder = Request::builder().method(method.clone()).header("content-type", "application/json");
    match credential {
        Credential::None => {}
        Credential::Header(value) => builder = builder.header("authorization", value),
        Credential::Query(token) => uri = format!("{uri}?jwt={token}"),
    }
    let body = if matches!(*method, Method::GET | Method::DELETE) { Body::empty() } else { Body::from("{}") };
    builder.uri(uri).if_match_for(method).body(body).expect("request")
}

trait IfMatchFor {
    fn if_match_for(self, method: &Method) -> Self;
}

impl IfMatchFor for axum::http::request::Builder {
    fn if_match_for(self, method: &Method) -> Self {
        if matches!(*method, Method::PUT | Method::DELETE) { self.header("if-match", "\"1\"") } else { self }
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn claims(now: i64, qsh: &str) -> ConnectClaims {
    ConnectClaims {
        iss: TENANT.into(),
        sub: Some(ADMIN_ACCOUNT.into()),
        qsh: Some(qsh.into()),
        aud: None,
        iat: Some(now),
        exp: Some(now + 600),
        context: Some(json!({})),
    }
}

/// Tokens no route may accept, each with the way it is sent.
fn forged_credentials(now: i64) -> Vec<(&'static str, Credential)> {
    let context = serde_json::to_vec(&claims(now, CONTEXT_QSH)).expect("claims");
    let alg_none = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), b64(&context));
    let unknown_kid = sign_rs256(&claims(now, CONTEXT_QSH), "kid-nobody-published", DEV_PRIVATE_KEY).expect("sign");
    let install_key_as_fit = {
        let invocation = fit::Invocation {
            cloud_id: cloud_of(TENANT),
            installation_id: None,
            account_id: Some(ADMIN_ACCOUNT.into()),
            module_key: None,
            site_url: None,
        };
        // Signed with the Connect install key under Forge's kid: the signature cannot verify.
        fit::sign(&fit::invocation_claims(FORGE_APP_ARI, &invocation, now, 60), FORGE_KID, DEV_PRIVATE_KEY)
            .expect("sign")
    };
    // Genuinely signed, but from the vendor's development install of the same Forge app: same
    // keys, same `aud`; only `app.environment` tells it from production.
    let development_fit = {
        let invocation = fit::Invocation {
            cloud_id: cloud_of(TENANT),
            installation_id: None,
            account_id: Some(ADMIN_ACCOUNT.into()),
            module_key: None,
            site_url: None,
        };
        let mut claims = fit::invocation_claims(FORGE_APP_ARI, &invocation, now, 60);
        fit::set_environment(&mut claims, "development");
        sign_fit(&claims)
    };
    vec![
        ("no token", Credential::None),
        (
            "context token issued an hour from now",
            Credential::Header(format!("JWT {}", context_token(TENANT, SECRET, now + 3600))),
        ),
        ("FIT of the development environment", Credential::Header(format!("Bearer {development_fit}"))),
        (
            "HS256 signed with another secret",
            Credential::Header(format!("JWT {}", context_token(TENANT, "not-the-secret", now))),
        ),
        ("HS256 forged, as ?jwt=", Credential::Query(context_token(TENANT, "not-the-secret", now))),
        ("alg: none", Credential::Header(format!("JWT {alg_none}"))),
        ("RS256 with an unknown kid", Credential::Header(format!("JWT {unknown_kid}"))),
        ("expired context token", Credential::Header(format!("JWT {}", context_token(TENANT, SECRET, now - 3600)))),
        ("context token as Bearer", Credential::Header(format!("Bearer {}", context_token(TENANT, SECRET, now)))),
        ("FIT with a forged signature", Credential::Header(format!("Bearer {install_key_as_fit}"))),
        ("garbage", Credential::Header("JWT not.a.token".into())),
    ]
}

async fn send(app: &TestApp, request: Request<Body>) -> (u16, HeaderMap, Value) {
    app.send(request).await
}

fn assert_security_headers(what: &str, headers: &HeaderMap, hsts: bool) {
    let cache = headers.get("cache-control").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(cache.contains("no-store") || cache.contains("no-cache"), "{what}: Cache-Control {cache:?}");
    assert_eq!(headers.get("referrer-policy").map(|v| v.as_bytes()), Some(&b"no-referrer"[..]), "{what}");
    assert_eq!(headers.get("x-content-type-options").map(|v| v.as_bytes()), Some(&b"nosniff"[..]), "{what}");
    let sent = headers.get("strict-transport-security").map(|v| v.to_str().expect("ascii").to_owned());
    assert_eq!(sent, hsts.then(|| HSTS.to_owned()), "{what}: HSTS");
}

async fn deployed_app() -> TestApp {
    let app = TestApp::new().with_every_route();
    app.install(TENANT, SECRET).await;
    app
}

#[tokio::test]
async fn every_authenticated_operation_refuses_forged_tokens_with_the_uniform_401() {
    let app = deployed_app().await;
    let mut probed = 0;
    for (method, template, caller) in documented_operations() {
        if matches!(caller, Caller::Anyone | Caller::Operator) {
            continue;
        }
        for (what, credential) in forged_credentials(app.now_secs()) {
            let (status, headers, body) = send(&app, request(&method, &template, &credential)).await;
            assert_eq!((status, &body), (401, &uniform_401()), "{method} {template} with {what}");
            assert_security_headers(&format!("{method} {template} with {what}"), &headers, true);
            probed += 1;
        }
    }
    assert!(probed > 500, "{probed} probes");
}

#[tokio::test]
async fn request_bound_and_install_routes_refuse_a_valid_context_token() {
    let app = deployed_app().await;
    let context = format!("JWT {}", context_token(TENANT, SECRET, app.now_secs()));
    let fit = format!("Bearer {}", forge_token(&cloud_of(TENANT), Some(ADMIN_ACCOUNT), app.now_secs()));
    let mut probed = Vec::new();
    for (method, template, caller) in documented_operations() {
        // Context tokens (qsh = context-qsh) are for browser routes only; lifecycle and realm
        // migration hooks need a token bound to the request, Forge events a FIT.
        let refused: &[&String] = match caller {
            Caller::SignedInstall | Caller::RequestBound => &[&context, &fit],
            Caller::ForgeEvent => &[&context],
            _ => continue,
        };
        for token in refused {
            let (status, headers, body) =
                send(&app, request(&method, &template, &Credential::Header((*token).clone()))).await;
            assert_eq!((status, &body), (401, &uniform_401()), "{method} {template} with {token}");
            assert_security_headers(&format!("{method} {template}"), &headers, true);
        }
        probed.push(template);
    }
    assert!(probed.iter().any(|p| p.starts_with("/lifecycle/dare-migration")), "{probed:?}");
    assert!(probed.iter().any(|p| p == "/lifecycle/enabled"), "{probed:?}");
}

/// The control: the same requests with the tenant's real token are not refused as unauthenticated,
/// so the 401s above come from the forgery, not from a route that refuses everyone.
#[tokio::test]
async fn a_genuine_context_token_passes_authentication_on_every_user_operation() {
    let app = deployed_app().await;
    let token =
        Credential::Header(format!("JWT {}", context_token_as(TENANT, SECRET, Some(ADMIN_ACCOUNT), app.now_secs())));
    for (method, template, caller) in documented_operations() {
        if caller != Caller::TenantUser {
            continue;
        }
        let (status, headers, body) = send(&app, request(&method, &template, &token)).await;
        assert_ne!(status, 401, "{method} {template}: {body}");
        assert!(status < 500, "{method} {template}: {status} {body}");
        assert_security_headers(&format!("{method} {template}"), &headers, true);
    }
}

#[tokio::test]
async fn operator_routes_refuse_requests_without_an_iam_identity() {
    let app = deployed_app().await;
    let token = Credential::Header(format!("JWT {}", context_token(TENANT, SECRET, app.now_secs())));
    for (method, template, caller) in documented_operations() {
        if caller != Caller::Operator {
            continue;
        }
        for credential in [&Credential::None, &token] {
            let (status, headers, body) = send(&app, request(&method, &template, credential)).await;
            assert_eq!((status, body["error"]["code"].as_str()), (403, Some("operator_only")), "{method} {template}");
            assert_security_headers(&format!("{method} {template}"), &headers, true);
        }
    }
}

#[tokio::test]
async fn every_answer_carries_the_headers_and_hsts_only_when_deployed() {
    let deployed = deployed_app().await;
    // The local server's configuration: a plain-HTTP base URL on loopback.
    let mut local = TestApp::new();
    let mut config = AppConfig::clone(&local.state.config);
    config.base_url = "http://127.0.0.1:8080".into();
    local.state.stack.config = Arc::new(config);
    let local = local.with_every_route();
    let unknown = [(Method::GET, "/api/nothing-here".to_owned()), (Method::PATCH, "/api/sites".to_owned())];
    let operations = documented_operations().into_iter().map(|(method, template, _)| (method, template));
    for (method, template) in operations.chain(unknown) {
        for (app, hsts) in [(&deployed, true), (&local, false)] {
            let (status, headers, _) = send(app, request(&method, &template, &Credential::None)).await;
            assert_security_headers(&format!("{method} {template} ({status})"), &headers, hsts);
        }
    }
}
