//! Many clients at once, through real sockets, on both store adapters: optimistic concurrency
//! with `If-Match` loses no update, and the feedback rate limit admits exactly its limit.

use std::sync::Arc;

use canopy_shared::domain::feedback::USER_WINDOWS;
use serde_json::{Value, json};
use support::app::*;
use support::world::{Opened, Store};

const CLIENT: &str = "concurrency-tenant";
const SECRET: &str = "concurrency-secret";
/// Clients editing the same item at once.
const CLIENTS: usize = 16;
/// Changes each client makes (each a read-modify-write retried on 412).
const CHANGES_PER_CLIENT: usize = 1;
/// Feedback senders at once: well over the per-minute limit.
const SENDERS: usize = 3 * USER_WINDOWS[0].max as usize;

struct World {
    app: TestApp,
    base: String,
    http: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
}

async fn world(store: Store) -> World {
    let Opened { store, dir } = store.open().await;
    let app = TestApp::with_store(store).with_feedback_routes();
    app.install(CLIENT, SECRET).await;
    let base = app.serve().await;
    World { app, base, http: reqwest::Client::new(), _dir: dir }
}

impl World {
    fn token(&self, account: &str) -> String {
        context_token_as(CLIENT, SECRET, Some(account), self.app.now_secs())
    }

    fn request(&self, method: reqwest::Method, path: &str, account: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("authorization", format!("JWT {}", self.token(account)))
    }

    async fn site(&self) -> String {
        let response = self
            .request(reqwest::Method::POST, "/api/sites", ADMIN_ACCOUNT)
            .json(&json!({"name": "Shared", "visibility": "public"}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status().as_u16(), 201);
        response.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_owned()
    }
}

fn nav_item(marker: &str) -> Value {
    json!({"id": marker, "label": marker, "target": {"type": "url", "url": format!("https://example.com/{marker}")}})
}

/// What one client saw.
#[derive(Default)]
struct Tally {
    accepted: usize,
    /// The version each accepted write answered with (its ETag).
    versions: Vec<u64>,
    precondition_failed: usize,
    other: Vec<String>,
}

mod scenarios {
    use super::*;

    pub async fn if_match_writers_lose_no_update(w: World) {
        let site = w.site().await;
        let path = format!("/api/sites/{site}/navigation");
        let created = w
            .request(reqwest::Method::PUT, &path, ADMIN_ACCOUNT)
            .json(&json!({"items": []}))
            .send()
            .await
            .expect("send");
        assert_eq!(created.status().as_u16(), 201);
        let w = Arc::new(w);

        let clients = (0..CLIENTS).map(|client| {
            let (w, path) = (w.clone(), path.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                for change in 0..CHANGES_PER_CLIENT {
                    let marker = format!("c{client}-{change}");
                    loop {
                        let read = w.request(reqwest::Method::GET, &path, ADMIN_ACCOUNT).send().await.expect("send");
                        let etag = read.headers()["etag"].to_str().expect("ascii").to_owned();
                        let mut nav: Value = read.json().await.expect("json");
                        let mut items = nav["items"].as_array().cloned().unwrap_or_default();
                        items.push(nav_item(&marker));
                        nav = json!({"items": items});
                        let write = w
                            .request(reqwest::Method::PUT, &path, ADMIN_ACCOUNT)
                            .header("if-match", etag)
                            .json(&nav)
                            .send()
                            .await
                            .expect("send");
                        match write.status().as_u16() {
                            200 => {
                                let etag =
                                    write.headers()["etag"].to_str().expect("ascii").trim_matches('"').to_owned();
                                tally.versions.push(etag.parse().expect("a numeric ETag"));
                                let answer: Value = write.json().await.expect("json");
                                let ids: Vec<&str> = answer["items"]
                                    .as_array()
                                    .expect("items")
                                    .iter()
                                    .map(|i| i["id"].as_str().expect("id"))
                                    .collect();
                                assert!(
                                    ids.contains(&marker.as_str()),
                                    "the answer to a write is not that write: {answer}"
                                );
                                tally.accepted += 1;
                                break;
                            }
                            412 => tally.precondition_failed += 1,
                            status => {
                                tally.other.push(format!("{status}: {}", write.text().await.unwrap_or_default()));
                                break;
                            }
                        }
                    }
                }
                tally
            })
        });
        let mut total = Tally::default();
        for client in clients.collect::<Vec<_>>() {
            let tally = client.await.expect("client");
            total.accepted += tally.accepted;
            total.versions.extend(tally.versions);
            total.precondition_failed += tally.precondition_failed;
            total.other.extend(tally.other);
        }
        assert!(total.other.is_empty(), "answers other than 200 and 412: {:?}", total.other);

        let last = w.request(reqwest::Method::GET, &path, ADMIN_ACCOUNT).send().await.expect("send");
        let etag = last.headers()["etag"].to_str().expect("ascii").to_owned();
        let nav: Value = last.json().await.expect("json");
        assert_eq!(total.accepted, CLIENTS * CHANGES_PER_CLIENT, "every change was accepted once");
        assert_eq!(etag, format!("\"{}\"", 1 + total.accepted), "one version per accepted write");
        let markers: std::collections::BTreeSet<&str> =
            nav["items"].as_array().expect("items").iter().map(|i| i["id"].as_str().expect("id")).collect();
        for client in 0..CLIENTS {
            for change in 0..CHANGES_PER_CLIENT {
                assert!(markers.contains(format!("c{client}-{change}").as_str()), "c{client}-{change} was lost");
            }
        }
        assert_eq!(markers.len(), CLIENTS * CHANGES_PER_CLIENT, "nothing written twice");
        total.versions.sort_unstable();
        let expected: Vec<u64> = (2..=1 + total.accepted as u64).collect();
        assert_eq!(total.versions, expected, "each accepted write answers with its own version");
        assert!(total.precondition_failed > 0, "the clients never raced: the test proved nothing");
        eprintln!(
            "{CLIENTS} clients: {} writes accepted, {} answered 412 and were retried",
            total.accepted, total.precondition_failed
        );
    }

    pub async fn rate_limit_admits_exactly_its_limit_under_parallel_load(w: World) {
        let site = w.site().await;
        let limit = USER_WINDOWS[0].max as usize;
        let w = Arc::new(w);
        let senders = (0..SENDERS).map(|sender| {
            let (w, site) = (w.clone(), site.clone());
            tokio::spawn(async move {
                // A client that follows Retry-After: a hit refused because it lost every retry
                // against concurrent hits is told to come back in a second; one refused because
                // the window is full is told to wait for its end.
                loop {
                    let response = w
                        .request(reqwest::Method::POST, "/api/feedback", USER_ACCOUNT)
                        .json(&json!({"siteId": site, "rating": 1 + sender % 5}))
                        .send()
                        .await
                        .expect("send");
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    match (status, retry_after) {
                        (429, Some(1)) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
                        (status, retry_after) => return (status, retry_after),
                    }
                }
            })
        });
        let mut answers = Vec::new();
        for sender in senders.collect::<Vec<_>>() {
            answers.push(sender.await.expect("sender"));
        }
        let admitted = answers.iter().filter(|(status, _)| *status == 201).count();
        let limited: Vec<_> = answers.iter().filter(|(status, _)| *status == 429).collect();
        assert_eq!(admitted, limit, "admitted {admitted} of {SENDERS}: {answers:?}");
        assert_eq!(limited.len(), SENDERS - limit, "every other answer is 429: {answers:?}");
        let window_left = USER_WINDOWS[0].secs as u64 - (w.app.now_secs() as u64 % USER_WINDOWS[0].secs as u64);
        assert!(limited.iter().all(|(_, after)| *after == Some(window_left)), "Retry-After is the window's end");

        let listed = w
            .request(reqwest::Method::GET, "/api/feedback?limit=100", ADMIN_ACCOUNT)
            .send()
            .await
            .expect("send")
            .json::<Value>()
            .await
            .expect("json");
        assert_eq!(listed["items"].as_array().map(Vec::len), Some(limit), "stored feedback: {listed}");
        eprintln!("{SENDERS} parallel senders: {admitted} admitted, {} answered 429", limited.len());
    }
}

support::scenarios!(stores: [if_match_writers_lose_no_update, rate_limit_admits_exactly_its_limit_under_parallel_load]);
