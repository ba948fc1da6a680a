//! Dev routes, mounted only by the local server: they play Atlassian for a dev tenant.
//!
//! - `GET /dev/install-keys/{kid}` serves the committed dev install key (`dev/`), standing in for
//!   Atlassian's install-keys service.
//! - `POST /dev/install` signs an install with that key, sends it to this server's own
//!   `/lifecycle/installed` over HTTP (then `enabled`), and answers a context JWT for curl.
//! - `POST /dev/token` mints a fresh context JWT for an installed tenant.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use canopy_shared::connect::descriptor::{ENABLED_PATH, INSTALLED_PATH};
use canopy_shared::connect::jwt::{Audience, ConnectClaims, sign_hs256, sign_rs256};
use canopy_shared::connect::qsh::{CONTEXT_QSH, query_string_hash};
use canopy_shared::http::body::{JsonBody, RawBody, parse_json};
use canopy_shared::state::AppState;
use canopy_shared::{Error, Result, TenantKey, tenants};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const DEV_KID: &str = "canopy-dev-install-key";
const DEV_PRIVATE_KEY: &[u8] = include_bytes!("../../dev/install-key.pem");
const DEV_PUBLIC_KEY: &str = include_str!("../../dev/install-key.pub.pem");
const DEV_CLIENT_KEY: &str = "canopy-dev-tenant";
/// The dev tenant's site administrator (the local server's admin directory knows only them).
pub const DEV_ADMIN_ACCOUNT_ID: &str = "557058:canopy-dev-admin";
/// A dev user who is not an administrator, for trying what readers may do.
pub const DEV_USER_ACCOUNT_ID: &str = "557058:canopy-dev-user";
/// Context tokens from Atlassian live about 15 minutes; the dev one lives an hour for curl work.
const DEV_TOKEN_TTL_SECS: i64 = 3600;

#[derive(Clone)]
struct DevHost {
    address: SocketAddr,
    client: reqwest::Client,
}

pub fn routes(address: SocketAddr) -> Router<AppState> {
    let host = DevHost { address, client: reqwest::Client::new() };
    Router::new()
        .route("/dev/install-keys/{kid}", get(install_key))
        .route("/dev/install", post(install))
        .route("/dev/token", post(token))
        .layer(Extension(host))
}

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

async fn install(
    State(state): State<AppState>,
    Extension(host): Extension<DevHost>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<Value>> {
    let request: DevInstall = if body.is_empty() { DevInstall::default() } else { parse_json(&headers, &body)? };
    let client_key = request.client_key.unwrap_or_else(|| DEV_CLIENT_KEY.into());
    let product_type = request.product_type.unwrap_or_else(|| "confluence".into());
    let secret = dev_secret(&client_key);
    let now = now_secs();
    let install_claims = ConnectClaims {
        iss: client_key.clone(),
        sub: Some(DEV_ADMIN_ACCOUNT_ID.into()),
        qsh: Some(query_string_hash("POST", INSTALLED_PATH, "", "")),
        aud: Some(Audience::Many(vec![state.config.base_url.clone()])),
        iat: Some(now),
        exp: Some(now + 180),
        context: Some(json!({})),
    };
    let install_jwt = sign_rs256(&install_claims, DEV_KID, DEV_PRIVATE_KEY)?;
    let payload = json!({
        "key": state.config.app_key,
        "clientKey": client_key,
        "sharedSecret": secret,
        "baseUrl": format!("https://{}.atlassian.test/wiki", client_key.replace(':', "-")),
        "productType": product_type,
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
}

async fn token(State(state): State<AppState>, JsonBody(request): JsonBody<DevTokenRequest>) -> Result<Json<Value>> {
    let key = TenantKey::from_verified(&request.client_key).ok_or_else(tenants::unknown_tenant)?;
    let (tenant, _) = tenants::load(&state, &key).await?.ok_or_else(tenants::unknown_tenant)?;
    let account = if request.admin.unwrap_or(true) { DEV_ADMIN_ACCOUNT_ID } else { DEV_USER_ACCOUNT_ID };
    let token = context_token(key.as_str(), &tenant.shared_secret, account)?;
    Ok(Json(
        json!({"clientKey": key.as_str(), "accountId": account, "contextJwt": token, "expiresInSeconds": DEV_TOKEN_TTL_SECS}),
    ))
}
