//! The OpenAPI document and the routers come from one declaration: no route may bypass it, and
//! every documented operation is answered by the router (not the unknown-route fallback).

use axum::body::Body;
use axum::http::Request;
use canopy_shared::http::openapi::{self, Caller};
use canopy_shared::http::ops::OperatorAccess;
use support::app::TestApp;

fn operations() -> Vec<(String, String)> {
    support::app::documented_operations().into_iter().map(|(method, path, _)| (method.to_string(), path)).collect()
}

/// Files that call the router directly: the registrar of documented routes (`routes!` hands it
/// each handler's declared path and methods; it also serves a finished router wrapped in its
/// layers as the fallback of an empty one), and the one router outside the document, the local
/// server's stand-in for presigned S3 URLs (`/local-media/…`), which are not Canopy's API but the
/// bucket's.
const UNDOCUMENTED_ROUTERS: &[&str] = &["shared/src/http/router.rs", "shared/src/adapters/media/local.rs"];

#[test]
fn no_route_is_registered_outside_the_document() {
    let root = support::repo::root();
    let mut files = Vec::new();
    for dir in ["shared/src", "local/src", "functions"] {
        support::repo::rust_files(&root.join(dir), &mut files);
    }
    let mut offenders = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&root).expect("inside").to_string_lossy().replace('\\', "/");
        if UNDOCUMENTED_ROUTERS.contains(&relative.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("read");
        offenders.extend(route_calls(&text).into_iter().map(|(n, line)| format!("{relative}:{n}: {line}")));
    }
    assert!(files.len() > 20, "the scan found the sources ({} files)", files.len());
    assert!(offenders.is_empty(), "routes registered without #[utoipa::path] + routes!: {offenders:#?}");
}

/// Lines (1-based) that register a route without its declaration. `.routes(routes!(…))` is the
/// documented way; every other router call adds routes the document cannot see.
fn route_calls(text: &str) -> Vec<(usize, String)> {
    const CALLS: &[&str] = &[".route(", ".route_service(", ".nest(", ".nest_service(", ".fallback_service("];
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//") && CALLS.iter().any(|call| line.contains(call)))
        .map(|(n, line)| (n + 1, line.trim().to_owned()))
        .collect()
}

#[test]
fn the_scan_tells_declared_routes_from_bypasses() {
    let declared = "ApiRouter::new()\n    .routes(routes!(list, create))\n    .merge(other())";
    assert!(route_calls(declared).is_empty());
    let bypass = "ApiRouter::new()\n    .routes(routes!(list))\n    .route(\"/api/secret\", get(secret))";
    assert_eq!(route_calls(bypass), vec![(3, ".route(\"/api/secret\", get(secret))".to_owned())]);
    assert_eq!(route_calls("r.nest(\"/v2\", inner)").len(), 1);
}

fn example_path(template: &str) -> String {
    template
        .replace("{hook}", "start")
        .replace("{date}", "2026-01-15")
        .split('/')
        .map(|segment| if segment.starts_with('{') { "01JB0000000000000000000000" } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = TestApp::new();
    let router = canopy_shared::http::finish(openapi::product_routes(OperatorAccess::Local), app.state.clone());
    for (method, template) in operations() {
        let request = Request::builder()
            .method(method.as_str())
            .uri(example_path(&template))
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .expect("request");
        let response = tower::ServiceExt::oneshot(router.clone(), request).await.expect("answer");
        let status = response.status().as_u16();
        let bytes = http_body_util::BodyExt::collect(response.into_body()).await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            status != 405 && !text.contains("\"unknown_route\""),
            "{method} {template} is documented but not routed: {status} {text}"
        );
    }
}

#[test]
fn every_operation_names_its_callers_and_error_shape() {
    let document = openapi::complete(openapi::product_routes(OperatorAccess::Local).into_openapi());
    let value = serde_json::to_value(&document).expect("serializes");
    for (method, path) in operations() {
        let operation = &value["paths"][&path][method.to_lowercase()];
        let needs_auth = openapi::caller_of(&path) != Caller::Anyone;
        assert_eq!(operation["security"].is_array(), needs_auth, "{method} {path}: security");
        if needs_auth {
            let unauthorized = if openapi::caller_of(&path) == Caller::Operator { "403" } else { "401" };
            assert_eq!(
                operation["responses"][unauthorized]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{method} {path}: {unauthorized} documented with the error body"
            );
        }
        assert!(operation["tags"].is_array(), "{method} {path}: tagged");
    }
    let dare = canopy_shared::domain::connect::descriptor::DARE_MIGRATION_PATH;
    assert!(value["paths"][format!("{dare}/status")].is_object(), "the descriptor's dare-migration path is served");
    assert!(value["paths"][format!("{dare}/{{hook}}")].is_object());
}
