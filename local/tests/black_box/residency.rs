//! Black-box tests of the local server's two regions, started as the README starts it (no flag):
//! the real `canopy-local` binary serving `us` and `eu` on two loopback ports, a migration driven through real sockets, the old region answering
//! 421 with the new base URL, and `canopy-local residency-status` following the tenant there.

use crate::support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn wait_for(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("canopy-local did not listen on {port} within 20 s");
}

async fn call(method: reqwest::Method, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(token) = token {
        request = request.header("authorization", format!("JWT {token}"));
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn dev_token(base: &str) -> String {
    let (status, body) = call(
        reqwest::Method::POST,
        &format!("{base}/dev/token"),
        None,
        Some(json!({"clientKey": "canopy-dev-tenant"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["contextJwt"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn a_migration_between_two_local_regions_by_hand() {
    let dir = tempfile::tempdir().expect("dir");
    let server = support::start(support::command(dir.path()));
    let us = server.base.clone();
    let port: u16 = us.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).expect("port");
    let eu = format!("http://127.0.0.1:{}", port + 1);
    wait_for(port + 1);

    let (status, body) = call(reqwest::Method::POST, &format!("{us}/dev/install"), None, Some(json!({}))).await;
    assert_eq!(status, 200, "{body}");
    let token = body["contextJwt"].as_str().expect("token").to_owned();
    let site = json!({"name": "Docs", "spaces": ["DOC"], "customDomains": [], "visibility": "public"});
    let (status, body) = call(reqwest::Method::POST, &format!("{us}/api/sites"), Some(&token), Some(site)).await;
    assert_eq!(status, 201, "{body}");
    let site_path = format!("/api/sites/{}", body["id"].as_str().expect("id"));
    let (status, body) = call(reqwest::Method::GET, &format!("{us}/api/residency"), Some(&token), None).await;
    assert_eq!((status, body["region"].as_str()), (200, Some("us")), "{body}");
    assert_eq!(body["regions"], json!(["eu", "us"]));

    let (status, body) = call(
        reqwest::Method::POST,
        &format!("{us}/api/residency/migrations"),
        Some(&token),
        Some(json!({"region": "eu"})),
    )
    .await;
    assert_eq!(status, 202, "{body}");

    // The CLI watches the migration to its end, following the tenant to its new region.
    let mut watch = Command::new(env!("CARGO_BIN_EXE_canopy-local"));
    watch.args(["residency-status", "--server", &us, "--watch"]);
    let output = tokio::task::spawn_blocking(move || watch.output()).await.expect("join").expect("residency-status");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{printed} {}", String::from_utf8_lossy(&output.stderr));
    let last = printed.lines().last().expect("a line");
    assert!(last.contains("region eu") && last.contains("switched") && last.contains("read-only"), "{printed}");

    let (status, body) = call(reqwest::Method::GET, &format!("{us}{site_path}"), Some(&token), None).await;
    assert_eq!(status, 421, "{body}");
    assert_eq!(body["error"]["baseUrl"].as_str(), Some(eu.as_str()));
    let eu_token = dev_token(&eu).await;
    let (status, body) = call(reqwest::Method::GET, &format!("{eu}{site_path}"), Some(&eu_token), None).await;
    assert_eq!((status, body["name"].as_str()), (200, Some("Docs")), "{body}");
    let (status, body) = call(reqwest::Method::GET, &format!("{eu}/api/residency"), Some(&eu_token), None).await;
    assert_eq!((status, body["migration"]["phase"].as_str()), (200, Some("switched")), "{body}");
    assert!(body["rollbackUntil"].is_string(), "{body}");
}

/// The server on `--listen 127.0.0.1:0` with `args`, and the banner lines it printed up to its
/// region lines (every region it serves, then the one-region note if it serves one).
fn start_on_any_port(dir: &std::path::Path, args: &[&str]) -> (support::Server, Vec<String>) {
    use std::io::BufRead;
    let mut child = support::command(dir)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start canopy-local");
    let stdout = child.stdout.take().expect("stdout");
    let mut server = support::Server { child, base: String::new() };
    // Read on a thread that keeps draining: the server logs to stdout after its banner.
    let (lines, banner_lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    // Log lines (the keyring created on a first start) may come before the banner.
    const BANNER_START: &str = "Canopy local server listening on ";
    let mut banner = Vec::new();
    while let Ok(line) = banner_lines.recv_timeout(Duration::from_secs(30)) {
        if banner.is_empty() && !line.starts_with(BANNER_START) {
            continue;
        }
        let done = line.contains("region eu") || line.contains("one region");
        banner.push(line);
        if done {
            break;
        }
    }
    let first = banner.first().expect("a banner");
    server.base = first.strip_prefix(BANNER_START).expect("listening on URL").to_owned();
    (server, banner)
}

/// The URL a banner line `  region NAME URL (...)` names.
fn region_url(banner: &[String], name: &str) -> Option<String> {
    let line = banner.iter().find(|l| l.trim_start().starts_with(&format!("region {name} ")))?;
    line.split_whitespace().nth(2).map(str::to_owned)
}

#[tokio::test]
async fn listen_port_zero_serves_both_regions_on_ports_of_its_choosing() {
    let dir = tempfile::tempdir().expect("dir");
    let (server, banner) = start_on_any_port(dir.path(), &[]);
    let us = region_url(&banner, "us").expect("us in the banner");
    let eu = region_url(&banner, "eu").expect("eu in the banner");
    assert_eq!(us, server.base, "{banner:?}");
    assert!(!us.ends_with(":0") && !eu.ends_with(":0") && us != eu, "{banner:?}");

    let (status, body) = call(reqwest::Method::POST, &format!("{us}/dev/install"), None, Some(json!({}))).await;
    assert_eq!(status, 200, "{body}");
    let token = body["contextJwt"].as_str().expect("token").to_owned();
    let (status, body) = call(reqwest::Method::GET, &format!("{us}/api/residency"), Some(&token), None).await;
    assert_eq!((status, &body["regions"]), (200, &json!(["eu", "us"])), "{body}");
    let (status, body) = call(reqwest::Method::GET, &format!("{eu}/atlassian-connect.json"), None, None).await;
    assert_eq!((status, body["baseUrl"].as_str()), (200, Some(eu.as_str())), "{body}");
}

#[tokio::test]
async fn one_region_on_request() {
    let dir = tempfile::tempdir().expect("dir");
    let (server, banner) = start_on_any_port(dir.path(), &["--one-region"]);
    assert_eq!(region_url(&banner, "eu"), None, "{banner:?}");
    let us = server.base.clone();
    let (status, body) = call(reqwest::Method::POST, &format!("{us}/dev/install"), None, Some(json!({}))).await;
    assert_eq!(status, 200, "{body}");
    let token = body["contextJwt"].as_str().expect("token").to_owned();
    let (status, body) = call(reqwest::Method::GET, &format!("{us}/api/residency"), Some(&token), None).await;
    assert_eq!((status, &body["regions"]), (200, &json!(["us"])), "{body}");
}
