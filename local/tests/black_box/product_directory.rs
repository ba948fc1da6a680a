//! `CANOPY_DIRECTORY=product`: the real `canopy-local` asks the tenant's product at its baseUrl
//! whether an account administers the site and which groups it is in, as a deployment does. A
//! stand-in Confluence on a loopback socket answers, verifying the app's JWT as Atlassian does
//! (HS256 with the tenant's shared secret, `iss` = the app key, no `sub`, the request's qsh).
//! The default stays the dev directory, whose dev member opens a site of the dev group.

use crate::server::{install_token, payload};
use crate::support::{self, post};

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use canopy_shared::domain::connect::jwt::{ConnectClaims, QshRule, sign_hs256, verify_hs256};
use canopy_shared::domain::connect::qsh::{CONTEXT_QSH, query_string_hash};
use serde_json::{Value, json};

const CLIENT: &str = "stand-in-confluence";
const SECRET: &str = "the-stand-in-tenant-secret";
const ADMIN: &str = "557058:stand-in-admin";
const MEMBER: &str = "557058:stand-in-member";
const USER: &str = "557058:stand-in-user";
const GROUP_ID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
/// The dev directory's admin, a stranger to the stand-in.
const DEV_ADMIN: &str = "557058:canopy-dev-admin";
const DEV_MEMBER: &str = "557058:canopy-dev-member";
const DEV_GROUP_ID: &str = "6c1f0a52-9d3e-4b7a-8f21-canopy0group";

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("time").as_secs() as i64
}

/// What the stand-in was asked (paths with their accountId) and what it refused.
#[derive(Default)]
struct Confluence {
    asked: Mutex<Vec<String>>,
    refused: Mutex<Vec<String>>,
}

/// The caller's app JWT, verified; `Err` says why not.
fn verify(method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<(), String> {
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or("no Authorization")?;
    let token = auth.strip_prefix("JWT ").ok_or("not a JWT")?;
    let qsh = query_string_hash(method.as_str(), uri.path(), uri.query().unwrap_or(""), "/wiki");
    let (claims, _) = verify_hs256(token, SECRET, QshRule::Request(&qsh), Some(now())).map_err(|e| e.to_string())?;
    match (claims.iss.as_str(), claims.sub) {
        ("canopy", None) => Ok(()),
        (iss, sub) => Err(format!("iss {iss}, sub {sub:?}: not the app")),
    }
}

async fn confluence(State(site): State<Arc<Confluence>>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(reason) = verify(&method, &uri, &headers) {
        site.refused.lock().expect("lock").push(reason);
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let url = reqwest::Url::parse(&format!("http://stand-in{uri}")).expect("url");
    let account = url.query_pairs().find(|(k, _)| k == "accountId").map(|(_, v)| v.into_owned()).unwrap_or_default();
    site.asked.lock().expect("lock").push(format!("{} {account}", uri.path()));
    let answer = match uri.path() {
        "/wiki/rest/api/user" => {
            let operations: Vec<Value> = if account == ADMIN {
                vec![json!({"operation": "administer", "targetType": "application"})]
            } else {
                Vec::new()
            };
            json!({"accountId": account, "operations": operations})
        }
        "/wiki/rest/api/user/memberof" => {
            let results: Vec<Value> = if account == MEMBER {
                vec![json!({"type": "group", "id": GROUP_ID, "name": "execs"})]
            } else {
                Vec::new()
            };
            json!({"results": results, "start": 0, "limit": 200, "size": results.len()})
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    axum::Json(answer).into_response()
}

async fn stand_in() -> (String, Arc<Confluence>) {
    let site = Arc::new(Confluence::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("addr");
    let app = Router::new().fallback(confluence).with_state(site.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/wiki"), site)
}

fn context_token(account: &str) -> String {
    let claims = ConnectClaims {
        iss: CLIENT.into(),
        sub: Some(account.into()),
        qsh: Some(CONTEXT_QSH.into()),
        aud: None,
        iat: Some(now()),
        exp: Some(now() + 300),
        context: Some(json!({})),
    };
    sign_hs256(&claims, SECRET).expect("sign")
}

async fn get(client: &reqwest::Client, url: &str, token: &str) -> (u16, String) {
    let response = client.get(url).header("authorization", format!("JWT {token}")).send().await.expect("get");
    (response.status().as_u16(), response.text().await.expect("body"))
}

fn restricted_site(group: &str) -> Value {
    json!({"name": "Board", "visibility": "restricted", "restrictedToGroups": [{"id": group, "name": "execs"}]})
}

#[tokio::test]
async fn with_the_product_directory_admins_and_groups_come_from_the_tenants_site() {
    let (base_url, confluence) = stand_in().await;
    let data = tempfile::tempdir().expect("temp dir");
    let mut command = support::command(data.path());
    command.env("CANOPY_DIRECTORY", "product");
    let server = support::start(command);
    let client = reqwest::Client::new();

    let mut install = payload(CLIENT, SECRET);
    install["baseUrl"] = json!(base_url);
    let token = install_token(&server.base, CLIENT, "/lifecycle/installed");
    let (status, answer) = post(&client, &format!("{}/lifecycle/installed", server.base), Some(&token), &install).await;
    assert_eq!(status, 204, "a loopback http baseUrl is accepted locally: {answer}");

    let sites = format!("{}/api/sites", server.base);
    let (status, answer) = post(&client, &sites, Some(&context_token(DEV_ADMIN)), &restricted_site(GROUP_ID)).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (403, Some("not_admin")), "the dev directory is not asked");
    let (status, site) = post(&client, &sites, Some(&context_token(ADMIN)), &restricted_site(GROUP_ID)).await;
    assert_eq!(status, 201, "the product's administrator writes: {site}");
    let config = format!("{sites}/{}/config", site["id"].as_str().expect("id"));
    let missing = format!("{sites}/01J00000000000000000000000/config");

    let (status, body) = get(&client, &config, &context_token(MEMBER)).await;
    assert_eq!(status, 200, "a member of the group in the product sees it: {body}");
    let hidden = get(&client, &config, &context_token(USER)).await;
    assert_eq!(hidden, get(&client, &missing, &context_token(USER)).await, "anyone else: a missing site");
    assert_eq!(hidden.0, 404);

    assert_eq!(*confluence.refused.lock().expect("lock"), Vec::<String>::new(), "every call carried a valid app JWT");
    let asked = confluence.asked.lock().expect("lock").clone();
    for call in [
        format!("/wiki/rest/api/user {ADMIN}"),
        format!("/wiki/rest/api/user {DEV_ADMIN}"),
        format!("/wiki/rest/api/user/memberof {MEMBER}"),
        format!("/wiki/rest/api/user/memberof {USER}"),
    ] {
        assert!(asked.contains(&call), "{call} not asked: {asked:?}");
    }
}

#[tokio::test]
async fn by_default_the_dev_member_opens_a_site_of_the_dev_group() {
    let data = tempfile::tempdir().expect("temp dir");
    let server = support::start(support::command(data.path()));
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base);
    let (status, installed) = post(&client, &url("/dev/install"), None, &json!({})).await;
    assert_eq!(status, 200, "{installed}");
    let admin = installed["contextJwt"].as_str().expect("token").to_owned();
    let (status, site) = post(&client, &url("/api/sites"), Some(&admin), &restricted_site(DEV_GROUP_ID)).await;
    assert_eq!(status, 201, "{site}");
    let config = url(&format!("/api/sites/{}/config", site["id"].as_str().expect("id")));
    let token_of = |body: Value| {
        let client = client.clone();
        let url = url("/dev/token");
        async move {
            let (status, answer) = post(&client, &url, None, &body).await;
            assert_eq!(status, 200, "{answer}");
            answer["contextJwt"].as_str().expect("token").to_owned()
        }
    };
    let member = token_of(json!({"clientKey": "canopy-dev-tenant", "accountId": DEV_MEMBER})).await;
    let user = token_of(json!({"clientKey": "canopy-dev-tenant", "admin": false})).await;
    assert_eq!(get(&client, &config, &member).await.0, 200, "the dev member is in the dev group");
    assert_eq!(get(&client, &config, &user).await.0, 404, "the dev user is not");
    let (status, answer) = post(
        &client,
        &url("/dev/token"),
        None,
        &json!({"clientKey": "canopy-dev-tenant", "admin": false, "accountId": DEV_MEMBER}),
    )
    .await;
    assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("invalid_body")), "{answer}");
}
