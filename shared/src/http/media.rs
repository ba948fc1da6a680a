//! The media function's routes: upload tickets, completion, reading (with a short-lived
//! download URL), listing by purpose, and deletion.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::auth::AuthContext;
use super::body::JsonBody;
use super::extract::{Admin, IfMatch, PageView};
use crate::content::records::{DEFAULT_PAGE_SIZE, MAX_LIST_PAGE_SIZE};
use crate::error::{Error, Result};
use crate::media::{self, Purpose, UploadRequest};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/media", get(list))
        .route("/api/media/uploads", post(create_upload))
        .route("/api/media/{id}", get(read).delete(delete))
        .route("/api/media/{id}/complete", post(complete))
}

async fn create_upload(
    State(state): State<AppState>,
    Admin(editor): Admin,
    JsonBody(request): JsonBody<UploadRequest>,
) -> Result<Response> {
    let ticket = media::create_upload(&state, &editor, request).await?;
    Ok((StatusCode::CREATED, axum::Json(ticket)).into_response())
}

async fn complete(State(state): State<AppState>, Admin(editor): Admin, Path(id): Path<String>) -> Result<Response> {
    Ok(axum::Json(media::complete(&state, &editor, &id).await?).into_response())
}

async fn read(State(state): State<AppState>, auth: AuthContext, Path(id): Path<String>) -> Result<Response> {
    Ok(axum::Json(media::read(&state, &auth.tenant, &id).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    purpose: Option<Purpose>,
    limit: Option<u32>,
    cursor: Option<String>,
}

fn query<T>(query: std::result::Result<Query<T>, axum::extract::rejection::QueryRejection>) -> Result<T> {
    query.map(|Query(q)| q).map_err(|e| Error::bad_request("bad_query", format!("Bad query string: {e}")))
}

async fn list(
    State(state): State<AppState>,
    auth: AuthContext,
    params: std::result::Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response> {
    let params = query(params)?;
    let limit = params.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_LIST_PAGE_SIZE).contains(&limit) {
        return Err(Error::bad_request("bad_page_size", format!("limit must be 1 to {MAX_LIST_PAGE_SIZE}.")));
    }
    if params.cursor.as_deref().is_some_and(|c| !crate::ids::is_ulid(c)) {
        return Err(Error::bad_request("bad_cursor", "Unknown cursor."));
    }
    let page = media::list(&state, &auth.tenant, params.purpose, limit, params.cursor.as_deref()).await?;
    Ok(axum::Json(PageView::from(page)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteQuery {
    #[serde(default)]
    force: bool,
}

async fn delete(
    State(state): State<AppState>,
    Admin(editor): Admin,
    Path(id): Path<String>,
    IfMatch(if_match): IfMatch,
    params: std::result::Result<Query<DeleteQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<StatusCode> {
    let params = query(params)?;
    media::delete(&state, &editor, &id, if_match, params.force).await?;
    Ok(StatusCode::NO_CONTENT)
}
