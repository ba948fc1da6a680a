//! The local server's own protections (issue 20, item 8): dev routes only for requests to its own
//! address and only as JSON posts, the security headers on `/local-media/…` too, a data dir and
//! key files for their user alone, and a warning when it listens beyond loopback.

use crate::support;

use std::io::BufRead;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Enough of a PNG for the completion check: the signature, then anything.
const PNG_START: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01";

fn port_of(base: &str) -> u16 {
    base.rsplit_once(':').and_then(|(_, port)| port.parse().ok()).expect("port")
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn dev_routes_answer_only_requests_for_the_listen_address_and_json_posts() {
    let dir = tempfile::tempdir().expect("dir");
    let server = support::start(support::command(dir.path()));
    let port = port_of(&server.base);
    let client = reqwest::Client::new();
    let install = format!("{}/dev/install", server.base);
    let key = format!("{}/dev/install-keys/canopy-dev-install-key", server.base);
    let token = format!("{}/dev/token", server.base);

    // A page whose own name resolves to 127.0.0.1 (DNS rebinding) sends its name as Host.
    for host in [
        format!("evil.example:{port}"),
        "evil.example".to_owned(),
        format!("127.0.0.1.evil.example:{port}"),
        format!("localhost.evil.example:{port}"),
        format!("127.0.0.1:{}", port + 7),
    ] {
        let (status, body) =
            json_of(client.post(&install).header("host", &host).json(&json!({})).send().await.expect("post")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("dev_wrong_host")), "{host}: {body}");
        let (status, _) = json_of(client.get(&key).header("host", &host).send().await.expect("get")).await;
        assert_eq!(status, 403, "{host}: the key route too");
    }
    // A form or a plain-text post needs no preflight from another origin: refused.
    for content_type in
        [None, Some("text/plain"), Some("application/x-www-form-urlencoded"), Some("multipart/form-data; boundary=x")]
    {
        let mut request = client.post(&install).body("{}");
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let (status, body) = json_of(request.send().await.expect("post")).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (415, Some("unsupported_media_type")),
            "{content_type:?}: {body}"
        );
    }
    let unknown =
        json_of(client.post(&token).json(&json!({"clientKey": "canopy-dev-tenant"})).send().await.expect("post")).await;
    assert_eq!(unknown.0, 404, "nothing was installed by the refused requests: {}", unknown.1);

    // The listen address, and its loopback names for a developer's browser.
    let (status, body) = json_of(
        client.post(&install).header("host", format!("localhost:{port}")).json(&json!({})).send().await.expect("post"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) =
        json_of(client.post(&install).body("").header("content-type", "application/json").send().await.expect("post"))
            .await;
    assert_eq!(status, 200, "an empty JSON post installs the dev tenant: {body}");
}

#[tokio::test]
async fn local_media_answers_carry_the_security_headers() {
    let dir = tempfile::tempdir().expect("dir");
    let server = support::start(support::command(dir.path()));
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base);
    let (status, installed) = support::post(&client, &url("/dev/install"), None, &json!({})).await;
    assert_eq!(status, 200, "{installed}");
    let jwt = installed["contextJwt"].as_str().expect("token");
    let ticket = json!({"purpose": "logo", "contentType": "image/png", "size": PNG_START.len()});
    let (status, ticket) = support::post(&client, &url("/api/media/uploads"), Some(jwt), &ticket).await;
    assert_eq!(status, 201, "{ticket}");

    let check = |response: &reqwest::Response, what: &str| {
        let headers = response.headers();
        assert_eq!(headers.get("x-content-type-options").map(|v| v.as_bytes()), Some(&b"nosniff"[..]), "{what}");
        assert_eq!(headers.get("referrer-policy").map(|v| v.as_bytes()), Some(&b"no-referrer"[..]), "{what}");
        assert!(headers.contains_key("cache-control"), "{what}");
    };
    let upload = client
        .put(ticket["upload"]["url"].as_str().expect("url"))
        .header("content-type", "image/png")
        .body(PNG_START.to_vec())
        .send()
        .await
        .expect("PUT");
    assert_eq!(upload.status(), 200);
    check(&upload, "the upload");
    let id = ticket["media"]["id"].as_str().expect("id");
    let (status, body) =
        support::post(&client, &url(&format!("/api/media/{id}/complete")), Some(jwt), &json!({})).await;
    assert_eq!(status, 200, "{body}");
    let media = client
        .get(url(&format!("/api/media/{id}")))
        .header("authorization", format!("JWT {jwt}"))
        .send()
        .await
        .expect("GET");
    let media: Value = media.json().await.expect("json");
    let download = client.get(media["url"].as_str().expect("download url")).send().await.expect("GET");
    assert_eq!(download.status(), 200);
    check(&download, "the download");
    assert_eq!(download.headers()["cache-control"], "private, max-age=300", "its own caching is kept");
    assert_eq!(download.headers()["content-security-policy"], "default-src 'none'; sandbox");

    let refused =
        client.get(url("/local-media/tenants/x/pinned/y/z?rct=a&rcd=b&exp=1&sig=00")).send().await.expect("GET");
    assert_eq!(refused.status(), 403);
    check(&refused, "a refused URL");
    assert_eq!(refused.headers()["cache-control"], "no-cache, no-store");
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

#[tokio::test]
async fn the_data_dir_and_every_key_file_are_for_their_user_alone() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("new").join("data");
    // A key file an older version wrote with the usual mode.
    let existing = dir.path().join("old");
    std::fs::create_dir_all(&existing).expect("dir");
    std::fs::write(existing.join("media-signing.key"), [7u8; 32]).expect("write");
    std::fs::set_permissions(existing.join("media-signing.key"), std::fs::Permissions::from_mode(0o644))
        .expect("chmod");

    for data_dir in [&data, &existing] {
        let server = support::start(support::command(data_dir));
        let client = reqwest::Client::new();
        let (status, body) = support::post(&client, &format!("{}/dev/install", server.base), None, &json!({})).await;
        assert_eq!(status, 200, "{body}");
        drop(server);
        for key_file in ["media-signing.key", canopy_shared::adapters::secrets::local::KEYRING_FILE] {
            assert_eq!(mode(&data_dir.join(key_file)), 0o600, "{key_file}");
        }
        assert_eq!(mode(&data_dir.join("region-eu").join("media-signing.key")), 0o600, "the second region's key");
    }
    for created in [dir.path().join("new"), data.clone(), data.join("media"), data.join("region-eu")] {
        assert_eq!(mode(&created), 0o700, "{}", created.display());
    }
}

/// Starts the server on `listen`, reads its output until the banner's last region line, stops
/// it and answers what it wrote to stderr.
fn stderr_of_a_start(listen: &str) -> String {
    let dir = tempfile::tempdir().expect("dir");
    let mut child = support::command(dir.path())
        .env("CANOPY_LISTEN", listen)
        .arg("--one-region")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start canopy-local");
    let stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let (lines, read) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.checked_duration_since(Instant::now()).expect("the banner within 30 s");
        match read.recv_timeout(left) {
            Ok(line) if line.contains("(home region)") => break,
            Ok(_) => {}
            Err(e) => panic!("no banner: {e}"),
        }
    }
    let _ = child.kill();
    let output = child.wait_with_output().expect("wait");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn listening_beyond_loopback_prints_a_warning() {
    let everywhere = stderr_of_a_start(&format!("0.0.0.0:{}", support::free_port()));
    assert!(everywhere.contains("WARNING: listening on 0.0.0.0:"), "{everywhere}");
    assert!(everywhere.contains("not a loopback address"), "{everywhere}");
    let loopback = stderr_of_a_start(&format!("127.0.0.1:{}", support::free_port()));
    assert!(!loopback.contains("WARNING"), "{loopback}");
}
