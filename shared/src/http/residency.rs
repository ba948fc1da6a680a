//! The residency function's routes: a tenant admin moves the tenant's data to another region and
//! back within 7 days (`residency`), and Atlassian's realm-migration hooks (`residency::dare`).

use crate::http::router::ApiRouter;
use crate::routes;
use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{AuthContext, SignedRequest, verify_tenant_token};
use super::body::{JsonBody, RawBody, parse_json};
use super::extract::Admin;
use crate::domain::residency::{self, Kind, ResidencyView, dare};
use crate::kernel::error::{Error, Result};
use crate::kernel::tenant_key::TenantKey;
use crate::state::AppState;

pub const RESIDENCY_PATH: &str = "/api/residency";
pub const MIGRATIONS_PATH: &str = "/api/residency/migrations";
pub const ROLLBACK_PATH: &str = "/api/residency/rollback";

/// Atlassian's realm-migration hooks under the descriptor's `dare-migration` path.
pub const DARE_STATUS_PATH: &str = "/lifecycle/dare-migration/status";
pub const DARE_HOOK_PATH: &str = "/lifecycle/dare-migration/{hook}";

pub fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(show))
        .routes(routes!(migrate))
        .routes(routes!(rollback))
        .routes(routes!(dare_status))
        .routes(routes!(dare_hook))
}

/// The tenant's region, the regions on offer, and the migration in flight.
#[utoipa::path(get, path = RESIDENCY_PATH, tag = "residency", responses((status = 200, body = Value)))]
async fn show(State(state): State<AppState>, auth: AuthContext) -> Result<Json<ResidencyView>> {
    Ok(Json(residency::view(&state, &auth.tenant).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct MigrateBody {
    region: String,
}

/// Moves the tenant's data to another region (site admins).
#[utoipa::path(post, path = MIGRATIONS_PATH, tag = "residency", request_body = MigrateBody, responses((status = 202, body = Value)))]
async fn migrate(
    State(state): State<AppState>,
    Admin(editor): Admin,
    JsonBody(body): JsonBody<MigrateBody>,
) -> Result<(StatusCode, Json<Value>)> {
    let migration = residency::request(&state, &editor.tenant, &body.region, Kind::Migration, None).await?;
    residency::spawn_drive(&state, &editor.tenant);
    Ok((StatusCode::ACCEPTED, Json(json!({ "migration": migration }))))
}

/// Moves the tenant back, with every change since the move, within 7 days (site admins).
#[utoipa::path(post, path = ROLLBACK_PATH, tag = "residency", responses((status = 202, body = Value)))]
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
    let (key, _, _, _) = verify_tenant_token(state, &request, false, |_| Ok(())).await?;
    Ok(key)
}

#[utoipa::path(get, path = DARE_STATUS_PATH, tag = "residency", responses((status = 200, body = Value)))]
async fn dare_status(
    State(state): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Json<dare::DareStatus>> {
    let tenant = dare_tenant(&state, &method, &uri, &headers).await?;
    Ok(Json(dare::status(&state, &tenant).await?))
}

/// `schedule` (body `{"location"}`), `start`, `commit`, `rollback`.
#[utoipa::path(post, path = DARE_HOOK_PATH, tag = "residency", params(("hook" = String, Path, description = "schedule, start, commit or rollback")), request_body(content = Option<Value>, description = "`schedule` only"), responses((status = 200, body = Value)))]
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
