//! Restricted sites against a fake Confluence and a fake Jira on loopback that verify the app's
//! JWT as Atlassian does (HS256 with the tenant's secret, `iss` = the app key, qsh of the request
//! received) and, for Forge callers, the app system token through a stand-in `/ex/` gateway:
//! a member gets in, a non-member gets a missing site's 404 byte for byte, a failing product
//! gives 503 with `Retry-After` (and never shuts a public or licensed site), and the product is
//! asked once per account per TTL.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use canopy_shared::adapters::admins::{CachedAdminDirectory, ConnectAdminDirectory};
use canopy_shared::adapters::groups::{CachedGroupDirectory, ProductGroupDirectory};
use canopy_shared::adapters::http::http_client;
use canopy_shared::adapters::product::connect::ProductClient;
use canopy_shared::adapters::product::forge::ForgeProductClient;
use canopy_shared::domain::connect::jwt::{QshRule, unverified_issuer, verify_hs256};
use canopy_shared::domain::connect::qsh::query_string_hash;
use canopy_shared::kernel::clock::{Clock, SystemClock};
use canopy_shared::kernel::product_url::ProductHosts;
use serde_json::{Value, json};
use support::app::*;
use support::world::{Opened, Scheme, Store};

const CLIENT: &str = "tenant-m";
const SECRET: &str = "secret-m";
const SYSTEM_TOKEN: &str = "forge-system-token-of-this-request";
const TTL_SECS: i64 = 60;
const MISSING: &str = "01J00000000000000000000000";
/// A member whose groups span two of Confluence's pages, the site's group on the second.
const PAGED_MEMBER: &str = "557058:paged-member";
/// Accounts first seen while the product fails.
const LATECOMER: &str = "557058:latecomer";

#[derive(Clone, Copy, PartialEq, Debug)]
enum Product {
    Confluence,
    Jira,
}

struct FakeSite {
    product: Product,
    cloud_id: String,
    groups: HashMap<String, Vec<Value>>,
    /// Membership questions answered (each page counts).
    membership_calls: AtomicUsize,
    failing: AtomicBool,
    refused: Mutex<Vec<String>>,
}

impl FakeSite {
    fn base_path(&self) -> &'static str {
        if self.product == Product::Confluence { "/wiki" } else { "" }
    }

    fn calls(&self) -> usize {
        self.membership_calls.load(Ordering::SeqCst)
    }
}

fn group(id: &str, name: &str) -> Value {
    json!({"type": "group", "id": id, "name": name})
}

/// The product path below its base, once the caller is authenticated as the app: the Connect
/// JWT (HS256, qsh over the path below the base path) or the gateway's Bearer system token.
fn authenticated_path(fake: &FakeSite, method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<String, String> {
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or("no Authorization")?;
    let product = if fake.product == Product::Confluence { "confluence" } else { "jira" };
    let gateway = format!("/ex/{product}/{}{}", fake.cloud_id, fake.base_path());
    if let Some(path) = uri.path().strip_prefix(&gateway) {
        return if auth == format!("Bearer {SYSTEM_TOKEN}") {
            Ok(path.to_owned())
        } else {
            Err("bad system token".into())
        };
    }
    let path = uri.path().strip_prefix(fake.base_path()).ok_or("outside the site")?;
    let token = auth.strip_prefix("JWT ").ok_or("not a JWT")?;
    if unverified_issuer(token).map_err(|e| e.to_string())? != "canopy" {
        return Err("iss is not the app key".into());
    }
    let qsh = query_string_hash(method.as_str(), uri.path(), uri.query().unwrap_or(""), fake.base_path());
    let (claims, _) =
        verify_hs256(token, SECRET, QshRule::Request(&qsh), Some(SystemClock.now_secs())).map_err(|e| e.to_string())?;
    if claims.sub.is_some() {
        return Err("an app token has no sub".into());
    }
    Ok(path.to_owned())
}

fn query(uri: &Uri) -> HashMap<String, String> {
    form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn handle(
    State(fake): State<Arc<FakeSite>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = match authenticated_path(&fake, &method, &uri, &headers) {
        Ok(path) => path,
        Err(reason) => {
            fake.refused.lock().expect("lock").push(reason.clone());
            return (StatusCode::UNAUTHORIZED, axum::Json(json!({"message": reason}))).into_response();
        }
    };
    if fake.failing.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({"message": "down"}))).into_response();
    }
    let q = query(&uri);
    match (fake.product, method.as_str(), path.as_str()) {
        (Product::Confluence, "GET", "/rest/api/user") => {
            let admin = q.get("accountId").map(String::as_str) == Some(ADMIN_ACCOUNT);
            let ops = if admin { json!([{"operation": "administer", "targetType": "application"}]) } else { json!([]) };
            axum::Json(json!({"operations": ops})).into_response()
        }
        (Product::Jira, "POST", "/rest/api/3/permissions/check") => {
            let request: Value = serde_json::from_slice(&body).unwrap_or_default();
            let granted = if request["accountId"] == ADMIN_ACCOUNT { json!(["ADMINISTER"]) } else { json!([]) };
            axum::Json(json!({"globalPermissions": granted})).into_response()
        }
        (Product::Confluence, "GET", "/rest/api/user/memberof") => {
            fake.membership_calls.fetch_add(1, Ordering::SeqCst);
            let Some(groups) = q.get("accountId").and_then(|a| fake.groups.get(a)) else {
                return (StatusCode::NOT_FOUND, axum::Json(json!({"message": "no such user"}))).into_response();
            };
            let start: usize = q.get("start").and_then(|s| s.parse().ok()).unwrap_or(0);
            let limit: usize = q.get("limit").and_then(|s| s.parse().ok()).unwrap_or(25).min(200);
            let page: Vec<Value> = groups.iter().skip(start).take(limit).cloned().collect();
            axum::Json(json!({"results": page, "start": start, "limit": limit, "size": page.len()})).into_response()
        }
        (Product::Jira, "GET", "/rest/api/3/user/groups") => {
            fake.membership_calls.fetch_add(1, Ordering::SeqCst);
            let Some(groups) = q.get("accountId").and_then(|a| fake.groups.get(a)) else {
                return (StatusCode::NOT_FOUND, axum::Json(json!({"errorMessages": ["no such user"]}))).into_response();
            };
            let answer: Vec<Value> = groups.iter().map(|g| json!({"name": g["name"], "groupId": g["id"]})).collect();
            axum::Json(json!(answer)).into_response()
        }
        _ => (StatusCode::METHOD_NOT_ALLOWED, axum::Json(json!({"message": "unexpected request"}))).into_response(),
    }
}

struct World {
    app: TestApp,
    fake: Arc<FakeSite>,
    scheme: Scheme,
    _dir: Option<tempfile::TempDir>,
}

async fn world(store: Store, scheme: Scheme, product: Product) -> World {
    let mut groups = HashMap::new();
    groups.insert(MEMBER_ACCOUNT.to_owned(), vec![group("0aa-staff", "staff"), group(GROUP_ID, GROUP_NAME)]);
    groups.insert(USER_ACCOUNT.to_owned(), vec![group("0aa-staff", "staff")]);
    groups.insert(LATECOMER.to_owned(), vec![group(GROUP_ID, GROUP_NAME)]);
    let mut many: Vec<Value> = (0..249).map(|i| group(&format!("bulk-{i:03}"), &format!("bulk {i}"))).collect();
    many.push(group(GROUP_ID, GROUP_NAME));
    groups.insert(PAGED_MEMBER.to_owned(), many);
    let fake = Arc::new(FakeSite {
        product,
        cloud_id: cloud_of(CLIENT),
        groups,
        membership_calls: AtomicUsize::new(0),
        failing: AtomicBool::new(false),
        refused: Mutex::default(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = Router::new().fallback(handle).with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.expect("fake product serves") });

    let Opened { store, dir } = store.open().await;
    let mut app = TestApp::with_store(store);
    let http = http_client().expect("client");
    let product_client = ProductClient::new("canopy", ProductHosts::default().with_loopback_http(), http.clone());
    let gateway = ForgeProductClient::new(&format!("http://{addr}"), http);
    app.state.admins = Arc::new(CachedAdminDirectory::with_ttl_secs(
        ConnectAdminDirectory::new(product_client.clone()).with_forge(gateway.clone()),
        app.clock.clone(),
        TTL_SECS,
    ));
    app.state.groups = Arc::new(CachedGroupDirectory::with_ttl_secs(
        ProductGroupDirectory::new(product_client).with_forge(gateway),
        app.clock.clone(),
        TTL_SECS,
    ));
    let routes = canopy_shared::http::lifecycle::routes().merge(canopy_shared::http::content::routes());
    let app = app.serving(routes);

    let token = sign_install(&install_claims(CLIENT, "/lifecycle/installed", app.now_secs()));
    let mut payload = install_payload(CLIENT, SECRET);
    payload["cloudId"] = json!(cloud_of(CLIENT));
    payload["baseUrl"] = json!(format!("http://{addr}{}", fake.base_path()));
    if product == Product::Jira {
        payload["productType"] = json!("jira");
    }
    let (status, _, body) = app.send(post("/lifecycle/installed", Some(&token), &payload)).await;
    assert_eq!(status, 204, "install: {body}");
    World { app, fake, scheme, _dir: dir }
}

impl World {
    fn request(&self, mut request: Request<Body>) -> Request<Body> {
        if self.scheme == Scheme::Forge {
            request.headers_mut().insert("x-forge-oauth-system", SYSTEM_TOKEN.parse().expect("header"));
        }
        request
    }

    fn token(&self, account: &str) -> String {
        self.scheme.token(CLIENT, SECRET, Some(account), self.app.now_secs())
    }

    async fn site(&self, visibility: &str, groups: &[&str]) -> String {
        let groups: Vec<Value> = groups.iter().map(|id| json!({"id": id})).collect();
        let body = json!({"name": "Board", "visibility": visibility, "restrictedToGroups": groups});
        let request = self.request(post("/api/sites", Some(&self.token(ADMIN_ACCOUNT)), &body));
        let (status, _, answer) = self.app.send(request).await;
        assert_eq!(status, 201, "{answer}");
        answer["id"].as_str().expect("id").to_owned()
    }

    async fn config(&self, site: &str, account: &str) -> (u16, HeaderMap, Vec<u8>) {
        let path = format!("/api/sites/{site}/config");
        self.app.send_raw(self.request(get(&path, Some(&self.token(account))))).await
    }
}

mod scenarios {
    use super::*;

    pub async fn restricted_reads_ask_the_product_once_per_ttl(w: World) {
        let site = w.site("restricted", &[GROUP_ID]).await;
        let before = w.fake.calls();
        assert_eq!(before, 0, "creating a site asks nothing about groups");

        let (status, _, body) = w.config(&site, MEMBER_ACCOUNT).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert_eq!(w.fake.calls(), 1);

        // A non-member: exactly the missing site's answer.
        let hidden = w.config(&site, USER_ACCOUNT).await;
        let missing = w.config(MISSING, USER_ACCOUNT).await;
        assert_eq!(hidden.0, 404);
        assert_eq!((hidden.0, &hidden.1, &hidden.2), (missing.0, &missing.1, &missing.2));
        assert_eq!(w.fake.calls(), 2);

        // Within the TTL the answers are the cache's; after it, the product is asked again.
        w.app.clock.advance_secs(TTL_SECS - 1);
        for _ in 0..3 {
            assert_eq!(w.config(&site, MEMBER_ACCOUNT).await.0, 200);
            assert_eq!(w.config(&site, USER_ACCOUNT).await.0, 404);
        }
        assert_eq!(w.fake.calls(), 2, "one product call per account per TTL");
        w.app.clock.advance_secs(1);
        assert_eq!(w.config(&site, MEMBER_ACCOUNT).await.0, 200);
        assert_eq!(w.fake.calls(), 3);

        // The site's admin reads it without a membership question.
        assert_eq!(w.config(&site, ADMIN_ACCOUNT).await.0, 200);
        assert_eq!(w.fake.calls(), 3);
        assert!(w.fake.refused.lock().expect("lock").is_empty(), "every app token verified");
    }

    pub async fn a_failing_product_answers_503_to_restricted_reads_only(w: World) {
        let restricted = w.site("restricted", &[GROUP_ID]).await;
        let public = w.site("public", &[]).await;
        let licensed = w.site("licensed", &[]).await;
        w.fake.failing.store(true, Ordering::SeqCst);
        let (status, headers, body) = w.config(&restricted, LATECOMER).await;
        assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
        assert!(headers.get(header::RETRY_AFTER).is_some(), "Retry-After on a 503");
        let body: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(body["error"]["code"], "dependency_unavailable");
        for open in [&public, &licensed] {
            assert_eq!(
                w.config(open, LATECOMER).await.0,
                200,
                "a failing product never shuts a public or licensed site"
            );
        }
        // Nothing about the failure was kept: once the product is back the member gets in.
        w.fake.failing.store(false, Ordering::SeqCst);
        assert_eq!(w.config(&restricted, LATECOMER).await.0, 200);
    }

    pub async fn membership_pages_are_read_until_the_last(w: World) {
        let site = w.site("restricted", &[GROUP_ID]).await;
        assert_eq!(w.config(&site, PAGED_MEMBER).await.0, 200);
        let expected = if w.fake.product == Product::Confluence { 2 } else { 1 };
        assert_eq!(w.fake.calls(), expected, "Confluence pages by 200");
    }
}

support::scenarios!(worlds: [
    confluence_embedded(super::Store::Embedded, super::Scheme::Connect, super::Product::Confluence),
    confluence_dynamo(super::Store::Dynamo, super::Scheme::Connect, super::Product::Confluence),
    confluence_embedded_forge(super::Store::Embedded, super::Scheme::Forge, super::Product::Confluence),
    confluence_dynamo_forge(super::Store::Dynamo, super::Scheme::Forge, super::Product::Confluence),
    jira_embedded(super::Store::Embedded, super::Scheme::Connect, super::Product::Jira),
    jira_embedded_forge(super::Store::Embedded, super::Scheme::Forge, super::Product::Jira),
], cases: [
    restricted_reads_ask_the_product_once_per_ttl,
    a_failing_product_answers_503_to_restricted_reads_only,
    membership_pages_are_read_until_the_last,
]);
