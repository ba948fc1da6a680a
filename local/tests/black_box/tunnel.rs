//! `canopy-local --tunnel`, offline: a stand-in tunnel client (a shell line printing its URL among
//! other lines, as cloudflared does) in place of a real one. The served descriptor names the
//! tunnel, installs are verified with Atlassian's keys under the data dir's own app key, nothing
//! of the dev routes or the operator routes is reachable, and the printed steps name the
//! descriptor URL.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support;

const FAKE_URL: &str = "https://fake-tunnel.example.test";
/// Prints a documentation link first (not the tunnel), then the tunnel's URL in a box.
const FAKE_CLIENT: &str = "printf 'INF see https://developers.cloudflare.com/docs for more\\nINF |  https://fake-tunnel.example.test  |\\n' >&2; exec sleep 60";

struct Running {
    child: Child,
    base: String,
    banner: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        // SIGINT: the server shuts down and its tunnel client with it.
        let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary with `args` and reads its banner to the end of the printed steps.
fn start(data_dir: &Path, args: &[&str]) -> Running {
    let port = support::free_port();
    let mut command = support::command(data_dir);
    command.env_remove("CANOPY_APP_KEY").env_remove("CANOPY_TUNNEL_URL").env_remove("CANOPY_TUNNEL");
    command.args(["--listen", &format!("127.0.0.1:{port}")]).args(args);
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("start canopy-local");
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut banner = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                banner.push_str(&line);
                banner.push('\n');
                if line.contains("(a new base URL is a re-install") {
                    return Running { child, base: format!("http://127.0.0.1:{port}"), banner };
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("no install steps printed; banner so far:\n{banner}");
}

fn run_to_end(data_dir: &Path, args: &[&str]) -> Output {
    let mut command = support::command(data_dir);
    command.args(["--listen", "127.0.0.1:0"]).args(args);
    command.output().expect("run canopy-local")
}

fn line_value<'a>(banner: &'a str, label: &str) -> &'a str {
    let line =
        banner.lines().find(|l| l.trim_start().starts_with(label)).unwrap_or_else(|| panic!("{label}: {banner}"));
    line.trim_start()[label.len()..].trim()
}

#[tokio::test]
async fn behind_a_tunnel_the_descriptor_names_it_and_only_the_product_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--tunnel", "--tunnel-command", FAKE_CLIENT]);
    let banner = &server.banner;
    let app_key = line_value(banner, "app key ").to_owned();
    assert!(app_key.starts_with("canopy-dev-") && app_key.len() == "canopy-dev-".len() + 8, "{banner}");
    assert_eq!(line_value(banner, "base URL"), FAKE_URL);
    assert_eq!(line_value(banner, "install keys"), "https://connect-install-keys.atlassian.com");
    assert_eq!(line_value(banner, "descriptor URL"), format!("{FAKE_URL}/atlassian-connect.json"));
    for step in ["Enable development mode", "\"Upload app\", paste the descriptor URL", "/lifecycle/installed"] {
        assert!(banner.contains(step), "{step:?} missing:\n{banner}");
    }
    assert!(!banner.contains("/dev/install"), "{banner}");

    let client = reqwest::Client::new();
    let descriptor: Value =
        client.get(format!("{}/atlassian-connect.json", server.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(descriptor["baseUrl"], FAKE_URL);
    assert_eq!(descriptor["key"], app_key.as_str());
    assert_eq!(descriptor["apiMigrations"]["signed-install"], true, "{descriptor}");

    let status = |path: &'static str, post: bool| {
        let request = if post {
            client.post(format!("{}{path}", server.base))
        } else {
            client.get(format!("{}{path}", server.base))
        };
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status("/dev/install", true).await, 404, "no dev install behind a tunnel");
    assert_eq!(status("/dev/token", true).await, 404, "no dev tokens behind a tunnel");
    assert_eq!(status("/dev/forge-token", true).await, 404);
    assert_eq!(status("/ops/usage", false).await, 403, "operator routes closed");
    assert_eq!(status("/api/tenant", false).await, 401);
    assert_eq!(status("/console/", false).await, 200);
}

#[test]
fn a_restart_keeps_the_app_key_and_a_given_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(dir.path(), &["--tunnel-url", FAKE_URL]);
    let key = line_value(&first.banner, "app key ").to_owned();
    drop(first);
    let again = start(dir.path(), &["--tunnel-url", FAKE_URL]);
    assert_eq!(line_value(&again.banner, "app key "), key, "the same app to Atlassian after a restart");
    drop(again);
    let other = tempfile::tempdir().unwrap();
    let elsewhere = start(other.path(), &["--tunnel-url", FAKE_URL]);
    assert_ne!(line_value(&elsewhere.banner, "app key "), key, "another data dir, another app");
    drop(elsewhere);
    let given = start(dir.path(), &["--tunnel-url", FAKE_URL, "--app-key", "my-canopy"]);
    assert_eq!(line_value(&given.banner, "app key "), "my-canopy");
    assert!(!given.banner.contains("Starting the tunnel client"), "--tunnel-url starts no client");
}

#[test]
fn a_tunnel_that_gives_no_url_or_a_clash_stops_the_start_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 3] = [
        (&["--tunnel", "--tunnel-command", "echo no url here; exit 3"], "without printing an https URL"),
        (&["--tunnel-url", "http://plain.example.test"], "an https origin"),
        (&["--tunnel", "--base-url", "https://mine.example.test"], "drop --base-url"),
    ];
    for (args, reason) in cases {
        let output = run_to_end(dir.path(), args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} started");
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
    }
}
