//! Test wiring: an `AppState` over the embedded store, the committed dev install key, a manual
//! clock, and token minting that plays Atlassian.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use canopy_shared::adapters::admins::LocalAdminDirectory;
use canopy_shared::adapters::forge_keys::StaticForgeKeys;
use canopy_shared::adapters::groups::LocalGroupDirectory;
use canopy_shared::adapters::install_keys::StaticInstallKeys;
use canopy_shared::adapters::media::local::LocalMediaStore;
use canopy_shared::adapters::secrets::local::{KEYRING_FILE, LocalKeyring};
use canopy_shared::adapters::store::embedded::EmbeddedItemStore;
use canopy_shared::domain::access::ProductGroup;
use canopy_shared::domain::connect::jwt::{Audience, ConnectClaims, sign_hs256, sign_rs256};
use canopy_shared::domain::connect::qsh::{CONTEXT_QSH, query_string_hash};
use canopy_shared::domain::content::site_config::ConfigCache;
use canopy_shared::domain::forge::ForgeRemote;
use canopy_shared::domain::forge::fit::{self, Invocation};
use canopy_shared::domain::tenants::cache::TenantCache;
use canopy_shared::http::router::ApiRouter;
use canopy_shared::http::{content, lifecycle};
use canopy_shared::kernel::clock::{Clock, ManualClock};
use canopy_shared::kernel::config::AppConfig;
use canopy_shared::ports::keys::ForgeKeys;
use canopy_shared::ports::keys::InstallKeys;
use canopy_shared::ports::media::MediaStore;
use canopy_shared::ports::secrets::SecretSealer;
use canopy_shared::ports::store::ItemStore;
use canopy_shared::state::AppState;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const BASE_URL: &str = "https://canopy.example.com";
/// The account the test admin directory knows as a site administrator.
pub const ADMIN_ACCOUNT: &str = "557058:admin";
/// An ordinary user.
pub const USER_ACCOUNT: &str = "557058:user";
/// An ordinary user in the group [`GROUP_ID`] (named [`GROUP_NAME`]) of the test directory.
pub const MEMBER_ACCOUNT: &str = "557058:member";
pub const GROUP_ID: &str = "a1f3c9e2-57b4-4d1e-9c0a-execs0000001";
pub const GROUP_NAME: &str = "execs";
pub const DEV_KID: &str = "canopy-dev-install-key";
pub const DEV_PRIVATE_KEY: &[u8] = include_bytes!("../../dev/install-key.pem");
pub const DEV_PUBLIC_KEY: &[u8] = include_bytes!("../../dev/install-key.pub.pem");
/// 2026-01-15T00:00:00Z: tests run on a manual clock.
pub const START_MILLIS: i64 = 1_768_435_200_000;
/// The committed dev Forge key (`dev/forge-key.pem`) and the key set that publishes it.
pub const FORGE_KID: &str = "forge/invocation-token/canopy-dev";
pub const FORGE_PRIVATE_KEY: &[u8] = include_bytes!("../../dev/forge-key.pem");
pub const FORGE_JWKS: &[u8] = include_bytes!("../../dev/forge-jwks.json");
/// The Forge app the test config trusts FITs of.
pub const FORGE_APP_ARI: &str = "ari:cloud:ecosystem::app/0d5f0d2c-canopy-test";
/// How long a test FIT lives (Atlassian's live about 25 s).
pub const FIT_TTL_SECS: i64 = 60;

pub struct TestApp {
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub router: Router,
    _dir: tempfile::TempDir,
}

pub fn dev_keys() -> StaticInstallKeys {
    StaticInstallKeys::default().with_pem(DEV_KID, DEV_PUBLIC_KEY).expect("dev public key parses")
}

pub fn forge_dev_keys() -> StaticForgeKeys {
    StaticForgeKeys::from_jwks(FORGE_JWKS).expect("dev key set parses")
}

impl Default for TestApp {
    fn default() -> Self {
        Self::new()
    }
}

impl TestApp {
    pub fn new() -> Self {
        Self::with_keys(Arc::new(dev_keys()))
    }

    pub fn with_keys(install_keys: Arc<dyn InstallKeys>) -> Self {
        Self::build(install_keys, None)
    }

    /// The app over a given store (e.g. DynamoDB Local) instead of a fresh embedded one.
    pub fn with_store(store: Arc<dyn ItemStore>) -> Self {
        Self::build(Arc::new(dev_keys()), Some(store))
    }

    /// The app over a given media store (the local adapter served on loopback, or S3).
    pub fn with_media(media: Arc<dyn MediaStore>) -> Self {
        let mut app = Self::build(Arc::new(dev_keys()), None);
        app.state.stack.media = media;
        app.with_media_routes()
    }

    /// The app with its configuration changed; the lifecycle and content routes serve the new one.
    pub fn with_config(mut self, change: impl FnOnce(&mut AppConfig)) -> Self {
        let mut config = AppConfig::clone(&self.state.config);
        change(&mut config);
        self.state.stack.config = Arc::new(config);
        self.serving(lifecycle::routes().merge(content::routes()))
    }

    /// Serves `routes` over this app's state (call it again after changing the state).
    pub fn serving(mut self, routes: ApiRouter) -> Self {
        self.router = canopy_shared::http::finish(routes, self.state.clone());
        self
    }

    /// The lifecycle and media routes beside the content ones.
    pub fn with_media_routes(self) -> Self {
        self.serving(lifecycle::routes().merge(content::routes()).merge(canopy_shared::http::media::routes()))
    }

    /// The lifecycle and feedback routes (feedback, `/api/me`) beside the content ones.
    pub fn with_feedback_routes(self) -> Self {
        self.serving(lifecycle::routes().merge(content::routes()).merge(canopy_shared::http::feedback::routes()))
    }

    /// The app verifying FITs against the given key set (a fake JWKS server on loopback).
    pub fn with_forge_keys(keys: Arc<dyn ForgeKeys>) -> Self {
        let mut app = Self::new();
        app.state.forge = ForgeRemote::new(keys, app.clock.clone());
        app.serving(lifecycle::routes().merge(content::routes()))
    }

    fn build(install_keys: Arc<dyn InstallKeys>, store: Option<Arc<dyn ItemStore>>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: Arc<dyn ItemStore> = match store {
            Some(store) => store,
            None => Arc::new(EmbeddedItemStore::open(&dir.path().join("canopy.redb")).expect("store")),
        };
        // As bootstrap wires it: tenant records written through this store leave the cache.
        let tenants = TenantCache::new();
        let store = tenants.watching(store);
        let clock = Arc::new(ManualClock::at_millis(START_MILLIS));
        let mut config = AppConfig::new(BASE_URL);
        config.forge_app_ari = Some(FORGE_APP_ARI.into());
        // Atlassian's sites are played by stand-ins on loopback, as with the local server; the
        // deployed policy has its own tests (`lifecycle::installs_name_a_trusted_product_site`).
        config.product_hosts = config.product_hosts.with_loopback_http();
        let media: Arc<dyn MediaStore> = Arc::new(LocalMediaStore::open(dir.path(), BASE_URL).expect("local media"));
        let regions = canopy_shared::domain::regions::Regions::home_only(&config, store.clone(), media.clone())
            .with_settings(canopy_shared::domain::regions::Settings { auto_drive: false });
        let state = AppState {
            install_keys,
            forge: ForgeRemote::new(Arc::new(forge_dev_keys()), clock.clone()),
            tenants,
            configs: ConfigCache::new(),
            admins: Arc::new(LocalAdminDirectory::new([ADMIN_ACCOUNT.to_owned()])),
            groups: Arc::new(LocalGroupDirectory::new([(
                MEMBER_ACCOUNT.to_owned(),
                vec![ProductGroup { id: Some(GROUP_ID.into()), name: GROUP_NAME.into() }],
            )])),
            stack: canopy_shared::domain::data::Stack {
                data: canopy_shared::domain::data::Data {
                    store,
                    clock: clock.clone(),
                    secrets: SecretSealer::new(Arc::new(
                        LocalKeyring::open_or_create(&dir.path().join(KEYRING_FILE)).expect("keyring"),
                    )),
                },
                config: Arc::new(config),
                media,
                regions,
            },
        };
        let router = canopy_shared::http::finish(lifecycle::routes().merge(content::routes()), state.clone());
        Self { state, clock, router, _dir: dir }
    }

    pub fn now_secs(&self) -> i64 {
        self.clock.now_secs()
    }

    /// Serves the router on a loopback port, as a host would; answers its base URL.
    pub async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let router = self.router.clone();
        tokio::spawn(async move { axum::serve(listener, router).await });
        base
    }

    /// The answer as sent: status, headers and the body's bytes (for byte-for-byte comparisons).
    pub async fn send_raw(&self, request: Request<Body>) -> (u16, axum::http::HeaderMap, Vec<u8>) {
        let response: Response<Body> = self.router.clone().oneshot(request).await.expect("router answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        (status, headers, bytes.to_vec())
    }

    pub async fn send(&self, request: Request<Body>) -> (u16, axum::http::HeaderMap, Value) {
        let response: Response<Body> = self.router.clone().oneshot(request).await.expect("router answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        // The API answers JSON (or nothing); only the console's static files are something else.
        let json =
            headers.get(axum::http::header::CONTENT_TYPE).is_none_or(|v| v.as_bytes().starts_with(b"application/json"));
        let body = if bytes.is_empty() {
            Value::Null
        } else if json {
            serde_json::from_slice(&bytes).expect("every API body is JSON")
        } else {
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        };
        (status, headers, body)
    }
}

/// Claims of an RS256 signed install as Atlassian sends them (CONNECT.md §3).
pub fn install_claims(client_key: &str, path: &str, now: i64) -> ConnectClaims {
    ConnectClaims {
        iss: client_key.into(),
        sub: Some("557058:admin".into()),
        qsh: Some(query_string_hash("POST", path, "", "")),
        aud: Some(Audience::Many(vec![BASE_URL.into()])),
        iat: Some(now),
        exp: Some(now + 180),
        context: Some(json!({})),
    }
}

pub fn sign_install(claims: &ConnectClaims) -> String {
    sign_rs256(claims, DEV_KID, DEV_PRIVATE_KEY).expect("sign")
}

/// An HS256 token bound to one request, as the product signs lifecycle and iframe calls.
pub fn request_token(client_key: &str, secret: &str, method: &str, path: &str, now: i64) -> String {
    let claims = ConnectClaims {
        iss: client_key.into(),
        sub: Some("557058:user".into()),
        qsh: Some(query_string_hash(method, path, "", "")),
        aud: None,
        iat: Some(now),
        exp: Some(now + 180),
        context: Some(json!({})),
    };
    sign_hs256(&claims, secret).expect("sign")
}

/// A context token (`AP.context.getToken()`), usable on browser routes only.
pub fn context_token(client_key: &str, secret: &str, now: i64) -> String {
    context_token_as(client_key, secret, Some(USER_ACCOUNT), now)
}

/// A context token of a given account (`None`: an anonymous visitor).
pub fn context_token_as(client_key: &str, secret: &str, account: Option<&str>, now: i64) -> String {
    let claims = ConnectClaims {
        iss: client_key.into(),
        sub: account.map(str::to_owned),
        qsh: Some(CONTEXT_QSH.into()),
        aud: None,
        iat: Some(now),
        exp: Some(now + 900),
        context: Some(json!({})),
    };
    sign_hs256(&claims, secret).expect("sign")
}

pub fn install_payload(client_key: &str, secret: &str) -> Value {
    json!({
        "key": "canopy",
        "clientKey": client_key,
        "sharedSecret": secret,
        "baseUrl": format!("https://{client_key}.atlassian.net/wiki"),
        "productType": "confluence",
        "description": "Atlassian Confluence",
        "serverVersion": "6452",
        "pluginsVersion": "1.801.0",
        // Each test site has its own host and its own cloudId (a cloudId moves only within its host).
        "cloudId": cloud_of(client_key),
        "eventType": "installed",
    })
}

/// The site id a test tenant is installed with.
pub fn cloud_of(client_key: &str) -> String {
    format!("cloud-{}", client_key.replace(|c: char| !c.is_ascii_alphanumeric(), "-"))
}

/// A FIT as Forge sends it: for `cloud_id`, acting as `account` (`None`: no user).
pub fn forge_token(cloud_id: &str, account: Option<&str>, now: i64) -> String {
    let invocation = Invocation {
        cloud_id: cloud_id.into(),
        installation_id: Some(format!("ari:cloud:ecosystem::installation/{cloud_id}")),
        account_id: account.map(str::to_owned),
        module_key: Some("canopy-admin-page".into()),
        site_url: None,
    };
    sign_fit(&fit::invocation_claims(FORGE_APP_ARI, &invocation, now, FIT_TTL_SECS))
}

pub fn sign_fit(claims: &Value) -> String {
    fit::sign(claims, FORGE_KID, FORGE_PRIVATE_KEY).expect("sign")
}

/// The `Authorization` value Atlassian sends with `token`: a FIT as `Bearer`, a Connect JWT as
/// `JWT`. Tests that mean to send the wrong scheme build the header themselves.
pub fn authorization(token: &str) -> String {
    let issuer = token
        .split('.')
        .nth(1)
        .and_then(|payload| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()
        })
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|claims| claims["iss"].as_str().map(str::to_owned));
    match issuer.as_deref() {
        Some(fit::ISSUER) => format!("Bearer {token}"),
        _ => format!("JWT {token}"),
    }
}

pub fn post(path: &str, token: Option<&str>, body: &Value) -> Request<Body> {
    let mut builder = Request::post(path).header("content-type", "application/json");
    if let Some(token) = token {
        builder = builder.header("authorization", authorization(token));
    }
    builder.body(Body::from(body.to_string())).expect("request")
}

pub fn get(path: &str, token: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(path);
    if let Some(token) = token {
        builder = builder.header("authorization", authorization(token));
    }
    builder.body(Body::empty()).expect("request")
}

pub fn put(path: &str, token: &str, if_match: Option<&str>, body: &Value) -> Request<Body> {
    let mut builder =
        Request::put(path).header("content-type", "application/json").header("authorization", authorization(token));
    if let Some(etag) = if_match {
        builder = builder.header("if-match", etag);
    }
    builder.body(Body::from(body.to_string())).expect("request")
}

pub fn delete(path: &str, token: &str, if_match: Option<&str>) -> Request<Body> {
    let mut builder = Request::delete(path).header("authorization", authorization(token));
    if let Some(etag) = if_match {
        builder = builder.header("if-match", etag);
    }
    builder.body(Body::empty()).expect("request")
}

impl TestApp {
    /// Serves every product route (all functions' routers), operators as on AWS (IAM).
    pub fn with_every_route(self) -> Self {
        self.serving(canopy_shared::http::openapi::product_routes(canopy_shared::http::ops::OperatorAccess::Iam))
    }

    /// Installs `client` the way Atlassian does (RS256 signed install), recording `cloud_of(client)`.
    pub async fn install(&self, client: &str, secret: &str) {
        let token = sign_install(&install_claims(client, "/lifecycle/installed", self.now_secs()));
        let mut payload = install_payload(client, secret);
        payload["cloudId"] = json!(cloud_of(client));
        let (status, _, body) = self.send(post("/lifecycle/installed", Some(&token), &payload)).await;
        assert_eq!(status, 204, "install {client}: {body}");
    }
}

/// Every operation of the product's OpenAPI document: (method, path template, who may call it).
pub fn documented_operations() -> Vec<(axum::http::Method, String, canopy_shared::http::openapi::Caller)> {
    use canopy_shared::http::openapi;
    let routes = openapi::product_routes(canopy_shared::http::ops::OperatorAccess::Iam);
    let document = serde_json::to_value(openapi::complete(routes.into_openapi())).expect("document serializes");
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            let method = axum::http::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            found.push((method, path.clone(), openapi::caller_of(path)));
        }
    }
    assert!(found.len() >= 70, "the document lists every operation ({} found)", found.len());
    found
}
