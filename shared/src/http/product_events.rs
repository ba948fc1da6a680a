//! Product events (`domain::content::product_events`): Connect webhooks, one path per event,
//! each with a request-bound Connect JWT (HS256 with the tenant's shared secret, `qsh` of this
//! request) like any server-to-server call from Atlassian; and Forge triggers at one path, each
//! with the FIT Atlassian sends. Served by the lifecycle function. The token is checked before
//! the body is read, so an unauthenticated caller learns nothing about it.

use crate::http::router::ApiRouter;
use crate::routes;
use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, Method, header};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{SignedRequest, verify_forge_token, verify_tenant_token};
use super::body::{RawBody, parse_json};
use crate::domain::connect::descriptor::CONNECT_EVENTS;
use crate::domain::content::product_events::{self, Outcome, ProductEvent};
use crate::domain::tenants::Tenant;
use crate::kernel::error::{Error, Result};
use crate::kernel::tenant_key::TenantKey;
use crate::state::AppState;

/// Connect webhooks: `/webhooks/confluence/<event>` (`descriptor::webhook_path`) for each of
/// [`CONNECT_EVENTS`].
pub const CONNECT_WEBHOOK_PATH: &str = "/webhooks/confluence/{event}";
/// Forge product events (manifest `trigger` with an `endpoint`).
pub const FORGE_EVENTS_PATH: &str = "/forge/events/confluence";

pub fn routes() -> ApiRouter {
    ApiRouter::new().routes(routes!(connect_webhook)).routes(routes!(forge_event))
}

/// An id Connect sends as a number or a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Id {
    Number(u64),
    Text(String),
}

impl Id {
    fn into_string(self) -> String {
        match self {
            Self::Number(n) => n.to_string(),
            Self::Text(s) => s,
        }
    }
}

#[derive(Deserialize)]
struct ConnectPage {
    id: Id,
}

#[derive(Deserialize)]
struct ConnectSpace {
    key: String,
}

/// The fields of a Connect page or space webhook Canopy reads (`page.id` or `space.key`, and the
/// event's `timestamp` in milliseconds).
#[derive(Deserialize)]
struct ConnectPayload {
    page: Option<ConnectPage>,
    space: Option<ConnectSpace>,
    timestamp: Option<i64>,
}

fn missing(field: &'static str) -> Error {
    Error::invalid("invalid_event", format!("The event has no {field}."))
}

/// A Connect webhook: answers `{"outcome": "applied" | "unchanged" | "stale" | "ignored"}`.
#[utoipa::path(post, path = CONNECT_WEBHOOK_PATH, tag = "lifecycle",
    params(("event" = String, Path, description = "page_trashed, page_removed, page_restored or space_removed")),
    request_body = Value, responses((status = 200, body = Value)))]
async fn connect_webhook(
    State(state): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Path(event): Path<String>,
    RawBody(body): RawBody,
) -> Result<Json<Value>> {
    let request = SignedRequest { method: &method, uri: &uri, headers: &headers };
    let known = CONNECT_EVENTS.contains(&event.as_str());
    let admit = |install: &Tenant| if known { check_home(&state, install) } else { Ok(()) };
    let (tenant, _, _, _) = verify_tenant_token(&state, &request, false, admit).await?;
    if !known {
        return Err(Error::not_found("unknown_route", "No such route."));
    }
    let payload: ConnectPayload = parse_json(&headers, &body)?;
    let page_id = || payload.page.map(|p| p.id.into_string()).ok_or_else(|| missing("page.id"));
    let event = match event.as_str() {
        "page_trashed" => ProductEvent::PageTrashed { page_id: page_id()? },
        "page_removed" => ProductEvent::PageRemoved { page_id: page_id()? },
        "page_restored" => ProductEvent::PageRestored { page_id: page_id()? },
        _ => {
            ProductEvent::SpaceRemoved { space_key: payload.space.map(|s| s.key).ok_or_else(|| missing("space.key"))? }
        }
    };
    let at = payload.timestamp.unwrap_or_else(|| state.clock.now_millis());
    answer(&state, &tenant, &event, at).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ForgeSpace {
    key: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ForgeContent {
    id: Id,
}

/// The fields of a Forge Confluence event Canopy reads: `eventType`, `content.id` for pages,
/// `space.key` for spaces. Forge sends no event time; the time of receipt stands in.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ForgePayload {
    event_type: String,
    content: Option<ForgeContent>,
    space: Option<ForgeSpace>,
}

/// A Forge product event: answers `{"outcome"}` like the Connect webhooks; an event type Canopy
/// does not act on is `ignored`.
#[utoipa::path(post, path = FORGE_EVENTS_PATH, tag = "forge", request_body = Value, responses((status = 200, body = Value)))]
async fn forge_event(State(state): State<AppState>, headers: HeaderMap, RawBody(body): RawBody) -> Result<Json<Value>> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| Error::unauthenticated("a Forge event without a FIT"))?;
    let (tenant, _, _) =
        verify_forge_token(&state, token.trim(), &Method::POST, |install| check_home(&state, install)).await?;
    let payload: ForgePayload = parse_json(&headers, &body)?;
    let page_id = || payload.content.map(|c| c.id.into_string()).ok_or_else(|| missing("content.id"));
    let event = match payload.event_type.as_str() {
        "avi:confluence:trashed:page" => ProductEvent::PageTrashed { page_id: page_id()? },
        "avi:confluence:deleted:page" => ProductEvent::PageRemoved { page_id: page_id()? },
        "avi:confluence:restored:page" => ProductEvent::PageRestored { page_id: page_id()? },
        "avi:confluence:deleted:space:V2" | "avi:confluence:deleted:space" => ProductEvent::SpaceRemoved {
            space_key: payload.space.and_then(|s| s.key).ok_or_else(|| missing("space.key"))?,
        },
        _ => return Ok(Json(json!({"outcome": Outcome::Ignored.as_str()}))),
    };
    let at = state.clock.now_millis();
    answer(&state, &tenant, &event, at).await
}

/// Events for a tenant homed elsewhere are answered there (421), and wait while it is read-only.
fn check_home(state: &AppState, install: &Tenant) -> Result<()> {
    if install.region != state.config.home_region {
        return Err(state.regions.wrong_region(&install.region));
    }
    if install.read_only {
        return Err(crate::domain::residency::read_only_error());
    }
    Ok(())
}

async fn answer(state: &AppState, tenant: &TenantKey, event: &ProductEvent, at: i64) -> Result<Json<Value>> {
    tracing::Span::current().record("tenant", tracing::field::display(tenant));
    let outcome = product_events::apply(state, tenant, event, at).await?;
    tracing::info!(tenant = %tenant, event = event.name(), outcome = outcome.as_str(), "product event");
    Ok(Json(json!({"outcome": outcome.as_str()})))
}
