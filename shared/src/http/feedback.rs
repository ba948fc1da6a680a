//! The feedback function's routes: any user submits feedback and reads or changes their own
//! record (`/api/me`); site administrators list, export and delete feedback. Every route that
//! succeeded records the caller's visit (`users::record_visit`: at most one write an hour); a
//! refused request writes nothing at all.

use crate::http::router::ApiRouter;
use crate::routes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::AuthContext;
use super::body::JsonBody;
use super::extract::{Admin, ClientIp, IfMatch, PageView, QueryParams};
use super::schema::{IfMatchHeader, ItemParam, PageSchema};
use crate::domain::feedback::{self, Filter, Submission};
use crate::domain::records::{DEFAULT_PAGE_SIZE, MAX_LIST_PAGE_SIZE};
use crate::domain::users;
use crate::kernel::error::{Error, Result};
use crate::kernel::ids;
use crate::kernel::tenant_key::TenantKey;
use crate::state::AppState;

/// Feedback and dismissal bodies: a text at its bound, fully `\u`-escaped, is ~12 KiB.
pub const MAX_FEEDBACK_BODY_BYTES: usize = 16 * 1024;

pub fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list, submit))
        .routes(routes!(export))
        .routes(routes!(read, delete))
        .routes(routes!(me))
        .routes(routes!(dismiss_announcement))
        .layer(DefaultBodyLimit::max(MAX_FEEDBACK_BODY_BYTES))
}

/// Records the visit of a caller whose request succeeded. A failure here must not turn that
/// success into an error: it is logged, and the next visit records it.
async fn seen(state: &AppState, tenant: &TenantKey, account_id: Option<&str>) {
    if let Err(error) = users::record_visit(state, tenant, account_id).await {
        tracing::warn!(%error, "recording the visit failed");
    }
}

/// Feedback about a site, a page, or a page within a site (anonymous visitors too).
#[utoipa::path(post, path = "/api/feedback", tag = "feedback", request_body = Submission, responses((status = 201, body = Value)))]
async fn submit(
    State(state): State<AppState>,
    auth: AuthContext,
    ClientIp(source): ClientIp,
    JsonBody(submission): JsonBody<Submission>,
) -> Result<Response> {
    // Feedback about a site the caller may not see is refused as about a missing one.
    if let Some(site_id) = submission.site_id.as_deref().filter(|id| crate::kernel::ids::is_ulid(id)) {
        super::access::site_for(&state, &auth, site_id).await?;
    }
    let stored =
        feedback::submit(&state, &auth.tenant, auth.account_id.as_deref(), source.as_deref(), submission).await?;
    seen(&state, &auth.tenant, auth.account_id.as_deref()).await;
    Ok((StatusCode::CREATED, axum::Json(stored)).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    site_id: Option<String>,
    page_id: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
    /// The token may come as `?jwt=` (AuthContext reads it); it is no filter.
    #[serde(rename = "jwt")]
    #[param(ignore)]
    _jwt: Option<String>,
}

fn bad_query(message: impl Into<String>) -> Error {
    Error::bad_request("bad_query", message)
}

/// Newest first, filtered by site, page or both (site admins).
#[utoipa::path(get, path = "/api/feedback", tag = "feedback", params(ListQuery), responses((status = 200, body = PageSchema)))]
async fn list(
    State(state): State<AppState>,
    Admin(editor): Admin,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Response> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_LIST_PAGE_SIZE).contains(&limit) {
        return Err(Error::bad_request("bad_page_size", format!("limit must be 1 to {MAX_LIST_PAGE_SIZE}.")));
    }
    if query.site_id.as_deref().is_some_and(|s| !ids::is_ulid(s)) {
        return Err(bad_query("siteId must be a site id."));
    }
    if query.page_id.as_deref().is_some_and(|p| !crate::domain::content::model::bounds::is_page_id(p)) {
        return Err(bad_query("pageId must be a Confluence page id."));
    }
    let filter = Filter { site_id: query.site_id, page_id: query.page_id };
    let page = feedback::list(&state, &editor.tenant, &filter, limit, query.cursor.as_deref()).await?;
    seen(&state, &editor.tenant, editor.account_id.as_deref()).await;
    Ok(axum::Json(PageView::from(page)).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    cursor: Option<String>,
    #[serde(rename = "jwt")]
    #[param(ignore)]
    _jwt: Option<String>,
}

/// The export document, as a download.
#[utoipa::path(get, path = "/api/feedback/export", tag = "feedback", params(ExportQuery), responses((status = 200, body = Value)))]
async fn export(
    State(state): State<AppState>,
    Admin(editor): Admin,
    QueryParams(query): QueryParams<ExportQuery>,
) -> Result<Response> {
    let document = feedback::export(&state, &editor.tenant, query.cursor.as_deref()).await?;
    seen(&state, &editor.tenant, editor.account_id.as_deref()).await;
    let filename =
        format!("attachment; filename=\"canopy-feedback-{}.json\"", document.exported_at.get(..10).unwrap_or("export"));
    let mut response = axum::Json(&document).into_response();
    if let Ok(value) = HeaderValue::from_str(&filename) {
        response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// One feedback item (site admins).
#[utoipa::path(get, path = "/api/feedback/{id}", tag = "feedback", params(ItemParam), responses((status = 200, body = Value)))]
async fn read(State(state): State<AppState>, Admin(editor): Admin, Path(id): Path<String>) -> Result<Response> {
    let item = feedback::read(&state, &editor.tenant, &id).await?;
    seen(&state, &editor.tenant, editor.account_id.as_deref()).await;
    Ok(axum::Json(item).into_response())
}

/// Moves a feedback item to the trash (site admins); `If-Match` is optional.
#[utoipa::path(delete, path = "/api/feedback/{id}", tag = "feedback", params(ItemParam, IfMatchHeader), responses((status = 204)))]
async fn delete(
    State(state): State<AppState>,
    Admin(editor): Admin,
    Path(id): Path<String>,
    IfMatch(if_match): IfMatch,
) -> Result<StatusCode> {
    feedback::delete(&state, &editor, &id, if_match).await?;
    seen(&state, &editor.tenant, editor.account_id.as_deref()).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's own record (signed-in users).
#[utoipa::path(get, path = "/api/me", tag = "feedback", responses((status = 200, body = Value)))]
async fn me(State(state): State<AppState>, auth: AuthContext) -> Result<Response> {
    Ok(axum::Json(users::me(&state, &auth.tenant, auth.account_id.as_deref()).await?).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Dismissal {
    announcement_id: String,
}

/// Remembers that the caller dismissed an announcement (idempotent).
#[utoipa::path(post, path = "/api/me/dismissed-announcements", tag = "feedback", request_body = Dismissal, responses((status = 200, body = Value)))]
async fn dismiss_announcement(
    State(state): State<AppState>,
    auth: AuthContext,
    JsonBody(dismissal): JsonBody<Dismissal>,
) -> Result<Response> {
    let me = users::dismiss_announcement(&state, &auth.tenant, auth.account_id.as_deref(), &dismissal.announcement_id)
        .await?;
    Ok(axum::Json(me).into_response())
}
