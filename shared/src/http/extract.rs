//! Request pieces the routes share: the admin check, `If-Match`, query strings, paging, and the
//! JSON shapes of answers (ETag'd items, pages).

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::auth::AuthContext;
use crate::domain::access::View;
use crate::domain::content::model::ContentModel;
use crate::domain::records::{DEFAULT_PAGE_SIZE, Editor, MAX_LIST_PAGE_SIZE, Stored};
use crate::kernel::error::{Error, Result};
use crate::ports::store::Page;
use crate::state::AppState;

/// The caller's network address: the client IP API Gateway reports (`requestContext.http.sourceIp`),
/// or the socket peer where a host serves with connect info (the local server). `None` when the
/// host reports neither (a router driven directly).
pub struct ClientIp(pub Option<String>);

/// The client IP of a request's extensions (see [`ClientIp`]).
pub fn client_ip(extensions: &axum::http::Extensions) -> Option<String> {
    if let Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) =
        extensions.get::<lambda_http::request::RequestContext>()
    {
        return ctx.http.source_ip.clone();
    }
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|axum::extract::ConnectInfo(peer)| peer.ip().to_string())
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> std::result::Result<Self, Self::Rejection> {
        Ok(Self(client_ip(&parts.extensions)))
    }
}

/// A verified caller who administers the tenant's site; everyone else gets 403.
pub struct Admin(pub Editor);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let auth = AuthContext::from_request_parts(parts, state).await?;
        let account = auth.account_id.clone().ok_or_else(|| {
            Error::forbidden("not_admin", "Only a site administrator may do this; the caller is anonymous.")
        })?;
        if !state.admins.is_admin_via(&auth.install, &account, auth.product_access()?).await? {
            return Err(Error::forbidden("not_admin", "Only a site administrator may do this."));
        }
        Ok(Self(Editor { tenant: auth.tenant, account_id: Some(account) }))
    }
}

/// `If-Match: "<version>"` (a weak `W/` prefix is tolerated); absent is `None`.
pub struct IfMatch(pub Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else { return Ok(Self(None)) };
        let text = value.to_str().unwrap_or_default().trim();
        let text = text.strip_prefix("W/").unwrap_or(text);
        text.strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .and_then(|t| t.parse::<u64>().ok())
            .map(|v| Self(Some(v)))
            .ok_or_else(|| Error::PreconditionFailed { message: "If-Match must be an ETag this API returned.".into() })
    }
}

/// The query string as `T`; a query string that does not parse is 400 `bad_query`, in Canopy's
/// JSON error format like [`super::body::JsonBody`].
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let Query(query) = Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(|e| Error::bad_request("bad_query", format!("Bad query string: {e}")))?;
        Ok(Self(query))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PagingQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `?limit=1..200&cursor=<nextCursor>`.
pub struct Paging {
    pub limit: u32,
    pub cursor: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let QueryParams(query) = QueryParams::<PagingQuery>::from_request_parts(parts, state).await?;
        let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_LIST_PAGE_SIZE).contains(&limit) {
            return Err(Error::bad_request("bad_page_size", format!("limit must be 1 to {MAX_LIST_PAGE_SIZE}.")));
        }
        if let Some(cursor) = &query.cursor
            && (cursor.is_empty() || cursor.len() > 128 || cursor.contains('#'))
        {
            return Err(Error::bad_request("bad_cursor", "Unknown cursor."));
        }
        Ok(Self { limit, cursor: query.cursor })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageView<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> From<Page<T>> for PageView<T> {
    fn from(page: Page<T>) -> Self {
        Self { items: page.items, next_cursor: page.next }
    }
}

/// One item as `view` sees it (`domain::access::Seen`), with its ETag, as 200.
pub fn seen_response<M: ContentModel>(stored: &Stored<M>, view: View) -> Response {
    with_etag((StatusCode::OK, axum::Json(view.sees(stored))).into_response(), stored)
}

/// One item with its ETag, as 200 or 201.
pub fn item_response<M: Serialize>(status: StatusCode, stored: &Stored<M>) -> Response {
    with_etag((status, axum::Json(stored)).into_response(), stored)
}

fn with_etag<M>(mut response: Response, stored: &Stored<M>) -> Response {
    if let Ok(etag) = HeaderValue::from_str(&stored.etag()) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_ip_is_api_gateways_source_ip_else_the_socket_peer() {
        let event = serde_json::json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/api/feedback", "rawQueryString": "",
            "headers": {"host": "canopy.example.com"},
            "requestContext": {
                "accountId": "123456789012", "apiId": "api", "domainName": "canopy.example.com", "domainPrefix": "canopy",
                "http": {"method": "POST", "path": "/api/feedback", "protocol": "HTTP/1.1", "sourceIp": "198.51.100.77", "userAgent": "test"},
                "requestId": "req-1", "routeKey": "$default", "stage": "$default", "time": "15/Jan/2026:00:00:00 +0000", "timeEpoch": 0
            },
            "isBase64Encoded": false
        });
        let from_lambda = lambda_http::request::from_str(&event.to_string()).expect("event");
        assert_eq!(client_ip(from_lambda.extensions()).as_deref(), Some("198.51.100.77"));

        let mut served = axum::http::Request::new(());
        let peer = std::net::SocketAddr::from(([192, 0, 2, 7], 50_000));
        served.extensions_mut().insert(axum::extract::ConnectInfo(peer));
        assert_eq!(client_ip(served.extensions()).as_deref(), Some("192.0.2.7"));

        assert_eq!(client_ip(&axum::http::Extensions::new()), None, "a router driven directly");
    }
}
