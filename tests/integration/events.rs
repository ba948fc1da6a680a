//! The `events/` samples (API Gateway HTTP API payload 2.0, what `sam local invoke -e` takes):
//! they are regenerated here and must match the files, and each one runs through the lifecycle
//! function's real handler with its documented answer, so the samples cannot rot. The Forge
//! samples carry Forge Invocation Tokens signed with the committed dev Forge key (`dev/`).
//!
//! `CANOPY_UPDATE_EVENTS=1 cargo nextest run -p canopy-tests --test integration events::` rewrites them.

use std::path::PathBuf;
use std::sync::Arc;

use canopy_shared::adapters::store::embedded::EmbeddedItemStore;
use canopy_shared::domain::connect::jwt::{Audience, ConnectClaims, sign_hs256, sign_rs256};
use canopy_shared::domain::connect::qsh::{CONTEXT_QSH, query_string_hash};
use canopy_shared::domain::forge::fit::{self, Invocation};
use canopy_shared::kernel::clock::ManualClock;
use canopy_shared::kernel::config::AppConfig;
use canopy_shared::state::AppState;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use support::app::{BASE_URL, DEV_KID, DEV_PRIVATE_KEY, FORGE_KID, FORGE_PRIVATE_KEY, dev_keys, forge_dev_keys};
use tower::ServiceExt;

const CLIENT: &str = "events-sample-tenant";
const SECRET: &str = "events-sample-shared-secret-not-for-production";
/// Samples must keep working for years: issued 2026-11-21, valid until 2100-01-01.
const IAT: i64 = 1_795_305_600;
const EXP: i64 = 4_102_444_800;

fn events_dir() -> PathBuf {
    support::repo::root().join("events")
}

/// Fixed ids, so that later samples can address what `content/import` creates.
const SITE_ID: &str = "01JD0000000000000000000001";
const ANNOUNCEMENT_ID: &str = "01JD0000000000000000000002";
const ADMIN: &str = "557058:events-admin";
const USER: &str = "557058:events-user";
/// The sample tenant's site, recorded at its Connect install: what its FITs name.
const CLOUD_ID: &str = "a436116f-02ce-4520-8fbb-7301462a1674";
/// The Forge app the samples' FITs are for: the local server's dev app (`CANOPY_FORGE_APP_ID`).
const FORGE_APP_ARI: &str = "ari:cloud:ecosystem::app/canopy-dev-app";
const INSTALLATION_ID: &str = "ari:cloud:ecosystem::installation/5c4e3f2a-6b1d-4e8a-9f0c-2d7b8a1e4c36";

fn claims(qsh: String, aud: Option<Audience>) -> ConnectClaims {
    claims_of(ADMIN, qsh, aud)
}

fn claims_of(account: &str, qsh: String, aud: Option<Audience>) -> ConnectClaims {
    ConnectClaims {
        iss: CLIENT.into(),
        sub: Some(account.into()),
        qsh: Some(qsh),
        aud,
        iat: Some(IAT),
        exp: Some(EXP),
        context: Some(json!({})),
    }
}

/// A signed install lives 3 minutes from `IAT`, as Atlassian's do (Canopy refuses longer ones):
/// the test plays the samples on a clock set to `IAT`.
fn signed_install(path: &str) -> String {
    let aud = Some(Audience::Many(vec![BASE_URL.into()]));
    let claims = ConnectClaims { exp: Some(IAT + 180), ..claims(query_string_hash("POST", path, "", ""), aud) };
    sign_rs256(&claims, DEV_KID, DEV_PRIVATE_KEY).expect("sign")
}

fn product_token(method: &str, path: &str) -> String {
    sign_hs256(&claims(query_string_hash(method, path, "", ""), None), SECRET).expect("sign")
}

fn payload(event_type: &str) -> Value {
    json!({
        "key": "canopy",
        "clientKey": CLIENT,
        "sharedSecret": SECRET,
        "baseUrl": "https://events-sample.atlassian.net/wiki",
        "productType": "confluence",
        "description": "Atlassian Confluence at https://events-sample.atlassian.net/wiki",
        "serverVersion": "6452",
        "pluginsVersion": "1.801.0",
        "cloudId": CLOUD_ID,
        "eventType": event_type,
    })
}

fn api_gateway_event(name: &str, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Value {
    let mut headers = json!({"host": "canopy.example.com", "user-agent": "Atlassian Connect"});
    if let Some(token) = token {
        headers["authorization"] = json!(format!("JWT {token}"));
    }
    if body.is_some() {
        headers["content-type"] = json!("application/json");
    }
    json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "canopyapi",
            "domainName": "canopy.example.com",
            "domainPrefix": "canopy",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10", "userAgent": "Atlassian Connect"},
            "requestId": format!("sample-{name}"),
            "routeKey": format!("{method} {path}"),
            "stage": "$default",
            "time": "21/Nov/2026:00:00:00 +0000",
            "timeEpoch": IAT * 1000,
        },
        "body": body.map(Value::to_string),
        "isBase64Encoded": false,
    })
}

/// A FIT for the sample site, as Forge sends it, signed with the dev Forge key and valid from
/// `IAT` until `EXP` (Atlassian's live about 25 s).
fn forge_token(account: Option<&str>, module: &str) -> String {
    let invocation = Invocation {
        cloud_id: CLOUD_ID.into(),
        installation_id: Some(INSTALLATION_ID.into()),
        account_id: account.map(str::to_owned),
        module_key: Some(module.into()),
        site_url: Some("https://events-sample.atlassian.net".into()),
    };
    fit::sign(&fit::invocation_claims(FORGE_APP_ARI, &invocation, IAT, EXP - IAT), FORGE_KID, FORGE_PRIVATE_KEY)
        .expect("sign")
}

/// A request of Forge Remote: the FIT as `Authorization: Bearer`.
fn forge_gateway_event(name: &str, method: &str, path: &str, token: &str, body: Option<&Value>) -> Value {
    let mut event = api_gateway_event(name, method, path, None, body);
    event["headers"]["authorization"] = json!(format!("Bearer {token}"));
    event
}

/// The Forge samples: the `avi:forge:installed:app` event for the sample site, and a content read
/// as the sample user through Forge Remote.
fn forge_samples() -> Vec<(&'static str, Value)> {
    let installed = json!({
        "eventType": "avi:forge:installed:app",
        "id": INSTALLATION_ID,
        "installerAccountId": ADMIN,
        "app": {"id": FORGE_APP_ARI, "version": "1.0.0"},
        "environment": {"id": "ari:cloud:ecosystem::environment/canopy-dev-app/production"},
        "context": format!("ari:cloud:confluence::site/{CLOUD_ID}"),
    });
    let lifecycle = forge_token(None, "canopy-lifecycle");
    let user = forge_token(Some(USER), "canopy-site");
    vec![
        (
            "lifecycle/forge-installed",
            forge_gateway_event("forge-installed", "POST", "/forge/lifecycle/installed", &lifecycle, Some(&installed)),
        ),
        (
            "content/site-config-forge",
            forge_gateway_event("site-config-forge", "GET", &format!("/api/sites/{SITE_ID}/config"), &user, None),
        ),
    ]
}

/// Every sample file, generated.
fn samples() -> Vec<(&'static str, Value)> {
    let alg_none = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(br#"{"alg":"none","typ":"JWT","kid":"canopy-dev-install-key"}"#);
        let aud = Some(Audience::Many(vec![BASE_URL.into()]));
        let body = b64.encode(
            serde_json::to_vec(&claims(query_string_hash("POST", "/lifecycle/installed", "", ""), aud)).expect("json"),
        );
        format!("{header}.{body}.")
    };
    let context = sign_hs256(&claims(CONTEXT_QSH.into(), None), SECRET).expect("sign");
    let user = sign_hs256(&claims_of(USER, CONTEXT_QSH.into(), None), SECRET).expect("sign");
    let document = json!({
        "format": "canopy-export",
        "schemaVersion": 1,
        "sites": [{"id": SITE_ID, "data": {"name": "Sample site", "spaces": ["DOC"], "visibility": "public"}}],
        "navigations": [{"siteId": SITE_ID, "data": {"items": [{"id": "home", "label": "Home", "target": {"type": "space", "spaceKey": "DOC"}, "children": []}]}}],
        "announcements": [{"siteId": SITE_ID, "id": ANNOUNCEMENT_ID, "data": {"title": "Welcome", "body": "Hello **there**", "severity": "info", "audience": "everyone", "dismissible": true}}],
    });
    let new_site = json!({"name": "Created by a sample", "visibility": "public"});
    let site_path = format!("/api/sites/{SITE_ID}");
    vec![
        ("content/import", api_gateway_event("import", "POST", "/api/import", Some(&context), Some(&document))),
        (
            "content/site-config",
            api_gateway_event("site-config", "GET", &format!("{site_path}/config"), Some(&user), None),
        ),
        (
            "content/create-site",
            api_gateway_event("create-site", "POST", "/api/sites", Some(&context), Some(&new_site)),
        ),
        (
            "content/create-site-as-user",
            api_gateway_event("create-site-as-user", "POST", "/api/sites", Some(&user), Some(&new_site)),
        ),
        ("content/list-sites", api_gateway_event("list-sites", "GET", "/api/sites", Some(&user), None)),
        (
            "content/update-site-without-if-match",
            api_gateway_event("update-site-without-if-match", "PUT", &site_path, Some(&context), Some(&new_site)),
        ),
        ("content/export", api_gateway_event("export", "GET", "/api/export", Some(&context), None)),
        (
            "media/create-upload",
            api_gateway_event(
                "create-upload",
                "POST",
                "/api/media/uploads",
                Some(&context),
                Some(&json!({"purpose": "logo", "contentType": "image/png", "size": 1024})),
            ),
        ),
        (
            "media/create-upload-svg",
            api_gateway_event(
                "create-upload-svg",
                "POST",
                "/api/media/uploads",
                Some(&context),
                Some(&json!({"purpose": "logo", "contentType": "image/svg+xml", "size": 1024})),
            ),
        ),
        ("media/list", api_gateway_event("list", "GET", "/api/media", Some(&user), None)),
        (
            "media/complete-unknown",
            api_gateway_event(
                "complete-unknown",
                "POST",
                "/api/media/01JD0000000000000000000009/complete",
                Some(&context),
                Some(&json!({})),
            ),
        ),
        ("lifecycle/descriptor", api_gateway_event("descriptor", "GET", "/atlassian-connect.json", None, None)),
        (
            "lifecycle/installed",
            api_gateway_event(
                "installed",
                "POST",
                "/lifecycle/installed",
                Some(&signed_install("/lifecycle/installed")),
                Some(&payload("installed")),
            ),
        ),
        (
            "lifecycle/installed-alg-none",
            api_gateway_event(
                "installed-alg-none",
                "POST",
                "/lifecycle/installed",
                Some(&alg_none),
                Some(&payload("installed")),
            ),
        ),
        (
            "lifecycle/enabled",
            api_gateway_event(
                "enabled",
                "POST",
                "/lifecycle/enabled",
                Some(&product_token("POST", "/lifecycle/enabled")),
                Some(&payload("enabled")),
            ),
        ),
        (
            "lifecycle/enabled-context-token",
            api_gateway_event(
                "enabled-context-token",
                "POST",
                "/lifecycle/enabled",
                Some(&context),
                Some(&payload("enabled")),
            ),
        ),
        ("lifecycle/tenant", api_gateway_event("tenant", "GET", "/api/tenant", Some(&context), None)),
        (
            "lifecycle/disabled",
            api_gateway_event(
                "disabled",
                "POST",
                "/lifecycle/disabled",
                Some(&product_token("POST", "/lifecycle/disabled")),
                Some(&payload("disabled")),
            ),
        ),
        (
            "lifecycle/uninstalled",
            api_gateway_event(
                "uninstalled",
                "POST",
                "/lifecycle/uninstalled",
                Some(&signed_install("/lifecycle/uninstalled")),
                Some(&payload("uninstalled")),
            ),
        ),
    ]
}

/// An EventBridge rule's scheduled event, as the job functions receive it.
fn scheduled_event(rule: &str) -> Value {
    json!({
        "version": "0",
        "id": format!("sample-{rule}"),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-21T00:05:00Z",
        "region": "us-east-1",
        "resources": [format!("arn:aws:events:us-east-1:123456789012:rule/canopy-{rule}")],
        "detail": {},
    })
}

/// The feedback function's requests, the scheduled jobs' events and the operator routes' requests.
fn feedback_and_job_samples() -> Vec<(&'static str, Value)> {
    let context = sign_hs256(&claims(CONTEXT_QSH.into(), None), SECRET).expect("sign");
    let user = sign_hs256(&claims_of(USER, CONTEXT_QSH.into(), None), SECRET).expect("sign");
    let feedback = json!({"siteId": SITE_ID, "rating": 5, "text": "Clear and useful.", "contactable": true});
    let mut list = api_gateway_event("list-feedback", "GET", "/api/feedback", Some(&context), None);
    list["rawQueryString"] = json!(format!("siteId={SITE_ID}"));
    let iam = json!({"iam": {
        "accessKey": "AKIAEXAMPLE", "accountId": "123456789012", "callerId": "AIDAEXAMPLE",
        "principalOrgId": null, "userArn": "arn:aws:iam::123456789012:user/canopy-operator", "userId": "AIDAEXAMPLE",
    }});
    let operator = |name: &str, path: &str| {
        let mut event = api_gateway_event(name, "GET", path, None, None);
        event["requestContext"]["authorizer"] = iam.clone();
        event
    };
    vec![
        ("feedback/submit", api_gateway_event("submit", "POST", "/api/feedback", Some(&user), Some(&feedback))),
        (
            "feedback/submit-empty",
            api_gateway_event("submit-empty", "POST", "/api/feedback", Some(&user), Some(&json!({"siteId": SITE_ID}))),
        ),
        ("feedback/list-as-user", api_gateway_event("list-as-user", "GET", "/api/feedback", Some(&user), None)),
        ("feedback/list", list),
        ("feedback/export", api_gateway_event("export-feedback", "GET", "/api/feedback/export", Some(&context), None)),
        ("feedback/me", api_gateway_event("me", "GET", "/api/me", Some(&user), None)),
        (
            "feedback/dismiss-announcement",
            api_gateway_event(
                "dismiss-announcement",
                "POST",
                "/api/me/dismissed-announcements",
                Some(&user),
                Some(&json!({"announcementId": ANNOUNCEMENT_ID})),
            ),
        ),
        ("privacy/scheduled", scheduled_event("privacy-report")),
        ("usage/scheduled", scheduled_event("usage-snapshot")),
        ("ops/usage", operator("usage", "/ops/usage")),
        ("ops/usage-day", operator("usage-day", "/ops/usage/2026-11-21")),
        ("ops/usage-without-iam", api_gateway_event("usage-without-iam", "GET", "/ops/usage", None, None)),
    ]
}

/// The residency function's requests (a stack of one region, as the sample's) and its worker's
/// scheduled event.
fn residency_samples() -> Vec<(&'static str, Value)> {
    let admin = sign_hs256(&claims(CONTEXT_QSH.into(), None), SECRET).expect("sign");
    let user = sign_hs256(&claims_of(USER, CONTEXT_QSH.into(), None), SECRET).expect("sign");
    let status_path = "/lifecycle/dare-migration/status";
    vec![
        ("residency/status", api_gateway_event("residency", "GET", "/api/residency", Some(&user), None)),
        (
            "residency/migrate-unknown-region",
            api_gateway_event(
                "migrate-unknown-region",
                "POST",
                "/api/residency/migrations",
                Some(&admin),
                Some(&json!({"region": "ap"})),
            ),
        ),
        (
            "residency/migrate-as-user",
            api_gateway_event(
                "migrate-as-user",
                "POST",
                "/api/residency/migrations",
                Some(&user),
                Some(&json!({"region": "eu"})),
            ),
        ),
        (
            "residency/rollback-nothing",
            api_gateway_event("rollback-nothing", "POST", "/api/residency/rollback", Some(&admin), Some(&json!({}))),
        ),
        (
            "residency/dare-status",
            api_gateway_event("dare-status", "GET", status_path, Some(&product_token("GET", status_path)), None),
        ),
        ("residency-worker/scheduled", scheduled_event("residency-worker")),
    ]
}

fn all_samples() -> Vec<(&'static str, Value)> {
    let mut samples = samples();
    samples.extend(feedback_and_job_samples());
    samples.extend(residency_samples());
    samples.extend(forge_samples());
    samples
}

/// What a job sample's run reports, per occurrence in [`SCRIPT`] (the job entries' status is 200
/// for "the handler returned a report").
fn expected_job_report(name: &str, occurrence: usize) -> Value {
    match (name, occurrence) {
        // The sample site is not reachable from a test: the report fails, nothing is erased, and
        // the tenant is due again after the backoff.
        ("privacy/scheduled", _) => json!({"tenantsDue": 1, "failed": 1, "closed": 0, "errors": 0}),
        ("usage/scheduled", 0) => json!({"date": "2026-11-21", "tenants": 1, "written": true}),
        ("usage/scheduled", _) => json!({"date": "2026-11-21", "tenants": 1, "written": false}),
        _ => panic!("no expected report for {name}"),
    }
}

/// What a Forge lifecycle sample answers, per occurrence in [`SCRIPT`].
fn expected_forge_outcome(name: &str, occurrence: usize) -> &'static str {
    match (name, occurrence) {
        // The Connect tenant of the site is linked to its Forge installation ...
        ("lifecycle/forge-installed", 0) => "linked",
        // ... and a repeat (Forge retries events) changes nothing, even after a Connect re-install.
        ("lifecycle/forge-installed", _) => "unchanged",
        _ => panic!("no expected outcome for {name}"),
    }
}

/// The documented answers, in the order a tenant's life produces them (events/README.md).
const SCRIPT: &[(&str, u16)] = &[
    ("lifecycle/descriptor", 200),
    ("lifecycle/installed-alg-none", 401),
    ("lifecycle/tenant", 401),
    ("lifecycle/installed", 204),
    ("lifecycle/enabled", 204),
    ("lifecycle/enabled-context-token", 401),
    ("lifecycle/tenant", 200),
    ("lifecycle/forge-installed", 200),
    ("content/import", 200),
    ("content/site-config", 200),
    ("content/site-config-forge", 200),
    ("content/create-site", 201),
    ("content/create-site-as-user", 403),
    ("content/list-sites", 200),
    ("content/update-site-without-if-match", 428),
    ("content/export", 200),
    ("media/create-upload", 201),
    ("media/create-upload-svg", 415),
    ("media/list", 200),
    ("media/complete-unknown", 404),
    ("feedback/submit", 201),
    ("feedback/submit-empty", 422),
    ("feedback/list-as-user", 403),
    ("feedback/list", 200),
    ("feedback/export", 200),
    ("feedback/me", 200),
    ("feedback/dismiss-announcement", 200),
    ("privacy/scheduled", 200),
    ("usage/scheduled", 200),
    ("usage/scheduled", 200),
    ("ops/usage", 200),
    ("ops/usage-day", 200),
    ("ops/usage-without-iam", 403),
    ("residency/status", 200),
    ("residency/migrate-unknown-region", 422),
    ("residency/migrate-as-user", 403),
    ("residency/rollback-nothing", 409),
    ("residency/dare-status", 200),
    ("residency-worker/scheduled", 200),
    ("lifecycle/disabled", 204),
    ("lifecycle/tenant", 403),
    ("content/site-config", 403),
    ("content/site-config-forge", 403),
    ("feedback/submit", 403),
    ("lifecycle/enabled", 204),
    ("lifecycle/uninstalled", 204),
    ("lifecycle/tenant", 401),
    ("content/site-config", 401),
    ("content/site-config-forge", 401),
    ("feedback/me", 401),
    ("lifecycle/installed", 204),
    ("lifecycle/tenant", 200),
    ("content/site-config", 200),
    ("content/site-config-forge", 200),
    ("lifecycle/forge-installed", 200),
];

fn render(event: &Value) -> String {
    serde_json::to_string_pretty(event).expect("json") + "\n"
}

#[test]
fn event_files_are_current_and_complete() {
    let update = std::env::var("CANOPY_UPDATE_EVENTS").is_ok_and(|v| v == "1");
    let dir = events_dir();
    let mut stale = Vec::new();
    for (name, event) in all_samples() {
        let path = dir.join(format!("{name}.json"));
        let expected = render(&event);
        if update {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("events dir");
            std::fs::write(&path, &expected).expect("write event");
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(expected.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "stale events {stale:?}: run CANOPY_UPDATE_EVENTS=1 cargo nextest run -p canopy-tests --test integration events::"
    );
    let names: Vec<&str> = all_samples().iter().map(|(n, _)| *n).collect();
    for function in
        ["lifecycle", "content", "media", "feedback", "privacy", "usage", "ops", "residency", "residency-worker"]
    {
        for entry in std::fs::read_dir(dir.join(function)).expect("events dir") {
            let file = entry.expect("entry").file_name().to_string_lossy().into_owned();
            let name = format!("{function}/{}", file.trim_end_matches(".json"));
            assert!(names.contains(&name.as_str()), "events/{name}.json is not generated by this test");
            assert!(SCRIPT.iter().any(|(n, _)| *n == name), "events/{name}.json has no documented answer");
        }
    }
}

#[tokio::test]
async fn every_event_runs_through_the_lambda_handler_with_its_documented_answer() {
    let dir = tempfile::tempdir().expect("temp dir");
    // FITs of the dev Forge app, verified against the committed dev key set.
    let mut config = AppConfig::new(BASE_URL);
    config.forge_app_ari = Some(FORGE_APP_ARI.into());
    let store: Arc<dyn canopy_shared::ports::store::ItemStore> =
        Arc::new(EmbeddedItemStore::open(&dir.path().join("canopy.redb")).expect("store"));
    let tenants = canopy_shared::domain::tenants::cache::TenantCache::new();
    let store = tenants.watching(store);
    let media: Arc<dyn canopy_shared::ports::media::MediaStore> =
        Arc::new(canopy_shared::adapters::media::local::LocalMediaStore::open(dir.path(), BASE_URL).expect("media"));
    let regions = canopy_shared::domain::regions::Regions::home_only(&config, store.clone(), media.clone());
    // The samples' time: the signed installs live 3 minutes from `IAT`, every other token until 2100.
    let clock: Arc<dyn canopy_shared::kernel::clock::Clock> = Arc::new(ManualClock::at_millis((IAT + 1) * 1000));
    let state = AppState {
        install_keys: Arc::new(dev_keys()),
        forge: canopy_shared::domain::forge::ForgeRemote::new(Arc::new(forge_dev_keys()), clock.clone()),
        admins: Arc::new(canopy_shared::adapters::admins::LocalAdminDirectory::new([ADMIN.to_owned()])),
        groups: Arc::new(canopy_shared::adapters::groups::LocalGroupDirectory::new([])),
        tenants,
        configs: canopy_shared::domain::content::site_config::ConfigCache::new(),
        stack: canopy_shared::domain::data::Stack {
            data: canopy_shared::domain::data::Data {
                store,
                clock: clock.clone(),
                secrets: canopy_shared::ports::secrets::SecretSealer::new(Arc::new(
                    canopy_shared::adapters::secrets::local::LocalKeyring::in_memory(),
                )),
            },
            config: Arc::new(config),
            media,
            regions,
        },
    };
    // Each function's own router, as its Lambda runs it, over one shared store.
    let lifecycle = canopy_shared::http::finish(canopy_shared::http::lifecycle::routes(), state.clone());
    let content = canopy_shared::http::finish(canopy_shared::http::content::routes(), state.clone());
    let feedback = canopy_shared::http::finish(canopy_shared::http::feedback::routes(), state.clone());
    let media_routes = canopy_shared::http::finish(canopy_shared::http::media::routes(), state.clone());
    let residency = canopy_shared::http::finish(canopy_shared::http::residency::routes(), state.clone());
    let ops = canopy_shared::http::finish(
        canopy_shared::http::ops::routes(canopy_shared::http::ops::OperatorAccess::Iam),
        state.clone(),
    );
    // The sample tenant's site must not be called from a test: every outbound request goes to a
    // proxy port nobody listens on.
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let outbound = reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(format!("http://{nowhere}")).expect("proxy"))
        .build()
        .expect("client");
    let privacy_job = canopy_shared::jobs::privacy::PrivacyJob::new(state.clone(), outbound);
    let mut job_runs = std::collections::HashMap::new();
    let mut forge_runs = std::collections::HashMap::new();
    for (step, (name, expected)) in SCRIPT.iter().enumerate() {
        let text = std::fs::read_to_string(events_dir().join(format!("{name}.json"))).expect("event file");
        if name.starts_with("residency-worker/") {
            let event: canopy_shared::jobs::schedule::ScheduledEvent =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: not a scheduled event: {e}"));
            let driven = canopy_shared::jobs::residency::on_schedule(&state, event).await.expect("run");
            assert_eq!((driven, *expected), (0, 200), "no migration in flight: the worker drives none");
            continue;
        }
        if name.starts_with("privacy/") || name.starts_with("usage/") {
            // Scheduled events go through the job handler the Lambda runs.
            let event: canopy_shared::jobs::schedule::ScheduledEvent =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: not a scheduled event: {e}"));
            let report = if name.starts_with("privacy/") {
                serde_json::to_value(canopy_shared::jobs::privacy::on_schedule(&privacy_job, event).await.expect("run"))
            } else {
                serde_json::to_value(canopy_shared::jobs::usage::on_schedule(&state, event).await.expect("run"))
            }
            .expect("report");
            let occurrence = job_runs.entry(*name).and_modify(|n| *n += 1).or_insert(0usize);
            let expected_report = expected_job_report(name, *occurrence);
            for (field, value) in expected_report.as_object().expect("object") {
                assert_eq!(&report[field], value, "step {step} ({name}) {field}: {report}");
            }
            assert_eq!(*expected, 200, "job steps document 200");
            continue;
        }
        let request =
            lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: not an API Gateway event: {e}"));
        let router = match name.split('/').next() {
            Some("content") => &content,
            Some("feedback") => &feedback,
            Some("media") => &media_routes,
            Some("ops") => &ops,
            Some("residency") => &residency,
            _ => &lifecycle,
        };
        let response = router.clone().oneshot(request).await.expect("handler answers");
        let status = response.status().as_u16();
        let cache_control = response.headers().get("cache-control").cloned();
        let body = response.into_body().collect().await.expect("body").to_bytes();
        assert_eq!(status, *expected, "step {step} ({name}): {}", String::from_utf8_lossy(&body));
        let site_config = *name == "content/site-config" || *name == "content/site-config-forge";
        let expected_cache = if site_config && status == 200 { "private, no-cache" } else { "no-cache, no-store" };
        assert_eq!(cache_control.as_ref().map(|v| v.as_bytes()), Some(expected_cache.as_bytes()), "{name}");
        if !body.is_empty() {
            let body: Value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{name}: body is not JSON: {e}"));
            if name.starts_with("lifecycle/forge-") {
                let occurrence = forge_runs.entry(*name).and_modify(|n| *n += 1).or_insert(0usize);
                assert_eq!(body["outcome"], expected_forge_outcome(name, *occurrence), "step {step} ({name})");
            }
        }
    }
}
