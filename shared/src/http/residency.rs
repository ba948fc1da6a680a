//! The residency function's routes: a tenant admin moves the tenant's data to another region and
//! back within 7 days (`residency`), and Atlassian's realm-migration hooks (`residency::dare`).

use axum::Json;
use axum::Router;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{AuthContext, SignedRequest, verify_tenant_token};
use super::body::{JsonBody, RawBody, parse_json};
use super::extract::Admin;
use crate::connect::descriptor::DARE_MIGRATION_PATH;
use crate::error::{Error, Result};
use crate::residency::{self, Kind, ResidencyView, dare};
use crate::state::AppState;
use crate::tenant_key::TenantKey;

pub const RESIDENCY_PATH: &str = "/api/residency";
pub const MIGRATIONS_PATH: &str = "/api/residency/migrations";
pub const ROLLBACK_PATH: &str = "/api/residency/rollback";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(RESIDENCY_PATH, get(show))
        .route(MIGRATIONS_PATH, post(migrate))
        .route(ROLLBACK_PATH, post(rollback))
        .route(&format!("{DARE_MIGRATION_PATH}/status"), get(dare_status))
        .route(&format!("{DARE_MIGRATION_PATH}/{{hook}}"), post(dare_hook))
}

async fn show(State(state): State<AppState>, auth: AuthContext) -> Result<Json<ResidencyView>> {
    Ok(Json(residency::view(&state, &auth.tenant).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MigrateBody {
    region: String,
}

async fn migrate(
    State(state): State<AppState>,
    Admin(editor): Admin,
    JsonBody(body): JsonBody<MigrateBody>,
) -> Result<(StatusCode, Json<Value>)> {
    let migration = residency::request(&state, &editor.tenant, &body.region, Kind::Migration, None).await?;
    residency::spawn_drive(&state, &editor.tenant);
    Ok((StatusCode::ACCEPTED, Json(json!({ "migration": migration }))))
}

async fn rollback(State(state): State<AppState>, Admin(editor): Admin) -> Result<(StatusCode, Json<Value>)> {
    let migration = residency::request_rollback(&state, &editor.tenant).await?;
    residency::spawn_drive(&state, &editor.tenant);
    Ok((StatusCode::ACCEPTED, Json(json!({ "migration": migration }))))
}

/// The hooks come from Atlassian's migration service, signed HS256 with the tenant's secret and
/// bound to the request (qsh); they work whichever region the tenant is homed in.
async fn dare_tenant(
    state: &AppState,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
) -> Result<TenantKey> {
    let request = SignedRequest { method, uri, headers };
    let (key, _, _, _) = verify_tenant_token(state, &request, false).await?;
    Ok(key)
}

async fn dare_status(
    State(state): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Json<dare::DareStatus>> {
    let tenant = dare_tenant(&state, &method, &uri, &headers).await?;
    Ok(Json(dare::status(&state, &tenant).await?))
}

async fn dare_hook(
    State(state): State<AppState>,
    Path(hook): Path<String>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<(StatusCode, Json<Value>)> {
    let tenant = dare_tenant(&state, &method, &uri, &headers).await?;
    let migration = match hook.as_str() {
        "schedule" => dare::schedule(&state, &tenant, parse_json(&headers, &body)?).await?,
        "start" => dare::start(&state, &tenant).await?,
        "commit" => dare::commit(&state, &tenant).await?,
        "rollback" => dare::rollback(&state, &tenant).await?,
        _ => return Err(Error::not_found("unknown_route", "No such route.")),
    };
    tracing::info!(tenant = %tenant, %hook, phase = ?migration.phase, "realm migration hook");
    Ok((StatusCode::OK, Json(json!({ "migration": migration }))))
}
