//! Forge lifecycle events delivered to this remote (manifest `trigger` modules with an
//! `endpoint`): one path per event, each authenticated by the FIT Atlassian sends with it.
//! Served by the lifecycle function.

use crate::http::router::ApiRouter;
use crate::routes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::{Json, http::header};
use serde_json::{Value, json};

use super::body::{RawBody, parse_json};
use crate::domain::forge::fit::{self, FitExpectation};
use crate::domain::forge::installs::{self, EventPayload, ForgeEvent};
use crate::kernel::error::{Error, Result};
use crate::state::AppState;

pub const FORGE_INSTALLED_PATH: &str = "/forge/lifecycle/installed";
pub const FORGE_UPGRADED_PATH: &str = "/forge/lifecycle/upgraded";
pub const FORGE_UNINSTALLED_PATH: &str = "/forge/lifecycle/uninstalled";

pub fn routes() -> ApiRouter {
    ApiRouter::new().routes(routes!(installed)).routes(routes!(upgraded)).routes(routes!(uninstalled))
}

/// `avi:forge:installed:app`: answers `{"outcome"}`.
#[utoipa::path(post, path = FORGE_INSTALLED_PATH, tag = "forge", request_body = Value, responses((status = 200, body = Value)))]
async fn installed(state: State<AppState>, headers: HeaderMap, body: RawBody) -> Result<Json<Value>> {
    event(state, headers, body, ForgeEvent::Installed).await
}

/// `avi:forge:upgraded:app`: answers `{"outcome"}`.
#[utoipa::path(post, path = FORGE_UPGRADED_PATH, tag = "forge", request_body = Value, responses((status = 200, body = Value)))]
async fn upgraded(state: State<AppState>, headers: HeaderMap, body: RawBody) -> Result<Json<Value>> {
    event(state, headers, body, ForgeEvent::Upgraded).await
}

/// The app's uninstall event: answers `{"outcome"}`.
#[utoipa::path(post, path = FORGE_UNINSTALLED_PATH, tag = "forge", request_body = Value, responses((status = 200, body = Value)))]
async fn uninstalled(state: State<AppState>, headers: HeaderMap, body: RawBody) -> Result<Json<Value>> {
    event(state, headers, body, ForgeEvent::Uninstalled).await
}

/// The FIT first, then the body, so an unauthenticated caller learns nothing about the body.
/// Answers `{"outcome": "created" | "linked" | "unchanged" | "uninstalled"}`.
async fn event(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
    event: ForgeEvent,
) -> Result<Json<Value>> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| Error::unauthenticated("a Forge event without a FIT"))?;
    let audience = state.config.forge_app_ari.as_deref().ok_or_else(|| {
        Error::unauthenticated("a Forge event, but Forge auth is off (CANOPY_FORGE_APP_ID is not set)")
    })?;
    let expect = FitExpectation { audience, environment: &state.config.forge_environment, now: state.clock.now_secs() };
    let invocation = fit::verify(token.trim(), state.forge.keys.as_ref(), &expect).await?;
    let payload: EventPayload = parse_json(&headers, &body)?;
    let (tenant, outcome) = installs::handle(&state, event, &invocation, &payload).await?;
    tracing::Span::current().record("tenant", tracing::field::display(&tenant));
    tracing::info!(tenant = %tenant, event = event.name(), outcome = outcome.as_str(), "Forge lifecycle event");
    Ok(Json(json!({"outcome": outcome.as_str()})))
}
