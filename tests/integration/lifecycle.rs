//! The lifecycle function through its router: descriptor, signed installs, uninstall and purge
//! scheduling, enable/disable, the tenant API, and every kind of bad input.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use canopy_shared::TenantKey;
use canopy_shared::adapters::http::http_client;
use canopy_shared::adapters::install_keys::HttpInstallKeys;
use canopy_shared::domain::connect::jwt::{Audience, sign_hs256, sign_rs256};
use canopy_shared::domain::tenants;
use canopy_shared::kernel::keys;
use canopy_shared::kernel::product_url::ProductHosts;
use canopy_shared::ports::store::PageRequest;
use serde_json::{Value, json};
use support::app::*;

const INSTALLED: &str = "/lifecycle/installed";
const UNINSTALLED: &str = "/lifecycle/uninstalled";
const ENABLED: &str = "/lifecycle/enabled";
const DISABLED: &str = "/lifecycle/disabled";
const CLIENT: &str = "574f8bdd-8dc4-35d3-9558-7bcea4e41de6";
const SECRET: &str = "first-shared-secret";

async fn install(app: &TestApp, client: &str, secret: &str) -> u16 {
    let token = sign_install(&install_claims(client, INSTALLED, app.now_secs()));
    app.send(post(INSTALLED, Some(&token), &install_payload(client, secret))).await.0
}

async fn stored(app: &TestApp, client: &str) -> Option<tenants::Tenant> {
    let key = TenantKey::from_verified(client).expect("key");
    tenants::load(&app.state, &key).await.expect("load").map(|(t, _)| t)
}

fn assert_error(status: u16, body: &Value, expected_status: u16, code: &str) {
    assert_eq!(status, expected_status, "body: {body}");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
}

async fn assert_unauthenticated_and_nothing_written(app: &TestApp, request: Request<Body>) {
    let (status, _, body) = app.send(request).await;
    assert_error(status, &body, 401, "unauthenticated");
    assert_eq!(body["error"]["message"], "Authentication failed.", "one uniform 401 body");
    assert!(stored(app, CLIENT).await.is_none(), "nothing may be written");
}

#[tokio::test]
async fn descriptor_names_the_lifecycle_paths_and_opts_into_signed_install() {
    let app = TestApp::new();
    let (status, headers, body) = app.send(get("/atlassian-connect.json", None)).await;
    assert_eq!(status, 200);
    assert_eq!(body["baseUrl"], BASE_URL);
    assert_eq!(body["lifecycle"]["installed"], INSTALLED);
    assert_eq!(body["lifecycle"]["uninstalled"], UNINSTALLED);
    assert_eq!(body["apiMigrations"], json!({"signed-install": true, "context-qsh": true, "gdpr": true}));
    assert_eq!(headers["cache-control"], "no-cache, no-store");
    assert_eq!(headers["referrer-policy"], "no-referrer");
}

#[tokio::test]
async fn install_creates_the_tenant_and_its_context_tokens_work() {
    let app = TestApp::new();
    assert_eq!(install(&app, CLIENT, SECRET).await, 204);
    let tenant = stored(&app, CLIENT).await.expect("tenant stored");
    assert_eq!(tenant.shared_secret, SECRET);
    assert_eq!(tenant.state, tenants::TenantState::Installed);
    assert_eq!(tenant.cloud_id, Some(cloud_of(CLIENT)));
    assert_eq!(tenant.installed_at, "2026-01-15T00:00:00Z");

    let token = context_token(CLIENT, SECRET, app.now_secs());
    let (status, headers, body) = app.send(get("/api/tenant", Some(&token))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["clientKey"], CLIENT);
    assert_eq!(body["state"], "installed");
    assert!(body.get("sharedSecret").is_none(), "the secret never leaves the store");
    assert_eq!(headers["cache-control"], "no-cache, no-store");

    // The same install delivered twice (Atlassian retries) is still one tenant.
    assert_eq!(install(&app, CLIENT, SECRET).await, 204);
    assert_eq!(stored(&app, CLIENT).await.expect("tenant").first_installed_at, tenant.first_installed_at);
}

#[tokio::test]
async fn reinstall_rotates_the_secret_and_base_url() {
    let app = TestApp::new();
    install(&app, CLIENT, SECRET).await;
    app.clock.advance_secs(60);
    let mut payload = install_payload(CLIENT, "rotated-secret");
    payload["baseUrl"] = json!("https://renamed.atlassian.net/wiki");
    let token = sign_install(&install_claims(CLIENT, INSTALLED, app.now_secs()));
    assert_eq!(app.send(post(INSTALLED, Some(&token), &payload)).await.0, 204);
    let tenant = stored(&app, CLIENT).await.expect("tenant");
    assert_eq!(tenant.shared_secret, "rotated-secret");
    assert_eq!(tenant.base_url, "https://renamed.atlassian.net/wiki");

    let old = context_token(CLIENT, SECRET, app.now_secs());
    assert_eq!(app.send(get("/api/tenant", Some(&old))).await.0, 401);
    let new = context_token(CLIENT, "rotated-secret", app.now_secs());
    assert_eq!(app.send(get("/api/tenant", Some(&new))).await.0, 200);
}

#[tokio::test]
async fn install_refuses_every_forged_or_misdirected_token() {
    let app = TestApp::new();
    let now = app.now_secs();
    let payload = install_payload(CLIENT, SECRET);
    let good = install_claims(CLIENT, INSTALLED, now);

    assert_unauthenticated_and_nothing_written(&app, post(INSTALLED, None, &payload)).await;
    assert_unauthenticated_and_nothing_written(&app, post(INSTALLED, Some("garbage"), &payload)).await;
    assert_unauthenticated_and_nothing_written(&app, post(INSTALLED, Some("a.b.c"), &payload)).await;

    let mut expired = good.clone();
    expired.iat = Some(now - 600);
    expired.exp = Some(now - 300);
    assert_unauthenticated_and_nothing_written(&app, post(INSTALLED, Some(&sign_install(&expired)), &payload)).await;

    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"canopy-dev-install-key"}"#);
    let claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&good).expect("claims"));
    let alg_none = format!("{header}.{claims}.");
    assert_unauthenticated_and_nothing_written(&app, post(INSTALLED, Some(&alg_none), &payload)).await;

    let hs256 = sign_hs256(&good, SECRET).expect("sign");
    assert_unauthenticated_and_nothing_written(&app, post(INSTALLED, Some(&hs256), &payload)).await;

    let unknown_kid = sign_rs256(&good, "fake-kid", DEV_PRIVATE_KEY).expect("sign");
    assert_unauthenticated_and_nothing_written(&app, post(INSTALLED, Some(&unknown_kid), &payload)).await;

    let unsafe_kid = sign_rs256(&good, "../../etc/passwd", DEV_PRIVATE_KEY).expect("sign");
    assert_unauthenticated_and_nothing_written(&app, post(INSTALLED, Some(&unsafe_kid), &payload)).await;

    let other_key = include_bytes!("../support/other-install-key.pem");
    let wrong_signer = sign_rs256(&good, DEV_KID, other_key).expect("sign");
    assert_unauthenticated_and_nothing_written(&app, post(INSTALLED, Some(&wrong_signer), &payload)).await;

    let mut other_iss = good.clone();
    other_iss.iss = "another-client".into();
    assert_unauthenticated_and_nothing_written(&app, post(INSTALLED, Some(&sign_install(&other_iss)), &payload)).await;

    let mut other_aud = good.clone();
    other_aud.aud = Some(Audience::One("https://another-app.example.com".into()));
    assert_unauthenticated_and_nothing_written(&app, post(INSTALLED, Some(&sign_install(&other_aud)), &payload)).await;

    let mut no_aud = good.clone();
    no_aud.aud = None;
    assert_unauthenticated_and_nothing_written(&app, post(INSTALLED, Some(&sign_install(&no_aud)), &payload)).await;

    let mut other_route = good.clone();
    other_route.qsh = install_claims(CLIENT, UNINSTALLED, now).qsh;
    assert_unauthenticated_and_nothing_written(&app, post(INSTALLED, Some(&sign_install(&other_route)), &payload))
        .await;

    let mut context = good.clone();
    context.qsh = Some("context-qsh".into());
    assert_unauthenticated_and_nothing_written(&app, post(INSTALLED, Some(&sign_install(&context)), &payload)).await;

    let mut no_qsh = good.clone();
    no_qsh.qsh = None;
    assert_unauthenticated_and_nothing_written(&app, post(INSTALLED, Some(&sign_install(&no_qsh)), &payload)).await;

    // The control: the untampered token is accepted, so each refusal above had its own cause.
    assert_eq!(app.send(post(INSTALLED, Some(&sign_install(&good)), &payload)).await.0, 204);
}

#[tokio::test]
async fn aud_with_a_trailing_slash_is_the_same_app() {
    let app = TestApp::new();
    let mut claims = install_claims(CLIENT, INSTALLED, app.now_secs());
    claims.aud = Some(Audience::One(format!("{BASE_URL}/")));
    let (status, _, body) =
        app.send(post(INSTALLED, Some(&sign_install(&claims)), &install_payload(CLIENT, SECRET))).await;
    assert_eq!(status, 204, "{body}");
}

/// Base URLs that would send Canopy's app-signed calls elsewhere than an Atlassian site.
const UNTRUSTED_BASE_URLS: &[&str] = &[
    "https://evil.example/wiki",
    "http://acme.atlassian.net/wiki",
    "https://evil.example#.atlassian.net",
    "https://evil.example?.atlassian.net/wiki",
    "https://acme.atlassian.net@evil.example",
    "https://evil.example@acme.atlassian.net",
    "https://acme.atlassian.net/wiki#",
    "https://acme.atlassian.net/wiki?x=1",
    "https://acme.atlassian.net:8443/wiki",
    "https://127.0.0.1/wiki",
    "https://169.254.169.254",
    "https://[::1]/wiki",
    "https://2130706433/wiki",
    "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next#",
    "http://localhost:8080/wiki",
    "https://acme.atlаssian.net/wiki",
    "https://xn--acme-9na.atlassian.net/wiki",
    "https://acme.atlassian.net./wiki",
    "https://acme.atlassian.net.evil.example/wiki",
];

#[tokio::test]
async fn installs_name_a_trusted_product_site() {
    let app = TestApp::new().with_config(|config| config.product_hosts = ProductHosts::default());
    for base_url in UNTRUSTED_BASE_URLS {
        let mut payload = install_payload(CLIENT, SECRET);
        payload["baseUrl"] = json!(base_url);
        // Atlassian signs each delivery anew: a token is used with one body only.
        app.clock.advance_secs(1);
        let token = sign_install(&install_claims(CLIENT, INSTALLED, app.now_secs()));
        let (status, _, body) = app.send(post(INSTALLED, Some(&token), &payload)).await;
        assert_error(status, &body, 422, "untrusted_base_url");
        assert!(stored(&app, CLIENT).await.is_none(), "{base_url}: nothing may be written");
    }
    app.clock.advance_secs(1);
    assert_eq!(install(&app, CLIENT, SECRET).await, 204, "an Atlassian site installs");
    // A reinstall cannot move a tenant to an untrusted site either.
    for base_url in UNTRUSTED_BASE_URLS {
        let mut payload = install_payload(CLIENT, "another-secret");
        payload["baseUrl"] = json!(base_url);
        app.clock.advance_secs(1);
        let token = sign_install(&install_claims(CLIENT, INSTALLED, app.now_secs()));
        let (status, _, body) = app.send(post(INSTALLED, Some(&token), &payload)).await;
        assert_error(status, &body, 422, "untrusted_base_url");
    }
    let tenant = stored(&app, CLIENT).await.expect("tenant");
    assert_eq!(tenant.base_url, install_payload(CLIENT, SECRET)["baseUrl"].as_str().expect("url"));
    assert_eq!(tenant.shared_secret, SECRET);
}

#[tokio::test]
async fn the_product_hosts_are_configurable_and_loopback_is_opt_in() {
    let mut payload = install_payload(CLIENT, SECRET);
    payload["baseUrl"] = json!("https://acme.example-product.net/wiki");
    let custom =
        TestApp::new().with_config(|c| c.product_hosts = ProductHosts::parse("example-product.net").expect("setting"));
    let token = sign_install(&install_claims(CLIENT, INSTALLED, custom.now_secs()));
    assert_eq!(custom.send(post(INSTALLED, Some(&token), &payload)).await.0, 204);
    // The configured list replaces the default one.
    assert_eq!(install(&custom, "other-client", SECRET).await, 422);

    payload["baseUrl"] = json!("http://127.0.0.1:9/wiki");
    let deployed = TestApp::new().with_config(|c| c.product_hosts = ProductHosts::default());
    let token = sign_install(&install_claims(CLIENT, INSTALLED, deployed.now_secs()));
    assert_eq!(deployed.send(post(INSTALLED, Some(&token), &payload)).await.0, 422);
    let with_loopback = TestApp::new()
        .with_config(|c| c.product_hosts = ProductHosts::parse("atlassian.net,http-loopback").expect("setting"));
    let token = sign_install(&install_claims(CLIENT, INSTALLED, with_loopback.now_secs()));
    assert_eq!(with_loopback.send(post(INSTALLED, Some(&token), &payload)).await.0, 204);
}

#[tokio::test]
async fn install_bodies_that_are_malformed_incomplete_mistyped_or_too_large_change_nothing() {
    let app = TestApp::new();
    // A fresh token for each body: a token is used with one body only.
    let raw = |content_type: &str, body: String| {
        app.clock.advance_secs(1);
        let token = sign_install(&install_claims(CLIENT, INSTALLED, app.now_secs()));
        Request::post(INSTALLED)
            .header("content-type", content_type)
            .header("authorization", format!("JWT {token}"))
            .body(Body::from(body))
            .expect("request")
    };

    let (status, _, body) = app.send(raw("application/json", format!("{{\"clientKey\":\"{CLIENT}\","))).await;
    assert_error(status, &body, 400, "malformed_json");

    let (status, _, body) = app.send(raw("application/json", json!({"clientKey": CLIENT}).to_string())).await;
    assert_error(status, &body, 422, "invalid_body");

    let mut no_secret = install_payload(CLIENT, SECRET);
    no_secret.as_object_mut().expect("object").remove("sharedSecret");
    let (status, _, body) = app.send(raw("application/json", no_secret.to_string())).await;
    assert_error(status, &body, 422, "missing_field");

    let mut bad_product = install_payload(CLIENT, SECRET);
    bad_product["productType"] = json!("bitbucket");
    let (status, _, body) = app.send(raw("application/json", bad_product.to_string())).await;
    assert_error(status, &body, 422, "invalid_field");

    let (status, _, body) = app.send(raw("text/plain", install_payload(CLIENT, SECRET).to_string())).await;
    assert_error(status, &body, 415, "unsupported_media_type");

    let mut huge = install_payload(CLIENT, SECRET);
    huge["description"] = json!("x".repeat(70 * 1024));
    let (status, _, body) = app.send(raw("application/json", huge.to_string())).await;
    assert_error(status, &body, 413, "payload_too_large");

    assert!(stored(&app, CLIENT).await.is_none(), "nothing may be written");
}

#[tokio::test]
async fn an_install_keys_service_that_is_down_answers_503_and_writes_nothing() {
    // Port 9 (discard) on loopback: nothing listens, the connection is refused.
    let mut app = TestApp::new();
    app.state.install_keys =
        Arc::new(HttpInstallKeys::new("http://127.0.0.1:9", http_client().expect("client"), app.clock.clone()));
    let app = app.serving(canopy_shared::http::lifecycle::routes());
    let token = sign_install(&install_claims(CLIENT, INSTALLED, app.now_secs()));
    let (status, headers, body) = app.send(post(INSTALLED, Some(&token), &install_payload(CLIENT, SECRET))).await;
    assert_error(status, &body, 503, "dependency_unavailable");
    assert_eq!(headers["retry-after"], "5");
    assert!(!body.to_string().contains("127.0.0.1"), "no internals in a 5xx body");
    assert!(stored(&app, CLIENT).await.is_none());
}

/// An install-keys service on loopback that knows the dev key only, counting the requests it gets.
async fn counting_install_keys(app: TestApp) -> (TestApp, Arc<std::sync::atomic::AtomicUsize>) {
    use axum::extract::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let service = axum::Router::new().route(
        "/{kid}",
        axum::routing::get(move |Path(kid): Path<String>| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                match kid.as_str() {
                    DEV_KID => (axum::http::StatusCode::OK, DEV_PUBLIC_KEY.to_vec()),
                    _ => (axum::http::StatusCode::NOT_FOUND, b"no such key".to_vec()),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, service).await });
    let mut app = app;
    app.state.install_keys = Arc::new(HttpInstallKeys::new(&url, http_client().expect("client"), app.clock.clone()));
    (app.serving(canopy_shared::http::lifecycle::routes()), asked)
}

#[tokio::test]
async fn unknown_install_kids_are_remembered_briefly_and_fetches_are_bounded_per_minute() {
    use canopy_shared::adapters::install_keys::{MAX_FETCHES_PER_MINUTE, UNKNOWN_KID_CACHE_SECS};
    use std::sync::atomic::Ordering;
    let (app, asked) = counting_install_keys(TestApp::new()).await;
    let asked = || asked.load(Ordering::SeqCst);
    let with_kid = |kid: &str, client: &str| {
        let token = sign_rs256(&install_claims(client, INSTALLED, app.now_secs()), kid, DEV_PRIVATE_KEY).expect("sign");
        let mut payload = install_payload(client, SECRET);
        payload["cloudId"] = json!(cloud_of(client));
        post(INSTALLED, Some(&token), &payload)
    };

    // One made-up kid, again and again: asked about once while it is remembered as unknown.
    for _ in 0..5 {
        assert_unauthenticated_and_nothing_written(&app, with_kid("made-up-kid", CLIENT)).await;
    }
    assert_eq!(asked(), 1);
    app.clock.advance_secs(UNKNOWN_KID_CACHE_SECS);
    assert_unauthenticated_and_nothing_written(&app, with_kid("made-up-kid", CLIENT)).await;
    assert_eq!(asked(), 2, "asked again once the short memory ends");

    // A flood of distinct kids: the minute's budget, then 503 + Retry-After without asking.
    let minute_start = app.now_secs() - app.now_secs().rem_euclid(60);
    for i in 0..3 * MAX_FETCHES_PER_MINUTE {
        let (status, headers, body) = app.send(with_kid(&format!("flood-{i}"), CLIENT)).await;
        assert!(status == 401 || status == 503, "{status} {body}");
        if status == 503 {
            assert_error(status, &body, 503, "dependency_unavailable");
            let retry: i64 = headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
            assert!((1..=minute_start + 60 - app.now_secs()).contains(&retry), "{retry}");
        }
    }
    // Two asks before the flood, one of them in this minute: the rest of the minute's budget.
    assert_eq!(asked(), 1 + MAX_FETCHES_PER_MINUTE as usize, "the budget of the minute, not one request per kid");
    assert!(stored(&app, CLIENT).await.is_none());

    // The next minute a genuine install gets its key; once cached, no flood can keep it out.
    app.clock.advance_secs(60);
    assert_eq!(app.send(with_kid(DEV_KID, CLIENT)).await.0, 204);
    for i in 0..2 * MAX_FETCHES_PER_MINUTE {
        app.send(with_kid(&format!("second-flood-{i}"), "other-client")).await;
    }
    app.clock.advance_secs(1);
    assert_eq!(app.send(with_kid(DEV_KID, "other-client")).await.0, 204);
}

#[tokio::test]
async fn uninstall_schedules_the_purge_once_and_keeps_the_secret() {
    let app = TestApp::new();
    install(&app, CLIENT, SECRET).await;
    let token = sign_install(&install_claims(CLIENT, UNINSTALLED, app.now_secs()));
    let mut payload = install_payload(CLIENT, "a-secret-that-must-not-be-stored");
    payload["eventType"] = json!("uninstalled");
    assert_eq!(app.send(post(UNINSTALLED, Some(&token), &payload)).await.0, 204);

    let tenant = stored(&app, CLIENT).await.expect("tenant kept until the purge");
    assert_eq!(tenant.state, tenants::TenantState::Uninstalled);
    assert_eq!(tenant.shared_secret, SECRET);
    assert_eq!(tenant.purge_after.as_deref(), Some("2026-02-14T00:00:00Z"), "30 days after uninstall");
    let purge_at = app.now_secs() + 30 * 86_400;
    let due = app
        .state
        .store
        .due(canopy_shared::kernel::keys::PURGE_DUE_KIND, purge_at, PageRequest { limit: 10, after: None })
        .await
        .expect("due");
    assert_eq!(due.items.len(), 1);
    assert_eq!((due.items[0].sk.as_str(), due.items[0].at), (keys::TENANT_RECORD, purge_at));
    let not_yet = app
        .state
        .store
        .due(canopy_shared::kernel::keys::PURGE_DUE_KIND, purge_at - 1, PageRequest { limit: 10, after: None })
        .await;
    assert!(not_yet.expect("due").items.is_empty());

    // A retried uninstall a day later does not postpone the purge.
    app.clock.advance_secs(86_400);
    let token = sign_install(&install_claims(CLIENT, UNINSTALLED, app.now_secs()));
    assert_eq!(app.send(post(UNINSTALLED, Some(&token), &payload)).await.0, 204);
    assert_eq!(stored(&app, CLIENT).await.expect("tenant").purge_after.as_deref(), Some("2026-02-14T00:00:00Z"));

    // An uninstalled tenant's tokens no longer work.
    let context = context_token(CLIENT, SECRET, app.now_secs());
    assert_eq!(app.send(get("/api/tenant", Some(&context))).await.0, 401);
}

#[tokio::test]
async fn reinstall_within_the_purge_window_cancels_the_purge_and_keeps_the_data() {
    let app = TestApp::new();
    install(&app, CLIENT, SECRET).await;
    let token = sign_install(&install_claims(CLIENT, UNINSTALLED, app.now_secs()));
    app.send(post(UNINSTALLED, Some(&token), &install_payload(CLIENT, SECRET))).await;
    app.clock.advance_secs(10 * 86_400);
    assert_eq!(install(&app, CLIENT, "new-secret").await, 204);

    let tenant = stored(&app, CLIENT).await.expect("tenant");
    assert_eq!(tenant.state, tenants::TenantState::Installed);
    assert_eq!(tenant.purge_after, None);
    assert_eq!(tenant.first_installed_at, "2026-01-15T00:00:00Z");
    let events: Vec<&str> = tenant.history.iter().map(|t| t.event.as_str()).collect();
    assert_eq!(events, ["installed", "uninstalled", "reinstalled"]);
    let due = app
        .state
        .store
        .due(canopy_shared::kernel::keys::PURGE_DUE_KIND, i64::MAX / 2, PageRequest { limit: 10, after: None })
        .await;
    assert!(due.expect("due").items.is_empty(), "the purge is off the due index");
}

#[tokio::test]
async fn uninstall_of_an_unknown_tenant_is_a_json_404() {
    let app = TestApp::new();
    let token = sign_install(&install_claims(CLIENT, UNINSTALLED, app.now_secs()));
    let (status, _, body) = app.send(post(UNINSTALLED, Some(&token), &install_payload(CLIENT, SECRET))).await;
    assert_error(status, &body, 404, "unknown_tenant");
}

#[tokio::test]
async fn uninstall_needs_the_signed_install_token_too() {
    let app = TestApp::new();
    install(&app, CLIENT, SECRET).await;
    let hs256 = request_token(CLIENT, SECRET, "POST", UNINSTALLED, app.now_secs());
    let (status, _, body) = app.send(post(UNINSTALLED, Some(&hs256), &install_payload(CLIENT, SECRET))).await;
    assert_error(status, &body, 401, "unauthenticated");
    assert_eq!(stored(&app, CLIENT).await.expect("tenant").state, tenants::TenantState::Installed);
}

#[tokio::test]
async fn disable_and_enable_flip_api_access() {
    let app = TestApp::new();
    install(&app, CLIENT, SECRET).await;
    let now = app.now_secs();
    let payload = install_payload(CLIENT, SECRET);
    let disable = request_token(CLIENT, SECRET, "POST", DISABLED, now);
    assert_eq!(app.send(post(DISABLED, Some(&disable), &payload)).await.0, 204);
    assert_eq!(app.send(post(DISABLED, Some(&disable), &payload)).await.0, 204, "idempotent");

    let context = context_token(CLIENT, SECRET, now);
    let (status, _, body) = app.send(get("/api/tenant", Some(&context))).await;
    assert_error(status, &body, 403, "tenant_disabled");

    let enable = request_token(CLIENT, SECRET, "POST", ENABLED, now);
    assert_eq!(app.send(post(ENABLED, Some(&enable), &payload)).await.0, 204);
    assert_eq!(app.send(get("/api/tenant", Some(&context))).await.0, 200);
    let events: Vec<String> =
        stored(&app, CLIENT).await.expect("tenant").history.into_iter().map(|t| t.event).collect();
    assert_eq!(events, ["installed", "disabled", "enabled"]);
}

#[tokio::test]
async fn enable_refuses_context_tokens_wrong_secrets_and_unknown_tenants() {
    let app = TestApp::new();
    install(&app, CLIENT, SECRET).await;
    let now = app.now_secs();
    let payload = install_payload(CLIENT, SECRET);
    for token in [
        context_token(CLIENT, SECRET, now),
        request_token(CLIENT, "wrong-secret", "POST", ENABLED, now),
        request_token(CLIENT, SECRET, "POST", DISABLED, now),
        request_token("unknown-client", SECRET, "POST", ENABLED, now),
    ] {
        let (status, _, body) = app.send(post(ENABLED, Some(&token), &payload)).await;
        assert_error(status, &body, 401, "unauthenticated");
    }
    let mut other_client = payload.clone();
    other_client["clientKey"] = json!("someone-else");
    let token = request_token(CLIENT, SECRET, "POST", ENABLED, now);
    assert_eq!(app.send(post(ENABLED, Some(&token), &other_client)).await.0, 401);
    assert_eq!(stored(&app, CLIENT).await.expect("tenant").state, tenants::TenantState::Installed);
}

#[tokio::test]
async fn enable_after_uninstall_is_a_conflict() {
    let app = TestApp::new();
    install(&app, CLIENT, SECRET).await;
    let token = sign_install(&install_claims(CLIENT, UNINSTALLED, app.now_secs()));
    app.send(post(UNINSTALLED, Some(&token), &install_payload(CLIENT, SECRET))).await;
    let enable = request_token(CLIENT, SECRET, "POST", ENABLED, app.now_secs());
    let (status, _, body) = app.send(post(ENABLED, Some(&enable), &install_payload(CLIENT, SECRET))).await;
    // The secret still verifies, but an uninstalled tenant is treated as unknown.
    assert_error(status, &body, 401, "unauthenticated");
    assert_eq!(stored(&app, CLIENT).await.expect("tenant").state, tenants::TenantState::Uninstalled);
}

#[tokio::test]
async fn api_tokens_must_be_fresh_bound_and_unambiguous() {
    let app = TestApp::new();
    install(&app, CLIENT, SECRET).await;
    let now = app.now_secs();
    let bound = request_token(CLIENT, SECRET, "GET", "/api/tenant", now);
    assert_eq!(app.send(get("/api/tenant", Some(&bound))).await.0, 200, "a request-bound token also works");
    let other_route = request_token(CLIENT, SECRET, "GET", "/api/other", now);
    assert_eq!(app.send(get("/api/tenant", Some(&other_route))).await.0, 401);

    let context = context_token(CLIENT, SECRET, now);
    let both = Request::get(format!("/api/tenant?jwt={context}"))
        .header("authorization", format!("JWT {context}"))
        .body(Body::empty())
        .expect("request");
    assert_eq!(app.send(both).await.0, 401, "token in query and header");
    let query_only = Request::get(format!("/api/tenant?jwt={context}")).body(Body::empty()).expect("request");
    assert_eq!(app.send(query_only).await.0, 200);
    let bearer = Request::get("/api/tenant").header("authorization", format!("Bearer {context}")).body(Body::empty());
    assert_eq!(app.send(bearer.expect("request")).await.0, 401);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_with_security_headers() {
    let app = TestApp::new();
    let (status, headers, body) = app.send(get("/nope", None)).await;
    assert_error(status, &body, 404, "unknown_route");
    assert_eq!(headers["cache-control"], "no-cache, no-store");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let (status, headers, body) = app.send(get(INSTALLED, None)).await;
    assert_error(status, &body, 405, "method_not_allowed");
    assert_eq!(headers["cache-control"], "no-cache, no-store");
}

#[tokio::test]
async fn concurrent_installs_of_one_tenant_all_succeed() {
    // Up to WRITE_ATTEMPTS (5) deliveries racing each other all land: each round one wins. Each
    // is signed on its own (issued a second apart), as Atlassian signs every delivery.
    let app = Arc::new(TestApp::new());
    let mut tasks = Vec::new();
    for i in 0..5 {
        let app = app.clone();
        let token = sign_install(&install_claims(CLIENT, INSTALLED, app.now_secs() - i));
        tasks.push(tokio::spawn(async move {
            app.send(post(INSTALLED, Some(&token), &install_payload(CLIENT, &format!("secret-{i}")))).await.0
        }));
    }
    for task in tasks {
        assert_eq!(task.await.expect("task"), 204);
    }
    let tenant = stored(&app, CLIENT).await.expect("tenant");
    assert!(tenant.shared_secret.starts_with("secret-"));
    assert_eq!(tenant.history.len(), 5, "every delivery recorded once");
}

#[tokio::test]
async fn a_signed_install_may_live_five_minutes_at_most() {
    let app = TestApp::new();
    let now = app.now_secs();
    let mut long = install_claims(CLIENT, INSTALLED, now);
    long.exp = Some(now + canopy_shared::domain::connect::jwt::MAX_INSTALL_TOKEN_LIFETIME_SECS + 1);
    let payload = install_payload(CLIENT, SECRET);
    assert_unauthenticated_and_nothing_written(&app, post(INSTALLED, Some(&sign_install(&long)), &payload)).await;
    let mut year = install_claims(CLIENT, INSTALLED, now);
    year.exp = Some(now + 365 * 86_400);
    assert_unauthenticated_and_nothing_written(&app, post(INSTALLED, Some(&sign_install(&year)), &payload)).await;

    let mut at_the_bound = install_claims(CLIENT, INSTALLED, now);
    at_the_bound.exp = Some(now + canopy_shared::domain::connect::jwt::MAX_INSTALL_TOKEN_LIFETIME_SECS);
    assert_eq!(app.send(post(INSTALLED, Some(&sign_install(&at_the_bound)), &payload)).await.0, 204);
}

#[tokio::test]
async fn installs_must_name_this_apps_key() {
    let app = TestApp::new();
    for (key, code) in [(Some("another-app"), "wrong_app_key"), (Some(""), "wrong_app_key"), (None, "missing_field")] {
        let mut payload = install_payload(CLIENT, SECRET);
        match key {
            Some(key) => payload["key"] = json!(key),
            None => drop(payload.as_object_mut().expect("object").remove("key")),
        }
        let token = sign_install(&install_claims(CLIENT, INSTALLED, app.now_secs()));
        let (status, _, body) = app.send(post(INSTALLED, Some(&token), &payload)).await;
        assert_error(status, &body, 422, code);
        assert!(stored(&app, CLIENT).await.is_none(), "{key:?}: nothing may be written");
        app.clock.advance_secs(1);
    }
    assert_eq!(install(&app, CLIENT, SECRET).await, 204);
    // An uninstall for another app changes nothing either.
    let mut payload = install_payload(CLIENT, SECRET);
    payload["key"] = json!("another-app");
    let token = sign_install(&install_claims(CLIENT, UNINSTALLED, app.now_secs()));
    let (status, _, body) = app.send(post(UNINSTALLED, Some(&token), &payload)).await;
    assert_error(status, &body, 422, "wrong_app_key");
    assert_eq!(stored(&app, CLIENT).await.expect("tenant").state, tenants::TenantState::Installed);
}

/// The store of a replay scenario: two app instances share it, as two Lambda instances share the table.
async fn world(store: support::world::Store) -> support::world::Opened {
    store.open().await
}

mod scenarios {
    use super::*;
    use support::world::Opened;

    /// Two instances of one deployment: one store, one master key for the tenants' secrets, one clock.
    fn two_instances(opened: &Opened) -> (TestApp, TestApp) {
        let first = TestApp::with_store(opened.store.clone());
        let mut second = TestApp::with_store(opened.store.clone());
        second.state.stack.data.secrets = first.state.secrets.clone();
        second.state.stack.data.clock = first.clock.clone();
        second.clock = first.clock.clone();
        let second = second.serving(canopy_shared::http::lifecycle::routes());
        (first, second)
    }

    /// A first use of a signed install token is claimed with one conditional write and no read;
    /// the claim is read only when one is already there (Atlassian's retry). The tenant's record
    /// is read once: the read that finds its home is the one the install starts from.
    pub async fn a_signed_install_token_is_claimed_with_one_write(opened: Opened) {
        use support::counting::{Calls, CountingStore};
        let calls = Arc::new(Calls::default());
        let app = TestApp::with_store(Arc::new(CountingStore { inner: opened.store.clone(), calls: calls.clone() }));
        let token = sign_install(&install_claims(CLIENT, INSTALLED, app.now_secs()));
        let payload = install_payload(CLIENT, SECRET);
        assert_eq!(app.send(post(INSTALLED, Some(&token), &payload)).await.0, 204);
        let first_use = "reads: the tenant's record (for its home, kept for the install), its cloudId's owner; \
                         writes: the claim, the install";
        assert_eq!(calls.snapshot(), (2, 0, 2), "{first_use}");
        calls.reset();
        assert_eq!(app.send(post(INSTALLED, Some(&token), &payload)).await.0, 204, "Atlassian's retry");
        assert_eq!(calls.snapshot(), (3, 0, 2), "the same, and the claim read once its write was refused");
    }

    pub async fn a_signed_install_is_used_once_with_its_body_across_instances(opened: Opened) {
        let (first, second) = two_instances(&opened);
        let token = sign_install(&install_claims(CLIENT, INSTALLED, first.now_secs()));
        let payload = install_payload(CLIENT, SECRET);
        assert_eq!(first.send(post(INSTALLED, Some(&token), &payload)).await.0, 204);
        // Atlassian delivering the same request again, to either instance: accepted.
        assert_eq!(second.send(post(INSTALLED, Some(&token), &payload)).await.0, 204, "a retry");

        // The token with another body: a new secret, another site, on the other instance too.
        let mut hijack = install_payload(CLIENT, "attackers-secret");
        hijack["baseUrl"] = json!("https://attacker.atlassian.net/wiki");
        for app in [&first, &second] {
            let (status, _, body) = app.send(post(INSTALLED, Some(&token), &hijack)).await;
            assert_error(status, &body, 409, "install_token_reused");
        }
        let tenant = stored(&first, CLIENT).await.expect("tenant");
        assert_eq!((tenant.shared_secret.as_str(), tenant.history.len()), (SECRET, 2), "nothing changed");
        assert_eq!(tenant.base_url, payload["baseUrl"]);

        // A token whose first use was refused cannot come back with a repaired body either.
        second.clock.advance_secs(10);
        let other = "replayed-after-a-refusal";
        let token = sign_install(&install_claims(other, INSTALLED, second.now_secs()));
        let mut bad = install_payload(other, SECRET);
        bad["productType"] = json!("bitbucket");
        assert_eq!(second.send(post(INSTALLED, Some(&token), &bad)).await.0, 422);
        let (status, _, body) = first.send(post(INSTALLED, Some(&token), &install_payload(other, SECRET))).await;
        assert_error(status, &body, 409, "install_token_reused");
        assert!(stored(&first, other).await.is_none());
    }

    pub async fn concurrent_uses_of_one_token_with_two_bodies_let_exactly_one_through(opened: Opened) {
        let (first, second) = two_instances(&opened);
        let token = sign_install(&install_claims(CLIENT, INSTALLED, first.now_secs()));
        let (a, b) = (install_payload(CLIENT, "secret-a"), install_payload(CLIENT, "secret-b"));
        let ((status_a, _, _), (status_b, _, _)) = tokio::join!(
            first.send(post(INSTALLED, Some(&token), &a)),
            second.send(post(INSTALLED, Some(&token), &b)),
        );
        let mut statuses = [status_a, status_b];
        statuses.sort();
        assert_eq!(statuses, [204, 409]);
        let winner = if status_a == 204 { "secret-a" } else { "secret-b" };
        assert_eq!(stored(&first, CLIENT).await.expect("tenant").shared_secret, winner);
    }

    pub async fn a_used_token_is_forgotten_when_it_expires(opened: Opened) {
        let app = TestApp::with_store(opened.store.clone());
        let claims = install_claims(CLIENT, INSTALLED, app.now_secs());
        let token = sign_install(&claims);
        assert_eq!(app.send(post(INSTALLED, Some(&token), &install_payload(CLIENT, SECRET))).await.0, 204);
        let sk = canopy_shared::domain::connect::install_replay::item_key(&token);
        let seen = app.state.store.get(&keys::install_tokens_tenant(), &sk, app.now_secs()).await.expect("get");
        let seen = seen.expect("the use is remembered");
        let exp = claims.exp.expect("exp");
        assert_eq!(seen.expires_at, Some(exp + canopy_shared::domain::connect::jwt::LEEWAY_SECS as i64));
        app.clock.advance_secs(exp + canopy_shared::domain::connect::jwt::LEEWAY_SECS as i64 - app.now_secs());
        assert!(app.state.store.get(&keys::install_tokens_tenant(), &sk, app.now_secs()).await.expect("get").is_none());
        // By then the token itself is refused as expired.
        let (status, _, _) = app.send(post(INSTALLED, Some(&token), &install_payload(CLIENT, "other"))).await;
        assert_eq!(status, 401);
    }
}

support::scenarios!(stores: [
    a_signed_install_token_is_claimed_with_one_write,
    a_signed_install_is_used_once_with_its_body_across_instances,
    concurrent_uses_of_one_token_with_two_bodies_let_exactly_one_through,
    a_used_token_is_forgotten_when_it_expires,
]);
