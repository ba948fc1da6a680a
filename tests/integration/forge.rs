//! Forge Remote through the real router: FIT verification and every bad token, the Forge JWKS
//! (a fake on loopback counting its fetches), tenancy by cloudId across Connect and Forge
//! installs, Forge lifecycle events, and the admin check as the Forge app against a fake
//! `api.atlassian.com` on loopback.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get as get_route, post as post_route};
use canopy_shared::TenantKey;
use canopy_shared::adapters::admins::ConnectAdminDirectory;
use canopy_shared::adapters::forge_keys::{
    HttpForgeKeys, MAX_JWKS_BYTES, MAX_KEY_SET_AGE_SECS, MIN_REFRESH_INTERVAL_SECS,
};
use canopy_shared::adapters::http::http_client;
use canopy_shared::adapters::product::connect::ProductClient;
use canopy_shared::adapters::product::forge::ForgeProductClient;
use canopy_shared::domain::connect::jwt::{ConnectClaims, sign_hs256};
use canopy_shared::domain::connect::qsh::CONTEXT_QSH;
use canopy_shared::domain::forge::fit::{self, Invocation};
use canopy_shared::domain::tenants::cloud_index;
use canopy_shared::domain::tenants::{self, Tenant, TenantState};
use canopy_shared::kernel::keys;
use canopy_shared::kernel::keys::PURGE_DUE_KIND;
use canopy_shared::kernel::product_url::ProductHosts;
use canopy_shared::ports::store::PageRequest;
use canopy_shared::state::AppState;
use serde_json::{Value, json};
use support::app::*;
use support::world::Store;

const INSTALLED: &str = "/lifecycle/installed";
const FORGE_INSTALLED: &str = "/forge/lifecycle/installed";
const FORGE_UPGRADED: &str = "/forge/lifecycle/upgraded";
const FORGE_UNINSTALLED: &str = "/forge/lifecycle/uninstalled";
const CLIENT: &str = "574f8bdd-8dc4-35d3-9558-7bcea4e41de6";
const SECRET: &str = "connect-shared-secret";
const CLOUD: &str = "4869c4ef-cb0d-4108-8243-8929ac7cc1fa";
const SYSTEM_TOKEN: &str = "forge-system-token-of-this-request";

async fn connect_install(app: &TestApp, client: &str, cloud_id: &str) -> u16 {
    let token = sign_install(&install_claims(client, INSTALLED, app.now_secs()));
    let mut payload = install_payload(client, SECRET);
    payload["cloudId"] = json!(cloud_id);
    app.send(post(INSTALLED, Some(&token), &payload)).await.0
}

/// The site every install of [`connect_install_of_site`] names unless told otherwise.
const SITE: &str = "https://acme.atlassian.net/wiki";

/// A Connect install of `client` for the site at `base_url` naming `cloud_id`: status and body.
async fn connect_install_of_site(app: &TestApp, client: &str, cloud_id: &str, base_url: &str) -> (u16, Value) {
    let token = sign_install(&install_claims(client, INSTALLED, app.now_secs()));
    let mut payload = install_payload(client, SECRET);
    payload["cloudId"] = json!(cloud_id);
    payload["baseUrl"] = json!(base_url);
    let (status, _, body) = app.send(post(INSTALLED, Some(&token), &payload)).await;
    (status, body)
}

/// Purges on the due index, whenever due.
async fn scheduled_purges(app: &TestApp) -> Vec<String> {
    let page = app.state.store.due(PURGE_DUE_KIND, i64::MAX / 2, PageRequest { limit: 10, after: None }).await;
    page.expect("due").items.iter().map(|e| e.tenant.to_string()).collect()
}

/// The log lines written while `run` runs, in the Lambdas' JSON format.
async fn logged<T>(run: impl std::future::Future<Output = T>) -> (T, String) {
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt().json().with_writer(move || writer.clone()).finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let out = run.await;
    drop(guard);
    let lines = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
    (out, lines)
}

async fn stored(app: &TestApp, key: &str) -> Option<Tenant> {
    let key = TenantKey::from_verified(key).expect("key");
    tenants::load(&app.state, &key).await.expect("load").map(|(t, _)| t)
}

async fn index_item(app: &TestApp, cloud_id: &str) -> Option<Value> {
    let item = app.state.store.get(&keys::cloud_index_tenant(), &keys::cloud_index(cloud_id), app.now_secs()).await;
    item.expect("get").map(|i| i.body.to_value().unwrap())
}

fn admin_fit(app: &TestApp, cloud_id: &str) -> String {
    forge_token(cloud_id, Some(ADMIN_ACCOUNT), app.now_secs())
}

fn bearer(method: &str, path: &str, token: &str, body: Option<&Value>) -> Request<Body> {
    let builder = Request::builder().method(method).uri(path).header("authorization", format!("Bearer {token}"));
    match body {
        Some(body) => builder.header("content-type", "application/json").body(Body::from(body.to_string())),
        None => builder.body(Body::empty()),
    }
    .expect("request")
}

/// A Forge lifecycle event for `cloud_id` as Forge delivers it: the FIT in `Authorization`.
fn forge_event(app: &TestApp, path: &str, cloud_id: &str, installation: &str, site: &str) -> Request<Body> {
    forge_event_of_site(app, path, cloud_id, installation, site, None)
}

/// [`forge_event`] whose FIT names the site's URL (`context.siteUrl`).
fn forge_event_of_site(
    app: &TestApp,
    path: &str,
    cloud_id: &str,
    installation: &str,
    site: &str,
    site_url: Option<&str>,
) -> Request<Body> {
    let invocation = Invocation {
        cloud_id: cloud_id.into(),
        installation_id: Some(installation.into()),
        account_id: None,
        module_key: Some("canopy-lifecycle".into()),
        site_url: site_url.map(str::to_owned),
    };
    let token = sign_fit(&fit::invocation_claims(FORGE_APP_ARI, &invocation, app.now_secs(), FIT_TTL_SECS));
    let body = json!({
        "id": installation,
        "installerAccountId": ADMIN_ACCOUNT,
        "app": {"id": FORGE_APP_ARI, "version": "2.0.0"},
        "environment": {"id": "ari:cloud:ecosystem::environment/x/y"},
        "context": site,
    });
    bearer("POST", path, &token, Some(&body))
}

fn site_ari(cloud_id: &str) -> String {
    format!("ari:cloud:confluence::site/{cloud_id}")
}

fn assert_error(status: u16, body: &Value, expected: u16, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
}

fn rebuilt(mut app: TestApp, change: impl FnOnce(&mut AppState)) -> TestApp {
    change(&mut app.state);
    let routes = canopy_shared::http::lifecycle::routes().merge(canopy_shared::http::content::routes());
    app.router = canopy_shared::http::finish(routes, app.state.clone());
    app
}

async fn sites_of(app: &TestApp, client: &str) -> Value {
    let token = context_token_as(client, SECRET, Some(ADMIN_ACCOUNT), app.now_secs());
    let (status, _, body) = app.send(get("/api/sites", Some(&token))).await;
    assert_eq!(status, 200, "{body}");
    body["items"].clone()
}

#[tokio::test]
async fn a_tenant_installed_through_connect_is_reachable_through_forge_by_its_cloud_id() {
    let app = TestApp::new();
    assert_eq!(connect_install(&app, CLIENT, CLOUD).await, 204);
    assert_eq!(index_item(&app, CLOUD).await, Some(json!({"tenant": CLIENT})));

    let (status, _, body) = app.send(get("/api/tenant", Some(&admin_fit(&app, CLOUD)))).await;
    assert_eq!((status, body["clientKey"].as_str()), (200, Some(CLIENT)), "{body}");

    let site = json!({"name": "Docs", "visibility": "public"});
    let (status, _, body) = app.send(post("/api/sites", Some(&admin_fit(&app, CLOUD)), &site)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["updatedBy"], ADMIN_ACCOUNT, "the FIT's principal is the acting account");
    let items = sites_of(&app, CLIENT).await;
    assert_eq!(items[0]["name"], "Docs", "what Forge wrote, Connect reads: one tenant");
}

#[tokio::test]
async fn a_fit_for_a_site_without_a_tenant_is_the_uniform_401() {
    let app = TestApp::new();
    connect_install(&app, CLIENT, CLOUD).await;
    let (status, _, unknown) = app.send(get("/api/tenant", Some(&admin_fit(&app, "cloud-unknown")))).await;
    assert_error(status, &unknown, 401, "unauthenticated");
    let (_, _, bad_signature) = app.send(get("/api/tenant", Some("a.b.c"))).await;
    assert_eq!(unknown, bad_signature, "one body for every 401");
}

#[tokio::test]
async fn fits_with_a_wrong_audience_expiry_nbf_or_issuer_are_refused() {
    let app = TestApp::new();
    connect_install(&app, CLIENT, CLOUD).await;
    let now = app.now_secs();
    let invocation = Invocation {
        cloud_id: CLOUD.into(),
        installation_id: None,
        account_id: Some(ADMIN_ACCOUNT.into()),
        module_key: None,
        site_url: None,
    };
    let good = fit::invocation_claims(FORGE_APP_ARI, &invocation, now, FIT_TTL_SECS);
    let (status, _, _) = app.send(get("/api/tenant", Some(&sign_fit(&good)))).await;
    assert_eq!(status, 200);

    let wrong_audience = fit::invocation_claims("ari:cloud:ecosystem::app/another-app", &invocation, now, 60);
    let expired = fit::invocation_claims(FORGE_APP_ARI, &invocation, now - 120, 60);
    let not_yet = fit::invocation_claims(FORGE_APP_ARI, &invocation, now + 60, 60);
    let mut wrong_issuer = good.clone();
    wrong_issuer["iss"] = json!(CLIENT);
    for (name, claims) in [("audience", wrong_audience), ("expired", expired), ("nbf", not_yet), ("iss", wrong_issuer)]
    {
        let (status, _, body) = app.send(get("/api/tenant", Some(&sign_fit(&claims)))).await;
        assert_error(status, &body, 401, "unauthenticated");
        assert_eq!(body["error"]["message"], "Authentication failed.", "{name}");
    }
}

#[tokio::test]
async fn an_hs256_fit_and_crossed_schemes_are_refused() {
    let app = TestApp::new();
    connect_install(&app, CLIENT, CLOUD).await;
    let now = app.now_secs();

    // A FIT's claims signed HS256 (with the tenant's own secret, even): the algorithm is pinned.
    let invocation = Invocation {
        cloud_id: CLOUD.into(),
        installation_id: None,
        account_id: Some(ADMIN_ACCOUNT.into()),
        module_key: None,
        site_url: None,
    };
    let claims = fit::invocation_claims(FORGE_APP_ARI, &invocation, now, 60);
    let header = jsonwebtoken::Header {
        kid: Some(FORGE_KID.into()),
        ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
    };
    let hs256 = jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()))
        .expect("sign");
    assert_eq!(app.send(bearer("GET", "/api/tenant", &hs256, None)).await.0, 401);

    // A Connect context JWT presented as a FIT, and a FIT presented as a Connect JWT.
    let connect = context_token_as(CLIENT, SECRET, Some(ADMIN_ACCOUNT), now);
    assert_eq!(app.send(get("/api/tenant", Some(&connect))).await.0, 200, "fine under its own scheme");
    assert_eq!(app.send(bearer("GET", "/api/tenant", &connect, None)).await.0, 401);
    let fit = admin_fit(&app, CLOUD);
    let as_connect = Request::get("/api/tenant").header("authorization", format!("JWT {fit}")).body(Body::empty());
    assert_eq!(app.send(as_connect.expect("request")).await.0, 401);
    let in_query = Request::get(format!("/api/tenant?jwt={fit}")).body(Body::empty()).expect("request");
    assert_eq!(app.send(in_query).await.0, 401);
    let both = Request::get(format!("/api/tenant?jwt={connect}"))
        .header("authorization", format!("Bearer {fit}"))
        .body(Body::empty())
        .expect("request");
    assert_eq!(app.send(both).await.0, 401, "two tokens at once are ambiguous");
}

#[tokio::test]
async fn forge_auth_is_off_without_an_app_id() {
    let app = rebuilt(TestApp::new(), |state| {
        let mut config = (*state.config).clone();
        config.forge_app_ari = None;
        state.stack.config = Arc::new(config);
    });
    connect_install(&app, CLIENT, CLOUD).await;
    assert_eq!(app.send(get("/api/tenant", Some(&admin_fit(&app, CLOUD)))).await.0, 401);
    let event = forge_event(&app, FORGE_INSTALLED, "cloud-new", "ari:i/1", &site_ari("cloud-new"));
    assert_eq!(app.send(event).await.0, 401);
    assert_eq!(stored(&app, "forge:cloud-new").await, None);
}

/// A stand-in for Forge's JWKS endpoint that counts fetches and can go down.
#[derive(Default)]
struct FakeJwks {
    fetches: AtomicUsize,
    down: AtomicBool,
    oversized: AtomicBool,
    /// Extra kids published for the dev key.
    extra_kids: Mutex<Vec<String>>,
    /// Answers only after [`SLOW_JWKS`] (a stuck endpoint); `answered` counts finished fetches.
    slow: AtomicBool,
    answered: AtomicUsize,
}

/// How long the slow fake takes: far longer than an in-memory request, far shorter than the
/// outbound client's timeout.
const SLOW_JWKS: std::time::Duration = std::time::Duration::from_secs(3);

async fn serve_jwks(State(fake): State<Arc<FakeJwks>>) -> Response {
    fake.fetches.fetch_add(1, Ordering::SeqCst);
    if fake.slow.load(Ordering::SeqCst) {
        tokio::time::sleep(SLOW_JWKS).await;
    }
    let answer = answer_jwks(&fake);
    fake.answered.fetch_add(1, Ordering::SeqCst);
    answer
}

fn answer_jwks(fake: &FakeJwks) -> Response {
    if fake.down.load(Ordering::SeqCst) {
        return StatusCode::BAD_GATEWAY.into_response();
    }
    if fake.oversized.load(Ordering::SeqCst) {
        return axum::Json(json!({"keys": [], "padding": "x".repeat(MAX_JWKS_BYTES)})).into_response();
    }
    let mut set: Value = serde_json::from_slice(FORGE_JWKS).expect("dev set");
    let dev_key = set["keys"][0].clone();
    for kid in fake.extra_kids.lock().expect("lock").iter() {
        let mut key = dev_key.clone();
        key["kid"] = json!(kid);
        set["keys"].as_array_mut().expect("keys").push(key);
    }
    axum::Json(set).into_response()
}

async fn spawn(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    addr
}

async fn app_with_fake_jwks() -> (TestApp, Arc<FakeJwks>) {
    let fake = Arc::new(FakeJwks::default());
    let addr =
        spawn(Router::new().route("/.well-known/jwks.json", get_route(serve_jwks)).with_state(fake.clone())).await;
    let app = TestApp::new();
    let keys = HttpForgeKeys::new(
        &format!("http://{addr}/.well-known/jwks.json"),
        http_client().expect("client"),
        app.clock.clone(),
    );
    (
        rebuilt(app, |state| {
            state.forge = canopy_shared::domain::forge::ForgeRemote::new(Arc::new(keys), state.clock.clone())
        }),
        fake,
    )
}

fn fit_with_kid(app: &TestApp, kid: &str) -> String {
    let invocation = Invocation {
        cloud_id: CLOUD.into(),
        installation_id: None,
        account_id: Some(ADMIN_ACCOUNT.into()),
        module_key: None,
        site_url: None,
    };
    let claims = fit::invocation_claims(FORGE_APP_ARI, &invocation, app.now_secs(), FIT_TTL_SECS);
    fit::sign(&claims, kid, FORGE_PRIVATE_KEY).expect("sign")
}

#[tokio::test]
async fn an_unknown_kid_refreshes_the_key_set_once_then_401() {
    let (app, fake) = app_with_fake_jwks().await;
    connect_install(&app, CLIENT, CLOUD).await;
    let fetches = || fake.fetches.load(Ordering::SeqCst);

    assert_eq!(app.send(get("/api/tenant", Some(&fit_with_kid(&app, FORGE_KID)))).await.0, 200);
    assert_eq!(fetches(), 1, "the first FIT fetches the set");
    assert_eq!(app.send(get("/api/tenant", Some(&fit_with_kid(&app, FORGE_KID)))).await.0, 200);
    assert_eq!(fetches(), 1, "known kids come from the cache");

    app.clock.advance_secs(MIN_REFRESH_INTERVAL_SECS);
    let unknown = "forge/invocation-token/wf-unknown";
    assert_eq!(app.send(get("/api/tenant", Some(&fit_with_kid(&app, unknown)))).await.0, 401);
    assert_eq!(fetches(), 2, "exactly one refresh for the unknown kid");
    for _ in 0..5 {
        assert_eq!(app.send(get("/api/tenant", Some(&fit_with_kid(&app, unknown)))).await.0, 401);
    }
    assert_eq!(fetches(), 2, "further unknown kids wait for the refresh interval");

    // A key Atlassian starts using is picked up on first sight once the interval has passed.
    let rotated = "forge/invocation-token/wf-rotated";
    fake.extra_kids.lock().expect("lock").push(rotated.into());
    app.clock.advance_secs(MIN_REFRESH_INTERVAL_SECS);
    assert_eq!(app.send(get("/api/tenant", Some(&fit_with_kid(&app, rotated)))).await.0, 200);
    assert_eq!(fetches(), 3);
}

#[tokio::test]
async fn a_slow_jwks_fetch_never_holds_up_cached_keys_and_concurrent_misses_share_it() {
    let (app, fake) = app_with_fake_jwks().await;
    connect_install(&app, CLIENT, CLOUD).await;
    assert_eq!(app.send(get("/api/tenant", Some(&fit_with_kid(&app, FORGE_KID)))).await.0, 200);
    assert_eq!(fake.fetches.load(Ordering::SeqCst), 1);

    fake.slow.store(true, Ordering::SeqCst);
    app.clock.advance_secs(MIN_REFRESH_INTERVAL_SECS);
    let unknown = |n: usize| fit_with_kid(&app, &format!("forge/invocation-token/wf-flood-{n}"));
    let (misses, known) = ([unknown(0), unknown(1), unknown(2), unknown(3)], fit_with_kid(&app, FORGE_KID));
    let miss = |token: &String| app.send(get("/api/tenant", Some(token)));
    let cached_during_the_fetch = async {
        // Once the refresh is under way, a token whose key is cached is answered before it ends.
        while fake.fetches.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let status = app.send(get("/api/tenant", Some(&known))).await.0;
        (status, fake.answered.load(Ordering::SeqCst))
    };
    let (a, b, c, d, (status, answered_by_then)) =
        tokio::join!(miss(&misses[0]), miss(&misses[1]), miss(&misses[2]), miss(&misses[3]), cached_during_the_fetch);
    assert_eq!(status, 200);
    assert_eq!(answered_by_then, 1, "the cached key did not wait for the fetch in flight");
    assert_eq!([a.0, b.0, c.0, d.0], [401; 4]);
    assert_eq!(fake.fetches.load(Ordering::SeqCst), 2, "four concurrent misses, one fetch");
}

#[tokio::test]
async fn a_jwks_endpoint_that_is_down_answers_503_and_nothing_is_written() {
    let (app, fake) = app_with_fake_jwks().await;
    connect_install(&app, CLIENT, CLOUD).await;
    fake.down.store(true, Ordering::SeqCst);

    let site = json!({"name": "Docs", "visibility": "public"});
    let (status, headers, body) = app.send(post("/api/sites", Some(&admin_fit(&app, CLOUD)), &site)).await;
    assert_error(status, &body, 503, "dependency_unavailable");
    assert!(headers.contains_key("retry-after"));
    let (status, _, body) = app.send(post("/api/sites", Some(&admin_fit(&app, CLOUD)), &site)).await;
    assert_error(status, &body, 503, "dependency_unavailable");
    assert_eq!(fake.fetches.load(Ordering::SeqCst), 1, "a failed fetch is not retried within the interval");
    assert_eq!(sites_of(&app, CLIENT).await, json!([]));

    let event = forge_event(&app, FORGE_INSTALLED, "cloud-new", "ari:i/1", &site_ari("cloud-new"));
    assert_eq!(app.send(event).await.0, 503);
    assert_eq!(stored(&app, "forge:cloud-new").await, None);
    assert_eq!(index_item(&app, "cloud-new").await, None);

    fake.down.store(false, Ordering::SeqCst);
    app.clock.advance_secs(MIN_REFRESH_INTERVAL_SECS);
    let (status, _, body) = app.send(post("/api/sites", Some(&admin_fit(&app, CLOUD)), &site)).await;
    assert_eq!(status, 201, "recovered: {body}");
}

#[tokio::test]
async fn an_old_key_set_is_fetched_again_and_serves_while_the_endpoint_is_down() {
    let (app, fake) = app_with_fake_jwks().await;
    connect_install(&app, CLIENT, CLOUD).await;
    let fetches = || fake.fetches.load(Ordering::SeqCst);
    assert_eq!(app.send(get("/api/tenant", Some(&fit_with_kid(&app, FORGE_KID)))).await.0, 200);

    app.clock.advance_secs(MAX_KEY_SET_AGE_SECS - 1);
    assert_eq!(app.send(get("/api/tenant", Some(&fit_with_kid(&app, FORGE_KID)))).await.0, 200);
    assert_eq!(fetches(), 1, "younger than the bound: no fetch");
    app.clock.advance_secs(1);
    assert_eq!(app.send(get("/api/tenant", Some(&fit_with_kid(&app, FORGE_KID)))).await.0, 200);
    assert_eq!(fetches(), 2, "at the bound the set is fetched again");

    // A set that cannot be refreshed keeps serving the keys it has.
    fake.down.store(true, Ordering::SeqCst);
    app.clock.advance_secs(MAX_KEY_SET_AGE_SECS);
    assert_eq!(app.send(get("/api/tenant", Some(&fit_with_kid(&app, FORGE_KID)))).await.0, 200);
    assert_eq!(fetches(), 3);
}

#[tokio::test]
async fn an_oversized_key_set_is_a_dependency_failure() {
    let (app, fake) = app_with_fake_jwks().await;
    connect_install(&app, CLIENT, CLOUD).await;
    fake.oversized.store(true, Ordering::SeqCst);
    let (status, _, body) = app.send(get("/api/tenant", Some(&fit_with_kid(&app, FORGE_KID)))).await;
    assert_error(status, &body, 503, "dependency_unavailable");
}

#[tokio::test]
async fn forge_installed_links_a_connect_tenant_idempotently() {
    let app = TestApp::new();
    connect_install(&app, CLIENT, CLOUD).await;
    let (status, _, body) = app.send(forge_event(&app, FORGE_INSTALLED, CLOUD, "ari:inst/1", &site_ari(CLOUD))).await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("linked")), "{body}");
    let tenant = stored(&app, CLIENT).await.expect("tenant");
    assert_eq!(tenant.installation_id.as_deref(), Some("ari:inst/1"));
    assert_eq!(tenant.shared_secret, SECRET, "the Connect install is untouched");
    assert_eq!(tenant.history.last().map(|t| t.event.as_str()), Some("forge_installed"));

    let (_, _, again) = app.send(forge_event(&app, FORGE_INSTALLED, CLOUD, "ari:inst/1", &site_ari(CLOUD))).await;
    assert_eq!(again["outcome"], "unchanged");
    assert_eq!(stored(&app, CLIENT).await.expect("tenant").history.len(), tenant.history.len());

    // Installation ids change without notice: recorded, never keyed on.
    let (_, _, upgraded) = app.send(forge_event(&app, FORGE_UPGRADED, CLOUD, "ari:inst/2", &site_ari(CLOUD))).await;
    assert_eq!(upgraded["outcome"], "linked");
    assert_eq!(stored(&app, CLIENT).await.expect("tenant").installation_id.as_deref(), Some("ari:inst/2"));
    assert_eq!(app.send(get("/api/tenant", Some(&admin_fit(&app, CLOUD)))).await.0, 200);
}

#[tokio::test]
async fn forge_installed_for_a_new_site_creates_a_forge_only_tenant_connect_cannot_reach() {
    let app = TestApp::new();
    let (status, _, body) = app.send(forge_event(&app, FORGE_INSTALLED, CLOUD, "ari:inst/1", &site_ari(CLOUD))).await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("created")), "{body}");
    let key = format!("forge:{CLOUD}");
    let tenant = stored(&app, &key).await.expect("forge-only tenant");
    assert_eq!((tenant.product_type.as_str(), tenant.shared_secret.as_str()), ("confluence", ""));
    assert_eq!(tenant.cloud_id.as_deref(), Some(CLOUD));
    assert_eq!(index_item(&app, CLOUD).await, Some(json!({"tenant": key})));
    let (_, _, again) = app.send(forge_event(&app, FORGE_INSTALLED, CLOUD, "ari:inst/1", &site_ari(CLOUD))).await;
    assert_eq!(again["outcome"], "unchanged");

    let (status, _, body) = app.send(get("/api/tenant", Some(&admin_fit(&app, CLOUD)))).await;
    assert_eq!((status, body["clientKey"].as_str()), (200, Some(key.as_str())));

    // No shared secret: a Connect token naming the tenant never verifies, not even one signed
    // with the empty secret.
    let claims = ConnectClaims {
        iss: key.clone(),
        sub: Some(ADMIN_ACCOUNT.into()),
        qsh: Some(CONTEXT_QSH.into()),
        aud: None,
        iat: Some(app.now_secs()),
        exp: Some(app.now_secs() + 60),
        context: None,
    };
    let empty_secret = sign_hs256(&claims, "").expect("sign");
    assert_eq!(app.send(get("/api/tenant", Some(&empty_secret))).await.0, 401);

    // Its admin check can only go through the app system token.
    let site = json!({"name": "Docs", "visibility": "public"});
    let (status, _, body) = app.send(post("/api/sites", Some(&admin_fit(&app, CLOUD)), &site)).await;
    assert_error(status, &body, 503, "dependency_unavailable");
    let mut with_token = post("/api/sites", Some(&admin_fit(&app, CLOUD)), &site);
    with_token.headers_mut().insert("x-forge-oauth-system", SYSTEM_TOKEN.parse().expect("header"));
    assert_eq!(app.send(with_token).await.0, 201);
}

#[tokio::test]
async fn forge_uninstall_schedules_the_purge_like_connect_and_install_brings_it_back() {
    let app = TestApp::new();
    connect_install(&app, CLIENT, CLOUD).await;
    let (status, _, body) = app.send(forge_event(&app, FORGE_UNINSTALLED, CLOUD, "ari:inst/1", &site_ari(CLOUD))).await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("uninstalled")), "{body}");
    let tenant = stored(&app, CLIENT).await.expect("tenant");
    assert_eq!(tenant.state, TenantState::Uninstalled);
    assert_eq!(tenant.purge_after.as_deref(), Some("2026-02-14T00:00:00Z"));
    let due_at = |app: &TestApp| {
        let store = app.state.store.clone();
        let now = app.now_secs() + 90 * 86_400;
        async move {
            let page = store.due(PURGE_DUE_KIND, now, PageRequest { limit: 10, after: None }).await.expect("due");
            page.items.iter().map(|e| (e.tenant.to_string(), e.at)).collect::<Vec<_>>()
        }
    };
    let scheduled = due_at(&app).await;
    assert_eq!(scheduled.len(), 1);
    assert_eq!(app.send(get("/api/tenant", Some(&admin_fit(&app, CLOUD)))).await.0, 401);

    app.clock.advance_secs(3600);
    app.send(forge_event(&app, FORGE_UNINSTALLED, CLOUD, "ari:inst/1", &site_ari(CLOUD))).await;
    assert_eq!(due_at(&app).await, scheduled, "a repeated uninstall never postpones the purge");

    let (_, _, body) = app.send(forge_event(&app, FORGE_INSTALLED, CLOUD, "ari:inst/1", &site_ari(CLOUD))).await;
    assert_eq!(body["outcome"], "linked");
    let tenant = stored(&app, CLIENT).await.expect("tenant");
    assert_eq!((tenant.state, tenant.purge_after), (TenantState::Installed, None));
    assert_eq!(due_at(&app).await, vec![], "the purge is cancelled");
    assert_eq!(app.send(get("/api/tenant", Some(&admin_fit(&app, CLOUD)))).await.0, 200);
}

#[tokio::test]
async fn forge_events_for_an_unknown_or_mismatched_site_write_nothing() {
    let app = TestApp::new();
    connect_install(&app, CLIENT, CLOUD).await;
    let unknown = "0f0f0f0f-unknown";
    for path in [FORGE_UPGRADED, FORGE_UNINSTALLED] {
        let (status, _, body) = app.send(forge_event(&app, path, unknown, "ari:inst/9", &site_ari(unknown))).await;
        assert_error(status, &body, 404, "unknown_site");
    }
    // The body names a site other than the one the token vouches for.
    let (status, _, body) = app.send(forge_event(&app, FORGE_INSTALLED, unknown, "ari:inst/9", &site_ari(CLOUD))).await;
    assert_error(status, &body, 422, "site_mismatch");
    let (status, _, body) = app.send(forge_event(&app, FORGE_INSTALLED, unknown, "ari:inst/9", "not-an-ari")).await;
    assert_error(status, &body, 422, "invalid_field");
    let (status, _, body) =
        app.send(forge_event(&app, FORGE_INSTALLED, unknown, "ari:inst/9", "ari:cloud:bitbucket::site/x")).await;
    assert_error(status, &body, 422, "invalid_field");
    assert_eq!(stored(&app, &format!("forge:{unknown}")).await, None);
    assert_eq!(index_item(&app, unknown).await, None);
    let tenant = stored(&app, CLIENT).await.expect("tenant");
    assert_eq!((tenant.installation_id, tenant.state), (None, TenantState::Installed), "the known site is untouched");

    // Without a FIT, or with a Connect JWT, nothing is even parsed.
    let no_token = Request::post(FORGE_INSTALLED).header("content-type", "application/json").body(Body::from("{"));
    assert_eq!(app.send(no_token.expect("request")).await.0, 401);
    let connect = context_token(CLIENT, SECRET, app.now_secs());
    assert_eq!(app.send(bearer("POST", FORGE_INSTALLED, &connect, Some(&json!({})))).await.0, 401);
}

/// On both store adapters: the index moves inside multi-partition transactions.
async fn world(store: Store) -> TestApp {
    match store {
        Store::Embedded => TestApp::new(),
        Store::Dynamo => TestApp::with_store(store.open().await.store),
    }
}

mod scenarios {
    use super::*;

    pub async fn a_site_import_moves_the_site_to_the_newest_install(app: TestApp) {
        let imported = "b0a1c2d3-imported-site-client-key";
        assert_eq!(connect_install_of_site(&app, CLIENT, CLOUD, SITE).await.0, 204);
        let site = json!({"name": "Before import", "visibility": "public"});
        app.send(post("/api/sites", Some(&admin_fit(&app, CLOUD)), &site)).await;

        // The imported site keeps its host (whatever the path).
        let (status, body) = connect_install_of_site(&app, imported, CLOUD, "https://acme.atlassian.net").await;
        assert_eq!(status, 204, "{body}");
        let (_, _, body) = app.send(get("/api/tenant", Some(&admin_fit(&app, CLOUD)))).await;
        assert_eq!(body["clientKey"], imported, "Forge now reaches the newest install");
        let previous = stored(&app, CLIENT).await.expect("previous tenant");
        assert_eq!(previous.cloud_id, None);
        assert_eq!(previous.history.last().map(|t| t.event.as_str()), Some("site_moved"));
        assert_eq!((previous.state, previous.purge_after), (TenantState::Installed, None), "never uninstalled");
        assert!(scheduled_purges(&app).await.is_empty(), "and never scheduled for purge");
        assert_eq!(sites_of(&app, CLIENT).await[0]["name"], "Before import");

        // The previous clientKey installing again takes the site back: the newest install wins.
        assert_eq!(connect_install_of_site(&app, CLIENT, CLOUD, SITE).await.0, 204);
        let (_, _, body) = app.send(get("/api/tenant", Some(&admin_fit(&app, CLOUD)))).await;
        assert_eq!(body["clientKey"], CLIENT);
        assert_eq!(stored(&app, imported).await.expect("tenant").cloud_id, None);
    }

    pub async fn a_connect_install_of_the_same_site_takes_over_from_a_forge_only_tenant_without_purging_it(
        app: TestApp,
    ) {
        let event = forge_event_of_site(
            &app,
            FORGE_INSTALLED,
            CLOUD,
            "ari:inst/1",
            &site_ari(CLOUD),
            Some("https://acme.atlassian.net"),
        );
        assert_eq!(app.send(event).await.0, 200);
        // Warm the process's cloudId cache on the Forge-only tenant.
        assert_eq!(
            app.send(get("/api/tenant", Some(&admin_fit(&app, CLOUD)))).await.2["clientKey"],
            format!("forge:{CLOUD}")
        );

        assert_eq!(connect_install_of_site(&app, CLIENT, CLOUD, SITE).await.0, 204);
        let (_, _, body) = app.send(get("/api/tenant", Some(&admin_fit(&app, CLOUD)))).await;
        assert_eq!(body["clientKey"], CLIENT, "the cache never outlives a move");
        let superseded = stored(&app, &format!("forge:{CLOUD}")).await.expect("forge-only tenant");
        assert_eq!((superseded.state, superseded.cloud_id.as_deref()), (TenantState::Installed, None));
        assert_eq!(superseded.purge_after, None, "a claim never uninstalls a tenant");
        assert!(scheduled_purges(&app).await.is_empty(), "nor schedules its purge");
    }

    pub async fn an_install_naming_another_sites_cloud_id_is_refused_logged_and_changes_nothing(app: TestApp) {
        let attacker = "attacker-client-key";
        let attacker_site = "https://attacker.atlassian.net/wiki";
        // A Connect owner, a Forge-only owner that knows its site, one that does not.
        let (forge_cloud, bare_cloud) = ("5a5a5a5a-forge-only-site", "6b6b6b6b-forge-only-no-url");
        assert_eq!(connect_install_of_site(&app, CLIENT, CLOUD, SITE).await.0, 204);
        let forge = forge_event_of_site(
            &app,
            FORGE_INSTALLED,
            forge_cloud,
            "ari:inst/2",
            &site_ari(forge_cloud),
            Some("https://forge-site.atlassian.net"),
        );
        assert_eq!(app.send(forge).await.0, 200);
        assert_eq!(
            app.send(forge_event(&app, FORGE_INSTALLED, bare_cloud, "ari:inst/3", &site_ari(bare_cloud))).await.0,
            200
        );
        let owners = [CLIENT.to_owned(), format!("forge:{forge_cloud}"), format!("forge:{bare_cloud}")];
        let mut before = Vec::new();
        for owner in &owners {
            before.push(stored(&app, owner).await.expect("owner"));
        }

        app.clock.advance_secs(60);
        for (cloud, base_url) in [
            (CLOUD, attacker_site),
            (forge_cloud, attacker_site),
            // Not even the host a site's URL would have: nothing recorded to match.
            (bare_cloud, "https://bare-site.atlassian.net/wiki"),
        ] {
            app.clock.advance_secs(1);
            let ((status, body), log) = logged(connect_install_of_site(&app, attacker, cloud, base_url)).await;
            assert_error(status, &body, 409, "cloud_id_claimed");
            let warning = log.lines().find(|l| l.contains("cloudId claim refused")).expect("a warning for operators");
            assert!(warning.contains("WARN") && warning.contains(cloud) && warning.contains(attacker), "{warning}");
            assert!(stored(&app, attacker).await.is_none(), "{cloud}: the attacker's install wrote nothing");
        }
        for (owner, before) in owners.iter().zip(&before) {
            assert_eq!(&stored(&app, owner).await.expect("owner"), before, "{owner} unchanged");
        }
        assert!(scheduled_purges(&app).await.is_empty());
        for (cloud, owner) in [CLOUD, forge_cloud, bare_cloud].into_iter().zip(&owners) {
            assert_eq!(index_item(&app, cloud).await.expect("index")["tenant"], owner.as_str());
            let (status, _, body) = app.send(get("/api/tenant", Some(&admin_fit(&app, cloud)))).await;
            assert_eq!(
                (status, body["clientKey"].as_str()),
                (200, Some(owner.as_str())),
                "Forge still reaches {owner}"
            );
        }
    }

    pub async fn concurrent_installs_of_one_site_leave_exactly_one_owner(app: TestApp) {
        let clients = ["concurrent-a", "concurrent-b", "concurrent-c"];
        let statuses = tokio::join!(
            connect_install_of_site(&app, clients[0], CLOUD, SITE),
            connect_install_of_site(&app, clients[1], CLOUD, SITE),
            connect_install_of_site(&app, clients[2], CLOUD, SITE),
        );
        assert_eq!((statuses.0.0, statuses.1.0, statuses.2.0), (204, 204, 204));
        let owner = index_item(&app, CLOUD).await.expect("index")["tenant"].as_str().expect("tenant").to_owned();
        for client in clients {
            let cloud_id = stored(&app, client).await.expect("tenant").cloud_id;
            assert_eq!(cloud_id.as_deref() == Some(CLOUD), client == owner, "{client} (owner {owner})");
        }
        let (_, _, body) = app.send(get("/api/tenant", Some(&admin_fit(&app, CLOUD)))).await;
        assert_eq!(body["clientKey"], owner.as_str());
    }
}

support::scenarios!(stores: [
    a_site_import_moves_the_site_to_the_newest_install,
    a_connect_install_of_the_same_site_takes_over_from_a_forge_only_tenant_without_purging_it,
    an_install_naming_another_sites_cloud_id_is_refused_logged_and_changes_nothing,
    concurrent_installs_of_one_site_leave_exactly_one_owner,
]);

#[tokio::test]
async fn the_purge_releases_the_site_only_while_the_tenant_still_holds_it() {
    let app = TestApp::new();
    connect_install(&app, CLIENT, CLOUD).await;
    connect_install(&app, "other-client", "other-cloud").await;
    let key = TenantKey::from_verified(CLIENT).expect("key");
    let other = TenantKey::from_verified("other-client").expect("key");
    assert!(cloud_index::release_writes(&app.state, &other, CLOUD).await.expect("release").is_empty());
    let writes = cloud_index::release_writes(&app.state, &key, CLOUD).await.expect("release");
    assert_eq!(writes.len(), 1);
    app.state.store.transact(writes, app.now_secs()).await.expect("transact");
    assert_eq!(index_item(&app, CLOUD).await, None);
    assert!(index_item(&app, "other-cloud").await.is_some());
    assert_eq!(app.send(get("/api/tenant", Some(&admin_fit(&app, CLOUD)))).await.0, 401);
}

#[tokio::test]
async fn reserved_client_keys_can_never_be_installed() {
    let app = TestApp::new();
    for client in ["_cloud", "_operator", "_anything", "forge:4869c4ef"] {
        let token = sign_install(&install_claims(client, INSTALLED, app.now_secs()));
        let (status, _, body) = app.send(post(INSTALLED, Some(&token), &install_payload(client, SECRET))).await;
        assert_error(status, &body, 422, "reserved_client_key");
        let key = TenantKey::from_verified(client).expect("key");
        let record = app.state.store.get(&key, keys::TENANT_RECORD, app.now_secs()).await.expect("get");
        assert_eq!(record, None, "{client}");
    }
    let token = sign_install(&install_claims(CLIENT, INSTALLED, app.now_secs()));
    let mut payload = install_payload(CLIENT, SECRET);
    payload["cloudId"] = json!("cloud#1");
    let (status, _, _) = app.send(post(INSTALLED, Some(&token), &payload)).await;
    assert_eq!(status, 422, "a cloudId that is not one is refused too");
    assert_eq!(stored(&app, CLIENT).await, None);
}

/// A stand-in for `api.atlassian.com` (Forge route) and for the tenant's own site (Connect
/// route): Confluence's user endpoint, answering from a fixed admin set.
#[derive(Default)]
struct FakeAtlassian {
    /// (route, authorization scheme + token) of each call.
    calls: Mutex<Vec<(String, String)>>,
}

async fn confluence_user(State(fake): State<Arc<FakeAtlassian>>, uri: Uri, headers: HeaderMap) -> Response {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    fake.calls.lock().expect("lock").push((uri.path().to_owned(), authorization.clone()));
    let forge = uri.path().starts_with("/ex/confluence/");
    let authorised =
        if forge { authorization == format!("Bearer {SYSTEM_TOKEN}") } else { authorization.starts_with("JWT ") };
    if !authorised {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let query = uri.query().unwrap_or_default();
    let admin = query.contains(&canopy_shared::adapters::product::connect::encode_query_value(ADMIN_ACCOUNT));
    let operations = if admin { json!([{"operation": "administer", "targetType": "application"}]) } else { json!([]) };
    axum::Json(json!({"accountId": "x", "operations": operations})).into_response()
}

async fn jira_permissions(
    State(fake): State<Arc<FakeAtlassian>>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    fake.calls.lock().expect("lock").push((uri.path().to_owned(), authorization.clone()));
    if authorization != format!("Bearer {SYSTEM_TOKEN}") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let request: Value = serde_json::from_str(&body).unwrap_or_default();
    let granted = if request["accountId"] == ADMIN_ACCOUNT { json!(["ADMINISTER"]) } else { json!([]) };
    axum::Json(json!({"globalPermissions": granted})).into_response()
}

async fn app_with_fake_atlassian() -> (TestApp, Arc<FakeAtlassian>, SocketAddr) {
    let fake = Arc::new(FakeAtlassian::default());
    let router = Router::new()
        .route(&format!("/ex/confluence/{CLOUD}/wiki/rest/api/user"), get_route(confluence_user))
        .route("/site/wiki/rest/api/user", get_route(confluence_user))
        .route("/ex/jira/jira-cloud/rest/api/3/permissions/check", post_route(jira_permissions))
        .with_state(fake.clone());
    let addr = spawn(router).await;
    let http = http_client().expect("client");
    let directory = ConnectAdminDirectory::new(ProductClient::new(
        "canopy",
        ProductHosts::default().with_loopback_http(),
        http.clone(),
    ))
    .with_forge(ForgeProductClient::new(&format!("http://{addr}"), http));
    let app = rebuilt(TestApp::new(), |state| state.admins = Arc::new(directory));
    (app, fake, addr)
}

fn with_system_token(mut request: Request<Body>, token: &str) -> Request<Body> {
    request.headers_mut().insert("x-forge-oauth-system", token.parse().expect("header"));
    request
}

#[tokio::test]
async fn a_fit_callers_admin_check_asks_the_product_as_the_forge_app() {
    let (app, fake, addr) = app_with_fake_atlassian().await;
    let token = sign_install(&install_claims(CLIENT, INSTALLED, app.now_secs()));
    let mut payload = install_payload(CLIENT, SECRET);
    payload["cloudId"] = json!(CLOUD);
    payload["baseUrl"] = json!(format!("http://{addr}/site/wiki"));
    assert_eq!(app.send(post(INSTALLED, Some(&token), &payload)).await.0, 204);
    let site = json!({"name": "Docs", "visibility": "public"});

    let request = with_system_token(post("/api/sites", Some(&admin_fit(&app, CLOUD)), &site), SYSTEM_TOKEN);
    let (status, _, body) = app.send(request).await;
    assert_eq!(status, 201, "{body}");
    let user = forge_token(CLOUD, Some(USER_ACCOUNT), app.now_secs());
    let (status, _, body) = app.send(with_system_token(post("/api/sites", Some(&user), &site), SYSTEM_TOKEN)).await;
    assert_error(status, &body, 403, "not_admin");
    {
        let calls = fake.calls.lock().expect("lock");
        assert_eq!(calls.len(), 2);
        for (path, authorization) in calls.iter() {
            assert_eq!(path, &format!("/ex/confluence/{CLOUD}/wiki/rest/api/user"));
            assert_eq!(authorization, &format!("Bearer {SYSTEM_TOKEN}"));
        }
    }

    // A token the product refuses is a dependency problem, not a verdict; nothing is written.
    let request = with_system_token(post("/api/sites", Some(&admin_fit(&app, CLOUD)), &site), "expired-token");
    let (status, _, body) = app.send(request).await;
    assert_error(status, &body, 503, "dependency_unavailable");
    assert_eq!(sites_of(&app, CLIENT).await.as_array().map(Vec::len), Some(1));

    // Without a system token, a Connect tenant's check goes the Connect way.
    let (status, _, body) = app.send(post("/api/sites", Some(&admin_fit(&app, CLOUD)), &site)).await;
    assert_eq!(status, 201, "{body}");
    let last = fake.calls.lock().expect("lock").last().cloned().expect("call");
    assert_eq!(last.0, "/site/wiki/rest/api/user");
    assert!(last.1.starts_with("JWT "));
}

#[tokio::test]
async fn a_forge_only_jira_tenants_admin_check_goes_through_the_api_gateway() {
    let (app, fake, _) = app_with_fake_atlassian().await;
    let event = forge_event(&app, FORGE_INSTALLED, "jira-cloud", "ari:inst/j", "ari:cloud:jira::site/jira-cloud");
    assert_eq!(app.send(event).await.2["outcome"], "created");
    let site = json!({"name": "Docs", "visibility": "public"});
    let fit = admin_fit(&app, "jira-cloud");
    let (status, _, body) = app.send(with_system_token(post("/api/sites", Some(&fit), &site), SYSTEM_TOKEN)).await;
    assert_eq!(status, 201, "{body}");
    let calls = fake.calls.lock().expect("lock").clone();
    assert_eq!(
        calls,
        vec![("/ex/jira/jira-cloud/rest/api/3/permissions/check".to_owned(), format!("Bearer {SYSTEM_TOKEN}"))]
    );
}
