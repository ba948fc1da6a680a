//! Dev routes, mounted only by the local server: they play Atlassian for a dev tenant.
//!
//! - `GET /dev/install-keys/{kid}` serves the committed dev install key (`dev/`), standing in for
//!   Atlassian's install-keys service.
//! - `POST /dev/install` signs an install with that key, sends it to this server's own
//!   `/lifecycle/installed` over HTTP (then `enabled`), and answers a context JWT for curl.
//! - `POST /dev/token` mints a fresh context JWT for an installed tenant.
//! - `GET /dev/forge/jwks.json` serves the committed dev Forge key set (`dev/`), standing in for
//!   Forge's JWKS; `POST /dev/forge-token` mints a Forge Invocation Token for a tenant's cloudId
//!   (or any cloudId, to try the Forge lifecycle events), signed with that key.
//!
//! They mint tokens for any tenant, so no web page may reach them ([`guard`]): a page can have
//! the browser call a loopback server through a name of its own that resolves to 127.0.0.1 (DNS
//! rebinding), and can POST a form to any address without asking first.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use canopy_shared::domain::connect::descriptor::{ENABLED_PATH, INSTALLED_PATH};
use canopy_shared::domain::connect::jwt::{Audience, ConnectClaims, sign_hs256, sign_rs256};
use canopy_shared::domain::connect::qsh::{CONTEXT_QSH, query_string_hash};
use canopy_shared::domain::forge::fit::{self, Invocation};
use canopy_shared::domain::tenants;
use canopy_shared::http::body::{JsonBody, RawBody, parse_json};
use canopy_shared::http::router::ApiRouter;
use canopy_shared::http::schema::ErrorBody;
use canopy_shared::kernel::ids::{is_plausible_cloud_id, new_ulid};
use canopy_shared::routes;
use canopy_shared::state::AppState;
use canopy_shared::{Error, Result, TenantKey};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const DEV_KID: &str = "canopy-dev-install-key";
const DEV_PRIVATE_KEY: &[u8] = include_bytes!("../../dev/install-key.pem");
const DEV_PUBLIC_KEY: &str = include_str!("../../dev/install-key.pub.pem");
pub const DEV_CLIENT_KEY: &str = "canopy-dev-tenant";
/// The dev tenant's site administrator (the local server's admin directory knows only them).
pub const DEV_ADMIN_ACCOUNT_ID: &str = "557058:canopy-dev-admin";
/// A dev user who is not an administrator, for trying what readers may do.
pub const DEV_USER_ACCOUNT_ID: &str = "557058:canopy-dev-user";
/// A dev user in the dev group [`DEV_GROUP_ID`] (and no administrator): a `restricted` site for
/// that group opens to them and stays shut to [`DEV_USER_ACCOUNT_ID`].
pub const DEV_MEMBER_ACCOUNT_ID: &str = "557058:canopy-dev-member";
/// The dev group: an Atlassian group id, and its display name.
pub const DEV_GROUP_ID: &str = "6c1f0a52-9d3e-4b7a-8f21-canopy0group";
pub const DEV_GROUP_NAME: &str = "canopy-dev-group";

/// The built-in dev directory: the dev admin, and the dev member in the dev group.
pub fn directory() -> canopy_shared::bootstrap::LocalDirectory {
    use canopy_shared::domain::access::ProductGroup;
    let group = ProductGroup { id: Some(DEV_GROUP_ID.into()), name: DEV_GROUP_NAME.into() };
    canopy_shared::bootstrap::LocalDirectory::Dev {
        admins: vec![DEV_ADMIN_ACCOUNT_ID.to_owned()],
        members: vec![(DEV_MEMBER_ACCOUNT_ID.to_owned(), vec![group])],
    }
}
/// Context tokens from Atlassian live about 15 minutes; the dev one lives an hour for curl work.
const DEV_TOKEN_TTL_SECS: i64 = 3600;
/// The Forge app the local server trusts FITs of unless `CANOPY_FORGE_APP_ID` says otherwise.
pub const DEV_FORGE_APP_ARI: &str = "ari:cloud:ecosystem::app/canopy-dev-app";
pub const DEV_FORGE_JWKS_PATH: &str = "/dev/forge/jwks.json";
const DEV_FORGE_KID: &str = "forge/invocation-token/canopy-dev";
const DEV_FORGE_PRIVATE_KEY: &[u8] = include_bytes!("../../dev/forge-key.pem");
const DEV_FORGE_JWKS: &str = include_str!("../../dev/forge-jwks.json");
/// FITs live about 25 s; the dev one lives an hour for curl work, like the dev context token.
const DEV_FIT_TTL_SECS: i64 = 3600;

#[derive(Clone)]
struct DevHost {
    address: SocketAddr,
    client: reqwest::Client,
}

pub fn routes(address: SocketAddr) -> ApiRouter {
    let host = DevHost { address, client: reqwest::Client::new() };
    ApiRouter::new()
        .routes(routes!(install_key))
        .routes(routes!(install))
        .routes(routes!(token))
        .routes(routes!(forge_jwks))
        .routes(routes!(forge_token))
        .layer(axum::middleware::from_fn(guard))
        .layer(Extension(host))
}

impl DevHost {
    /// The `Host` values a request to the dev routes may carry: the listen address, and on a
    /// loopback or unspecified address the loopback names of its port (`localhost:8080` is
    /// where a developer's browser opens the console). A rebinding page's own name never is.
    fn accepts(&self, host: &str) -> bool {
        let port = self.address.port();
        let ip = self.address.ip();
        host == self.address.to_string()
            || ((ip.is_loopback() || ip.is_unspecified())
                && [format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}")]
                    .iter()
                    .any(|name| name == host))
    }
}

/// Every dev route: refused unless `Host` is this server's own address, and every POST needs
/// `content-type: application/json`, which no page on another origin can send without a CORS
/// preflight the local server never grants (a form post is `text/plain` or a form type).
async fn guard(Extension(host): Extension<DevHost>, request: Request, next: Next) -> Result<Response> {
    let given = request.headers().get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !host.accepts(given) {
        tracing::warn!(host = given, "dev route refused: the Host header is not this server's address");
        return Err(Error::forbidden(
            "dev_wrong_host",
            format!("Dev routes answer only requests for {} (DNS rebinding).", host.address),
        ));
    }
    if request.method() == Method::POST && !canopy_shared::http::body::is_json(request.headers()) {
        return Err(Error::UnsupportedMediaType { message: "Dev POSTs must be application/json.".into() });
    }
    Ok(next.run(request).await)
}

/// The dev install key as PEM (stands in for Atlassian's install-keys service).
#[utoipa::path(get, path = "/dev/install-keys/{kid}", tag = "dev", params(("kid" = String, Path)), responses((status = 200, content_type = "application/x-pem-file", body = String), (status = 403, description = "The `Host` header is not this server's address (DNS rebinding).", body = ErrorBody)))]
async fn install_key(Path(kid): Path<String>) -> Result<impl IntoResponse> {
    if kid != DEV_KID {
        return Err(Error::not_found("unknown_kid", "No such dev install key."));
    }
    Ok(([(header::CONTENT_TYPE, "application/x-pem-file")], DEV_PUBLIC_KEY))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DevInstall {
    client_key: Option<String>,
    product_type: Option<String>,
    /// Defaults to a UUID derived from the clientKey, so a dev tenant is reachable through Forge.
    cloud_id: Option<String>,
}

/// A stable UUID-shaped cloudId per clientKey.
fn dev_cloud_id(client_key: &str) -> String {
    let hex = hex::encode(Sha256::digest(format!("cloud:{client_key}")));
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A fresh shared secret for a dev install (unpredictable enough for a laptop, not a product).
fn dev_secret(client_key: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    hex::encode(Sha256::digest(format!("{client_key}:{nanos}:{}", std::process::id())))
}

fn context_token(client_key: &str, secret: &str, account_id: &str) -> Result<String> {
    let now = now_secs();
    let claims = ConnectClaims {
        iss: client_key.into(),
        sub: Some(account_id.into()),
        qsh: Some(CONTEXT_QSH.into()),
        aud: None,
        iat: Some(now),
        exp: Some(now + DEV_TOKEN_TTL_SECS),
        context: Some(json!({})),
    };
    sign_hs256(&claims, secret)
}

/// Where dev tenants' sites are: under a reserved `.test` domain (RFC 6761), never resolved, so
/// product calls for them fail as an outage would.
pub const DEV_SITE_DOMAIN: &str = "atlassian.test";

/// `https://<clientKey as a DNS label>.atlassian.test/wiki`.
fn dev_site_url(client_key: &str) -> String {
    let label: String = client_key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .take(63)
        .collect();
    let label = label.trim_matches('-').replace("xn--", "xn-");
    let label = if label.is_empty() { "dev".to_owned() } else { label };
    format!("https://{label}.{DEV_SITE_DOMAIN}/wiki")
}

/// Installs and enables a dev tenant the way Atlassian would; answers a context JWT.
#[utoipa::path(post, path = "/dev/install", tag = "dev", request_body(content = Option<Value>, description = "`{clientKey, productType, cloudId}`, all optional"), responses((status = 200, body = Value), (status = 403, description = "The `Host` header is not this server's address (DNS rebinding).", body = ErrorBody)))]
async fn install(
    State(state): State<AppState>,
    Extension(host): Extension<DevHost>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<Value>> {
    let request: DevInstall = if body.is_empty() { DevInstall::default() } else { parse_json(&headers, &body)? };
    let client_key = request.client_key.unwrap_or_else(|| DEV_CLIENT_KEY.into());
    let product_type = request.product_type.unwrap_or_else(|| "confluence".into());
    let cloud_id = request.cloud_id.unwrap_or_else(|| dev_cloud_id(&client_key));
    let secret = dev_secret(&client_key);
    let now = now_secs();
    let install_claims = ConnectClaims {
        iss: client_key.clone(),
        sub: Some(DEV_ADMIN_ACCOUNT_ID.into()),
        qsh: Some(query_string_hash("POST", INSTALLED_PATH, "", "")),
        aud: Some(Audience::Many(vec![state.config.base_url.clone()])),
        iat: Some(now),
        exp: Some(now + 180),
        // Each delivery is signed anew, so a token is used with one body only (`install_replay`),
        // even for two installs of one tenant within a second.
        context: Some(json!({"delivery": new_ulid(now * 1000)?})),
    };
    let install_jwt = sign_rs256(&install_claims, DEV_KID, DEV_PRIVATE_KEY)?;
    let payload = json!({
        "key": state.config.app_key,
        "clientKey": client_key,
        "sharedSecret": secret,
        "baseUrl": dev_site_url(&client_key),
        "productType": product_type,
        "cloudId": cloud_id,
        "description": "Canopy dev tenant",
        "eventType": "installed",
    });
    send(&host, INSTALLED_PATH, &install_jwt, &payload).await?;

    let enable_claims =
        ConnectClaims { qsh: Some(query_string_hash("POST", ENABLED_PATH, "", "")), aud: None, ..install_claims };
    let mut enabled_payload = payload.clone();
    enabled_payload["eventType"] = json!("enabled");
    send(&host, ENABLED_PATH, &sign_hs256(&enable_claims, &secret)?, &enabled_payload).await?;

    let token = context_token(&client_key, &secret, DEV_ADMIN_ACCOUNT_ID)?;
    Ok(Json(json!({
        "clientKey": client_key,
        "cloudId": cloud_id,
        "accountId": DEV_ADMIN_ACCOUNT_ID,
        "contextJwt": token,
        "expiresInSeconds": DEV_TOKEN_TTL_SECS,
        "try": format!("curl -s -H 'Authorization: JWT {token}' http://{}/api/tenant", host.address),
    })))
}

/// Sends a lifecycle callback to this server over a real socket, as Atlassian would.
async fn send(host: &DevHost, path: &str, jwt: &str, payload: &Value) -> Result<()> {
    let url = format!("http://{}{path}", host.address);
    let response = host
        .client
        .post(&url)
        .header(header::AUTHORIZATION, format!("JWT {jwt}"))
        .json(payload)
        .send()
        .await
        .map_err(|e| Error::unavailable("local lifecycle route", e))?;
    if response.status() != StatusCode::NO_CONTENT && response.status() != StatusCode::OK {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        return Err(Error::internal(format!("{path} answered {status}: {body}")));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DevTokenRequest {
    client_key: String,
    /// `false` mints a token of a user who is not a site administrator.
    #[serde(default)]
    admin: Option<bool>,
    /// Any account instead (e.g. the dev member, or a user of the product a tenant's baseUrl
    /// points at with `CANOPY_DIRECTORY=product`).
    #[serde(default)]
    account_id: Option<String>,
}

/// The account a dev token acts as: `accountId` when given, else the dev admin (or the dev user
/// with `admin: false`).
fn dev_account(admin: Option<bool>, account_id: Option<String>) -> Result<String> {
    let plausible = |a: &str| {
        !a.is_empty() && a.len() <= 128 && a.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_'))
    };
    match (admin, account_id) {
        (Some(_), Some(_)) => Err(Error::invalid("invalid_body", "Give admin or accountId, not both.")),
        (None, Some(account)) if plausible(&account) => Ok(account),
        (None, Some(_)) => Err(Error::invalid("invalid_field", "accountId must be 1-128 of [A-Za-z0-9:_-].")),
        (Some(false), None) => Ok(DEV_USER_ACCOUNT_ID.into()),
        (Some(true) | None, None) => Ok(DEV_ADMIN_ACCOUNT_ID.into()),
    }
}

/// A fresh context JWT for an installed tenant.
#[utoipa::path(post, path = "/dev/token", tag = "dev", request_body = Value, responses((status = 200, body = Value), (status = 403, description = "The `Host` header is not this server's address (DNS rebinding).", body = ErrorBody)))]
async fn token(State(state): State<AppState>, JsonBody(request): JsonBody<DevTokenRequest>) -> Result<Json<Value>> {
    let key = TenantKey::from_verified(&request.client_key).ok_or_else(tenants::unknown_tenant)?;
    let (tenant, _) = tenants::load(&state, &key).await?.ok_or_else(tenants::unknown_tenant)?;
    let account = dev_account(request.admin, request.account_id)?;
    let token = context_token(key.as_str(), &tenant.shared_secret, &account)?;
    Ok(Json(
        json!({"clientKey": key.as_str(), "accountId": account, "contextJwt": token, "expiresInSeconds": DEV_TOKEN_TTL_SECS}),
    ))
}

/// The dev Forge key set (stands in for Forge's JWKS).
#[utoipa::path(get, path = DEV_FORGE_JWKS_PATH, tag = "dev", responses((status = 200, body = Value), (status = 403, description = "The `Host` header is not this server's address (DNS rebinding).", body = ErrorBody)))]
async fn forge_jwks() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DEV_FORGE_JWKS)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DevForgeTokenRequest {
    /// An installed tenant, whose recorded cloudId the FIT names...
    client_key: Option<String>,
    /// ...or any site, e.g. to send `/forge/lifecycle/installed` for a new one.
    cloud_id: Option<String>,
    /// `false` mints a token of a user who is not a site administrator.
    #[serde(default)]
    admin: Option<bool>,
    /// Any account instead, as for `/dev/token`.
    #[serde(default)]
    account_id: Option<String>,
}

/// A Forge Invocation Token for a tenant's (or any) cloudId.
#[utoipa::path(post, path = "/dev/forge-token", tag = "dev", request_body = Value, responses((status = 200, body = Value), (status = 403, description = "The `Host` header is not this server's address (DNS rebinding).", body = ErrorBody)))]
async fn forge_token(
    State(state): State<AppState>,
    Extension(host): Extension<DevHost>,
    JsonBody(request): JsonBody<DevForgeTokenRequest>,
) -> Result<Json<Value>> {
    let audience = state.config.forge_app_ari.clone().ok_or_else(|| {
        Error::conflict("forge_off", "Forge auth is off: CANOPY_FORGE_APP_ID is set to nothing usable.")
    })?;
    let cloud_id = match (request.client_key, request.cloud_id) {
        (Some(client_key), None) => {
            let key = TenantKey::from_verified(&client_key).ok_or_else(tenants::unknown_tenant)?;
            let (tenant, _) = tenants::load(&state, &key).await?.ok_or_else(tenants::unknown_tenant)?;
            tenant.cloud_id.ok_or_else(|| {
                Error::conflict("no_cloud_id", "This tenant has no cloudId; install it again with /dev/install.")
            })?
        }
        (None, Some(cloud_id)) if is_plausible_cloud_id(&cloud_id) => cloud_id,
        (None, Some(_)) => return Err(Error::invalid("invalid_field", "cloudId must be [A-Za-z0-9-], at most 64.")),
        _ => return Err(Error::invalid("invalid_body", "Give exactly one of clientKey and cloudId.")),
    };
    let account = dev_account(request.admin, request.account_id)?;
    let invocation = Invocation {
        installation_id: Some(format!("ari:cloud:ecosystem::installation/dev-{cloud_id}")),
        account_id: Some(account.clone()),
        module_key: Some("canopy-dev".into()),
        site_url: None,
        cloud_id,
    };
    let mut claims = fit::invocation_claims(&audience, &invocation, now_secs(), DEV_FIT_TTL_SECS);
    fit::set_environment(&mut claims, &state.config.forge_environment);
    let token = fit::sign(&claims, DEV_FORGE_KID, DEV_FORGE_PRIVATE_KEY)?;
    Ok(Json(json!({
        "cloudId": invocation.cloud_id,
        "accountId": account,
        "fit": token,
        "expiresInSeconds": DEV_FIT_TTL_SECS,
        "try": format!("curl -s -H 'Authorization: Bearer {token}' http://{}/api/tenant", host.address),
    })))
}
