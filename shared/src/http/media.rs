//! The media function's routes: upload tickets, completion, reading (with a short-lived
//! download URL), listing by purpose, and deletion.

use crate::http::router::ApiRouter;
use crate::routes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::AuthContext;
use super::body::JsonBody;
use super::extract::{Admin, IfMatch, PageView, QueryParams};
use super::schema::{IfMatchHeader, ItemParam, PageSchema};
use crate::domain::media::{self, Purpose, UploadRequest};
use crate::domain::records::{DEFAULT_PAGE_SIZE, MAX_LIST_PAGE_SIZE};
use crate::kernel::error::{Error, Result};
use crate::state::AppState;

pub fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(create_upload))
        .routes(routes!(read, delete))
        .routes(routes!(complete))
}

/// An upload ticket: a pending media item and a presigned `PUT` (site admins).
#[utoipa::path(post, path = "/api/media/uploads", tag = "media", request_body = UploadRequest, responses((status = 201, body = Value)))]
async fn create_upload(
    State(state): State<AppState>,
    Admin(editor): Admin,
    JsonBody(request): JsonBody<UploadRequest>,
) -> Result<Response> {
    let ticket = media::create_upload(&state, &editor, request).await?;
    Ok((StatusCode::CREATED, axum::Json(ticket)).into_response())
}

/// Checks the uploaded object (size, type, first bytes) and makes the item ready (site admins).
#[utoipa::path(post, path = "/api/media/{id}/complete", tag = "media", params(ItemParam), responses((status = 200, body = Value)))]
async fn complete(State(state): State<AppState>, Admin(editor): Admin, Path(id): Path<String>) -> Result<Response> {
    Ok(axum::Json(media::complete(&state, &editor, &id).await?).into_response())
}

/// One media item with a short-lived download URL.
#[utoipa::path(get, path = "/api/media/{id}", tag = "media", params(ItemParam), responses((status = 200, body = Value)))]
async fn read(State(state): State<AppState>, auth: AuthContext, Path(id): Path<String>) -> Result<Response> {
    Ok(axum::Json(media::read(&state, &auth.tenant, &id).await?).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    purpose: Option<Purpose>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// The tenant's media, by purpose.
#[utoipa::path(get, path = "/api/media", tag = "media", params(ListQuery), responses((status = 200, body = PageSchema)))]
async fn list(
    State(state): State<AppState>,
    auth: AuthContext,
    QueryParams(params): QueryParams<ListQuery>,
) -> Result<Response> {
    let limit = params.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_LIST_PAGE_SIZE).contains(&limit) {
        return Err(Error::bad_request("bad_page_size", format!("limit must be 1 to {MAX_LIST_PAGE_SIZE}.")));
    }
    if params.cursor.as_deref().is_some_and(|c| !crate::kernel::ids::is_ulid(c)) {
        return Err(Error::bad_request("bad_cursor", "Unknown cursor."));
    }
    let page = media::list(&state, &auth.tenant, params.purpose, limit, params.cursor.as_deref()).await?;
    Ok(axum::Json(PageView::from(page)).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DeleteQuery {
    #[serde(default)]
    force: bool,
}

/// Deletes object and record (site admins); 409 `in_use` unless `?force=true`.
#[utoipa::path(delete, path = "/api/media/{id}", tag = "media", params(ItemParam, IfMatchHeader, DeleteQuery), responses((status = 204)))]
async fn delete(
    State(state): State<AppState>,
    Admin(editor): Admin,
    Path(id): Path<String>,
    IfMatch(if_match): IfMatch,
    QueryParams(params): QueryParams<DeleteQuery>,
) -> Result<StatusCode> {
    media::delete(&state, &editor, &id, if_match, params.force).await?;
    Ok(StatusCode::NO_CONTENT)
}
