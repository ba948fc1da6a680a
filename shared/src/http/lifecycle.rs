//! The lifecycle function's routes: the app descriptor, Atlassian's lifecycle callbacks (Connect
//! here, Forge in `forge.rs`), and the tenant's own view of its install.

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use super::auth::{AuthContext, SignedRequest, verify_tenant_token};
use super::body::{RawBody, parse_json};
use crate::domain::connect::descriptor::{self, DISABLED_PATH, ENABLED_PATH, INSTALLED_PATH, UNINSTALLED_PATH};
use crate::domain::connect::install_replay;
use crate::domain::connect::jwt::{self, InstallExpectation};
use crate::domain::residency;
use crate::domain::tenants::{self, InstallPayload, TenantSummary};
use crate::http::router::ApiRouter;
use crate::kernel::error::{Error, Result};
use crate::kernel::tenant_key::TenantKey;
use crate::routes;
use crate::state::AppState;

pub const DESCRIPTOR_PATH: &str = "/atlassian-connect.json";
pub const TENANT_PATH: &str = "/api/tenant";

pub fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(descriptor))
        .routes(routes!(installed))
        .routes(routes!(uninstalled))
        .routes(routes!(enabled))
        .routes(routes!(disabled))
        .routes(routes!(tenant_summary))
        .merge(super::forge::routes())
        .merge(super::product_events::routes())
}

/// The Connect app descriptor.
#[utoipa::path(get, path = DESCRIPTOR_PATH, tag = "lifecycle", responses((status = 200, body = Value)))]
async fn descriptor(State(state): State<AppState>) -> Json<Value> {
    Json(descriptor::descriptor(&state.config))
}

/// The fields every lifecycle payload carries that Canopy checks against the token and the
/// configuration.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LifecyclePayload {
    client_key: String,
    /// The app key the event is for (the descriptor's `key`); checked on signed installs.
    #[serde(default)]
    key: Option<String>,
}

/// Verifies the RS256 signed install and claims the token for this body (`install_replay`), then
/// parses the body, then checks that the token's `iss` is the payload's clientKey and that the
/// payload is for this app's key. The token comes first so that an unauthenticated caller learns
/// nothing about what the body should look like. Answers the tenant's home stack too
/// (`residency::home_state`): looked up for the verified `iss` while the token is claimed, and
/// answered only once every check passed, so the checks' answers come in the order above.
async fn authenticate_then_parse<T: serde::de::DeserializeOwned>(
    state: &AppState,
    request: &SignedRequest<'_>,
    body: &[u8],
) -> Result<(TenantKey, T, jwt::ConnectClaims, residency::Home)> {
    let token = request.token()?;
    let app_base_urls = state.config.app_base_urls();
    let qsh = request.qsh(state);
    let expectation = InstallExpectation { app_base_urls: &app_base_urls, qsh: &qsh, now: state.clock.now_secs() };
    let claims = jwt::verify_signed_install(&token, state.install_keys.as_ref(), &expectation).await?;
    let exp = claims.exp.ok_or_else(|| Error::unauthenticated("signed install without exp"))?;
    let issuer = TenantKey::from_verified(&claims.iss);
    let home = async {
        match &issuer {
            Some(key) => residency::home_of(state, key).await.map(Some),
            None => Ok(None),
        }
    };
    let issuing_region = install_replay::issuing_region(state, &claims);
    let claim = install_replay::claim(&issuing_region, &token, exp, body);
    let (claimed, home) = tokio::join!(claim, home);
    claimed?;
    let payload: T = parse_json(request.headers, body)?;
    let LifecyclePayload { client_key, key: app_key } = parse_json(request.headers, body)?;
    if claims.iss != client_key {
        return Err(Error::unauthenticated("iss of the signed install is not the payload's clientKey"));
    }
    match app_key {
        None => return Err(Error::invalid("missing_field", "The payload has no key (the app key).")),
        Some(app_key) if app_key != state.config.app_key => {
            return Err(Error::invalid(
                "wrong_app_key",
                format!("key is not this app's key ({}).", state.config.app_key),
            ));
        }
        Some(_) => {}
    }
    let key = TenantKey::from_verified(&client_key)
        .ok_or_else(|| Error::invalid("invalid_field", "clientKey has characters outside [A-Za-z0-9-_.:]."))?;
    let home = home?.ok_or_else(|| Error::internal("a valid clientKey equal to iss is a valid key"))?;
    Ok((key, payload, claims, home))
}

/// Atlassian installs the app (or updates the install: new secret, new baseUrl).
#[utoipa::path(post, path = INSTALLED_PATH, tag = "lifecycle", request_body = Value, responses((status = 204)))]
async fn installed(
    State(state): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<StatusCode> {
    let request = SignedRequest { method: &method, uri: &uri, headers: &headers };
    let (key, payload, claims, home) = authenticate_then_parse::<InstallPayload>(&state, &request, &body).await?;
    let region = residency::region_of_install(&state, &claims);
    tenants::install_in(&home.stack, &key, &payload, &region, home.record_here).await?;
    tracing::info!(tenant = %key, "installed");
    Ok(StatusCode::NO_CONTENT)
}

/// Atlassian uninstalls the app: the tenant's purge is scheduled.
#[utoipa::path(post, path = UNINSTALLED_PATH, tag = "lifecycle", request_body = Value, responses((status = 204)))]
async fn uninstalled(
    State(state): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<StatusCode> {
    let request = SignedRequest { method: &method, uri: &uri, headers: &headers };
    let (key, _, _, home) = authenticate_then_parse::<LifecyclePayload>(&state, &request, &body).await?;
    let tenant = tenants::uninstall(&home.stack, &key).await?;
    tracing::info!(tenant = %key, purge_after = ?tenant.purge_after, "uninstalled");
    Ok(StatusCode::NO_CONTENT)
}

/// The app is enabled for the tenant.
#[utoipa::path(post, path = ENABLED_PATH, tag = "lifecycle", request_body = Value, responses((status = 204)))]
async fn enabled(
    state: State<AppState>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: RawBody,
) -> Result<StatusCode> {
    enable_or_disable(state, method, uri, headers, body, true).await
}

/// The app is disabled: the tenant's API calls answer 403.
#[utoipa::path(post, path = DISABLED_PATH, tag = "lifecycle", request_body = Value, responses((status = 204)))]
async fn disabled(
    state: State<AppState>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: RawBody,
) -> Result<StatusCode> {
    enable_or_disable(state, method, uri, headers, body, false).await
}

/// `enabled`/`disabled` are HS256-signed with the tenant's current secret and request-bound.
async fn enable_or_disable(
    State(state): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    RawBody(body): RawBody,
    enable: bool,
) -> Result<StatusCode> {
    let request = SignedRequest { method: &method, uri: &uri, headers: &headers };
    // A tenant that moved region is verified and changed against its new home's record.
    let state = match TenantKey::from_verified(&jwt::unverified_issuer(&request.token()?)?) {
        Some(key) => state.with_stack(residency::home_state(&state, &key).await?),
        None => state,
    };
    let (key, _, _, _) = verify_tenant_token(&state, &request, false, |_| Ok(())).await?;
    let payload: LifecyclePayload = parse_json(&headers, &body)?;
    if payload.client_key != key.as_str() {
        return Err(Error::unauthenticated("iss is not the payload's clientKey"));
    }
    tenants::set_enabled(&state, &key, enable).await?;
    tracing::info!(tenant = %key, enabled = enable, "lifecycle state changed");
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's tenant: clientKey, product, baseUrl, state, region, install time.
#[utoipa::path(get, path = TENANT_PATH, tag = "lifecycle", responses((status = 200, body = Value)))]
async fn tenant_summary(State(state): State<AppState>, auth: AuthContext) -> Result<Json<TenantSummary>> {
    let (tenant, _) = tenants::load(&state, &auth.tenant).await?.ok_or_else(tenants::unknown_tenant)?;
    Ok(Json(TenantSummary::from(&tenant)))
}
