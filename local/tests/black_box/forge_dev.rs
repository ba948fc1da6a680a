//! The local server's Forge dev mode, black-box over real sockets: a dev tenant installed through
//! Connect is reachable with a dev FIT by its cloudId, the server verifies FITs against the key
//! set it serves itself, and a Forge lifecycle event creates a Forge-only tenant.

use crate::support;

use std::path::Path;

use serde_json::{Value, json};
use support::Server;

fn start(data_dir: &Path) -> Server {
    let mut command = support::command(data_dir);
    command.env_remove("CANOPY_FORGE_APP_ID").env_remove("CANOPY_FORGE_JWKS_URL");
    support::start(command)
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn dev_fits_reach_the_dev_tenant_and_forge_events_create_forge_only_tenants() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path());
    let client = reqwest::Client::new();
    let base = &server.base;

    let (status, install) =
        json_of(client.post(format!("{base}/dev/install")).json(&json!({})).send().await.expect("install")).await;
    assert_eq!(status, 200, "{install}");
    let cloud_id = install["cloudId"].as_str().expect("cloudId").to_owned();

    let minted = client.post(format!("{base}/dev/forge-token")).json(&json!({"clientKey": install["clientKey"]}));
    let (status, minted) = json_of(minted.send().await.expect("mint")).await;
    assert_eq!((status, minted["cloudId"].as_str()), (200, Some(cloud_id.as_str())), "{minted}");
    let fit = minted["fit"].as_str().expect("fit");

    let tenant = client.get(format!("{base}/api/tenant")).bearer_auth(fit).send().await.expect("tenant");
    let (status, tenant) = json_of(tenant).await;
    assert_eq!((status, tenant["clientKey"].as_str()), (200, Some("canopy-dev-tenant")), "{tenant}");
    let site = json!({"name": "Docs", "visibility": "public"});
    let created = client.post(format!("{base}/api/sites")).bearer_auth(fit).json(&site).send().await.expect("site");
    assert_eq!(created.status().as_u16(), 201);
    let as_connect = client.get(format!("{base}/api/tenant")).header("authorization", format!("JWT {fit}"));
    assert_eq!(as_connect.send().await.expect("tenant").status().as_u16(), 401);

    let jwks = client.get(format!("{base}/dev/forge/jwks.json")).send().await.expect("jwks");
    let (status, jwks) = json_of(jwks).await;
    assert_eq!((status, jwks["keys"][0]["kid"].as_str()), (200, Some("forge/invocation-token/canopy-dev")));

    let new_site = "0c0ffee0-0000-4000-8000-000000000001";
    let minted = client.post(format!("{base}/dev/forge-token")).json(&json!({"cloudId": new_site}));
    let (_, minted) = json_of(minted.send().await.expect("mint")).await;
    let fit = minted["fit"].as_str().expect("fit");
    let event = json!({"id": "ari:cloud:ecosystem::installation/dev", "context": format!("ari:cloud:confluence::site/{new_site}")});
    let installed = client.post(format!("{base}/forge/lifecycle/installed")).bearer_auth(fit).json(&event);
    let (status, outcome) = json_of(installed.send().await.expect("event")).await;
    assert_eq!((status, outcome["outcome"].as_str()), (200, Some("created")), "{outcome}");
    let tenant = client.get(format!("{base}/api/tenant")).bearer_auth(fit).send().await.expect("tenant");
    let (_, tenant) = json_of(tenant).await;
    assert_eq!(tenant["clientKey"], format!("forge:{new_site}"));

    let bad = client.post(format!("{base}/dev/forge-token")).json(&json!({"cloudId": "a/b"}));
    assert_eq!(bad.send().await.expect("mint").status().as_u16(), 422);
}
