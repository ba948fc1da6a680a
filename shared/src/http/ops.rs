//! Operator routes: usage figures per customer (`GET /ops/usage`, `GET /ops/usage/{date}`) and
//! the deletion receipts of purged tenants (`GET /ops/receipts`).
//!
//! On AWS they sit behind API Gateway's `AWS_IAM` authorizer, and the handler also insists on
//! the IAM identity API Gateway puts in the request context ([`OperatorAccess::Iam`]): a route
//! mounted without the authorizer by mistake answers 403, not data. The local server mounts them
//! with [`OperatorAccess::Local`] (no identity to check on a developer's machine).

use crate::http::router::ApiRouter;
use crate::routes;
use axum::extract::{Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use lambda_http::request::RequestContext;
use serde::Deserialize;

use super::extract::{PageView, QueryParams};
use super::schema::PageSchema;
use crate::domain::records::{DEFAULT_PAGE_SIZE, MAX_LIST_PAGE_SIZE};
use crate::domain::usage;
use crate::kernel::error::{Error, Result};
use crate::state::AppState;

/// How operators are authenticated; each host chooses explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorAccess {
    /// Lambda behind API Gateway: the request context must carry an IAM (SigV4) identity.
    Iam,
    /// The local server only.
    Local,
}

pub fn routes(access: OperatorAccess) -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_days))
        .routes(routes!(read_day))
        .routes(routes!(list_receipts))
        .route_layer(middleware::from_fn(move |request: Request, next: Next| require_operator(access, request, next)))
}

async fn require_operator(access: OperatorAccess, request: Request, next: Next) -> Response {
    if access == OperatorAccess::Iam {
        let caller = match request.extensions().get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(context)) => {
                context.authorizer.as_ref().and_then(|a| a.iam.as_ref()).map(|iam| iam.user_arn.clone())
            }
            _ => None,
        };
        let Some(caller) = caller else {
            return Error::forbidden("operator_only", "This route is for Canopy's operators (IAM-signed requests).")
                .into_response();
        };
        tracing::info!(caller = caller.as_deref().unwrap_or(""), "operator request");
    }
    next.run(request).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DaysQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Day summaries (totals only), oldest first; `cursor` is the last date of the previous page.
#[utoipa::path(get, path = "/ops/usage", tag = "ops", params(DaysQuery), responses((status = 200, body = PageSchema)))]
async fn list_days(State(state): State<AppState>, QueryParams(query): QueryParams<DaysQuery>) -> Result<Response> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_LIST_PAGE_SIZE).contains(&limit) {
        return Err(Error::bad_request("bad_page_size", format!("limit must be 1 to {MAX_LIST_PAGE_SIZE}.")));
    }
    let page = usage::list_days(&state, limit, query.cursor.as_deref()).await?;
    Ok(axum::Json(PageView::from(page)).into_response())
}

/// One day's summary and per-tenant figures.
#[utoipa::path(get, path = "/ops/usage/{date}", tag = "ops", params(("date" = String, Path, description = "yyyy-mm-dd")), responses((status = 200, body = Value)))]
async fn read_day(State(state): State<AppState>, Path(date): Path<String>) -> Result<Response> {
    Ok(axum::Json(usage::day(&state, &date).await?).into_response())
}

/// Deletion receipts, oldest first: a hash of the clientKey, when, and what was deleted.
#[utoipa::path(get, path = "/ops/receipts", tag = "ops", params(DaysQuery), responses((status = 200, body = PageSchema)))]
async fn list_receipts(State(state): State<AppState>, QueryParams(query): QueryParams<DaysQuery>) -> Result<Response> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_LIST_PAGE_SIZE).contains(&limit) {
        return Err(Error::bad_request("bad_page_size", format!("limit must be 1 to {MAX_LIST_PAGE_SIZE}.")));
    }
    if query.cursor.as_deref().is_some_and(|c| !c.starts_with(crate::kernel::keys::RECEIPT_PREFIX) || c.len() > 128) {
        return Err(Error::bad_request("bad_cursor", "Unknown cursor."));
    }
    let page = crate::domain::retention::purge::receipts(&state, limit, query.cursor).await?;
    Ok(axum::Json(PageView::from(page)).into_response())
}
