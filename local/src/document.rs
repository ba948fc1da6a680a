//! The local server's OpenAPI document: every product route, the dev routes and this one, from
//! the same declarations as the router. Served at `/openapi.json`; `canopy-local openapi` prints
//! it (the committed `docs/openapi.json`, checked fresh by `local/tests/black_box/server.rs`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::header;
use axum::response::IntoResponse;
use axum::{Extension, Router};
use canopy_shared::http::ops::OperatorAccess;
use canopy_shared::http::router::ApiRouter;
use canopy_shared::http::{self, openapi};
use canopy_shared::routes;
use canopy_shared::state::AppState;

use crate::dev;

/// The document, pretty-printed once at start.
#[derive(Clone)]
struct Document(Arc<str>);

/// Every route the local server answers (besides `/local-media/…`, the stand-in for presigned S3
/// URLs) and its document.
pub fn routes_and_document(address: SocketAddr) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let routes = openapi::product_routes(OperatorAccess::Local)
        .merge(dev::routes(address))
        .merge(ApiRouter::new().routes(routes!(serve_document)));
    finish(routes)
}

/// Behind a tunnel: the product's routes only, the operator ones closed as on AWS (they need API
/// Gateway's IAM identity, which no request here carries), and none of the dev routes, which
/// would mint tokens for any tenant.
pub fn exposed_routes_and_document() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    finish(openapi::product_routes(OperatorAccess::Iam).merge(ApiRouter::new().routes(routes!(serve_document))))
}

fn finish(routes: ApiRouter) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, document) = routes.split_for_parts();
    let document = openapi::complete(document);
    let text = Document(openapi::to_pretty_json(&document).into());
    (router.layer(Extension(text)), document)
}

/// `canopy-local openapi`: prints the document.
pub fn print() {
    let (_, document) = routes_and_document(SocketAddr::from(([127, 0, 0, 1], 0)));
    print!("{}", openapi::to_pretty_json(&document));
}

/// This API's OpenAPI document.
#[utoipa::path(get, path = http::openapi::DOCUMENT_PATH, tag = "dev", responses((status = 200, body = Value)))]
async fn serve_document(Extension(Document(text)): Extension<Document>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], text.to_string())
}
