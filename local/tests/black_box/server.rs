//! Black-box tests of the real `canopy-local` binary over real sockets: the dev install, signed
//! installs against an install-keys server on loopback, persistence across restarts, bad input.

use crate::support;

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use canopy_shared::domain::connect::jwt::{Audience, ConnectClaims, sign_hs256, sign_rs256};
use canopy_shared::domain::connect::qsh::query_string_hash;
use serde_json::{Value, json};
use support::{Server, free_port, post};

const DEV_KID: &str = "canopy-dev-install-key";
const DEV_PRIVATE_KEY: &[u8] = include_bytes!("../../../dev/install-key.pem");
const DEV_PUBLIC_KEY: &str = include_str!("../../../dev/install-key.pub.pem");

fn start(data_dir: &Path, keys_url: Option<&str>) -> Server {
    let mut command = support::command(data_dir);
    if let Some(url) = keys_url {
        command.env("CANOPY_CONNECT_KEYS_URL", url);
    }
    support::start(command)
}

/// A stand-in for Atlassian's install-keys service on loopback, serving the dev public key.
async fn key_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("addr");
    let app = Router::new().route(
        "/{kid}",
        get(|axum::extract::Path(kid): axum::extract::Path<String>| async move {
            if kid == DEV_KID { Ok(DEV_PUBLIC_KEY) } else { Err(axum::http::StatusCode::NOT_FOUND) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("time").as_secs() as i64
}

/// A signed install of its own for each delivery, as Atlassian signs them (a token is used with
/// one body only).
pub(crate) fn install_token(base: &str, client: &str, path: &str) -> String {
    static DELIVERY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let delivery = DELIVERY.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let claims = ConnectClaims {
        iss: client.into(),
        sub: Some("557058:admin".into()),
        qsh: Some(query_string_hash("POST", path, "", "")),
        aud: Some(Audience::Many(vec![base.into()])),
        iat: Some(now()),
        exp: Some(now() + 180),
        context: Some(json!({"delivery": delivery})),
    };
    sign_rs256(&claims, DEV_KID, DEV_PRIVATE_KEY).expect("sign")
}

pub(crate) fn payload(client: &str, secret: &str) -> Value {
    json!({"key": "canopy", "clientKey": client, "sharedSecret": secret, "baseUrl": "https://site.atlassian.net/wiki", "productType": "confluence", "eventType": "installed"})
}

#[tokio::test]
async fn dev_install_gives_a_working_context_token_that_survives_a_restart() {
    let data = tempfile::tempdir().expect("temp dir");
    let client = reqwest::Client::new();
    let token = {
        let server = start(data.path(), None);
        let descriptor: Value = client
            .get(format!("{}/atlassian-connect.json", server.base))
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        assert_eq!(descriptor["baseUrl"], server.base.as_str());
        let (status, body) = post(&client, &format!("{}/dev/install", server.base), None, &json!({})).await;
        assert_eq!(status, 200, "{body}");
        let token = body["contextJwt"].as_str().expect("token").to_owned();
        let response = client
            .get(format!("{}/api/tenant", server.base))
            .header("authorization", format!("JWT {token}"))
            .send()
            .await
            .expect("get");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-cache, no-store");
        let tenant: Value = response.json().await.expect("json");
        assert_eq!(
            (tenant["clientKey"].as_str(), tenant["state"].as_str()),
            (Some("canopy-dev-tenant"), Some("enabled"))
        );
        token
    };
    let server = start(data.path(), None);
    let response = client
        .get(format!("{}/api/tenant", server.base))
        .header("authorization", format!("JWT {token}"))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 200, "the tenant is still there after a restart");
}

/// The local server trusts Atlassian's sites and loopback `http` (a test client standing in for
/// Confluence), nothing else.
#[tokio::test]
async fn the_local_server_trusts_loopback_product_sites_and_nothing_else() {
    let keys = key_server().await;
    let data = tempfile::tempdir().expect("temp dir");
    let server = start(data.path(), Some(&keys));
    let client = reqwest::Client::new();
    let installed = format!("{}/lifecycle/installed", server.base);
    let trusted = ["http://127.0.0.1:9/wiki", "http://localhost:8090", "https://site.atlassian.net/wiki"];
    for (i, base_url) in trusted.iter().enumerate() {
        let client_key = format!("loopback-{i}");
        let mut body = payload(&client_key, "s3cret");
        body["baseUrl"] = json!(base_url);
        let token = install_token(&server.base, &client_key, "/lifecycle/installed");
        let (status, answer) = post(&client, &installed, Some(&token), &body).await;
        assert_eq!(status, 204, "{base_url}: {answer}");
    }
    let refused = [
        "http://10.0.0.1:8080/wiki",
        "http://169.254.169.254",
        "http://[::1]:8080",
        "http://127.0.0.1:9/wiki#",
        "http://127.0.0.1:9/wiki?x=1",
        "http://user@127.0.0.1:9",
        "https://127.0.0.1:9",
        "http://site.atlassian.net/wiki",
        "https://evil.example/wiki",
    ];
    for base_url in refused {
        let mut body = payload("refused", "s3cret");
        body["baseUrl"] = json!(base_url);
        let token = install_token(&server.base, "refused", "/lifecycle/installed");
        let (status, answer) = post(&client, &installed, Some(&token), &body).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("untrusted_base_url")), "{base_url}");
    }
}

#[tokio::test]
async fn signed_install_and_uninstall_over_http_with_a_loopback_key_service() {
    let keys = key_server().await;
    let data = tempfile::tempdir().expect("temp dir");
    let server = start(data.path(), Some(&keys));
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base);
    let client_key = "c0ffee00-1111-2222-3333-444455556666";

    let token = install_token(&server.base, client_key, "/lifecycle/installed");
    let (status, body) =
        post(&client, &url("/lifecycle/installed"), Some(&token), &payload(client_key, "s3cret")).await;
    assert_eq!(status, 204, "{body}");

    let context = sign_hs256(
        &ConnectClaims {
            iss: client_key.into(),
            sub: None,
            qsh: Some("context-qsh".into()),
            aud: None,
            iat: Some(now()),
            exp: Some(now() + 60),
            context: None,
        },
        "s3cret",
    )
    .expect("sign");
    let (status, body) =
        post(&client, &url("/lifecycle/enabled"), Some(&context), &payload(client_key, "s3cret")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthenticated")),
        "context token on a lifecycle route"
    );

    let token = install_token(&server.base, client_key, "/lifecycle/uninstalled");
    let (status, _) = post(&client, &url("/lifecycle/uninstalled"), Some(&token), &payload(client_key, "s3cret")).await;
    assert_eq!(status, 204);
    let response =
        client.get(url("/api/tenant")).header("authorization", format!("JWT {context}")).send().await.expect("get");
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn bad_input_over_sockets_gets_json_errors() {
    let keys = key_server().await;
    let data = tempfile::tempdir().expect("temp dir");
    let server = start(data.path(), Some(&keys));
    let client = reqwest::Client::new();
    let url = format!("{}/lifecycle/installed", server.base);
    let token = install_token(&server.base, "c1", "/lifecycle/installed");

    let (status, body) = post(&client, &url, None, &payload("c1", "s")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthenticated")));

    let response = client
        .post(&url)
        .header("authorization", format!("JWT {token}"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.expect("json")["error"]["code"], "malformed_json");

    let fresh = install_token(&server.base, "c1", "/lifecycle/installed");
    let response = client
        .post(&url)
        .header("authorization", format!("JWT {fresh}"))
        .header("content-type", "text/plain")
        .body(payload("c1", "s").to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 415);

    let huge = json!({"clientKey": "c1", "padding": "x".repeat(200 * 1024)});
    // The server answers 413 before reading the rest and drops the connection: use a client of
    // its own so the next requests do not land on that connection.
    let (status, body) = post(&reqwest::Client::new(), &url, Some(&token), &huge).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("payload_too_large")));

    let response = client.get(format!("{}/no/such/route", server.base)).send().await.expect("send");
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");

    // The token was used with a bad body: it cannot come back with another one.
    let (status, body) = post(&client, &url, Some(&token), &payload("c1", "s")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("install_token_reused")));
    // The control: a delivery of its own with a good body installs the tenant.
    let token = install_token(&server.base, "c1", "/lifecycle/installed");
    let (status, body) = post(&client, &url, Some(&token), &payload("c1", "s")).await;
    assert_eq!(status, 204, "{body}");
}

#[tokio::test]
async fn an_unreachable_install_keys_service_is_a_503_and_nothing_is_written() {
    let data = tempfile::tempdir().expect("temp dir");
    let closed = format!("http://127.0.0.1:{}", free_port());
    let server = start(data.path(), Some(&closed));
    let client = reqwest::Client::new();
    let token = install_token(&server.base, "c2", "/lifecycle/installed");
    let response = client
        .post(format!("{}/lifecycle/installed", server.base))
        .header("authorization", format!("JWT {token}"))
        .json(&payload("c2", "s"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(response.json::<Value>().await.expect("json")["error"]["code"], "dependency_unavailable");
    drop(server);

    // Restarted with a working key service, the tenant is unknown: nothing was written.
    let keys = key_server().await;
    let server = start(data.path(), Some(&keys));
    let token = install_token(&server.base, "c2", "/lifecycle/uninstalled");
    let (status, body) =
        post(&client, &format!("{}/lifecycle/uninstalled", server.base), Some(&token), &payload("c2", "s")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("unknown_tenant")));
}

#[tokio::test]
async fn content_routes_work_over_http_with_dev_tokens() {
    let data = tempfile::tempdir().expect("temp dir");
    let server = start(data.path(), None);
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base);
    let (_, installed) = post(&client, &url("/dev/install"), None, &json!({"clientKey": "content-dev"})).await;
    let admin = installed["contextJwt"].as_str().expect("admin token").to_owned();
    let (_, user) = post(&client, &url("/dev/token"), None, &json!({"clientKey": "content-dev", "admin": false})).await;
    let user = user["contextJwt"].as_str().expect("user token").to_owned();

    let theme = json!({"name": "Brand", "colors": {"primary": "#0052CC", "background": "#FFFFFF", "text": "#172B4D"}, "fonts": {"body": "Inter"}});
    let (status, theme) = post(&client, &url("/api/themes"), Some(&admin), &theme).await;
    assert_eq!(status, 201, "{theme}");
    let site = json!({"name": "Docs", "visibility": "public", "themeId": theme["id"]});
    let (status, body) = post(&client, &url("/api/sites"), Some(&user), &site).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("not_admin")));
    let (status, site) = post(&client, &url("/api/sites"), Some(&admin), &site).await;
    assert_eq!(status, 201, "{site}");

    let config_url = url(&format!("/api/sites/{}/config", site["id"].as_str().expect("id")));
    let response = client.get(&config_url).header("authorization", format!("JWT {user}")).send().await.expect("get");
    assert_eq!(response.status(), 200);
    let etag = response.headers()["etag"].to_str().expect("etag").to_owned();
    let config: Value = response.json().await.expect("json");
    assert_eq!(config["theme"]["colors"]["primary"], "#0052CC");
    let response = client
        .get(&config_url)
        .header("authorization", format!("JWT {user}"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 304);
}

/// Runs `canopy-local <args>` to completion off the async runtime (the test's fake servers keep
/// serving meanwhile); answers (success, stdout, stderr).
async fn run_cli(data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_canopy-local"));
    command.args(args).env("CANOPY_DATA_DIR", data_dir).env_remove("CANOPY_BASE_URL").env("RUST_LOG", "warn");
    let output = tokio::task::spawn_blocking(move || command.output()).await.expect("join").expect("run canopy-local");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

#[tokio::test]
async fn feedback_me_and_operator_usage_work_over_http() {
    let data = tempfile::tempdir().expect("temp dir");
    let server = start(data.path(), None);
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base);
    let (_, installed) = post(&client, &url("/dev/install"), None, &json!({"clientKey": "feedback-dev"})).await;
    let admin = installed["contextJwt"].as_str().expect("admin token").to_owned();
    let (_, user) =
        post(&client, &url("/dev/token"), None, &json!({"clientKey": "feedback-dev", "admin": false})).await;
    let user = user["contextJwt"].as_str().expect("user token").to_owned();
    let (status, site) =
        post(&client, &url("/api/sites"), Some(&admin), &json!({"name": "Docs", "visibility": "public"})).await;
    assert_eq!(status, 201, "{site}");

    let feedback = json!({"siteId": site["id"], "rating": 4, "text": "Helpful", "contactable": true});
    let (status, created) = post(&client, &url("/api/feedback"), Some(&user), &feedback).await;
    assert_eq!((status, created["contactAccountId"].as_str()), (201, Some("557058:canopy-dev-user")), "{created}");
    let (status, body) = post(&client, &url("/api/feedback"), Some(&user), &json!({"siteId": site["id"]})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("empty_feedback")));

    let get = |path: String, token: String| {
        let client = client.clone();
        async move {
            let response = client.get(path).header("authorization", format!("JWT {token}")).send().await.expect("get");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.expect("json"))
        }
    };
    let (status, body) = get(url("/api/feedback"), user.clone()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("not_admin")));
    let (status, page) =
        get(url(&format!("/api/feedback?siteId={}", site["id"].as_str().expect("id"))), admin.clone()).await;
    assert_eq!((status, page["items"][0]["id"].clone()), (200, created["id"].clone()));
    let (status, me) = get(url("/api/me"), user.clone()).await;
    assert_eq!((status, me["accountId"].as_str()), (200, Some("557058:canopy-dev-user")));

    // Locally the operator routes need no IAM signature.
    let (status, days) = get(url("/ops/usage"), String::new()).await;
    assert_eq!((status, days["items"].clone()), (200, json!([])));
}

/// A stand-in for a tenant's report-accounts API: checks the app JWT against the tenant's
/// secret and the qsh of the request it received, answers `closed` for one account.
async fn report_accounts_server(
    secret: &'static str,
    closed: &'static str,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<usize>>>) {
    use axum::http::{HeaderMap, Method, Uri};
    use canopy_shared::domain::connect::jwt::{QshRule, verify_hs256};
    let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = calls.clone();
    let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: axum::body::Bytes| {
        let seen = seen.clone();
        async move {
            let token = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("JWT "))
                .unwrap_or_default()
                .to_owned();
            let qsh = query_string_hash(method.as_str(), uri.path(), uri.query().unwrap_or(""), "/wiki");
            if verify_hs256(&token, secret, QshRule::Request(&qsh), Some(now())).is_err() {
                return (axum::http::StatusCode::UNAUTHORIZED, axum::Json(json!({}))).into_response();
            }
            let request: Value = serde_json::from_slice(&body).unwrap_or_default();
            let accounts = request["accounts"].as_array().cloned().unwrap_or_default();
            seen.lock().expect("lock").push(accounts.len());
            let statuses: Vec<Value> = accounts
                .iter()
                .filter(|a| a["accountId"] == closed)
                .map(|a| json!({"accountId": a["accountId"], "status": "closed"}))
                .collect();
            axum::Json(json!({"accounts": statuses})).into_response()
        }
    };
    use axum::response::IntoResponse;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("addr");
    let app = Router::new().route("/wiki/rest/atlassian-connect/latest/report-accounts", axum::routing::post(handler));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/wiki"), calls)
}

#[tokio::test]
async fn the_jobs_run_once_from_the_command_line_and_print_counts() {
    let keys = key_server().await;
    let (site_url, calls) = report_accounts_server("cli-secret", "557058:closed-user").await;
    let data = tempfile::tempdir().expect("temp dir");
    let client_key = "cli-tenant";
    {
        let server = start(data.path(), Some(&keys));
        let client = reqwest::Client::new();
        let token = install_token(&server.base, client_key, "/lifecycle/installed");
        let install = json!({"key": "canopy", "clientKey": client_key, "sharedSecret": "cli-secret", "baseUrl": site_url, "productType": "confluence", "eventType": "installed"});
        let (status, body) =
            post(&client, &format!("{}/lifecycle/installed", server.base), Some(&token), &install).await;
        assert_eq!(status, 204, "{body}");
        for account in ["557058:closed-user", "557058:kept-user"] {
            let context = sign_hs256(
                &ConnectClaims {
                    iss: client_key.into(),
                    sub: Some(account.into()),
                    qsh: Some("context-qsh".into()),
                    aud: None,
                    iat: Some(now()),
                    exp: Some(now() + 60),
                    context: None,
                },
                "cli-secret",
            )
            .expect("sign");
            let response = client
                .get(format!("{}/api/me", server.base))
                .header("authorization", format!("JWT {context}"))
                .send()
                .await
                .expect("get");
            assert_eq!(response.status(), 200);
        }
        // The store belongs to the running server: a job refuses to share it.
        let (ok, _, stderr) = run_cli(data.path(), &["usage-snapshot"]).await;
        assert!(!ok && stderr.contains("stop it first"), "{stderr}");
    }

    let (ok, stdout, stderr) = run_cli(data.path(), &["privacy-report"]).await;
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("privacy-report: 1 tenants due: 1 completed"), "{stdout}");
    assert!(stdout.contains("reports sent 1, accounts reported 2, closed 1 (user records erased 1"), "{stdout}");
    assert_eq!(*calls.lock().expect("lock"), [2]);
    let (ok, stdout, _) = run_cli(data.path(), &["privacy-report"]).await;
    assert!(ok && stdout.contains("privacy-report: 0 tenants due"), "not due again before its cycle: {stdout}");

    let (ok, stdout, stderr) = run_cli(data.path(), &["usage-snapshot", "--date", "2026-01-15"]).await;
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("usage-snapshot 2026-01-15: written"), "{stdout}");
    assert!(stdout.contains("tenants 1, sites 0"), "{stdout}");
    let (ok, stdout, _) = run_cli(data.path(), &["usage-snapshot", "--date", "2026-01-15"]).await;
    assert!(ok && stdout.contains("already taken at"), "one result per day: {stdout}");
    let (ok, _, stderr) = run_cli(data.path(), &["usage-snapshot", "--date", "15/01/2026"]).await;
    assert!(!ok && stderr.contains("not yyyy-mm-dd"), "{stderr}");

    let server = start(data.path(), Some(&keys));
    let day: Value =
        reqwest::get(format!("{}/ops/usage/2026-01-15", server.base)).await.expect("get").json().await.expect("json");
    assert_eq!(day["perTenant"][0]["clientKey"], client_key, "{day}");
}

/// `docs/openapi.json` is what `canopy-local openapi` prints, and the server serves the same.
#[tokio::test]
async fn the_committed_openapi_document_is_current_and_served() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json"))
        .expect("docs/openapi.json exists");
    let output = Command::new(env!("CARGO_BIN_EXE_canopy-local")).arg("openapi").output().expect("run");
    assert!(output.status.success());
    let generated = String::from_utf8(output.stdout).expect("UTF-8");
    assert!(
        generated == committed,
        "docs/openapi.json is stale: run `cargo run -p canopy-local -- openapi > docs/openapi.json`"
    );
    let data = tempfile::tempdir().expect("temp dir");
    let server = start(data.path(), None);
    let response = reqwest::get(format!("{}/openapi.json", server.base)).await.expect("get");
    assert_eq!(response.status().as_u16(), 200);
    let served: Value = response.json().await.expect("JSON");
    assert_eq!(served, serde_json::from_str::<Value>(&committed).expect("committed JSON"));
    assert!(served["paths"]["/api/sites/{site_id}"]["put"].is_object());
}

/// Locally each region serves its media itself: the console's CSP names the two regions' own
/// origins for images and uploads, and no bucket anywhere (issue 20, item 9).
#[tokio::test]
async fn the_console_csp_names_each_local_regions_own_origin_for_media() {
    let dir = tempfile::tempdir().expect("dir");
    let server = start(dir.path(), None);
    let port: u16 = server.base.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).expect("port");
    let eu = format!("http://127.0.0.1:{}", port + 1);
    let response = reqwest::get(format!("{}/console/", server.base)).await.expect("GET");
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"].to_str().expect("ascii").to_owned();
    let directive = |name: &str| {
        csp.split(';')
            .map(str::trim)
            .find(|d| d.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {csp}"))
            .to_owned()
    };
    assert_eq!(directive("img-src"), format!("img-src 'self' blob: {} {eu}", server.base));
    assert!(directive("connect-src").ends_with(&format!("{} {eu}", server.base)), "{csp}");
    assert!(!csp.contains("amazonaws"), "{csp}");
}
