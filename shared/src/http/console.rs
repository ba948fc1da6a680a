//! The admin console (`console/` at the repository root): static files embedded in the binary and
//! served under `/console/` by the content function and the local server, so the console is a
//! static asset of the app wherever the app runs, and a fresh checkout serves it without any build.
//!
//! Caching: the file names carry no content hash, so every answer is `no-cache` with a strong
//! ETag (a hash of the file) and `If-None-Match` gets 304; a deploy takes effect at the next load.
//! Every answer carries a strict CSP: scripts from this origin and Atlassian's Connect `all.js`
//! only, no inline script or style, framed only by Atlassian sites (and the app itself); API calls
//! to this origin and the other regions' base URLs (a moved tenant answers 421 naming one); media
//! (presigned uploads and downloads go straight to the bucket) to the stack's own buckets only,
//! every region's (`AppConfig::media_origins`), never any bucket on S3.

use std::sync::LazyLock;

use crate::http::router::ApiRouter;
use crate::routes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};

use crate::kernel::error::{Error, Result};
use crate::state::AppState;

/// Where the console lives; `/console` redirects here.
pub const CONSOLE_PATH: &str = "/console/";
/// Atlassian's Connect JavaScript API, loaded by the console only inside the product's iframe.
pub const CONNECT_JS_ORIGIN: &str = "https://connect-cdn.atl-paas.net";
/// The products that frame the console.
pub const FRAME_ANCESTORS: &str = "'self' https://*.atlassian.net https://*.jira.com";
/// Asset answers are revalidated on every load (see the module docs).
pub const CACHE_CONTROL: &str = "no-cache";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset { name: $name, content_type: $content_type, body: include_bytes!(concat!("../../../console/", $name)) }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("api.js", JS),
    asset!("app.js", JS),
    asset!("colors.js", JS),
    asset!("conflict.js", JS),
    asset!("bounds.js", JS),
    asset!("dom.js", JS),
    asset!("fields.js", JS),
    asset!("import.js", JS),
    asset!("layout.js", JS),
    asset!("layoutmodel.js", JS),
    asset!("layoutview.js", JS),
    asset!("markup.js", JS),
    asset!("media.js", JS),
    asset!("navigation.js", JS),
    asset!("pages.js", JS),
    asset!("preview.js", JS),
    asset!("reports.js", JS),
    asset!("residency.js", JS),
    asset!("searches.js", JS),
    asset!("trash.js", JS),
];

static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS.iter().map(|asset| format!("\"{}\"", &hex::encode(Sha256::digest(asset.body))[..32])).collect()
});

pub fn routes() -> ApiRouter {
    ApiRouter::new().routes(routes!(to_index)).routes(routes!(index)).routes(routes!(file))
}

/// The console without its trailing slash: a redirect to it.
#[utoipa::path(get, path = "/console", tag = "console", responses((status = 308, description = "To `/console/`.")))]
async fn to_index() -> Redirect {
    Redirect::permanent(CONSOLE_PATH)
}

/// The admin console's page.
#[utoipa::path(get, path = CONSOLE_PATH, tag = "console", responses(
    (status = 200, description = "The console's HTML page.", content_type = "text/html"),
    (status = 304, description = "Unchanged since the `If-None-Match` ETag."),
))]
async fn index(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    serve(&state, "index.html", &headers)
}

/// One of the console's static files (scripts, style sheet).
#[utoipa::path(get, path = "/console/{file}", tag = "console", params(("file" = String, Path)), responses(
    (status = 200, description = "The file.", content_type = "text/javascript"),
    (status = 304, description = "Unchanged since the `If-None-Match` ETag."),
    (status = 404, description = "No such console file.", body = super::schema::ErrorBody),
))]
async fn file(State(state): State<AppState>, Path(name): Path<String>, headers: HeaderMap) -> Result<Response> {
    serve(&state, &name, &headers)
}

fn serve(state: &AppState, name: &str, request: &HeaderMap) -> Result<Response> {
    let index = ASSETS
        .iter()
        .position(|asset| asset.name == name)
        .ok_or_else(|| Error::not_found("not_found", "No such console file."))?;
    let (asset, etag) = (&ASSETS[index], &ETAGS[index]);
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag || tag.trim() == "*"));
    let mut response = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { asset.body.into_response() };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL));
    headers.insert(header::ETAG, HeaderValue::from_str(etag).map_err(Error::internal)?);
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&content_security_policy(state)).map_err(Error::internal)?,
    );
    Ok(response)
}

/// The console's CSP, naming every region's base URL for the API calls of a moved tenant and
/// every region's media origin for its images, uploads and downloads.
pub fn content_security_policy(state: &AppState) -> String {
    let sources = |urls: &mut dyn Iterator<Item = &str>| {
        urls.filter(|url| !url.is_empty() && url.bytes().all(|b| b.is_ascii_graphic() && b != b';' && b != b','))
            .fold(String::new(), |list, url| list + " " + url)
    };
    let media = sources(&mut state.config.media_origins.iter().map(String::as_str));
    let regions = sources(&mut state.config.regions.iter().map(|region| region.base_url.as_str()));
    format!(
        "default-src 'none'; script-src 'self' {CONNECT_JS_ORIGIN}; style-src 'self'; img-src 'self' blob:{media}; \
         connect-src 'self'{regions}{media}; frame-ancestors {FRAME_ANCESTORS}; base-uri 'none'; form-action 'none'"
    )
}
