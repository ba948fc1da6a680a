//! HTTP: the routers every host (Lambda, local server) runs, the auth extractor, body parsing
//! and the response headers Atlassian's security requirements check.

pub mod access;
pub mod auth;
pub mod body;
pub mod console;
pub mod content;
pub mod error;
pub mod extract;
pub mod feedback;
pub mod forge;
pub mod headers;
pub mod lifecycle;
pub mod media;
pub mod openapi;
pub mod ops;
pub mod product_events;
pub mod residency;
pub mod router;
pub mod schema;
pub mod span;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use router::ApiRouter;

use crate::kernel::error::Error;
use crate::state::AppState;

/// Largest request body any route accepts unless it sets its own; lifecycle payloads are ~1 KB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Wraps a function's routes with what every response needs: JSON 404/405 bodies, the body
/// limit, and the security headers (errors included). The routes' document is never built here;
/// hosts that serve it split it off first (`openapi`).
pub fn finish(routes: ApiRouter, state: AppState) -> Router {
    finish_router(routes.into_router(), state)
}

/// `finish` for a router whose document was split off.
pub fn finish_router(router: Router<AppState>, state: AppState) -> Router {
    router
        .fallback(|| async { Error::not_found("unknown_route", "No such route.") })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response_with_state(headers::sends_hsts(&state.config), headers::security_headers))
        .layer(axum::middleware::from_fn(span::request_span))
        .with_state(state)
}
