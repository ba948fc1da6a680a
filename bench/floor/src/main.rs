//! The floor of `scripts/bench`: the least any server must do for an authenticated site-config
//! read, measured under the same load as Canopy so that Canopy's figures can be read as a
//! fraction of it (bench/README.md, "The floor").
//!
//!   canopy-bench-floor --listen 127.0.0.1:PORT --tenants FILE
//!
//! `GET /api/sites/{siteId}/config` with `Authorization: JWT <token>`: the token is an HS256
//! Connect JWT; its `iss` names the tenant, whose secret is looked up in memory, then the
//! signature and `exp` are checked and the tenant's body (bytes held in memory) is answered if the
//! path names the tenant's site. No qsh, no store, no logging: everything Canopy does beyond this
//! is the cost of being Canopy. A bad token answers 401, another tenant's site 404.
//!
//! FILE is the state `bench/setup.py floor` writes: `{"tenants": [{clientKey, secret, siteId,
//! body}, …]}` (other fields are ignored); the floor reads it once at start.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

// The same allocator as canopy-local, so that the difference is the work, not the allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "canopy-bench-floor --listen 127.0.0.1:PORT --tenants FILE";

struct Tenant {
    secret: Vec<u8>,
    site_id: String,
    body: Bytes,
}

/// Tenants by clientKey, fixed at start: no lock on the read path.
type Tenants = HashMap<String, Tenant>;

#[derive(Deserialize)]
struct TenantsFile {
    tenants: Vec<TenantEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TenantEntry {
    client_key: String,
    secret: String,
    site_id: String,
    body: String,
}

#[derive(Deserialize)]
struct JwtHeader<'a> {
    alg: &'a str,
}

#[derive(Deserialize)]
struct Claims<'a> {
    iss: &'a str,
    exp: i64,
}

fn load_tenants(text: &str) -> Result<Tenants, String> {
    let file: TenantsFile = serde_json::from_str(text).map_err(|e| format!("tenants file: {e}"))?;
    if file.tenants.is_empty() {
        return Err("tenants file: no tenants".into());
    }
    let mut tenants = HashMap::with_capacity(file.tenants.len());
    for t in file.tenants {
        let tenant = Tenant { secret: t.secret.into_bytes(), site_id: t.site_id, body: Bytes::from(t.body) };
        if tenants.insert(t.client_key.clone(), tenant).is_some() {
            return Err(format!("tenants file: clientKey {} twice", t.client_key));
        }
    }
    Ok(tenants)
}

/// The tenant whose secret signed `token`, if its header says HS256 and it has not expired.
fn verify<'t>(tenants: &'t Tenants, token: &str, now: i64) -> Option<&'t Tenant> {
    let (signed, signature) = token.rsplit_once('.')?;
    let (header, payload) = signed.split_once('.')?;
    let header = URL_SAFE_NO_PAD.decode(header).ok()?;
    if serde_json::from_slice::<JwtHeader>(&header).ok()?.alg != "HS256" {
        return None;
    }
    let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: Claims = serde_json::from_slice(&payload).ok()?;
    let tenant = tenants.get(claims.iss)?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&tenant.secret).ok()?;
    mac.update(signed.as_bytes());
    mac.verify_slice(&signature).ok()?;
    (claims.exp > now).then_some(tenant)
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

fn refuse(status: StatusCode, code: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], format!(r#"{{"error":"{code}"}}"#)).into_response()
}

async fn site_config(State(tenants): State<Arc<Tenants>>, Path(site_id): Path<String>, headers: HeaderMap) -> Response {
    let token = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("JWT "));
    let Some(tenant) = token.and_then(|t| verify(&tenants, t, now_secs())) else {
        return refuse(StatusCode::UNAUTHORIZED, "unauthorized");
    };
    if tenant.site_id != site_id {
        return refuse(StatusCode::NOT_FOUND, "not_found");
    }
    ([(header::CONTENT_TYPE, "application/json")], tenant.body.clone()).into_response()
}

fn app(tenants: Tenants) -> Router {
    Router::new().route("/api/sites/{site_id}/config", get(site_config)).with_state(Arc::new(tenants))
}

fn args() -> Result<(String, String), String> {
    let (mut listen, mut file) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next(),
            "--tenants" => file = args.next(),
            _ => return Err(format!("unknown argument '{arg}'\nusage: {USAGE}")),
        }
    }
    match (listen, file) {
        (Some(listen), Some(file)) => Ok((listen, file)),
        _ => Err(format!("usage: {USAGE}")),
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let (listen, file) = args()?;
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{file}: {e}"))?;
    let tenants = load_tenants(&text)?;
    let count = tenants.len();
    let listener = tokio::net::TcpListener::bind(&listen).await.map_err(|e| format!("{listen}: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    println!("floor listening on http://{address} ({count} tenants)");
    axum::serve(listener, app(tenants)).await.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(data: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(data)
    }

    fn token(alg: &str, iss: &str, exp: i64, secret: &str) -> String {
        let signed = format!(
            "{}.{}",
            b64(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#).as_bytes()),
            b64(format!(r#"{{"iss":"{iss}","qsh":"context-qsh","exp":{exp}}}"#).as_bytes())
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(signed.as_bytes());
        format!("{signed}.{}", b64(&mac.finalize().into_bytes()))
    }

    fn tenants() -> Tenants {
        load_tenants(
            r#"{"tenants": [
                {"clientKey": "a", "secret": "secret-a", "siteId": "site-a", "body": "{\"a\":1}", "path": "x"},
                {"clientKey": "b", "secret": "secret-b", "siteId": "site-b", "body": "{\"b\":2}"}
            ]}"#,
        )
        .unwrap()
    }

    #[test]
    fn a_token_signed_with_the_tenants_secret_and_unexpired_names_that_tenant() {
        let tenants = tenants();
        let found = verify(&tenants, &token("HS256", "b", 1_000, "secret-b"), 999).expect("valid token");
        assert_eq!(found.site_id, "site-b");
        assert_eq!(&found.body[..], br#"{"b":2}"#);
    }

    #[test]
    fn expired_forged_unknown_or_other_algorithm_tokens_are_refused() {
        let tenants = tenants();
        assert!(verify(&tenants, &token("HS256", "a", 1_000, "secret-a"), 1_000).is_none(), "expired");
        assert!(verify(&tenants, &token("HS256", "a", 1_000, "secret-b"), 0).is_none(), "another tenant's secret");
        assert!(verify(&tenants, &token("HS256", "c", 1_000, "secret-a"), 0).is_none(), "unknown iss");
        assert!(verify(&tenants, &token("HS384", "a", 1_000, "secret-a"), 0).is_none(), "not HS256");
        assert!(verify(&tenants, "a.b", 0).is_none(), "not a JWT");
    }

    #[test]
    fn a_tenants_file_without_tenants_or_with_a_tenant_twice_is_refused() {
        assert!(load_tenants(r#"{"tenants": []}"#).is_err());
        let twice = r#"{"tenants": [{"clientKey": "a", "secret": "s", "siteId": "x", "body": ""},
                                    {"clientKey": "a", "secret": "t", "siteId": "y", "body": ""}]}"#;
        assert!(load_tenants(twice).is_err());
    }
}
