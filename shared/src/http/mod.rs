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
///
/// The layers wrap the router once, not each route (`Router::layer`): axum clones a route's
/// service for every request, and a route wrapped in three layers is three boxed services to
/// copy and drop each time (about 8 % of a site-config read's CPU). Around the router they see
/// the same requests, the fallbacks' included, before routing instead of after; a route's own
/// body limit (set inside) still replaces the default one.
pub fn finish_router(router: Router<AppState>, state: AppState) -> Router {
    let hsts = headers::sends_hsts(&state.config);
    let routes = router
        .fallback(|| async { Error::not_found("unknown_route", "No such route.") })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .with_state(state);
    let layered = tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn(span::request_span))
        .layer(axum::middleware::map_response_with_state(hsts, headers::security_headers))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .service(routes);
    router::serving(layered)
}
