//! The real `canopy-local` binary on DynamoDB Local (`CANOPY_STORE=dynamodb`), over real sockets:
//! it creates its table, serves a site config from it, and a restart over an empty data dir
//! still finds everything (the items live in DynamoDB, not under the data dir).

use crate::support;

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::{Server, post};

fn dynamodb_endpoint() -> String {
    std::env::var("CANOPY_TEST_DYNAMODB_ENDPOINT")
        .expect("CANOPY_TEST_DYNAMODB_ENDPOINT is not set: run through scripts/test, which starts DynamoDB Local")
}

/// DynamoDB Local keeps one database per access key: a fresh alphanumeric key is an empty one.
fn fresh_access_key() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).expect("time").as_nanos();
    format!("localstore{nanos:x}{}", std::process::id())
}

fn command(data_dir: &Path, access_key: &str, endpoint: &str) -> Command {
    let mut command = support::command(data_dir);
    command
        .env("CANOPY_STORE", "dynamodb")
        .env("CANOPY_DYNAMODB_ENDPOINT", endpoint)
        .env("CANOPY_TABLE", "canopy-local-test")
        .env("AWS_ACCESS_KEY_ID", access_key)
        .env("AWS_SECRET_ACCESS_KEY", "canopytest")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "warn");
    command
}

fn start(data_dir: &Path, access_key: &str) -> Server {
    support::start(command(data_dir, access_key, &dynamodb_endpoint()))
}

async fn read_config(client: &reqwest::Client, url: &str, token: &str) -> (String, Value) {
    let response = client.get(url).header("authorization", format!("JWT {token}")).send().await.expect("get");
    assert_eq!(response.status(), 200);
    let etag = response.headers()["etag"].to_str().expect("etag").to_owned();
    (etag, response.json().await.expect("json"))
}

async fn user_token(client: &reqwest::Client, base: &str, client_key: &str) -> String {
    let (status, minted) =
        post(client, &format!("{base}/dev/token"), None, &json!({"clientKey": client_key, "admin": false})).await;
    assert_eq!(status, 200, "{minted}");
    minted["contextJwt"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn the_server_on_dynamodb_local_serves_a_site_config_that_outlives_its_data_dir() {
    let access_key = fresh_access_key();
    let client = reqwest::Client::new();
    let first_dir = tempfile::tempdir().expect("temp dir");
    let (config_path, etag, config) = {
        let server = start(first_dir.path(), &access_key);
        let url = |path: &str| format!("{}{path}", server.base);
        let (status, installed) = post(&client, &url("/dev/install"), None, &json!({"clientKey": "dynamo-dev"})).await;
        assert_eq!(status, 200, "{installed}");
        let admin = installed["contextJwt"].as_str().expect("admin token").to_owned();
        let theme = json!({"name": "Brand", "colors": {"primary": "#0052CC", "background": "#FFFFFF", "text": "#172B4D"}, "fonts": {"body": "Inter"}});
        let (status, theme) = post(&client, &url("/api/themes"), Some(&admin), &theme).await;
        assert_eq!(status, 201, "{theme}");
        let site = json!({"name": "Docs", "visibility": "public", "themeId": theme["id"]});
        let (status, site) = post(&client, &url("/api/sites"), Some(&admin), &site).await;
        assert_eq!(status, 201, "{site}");
        let config_path = format!("/api/sites/{}/config", site["id"].as_str().expect("site id"));
        let user = user_token(&client, &server.base, "dynamo-dev").await;
        let (etag, config) = read_config(&client, &url(&config_path), &user).await;
        assert_eq!(config["site"]["id"], site["id"]);
        assert_eq!(config["theme"]["colors"]["primary"], "#0052CC");
        (config_path, etag, config)
    };
    assert!(!first_dir.path().join("canopy.redb").exists(), "on DynamoDB the server must not open the embedded store");

    // The tenant secrets in the table are sealed with the keyring under the data dir: the keyring
    // goes with the table, the rest of the data dir does not.
    let second_dir = tempfile::tempdir().expect("temp dir");
    let keyring = canopy_shared::adapters::secrets::local::KEYRING_FILE;
    std::fs::copy(first_dir.path().join(keyring), second_dir.path().join(keyring)).expect("keyring");
    let server = start(second_dir.path(), &access_key);
    let user = user_token(&client, &server.base, "dynamo-dev").await;
    let (etag_again, config_again) = read_config(&client, &format!("{}{config_path}", server.base), &user).await;
    assert_eq!((etag_again, config_again), (etag, config));

    // Another access key is another (empty) DynamoDB Local database: the tenant is not there.
    drop(server);
    let server = start(second_dir.path(), &fresh_access_key());
    let (status, body) =
        post(&client, &format!("{}/dev/token", server.base), None, &json!({"clientKey": "dynamo-dev"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("unknown_tenant")));
}

#[test]
fn an_unknown_store_or_an_empty_table_name_is_refused_at_start() {
    let data = tempfile::tempdir().expect("temp dir");
    for (store, table, message) in [
        ("postgres", "canopy", "invalid value 'postgres' for '--store"),
        ("dynamodb", " ", "table name (CANOPY_TABLE, --table)"),
    ] {
        let output = command(data.path(), "unused", "http://127.0.0.1:9")
            .args(["--store", store, "--table", table, "--listen", "127.0.0.1:0"])
            .output()
            .expect("run canopy-local");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{store}/{table:?} started");
        assert!(stderr.contains(message), "{store}/{table:?}: {stderr}");
    }
}
