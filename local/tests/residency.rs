//! Black-box test of the local two-region mode: the real `canopy-local` binary serving `us` and
//! `eu` on two loopback ports, a migration driven through real sockets, the old region answering
//! 421 with the new base URL, and `canopy-local residency-status` following the tenant there.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Two free ports in a row: `--two-regions` serves the other region on the next port.
fn free_port_pair() -> u16 {
    for _ in 0..50 {
        let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no two free loopback ports in a row");
}

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
    let port = free_port_pair();
    let (us, eu) = (format!("http://127.0.0.1:{port}"), format!("http://127.0.0.1:{}", port + 1));
    let child = Command::new(env!("CARGO_BIN_EXE_canopy-local"))
        .args(["--two-regions", "--listen", &format!("127.0.0.1:{port}")])
        .env("CANOPY_DATA_DIR", dir.path())
        .env_remove("CANOPY_BASE_URL")
        .env_remove("CANOPY_REGIONS")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start canopy-local");
    let _server = Server(child);
    wait_for(port);
    wait_for(port + 1);

    let (status, body) = call(reqwest::Method::POST, &format!("{us}/dev/install"), None, None).await;
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
