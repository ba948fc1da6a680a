//! The admin console's static files through the router: every file of `console/` served with its
//! type, the embedded bytes equal to the files on disk, ETag revalidation, the CSP, bad paths.
//! The console itself is tested in Chromium by `console/tests/` (the `browser` step).

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, Response, header};
use canopy_shared::http::{console, finish};
use canopy_shared::kernel::config::AppConfig;
use canopy_shared::kernel::config::regions::RegionSpec;
use http_body_util::BodyExt;
use support::app::TestApp;
use tower::ServiceExt;

fn console_dir() -> PathBuf {
    support::repo::root().join("console")
}

fn app() -> (TestApp, axum::Router) {
    let app = TestApp::new();
    let router = finish(console::routes(), app.state.clone());
    (app, router)
}

async fn get(router: &axum::Router, path: &str, if_none_match: Option<&str>) -> (Response<Body>, Vec<u8>) {
    let mut request = Request::get(path);
    if let Some(tag) = if_none_match {
        request = request.header(header::IF_NONE_MATCH, tag);
    }
    let response = router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes().to_vec();
    (Response::from_parts(parts, Body::empty()), bytes)
}

fn header_of(response: &Response<Body>, name: header::HeaderName) -> &str {
    response.headers().get(&name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

#[tokio::test]
async fn every_console_file_is_served_as_it_is_on_disk_with_its_type() {
    let (_app, router) = app();
    let mut served = 0;
    for entry in std::fs::read_dir(console_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let expected_type = match path.extension().and_then(|e| e.to_str()) {
            Some("html") => "text/html; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("js") => "text/javascript; charset=utf-8",
            _ => continue, // package.json, tsconfig.json, types.d.ts, tests/: never served
        };
        let (response, body) = get(&router, &format!("/console/{name}"), None).await;
        assert_eq!(response.status(), 200, "{name} is in console/ but not served: add it to ASSETS");
        assert_eq!(body, std::fs::read(&path).unwrap(), "{name}: the binary serves another version");
        assert_eq!(header_of(&response, header::CONTENT_TYPE), expected_type, "{name}");
        assert_eq!(header_of(&response, header::CACHE_CONTROL), console::CACHE_CONTROL, "{name}");
        assert_eq!(header_of(&response, header::X_CONTENT_TYPE_OPTIONS), "nosniff", "{name}");
        assert!(header_of(&response, header::ETAG).starts_with('"'), "{name}");
        served += 1;
    }
    // Screens are added as modules of their own; the count only guards against an empty folder.
    assert!(served >= 10, "console/ should hold at least the 10 files the console started with, not {served}");
    let (index, body) = get(&router, console::CONSOLE_PATH, None).await;
    assert_eq!(index.status(), 200);
    assert_eq!(body, std::fs::read(console_dir().join("index.html")).unwrap());
}

#[tokio::test]
async fn a_matching_if_none_match_gets_304_without_a_body() {
    let (_app, router) = app();
    let (first, _) = get(&router, "/console/app.js", None).await;
    let etag = header_of(&first, header::ETAG).to_owned();
    let (again, body) = get(&router, "/console/app.js", Some(&format!("\"other\", {etag}"))).await;
    assert_eq!(again.status(), 304);
    assert!(body.is_empty());
    assert_eq!(header_of(&again, header::ETAG), etag);
    assert_eq!(header_of(&again, header::CACHE_CONTROL), console::CACHE_CONTROL);
    let (stale, body) = get(&router, "/console/app.js", Some("\"an-older-version\"")).await;
    assert_eq!(stale.status(), 200);
    assert!(!body.is_empty());
    let (other_file, _) = get(&router, "/console/api.js", None).await;
    assert_ne!(header_of(&other_file, header::ETAG), etag, "each file has its own tag");
}

#[tokio::test]
async fn the_bare_path_redirects_and_unknown_files_are_json_404s() {
    let (_app, router) = app();
    let (redirect, _) = get(&router, "/console", None).await;
    assert_eq!(redirect.status(), 308);
    assert_eq!(header_of(&redirect, header::LOCATION), console::CONSOLE_PATH);
    for path in ["/console/missing.js", "/console/..%2Fsecret", "/console/tests", "/console/package.json"] {
        let (response, body) = get(&router, path, None).await;
        assert_eq!(response.status(), 404, "{path}");
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"]["code"], "not_found", "{path}");
    }
    let (nested, _) = get(&router, "/console/tests/console.test.mjs", None).await;
    assert_eq!(nested.status(), 404);
}

#[tokio::test]
async fn the_csp_allows_no_inline_code_and_names_every_region_and_its_bucket_only() {
    let (mut app, _) = app();
    let mut config = AppConfig::new("https://us.canopy.example");
    config.regions =
        vec![RegionSpec::new("us", "https://us.canopy.example"), RegionSpec::new("eu", "https://eu.canopy.example/")];
    config.media_origins = vec![
        "https://canopy-media-us.s3.us-east-1.amazonaws.com".into(),
        "https://canopy-media-eu.s3.eu-central-1.amazonaws.com".into(),
    ];
    app.state.stack.config = Arc::new(config);
    let router = finish(console::routes(), app.state.clone());
    let (response, _) = get(&router, console::CONSOLE_PATH, None).await;
    let csp = header_of(&response, header::CONTENT_SECURITY_POLICY);
    assert_eq!(
        csp,
        "default-src 'none'; script-src 'self' https://connect-cdn.atl-paas.net; style-src 'self'; \
         img-src 'self' blob: https://canopy-media-us.s3.us-east-1.amazonaws.com \
         https://canopy-media-eu.s3.eu-central-1.amazonaws.com; \
         connect-src 'self' https://us.canopy.example https://eu.canopy.example \
         https://canopy-media-us.s3.us-east-1.amazonaws.com https://canopy-media-eu.s3.eu-central-1.amazonaws.com; \
         frame-ancestors 'self' https://*.atlassian.net https://*.jira.com; base-uri 'none'; form-action 'none'"
    );
    assert_eq!(console::content_security_policy(&app.state), csp);
}

/// `export const NAME = <a product of integers>;` in a console module.
fn console_const(file: &str, name: &str) -> u64 {
    let text = std::fs::read_to_string(console_dir().join(file)).unwrap();
    let line = text
        .lines()
        .find_map(|line| line.strip_prefix(&format!("export const {name} = ")))
        .unwrap_or_else(|| panic!("{file} has no {name}"));
    line.trim_end_matches(';').split('*').map(|n| n.trim().parse::<u64>().expect("an integer")).product()
}

#[test]
fn the_console_checks_canopys_own_bounds() {
    use canopy_shared::domain::content::model::navigation;
    use canopy_shared::domain::media::Purpose;
    assert_eq!(console_const("navigation.js", "MAX_DEPTH"), navigation::MAX_DEPTH as u64);
    assert_eq!(console_const("navigation.js", "MAX_ITEMS"), navigation::MAX_ITEMS as u64);
    let (types, largest) = Purpose::Logo.rules();
    assert_eq!(console_const("media.js", "MAX_LOGO_BYTES"), largest);
    let media = std::fs::read_to_string(console_dir().join("media.js")).unwrap();
    let listed = format!(
        "export const LOGO_TYPES = [{}];",
        types.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ")
    );
    assert!(media.contains(&listed), "media.js should say {listed}");
}
