//! The admin check against a fake Confluence and a fake Jira on loopback that verify the app's
//! JWT as Atlassian does (HS256 with the tenant's secret, `iss` = app key, qsh of the request they
//! received): answers, failure mapping, and the per-tenant TTL cache.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use canopy_shared::Error;
use canopy_shared::adapters::admins::{
    AdminDirectory, CachedAdminDirectory, ConnectAdminDirectory, LocalAdminDirectory,
};
use canopy_shared::adapters::http::http_client;
use canopy_shared::adapters::product::connect::ProductClient;
use canopy_shared::domain::connect::jwt::{QshRule, unverified_issuer, verify_hs256};
use canopy_shared::domain::connect::qsh::query_string_hash;
use canopy_shared::domain::tenants::{Tenant, TenantState};
use canopy_shared::kernel::clock::{Clock, ManualClock, SystemClock};
use canopy_shared::kernel::config::DEFAULT_ADMIN_CACHE_TTL_SECS;
use canopy_shared::kernel::product_url::ProductHosts;
use serde_json::{Value, json};

const APP_KEY: &str = "canopy";
const ADMIN: &str = "557058:7f3a1c2e-admin";
const USER: &str = "557058:0b9d4e5f-user";
const UNKNOWN: &str = "557058:ffffffff-unknown";
/// Accounts that make the fake product misbehave.
const BOOM: &str = "557058:boom";
const SLOW: &str = "557058:slow";
const THROTTLED: &str = "557058:throttled";
const HUGE: &str = "557058:huge";

#[derive(Clone, Copy, PartialEq)]
enum Product {
    Confluence,
    Jira,
}

/// One tenant's site as Atlassian would serve it.
struct FakeProduct {
    product: Product,
    base_path: &'static str,
    secret: String,
    admins: HashSet<String>,
    users: HashSet<String>,
    requests: AtomicUsize,
    failing: AtomicBool,
    last_query: Mutex<Option<String>>,
}

impl FakeProduct {
    fn new(product: Product, secret: &str, admins: &[&str], users: &[&str]) -> Self {
        Self {
            product,
            base_path: if product == Product::Confluence { "/wiki" } else { "" },
            secret: secret.into(),
            admins: admins.iter().map(|a| a.to_string()).collect(),
            users: users.iter().map(|u| u.to_string()).collect(),
            requests: AtomicUsize::new(0),
            failing: AtomicBool::new(false),
            last_query: Mutex::new(None),
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn status(code: StatusCode, body: Value) -> Response {
    (code, axum::Json(body)).into_response()
}

/// Atlassian's checks on an app token; `Err` is the reason for a 401.
fn verify_app_token(fake: &FakeProduct, method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<(), String> {
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or("no Authorization")?;
    let token = auth.strip_prefix("JWT ").ok_or("not a JWT Authorization")?;
    if unverified_issuer(token).map_err(|e| e.to_string())? != APP_KEY {
        return Err("iss is not the app key".into());
    }
    let qsh = query_string_hash(method.as_str(), uri.path(), uri.query().unwrap_or(""), fake.base_path);
    let now = SystemClock.now_secs();
    let (claims, _) =
        verify_hs256(token, &fake.secret, QshRule::Request(&qsh), Some(now)).map_err(|e| e.to_string())?;
    if claims.sub.is_some() || claims.exp.zip(claims.iat).map(|(exp, iat)| exp - iat) != Some(180) {
        return Err("unexpected claims".into());
    }
    Ok(())
}

/// The account asked about, if the request is the admin check this product documents.
async fn account_asked(
    fake: &FakeProduct,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Option<String> {
    match fake.product {
        Product::Confluence => {
            if method != Method::GET || uri.path() != "/wiki/rest/api/user" {
                return None;
            }
            let query: Vec<(String, String)> = form_urlencoded::parse(uri.query()?.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let expand = query.iter().find(|(k, _)| k == "expand").map(|(_, v)| v.as_str());
            (expand == Some("operations")).then_some(())?;
            query.into_iter().find(|(k, _)| k == "accountId").map(|(_, v)| v)
        }
        Product::Jira => {
            let json_body = headers.get(header::CONTENT_TYPE).is_some_and(|v| v == "application/json");
            if method != Method::POST || uri.path() != "/rest/api/3/permissions/check" || !json_body {
                return None;
            }
            let request: Value = serde_json::from_slice(body).ok()?;
            (request["globalPermissions"] == json!(["ADMINISTER"])).then_some(())?;
            request["accountId"].as_str().map(str::to_owned)
        }
    }
}

async fn handle(
    State(fake): State<Arc<FakeProduct>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    fake.requests.fetch_add(1, Ordering::SeqCst);
    *fake.last_query.lock().unwrap() = uri.query().map(str::to_owned);
    if let Err(reason) = verify_app_token(&fake, &method, &uri, &headers) {
        return status(StatusCode::UNAUTHORIZED, json!({"message": reason}));
    }
    if fake.failing.load(Ordering::SeqCst) {
        return status(StatusCode::INTERNAL_SERVER_ERROR, json!({"message": "failing"}));
    }
    let Some(account) = account_asked(&fake, &method, &uri, &headers, &body).await else {
        // Not the documented call: a status the client must not mistake for an answer.
        return status(StatusCode::METHOD_NOT_ALLOWED, json!({"message": "unexpected request"}));
    };
    match account.as_str() {
        BOOM => return status(StatusCode::INTERNAL_SERVER_ERROR, json!({"message": "boom"})),
        THROTTLED => return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "7")], "slow down").into_response(),
        SLOW => {
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        HUGE => return status(StatusCode::OK, json!({"operations": [], "padding": "x".repeat(2 * 1024 * 1024)})),
        _ => {}
    }
    let is_admin = fake.admins.contains(&account);
    let known = is_admin || fake.users.contains(&account);
    match (fake.product, known) {
        (Product::Confluence, false) => status(StatusCode::NOT_FOUND, json!({"message": "no such user"})),
        (Product::Confluence, true) => {
            let mut operations = vec![json!({"operation": "use", "targetType": "application"})];
            if is_admin {
                operations.push(json!({"operation": "administer", "targetType": "application"}));
            }
            operations.push(json!({"operation": "create_space", "targetType": "application"}));
            status(StatusCode::OK, json!({"accountId": account, "type": "known", "operations": operations}))
        }
        // Jira answers an unknown account ID with 400.
        (Product::Jira, false) => {
            status(StatusCode::BAD_REQUEST, json!({"errorMessages": [], "errors": {"accountId": "invalid"}}))
        }
        (Product::Jira, true) => {
            let global: Vec<&str> = if is_admin { vec!["ADMINISTER"] } else { vec![] };
            status(StatusCode::OK, json!({"globalPermissions": global, "projectPermissions": []}))
        }
    }
}

async fn spawn(fake: Arc<FakeProduct>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let app = Router::new().fallback(handle).with_state(fake);
    tokio::spawn(async move { axum::serve(listener, app).await.expect("fake product serves") });
    addr
}

fn tenant(client_key: &str, product: Product, base_url: String, secret: &str) -> Tenant {
    Tenant {
        client_key: client_key.into(),
        product_type: if product == Product::Confluence { "confluence" } else { "jira" }.into(),
        base_url,
        display_url: None,
        shared_secret: secret.into(),
        sealed_secret: None,
        cloud_id: None,
        installation_id: None,
        state: TenantState::Enabled,
        region: "us".into(),
        first_installed_at: "2026-01-15T00:00:00.000Z".into(),
        installed_at: "2026-01-15T00:00:00.000Z".into(),
        uninstalled_at: None,
        purge_after: None,
        history: Vec::new(),
        read_only: false,
    }
}

/// A fake site and the tenant record pointing at it.
async fn site(client_key: &str, product: Product, admins: &[&str], users: &[&str]) -> (Arc<FakeProduct>, Tenant) {
    let secret = format!("{client_key}-secret");
    let fake = Arc::new(FakeProduct::new(product, &secret, admins, users));
    let addr = spawn(fake.clone()).await;
    let tenant = tenant(client_key, product, format!("http://{addr}{}", fake.base_path), &secret);
    (fake, tenant)
}

/// The product hosts the stand-ins on loopback need beside Atlassian's.
fn stand_in_hosts() -> ProductHosts {
    ProductHosts::default().with_loopback_http()
}

fn directory() -> ConnectAdminDirectory {
    ConnectAdminDirectory::new(ProductClient::new(APP_KEY, stand_in_hosts(), http_client().expect("client")))
}

fn assert_unavailable(result: canopy_shared::Result<bool>) -> Error {
    let error = result.expect_err("must fail");
    assert!(matches!(error, Error::Unavailable { dependency: "product", .. }), "got {error:?}");
    assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
    error
}

#[tokio::test]
async fn confluence_answers_from_the_administer_operation_under_the_wiki_base_path() {
    let (fake, t) = site("conf-1", Product::Confluence, &[ADMIN], &[USER]).await;
    let admins = directory();
    assert!(admins.is_admin(&t, ADMIN).await.expect("admin"));
    assert_eq!(fake.last_query.lock().unwrap().as_deref(), Some("accountId=557058%3A7f3a1c2e-admin&expand=operations"));
    assert!(!admins.is_admin(&t, USER).await.expect("user"));
    assert!(!admins.is_admin(&t, UNKNOWN).await.expect("unknown is not an admin"));
    assert_eq!(fake.requests(), 3);
}

#[tokio::test]
async fn jira_answers_from_the_global_administer_permission() {
    let (fake, t) = site("jira-1", Product::Jira, &[ADMIN], &[USER]).await;
    let admins = directory();
    assert!(admins.is_admin(&t, ADMIN).await.expect("admin"));
    assert!(!admins.is_admin(&t, USER).await.expect("user"));
    assert!(!admins.is_admin(&t, UNKNOWN).await.expect("Jira's 400 for an unknown account is not an admin"));
    assert_eq!(fake.requests(), 3);
}

#[tokio::test]
async fn product_failures_are_unavailable() {
    let (fake, t) = site("conf-2", Product::Confluence, &[ADMIN], &[]).await;
    let admins = directory();
    assert_unavailable(admins.is_admin(&t, BOOM).await);
    assert_unavailable(admins.is_admin(&t, HUGE).await);
    match assert_unavailable(admins.is_admin(&t, THROTTLED).await) {
        Error::Unavailable { retry_after_secs, .. } => assert_eq!(retry_after_secs, 7, "the product's Retry-After"),
        _ => unreachable!(),
    }
    let (jira, jira_tenant) = site("jira-2", Product::Jira, &[ADMIN], &[]).await;
    assert_unavailable(admins.is_admin(&jira_tenant, BOOM).await);
    assert_eq!(fake.requests() + jira.requests(), 4);
}

#[tokio::test]
async fn a_refused_token_means_a_broken_install_and_is_unavailable() {
    let (fake, mut t) = site("conf-3", Product::Confluence, &[ADMIN], &[]).await;
    t.shared_secret = "a-secret-the-product-does-not-know".into();
    assert_unavailable(directory().is_admin(&t, ADMIN).await);
    assert_eq!(fake.requests(), 1);
}

#[tokio::test]
async fn an_unreachable_or_slow_product_is_unavailable_and_the_error_holds_no_account_id() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let t = tenant("conf-4", Product::Confluence, format!("http://{addr}/wiki"), "s");
    let error = assert_unavailable(directory().is_admin(&t, ADMIN).await);
    assert!(!format!("{error:?}").contains("7f3a1c2e"), "no accountId in {error:?}");

    let (_fake, slow_tenant) = site("conf-5", Product::Confluence, &[ADMIN], &[]).await;
    let quick = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().expect("client");
    let impatient = ConnectAdminDirectory::new(ProductClient::new(APP_KEY, stand_in_hosts(), quick));
    let error = assert_unavailable(impatient.is_admin(&slow_tenant, SLOW).await);
    assert!(!format!("{error:?}").contains("slow"), "no accountId in {error:?}");
}

#[tokio::test]
async fn a_stored_base_url_outside_the_trusted_hosts_is_never_called() {
    // Records written before the policy are checked on every call: a deployed client (no
    // loopback) never reaches the stand-in, and neither does a query or fragment smuggled in.
    let (fake, t) = site("conf-untrusted", Product::Confluence, &[ADMIN], &[]).await;
    let deployed = ConnectAdminDirectory::new(ProductClient::new(
        APP_KEY,
        ProductHosts::default(),
        http_client().expect("client"),
    ));
    assert_unavailable(deployed.is_admin(&t, ADMIN).await);
    for suffix in ["?", "#", "/x?a=1#"] {
        let mut smuggled = t.clone();
        smuggled.base_url = format!("{}{suffix}", t.base_url);
        assert_unavailable(directory().is_admin(&smuggled, ADMIN).await);
    }
    assert_eq!(fake.requests(), 0, "no request may leave for an untrusted base URL");
    assert!(directory().is_admin(&t, ADMIN).await.expect("the trusted stand-in answers"));
    assert_eq!(fake.requests(), 1);
}

#[tokio::test]
async fn the_cache_answers_within_the_ttl_and_asks_again_after_it() {
    let (fake, t) = site("conf-6", Product::Confluence, &[ADMIN], &[USER]).await;
    let clock = Arc::new(ManualClock::at_millis(1_768_435_200_000));
    let cached = CachedAdminDirectory::new(directory(), clock.clone());
    assert!(cached.is_admin(&t, ADMIN).await.expect("first"));
    assert!(!cached.is_admin(&t, USER).await.expect("first"));
    assert_eq!(fake.requests(), 2);
    clock.advance_secs(DEFAULT_ADMIN_CACHE_TTL_SECS - 1);
    assert!(cached.is_admin(&t, ADMIN).await.expect("cached"));
    assert!(!cached.is_admin(&t, USER).await.expect("cached"));
    assert_eq!(fake.requests(), 2, "answered from the cache");
    clock.advance_secs(1);
    assert!(cached.is_admin(&t, ADMIN).await.expect("expired"));
    assert_eq!(fake.requests(), 3, "asked again after the TTL");

    let short = CachedAdminDirectory::with_ttl_secs(directory(), clock.clone(), 5);
    short.is_admin(&t, ADMIN).await.expect("first");
    clock.advance_secs(5);
    short.is_admin(&t, ADMIN).await.expect("expired");
    assert_eq!(fake.requests(), 5);
}

#[tokio::test]
async fn tenants_never_share_answers_for_the_same_account() {
    let (site_a, a) = site("tenant-a", Product::Confluence, &[ADMIN], &[]).await;
    let (site_b, b) = site("tenant-b", Product::Jira, &[], &[ADMIN]).await;
    let cached = CachedAdminDirectory::new(directory(), Arc::new(ManualClock::at_millis(0)));
    for _ in 0..2 {
        assert!(cached.is_admin(&a, ADMIN).await.expect("a"));
        assert!(!cached.is_admin(&b, ADMIN).await.expect("b"));
    }
    assert_eq!((site_a.requests(), site_b.requests()), (1, 1));
}

#[tokio::test]
async fn errors_are_not_cached() {
    let (fake, t) = site("conf-7", Product::Confluence, &[ADMIN], &[]).await;
    let cached = CachedAdminDirectory::new(directory(), Arc::new(ManualClock::at_millis(0)));
    fake.failing.store(true, Ordering::SeqCst);
    assert_unavailable(cached.is_admin(&t, ADMIN).await);
    fake.failing.store(false, Ordering::SeqCst);
    assert!(cached.is_admin(&t, ADMIN).await.expect("recovered"));
    assert!(cached.is_admin(&t, ADMIN).await.expect("cached"));
    assert_eq!(fake.requests(), 2);
}

#[tokio::test]
async fn odd_inputs_never_reach_the_product() {
    let (fake, mut t) = site("conf-8", Product::Confluence, &[ADMIN], &[]).await;
    let admins = directory();
    assert!(!admins.is_admin(&t, "").await.expect("empty account"));
    assert!(!admins.is_admin(&t, &"a".repeat(500)).await.expect("oversized account"));
    t.product_type = "bitbucket".into();
    assert!(matches!(admins.is_admin(&t, ADMIN).await, Err(Error::Internal(_))));
    assert_eq!(fake.requests(), 0);
}

#[tokio::test]
async fn the_local_directory_answers_from_its_set_for_any_tenant() {
    let local = LocalAdminDirectory::new(["557058:canopy-dev-admin".to_owned()]);
    let t = tenant("dev", Product::Confluence, "http://127.0.0.1:9/wiki".into(), "s");
    assert!(local.is_admin(&t, "557058:canopy-dev-admin").await.expect("admin"));
    assert!(!local.is_admin(&t, USER).await.expect("user"));
}

#[tokio::test]
async fn the_fake_product_refuses_tokens_not_bound_to_the_request_it_received() {
    use canopy_shared::adapters::product::connect::app_token;
    let (fake, t) = site("conf-9", Product::Confluence, &[ADMIN], &[]).await;
    let now = SystemClock.now_secs();
    let sent = "/rest/api/user?accountId=557058%3A7f3a1c2e-admin&expand=operations";
    let client = http_client().expect("client");
    let send = |token: String| {
        client.get(format!("{}{sent}", t.base_url)).header("Authorization", format!("JWT {token}")).send()
    };
    let good = app_token(APP_KEY, &t.shared_secret, "GET", &t.base_url, sent, now).expect("token");
    assert_eq!(send(good).await.expect("sent").status(), 200);
    let other_query = app_token(APP_KEY, &t.shared_secret, "GET", &t.base_url, "/rest/api/user?accountId=x", now);
    assert_eq!(send(other_query.expect("token")).await.expect("sent").status(), 401);
    let other_app = app_token("other-app", &t.shared_secret, "GET", &t.base_url, sent, now).expect("token");
    assert_eq!(send(other_app).await.expect("sent").status(), 401);
    // A qsh over the full path (base path not stripped) is what Atlassian rejects.
    let unstripped = app_token(APP_KEY, &t.shared_secret, "GET", "http://h", &format!("/wiki{sent}"), now);
    assert_eq!(send(unstripped.expect("token")).await.expect("sent").status(), 401);
    assert_eq!(fake.requests(), 4);
}
