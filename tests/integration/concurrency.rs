//! Many clients at once, through real sockets, on both store adapters: optimistic concurrency
//! with `If-Match` loses no update, the feedback rate limit admits exactly its limit, and the
//! usage counters stay exact and the site quota holds while a tenant's writers move them at once.

use std::sync::Arc;

use canopy_shared::TenantKey;
use canopy_shared::domain::content::counters::{self, Counters};
use canopy_shared::domain::content::sites::MAX_SITES_PER_TENANT;
use canopy_shared::domain::feedback::USER_WINDOWS;
use canopy_shared::kernel::keys;
use canopy_shared::ports::store::PageRequest;
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
/// Admins of one tenant moving its counters at once, each on a site of its own.
const COUNTING_WRITERS: usize = 8;
/// Counted writes each of them makes: site edits adding or removing a space and a domain, and a
/// theme created and deleted.
const COUNTED_CHANGES: usize = 6;

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

    /// Sends the write until it is not refused 409 `write_conflict` (nothing written: a client
    /// sends it again), and answers the status and body it ended with.
    async fn write(
        &self,
        method: reqwest::Method,
        path: &str,
        etag: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value, String) {
        loop {
            let mut request = self.request(method.clone(), path, ADMIN_ACCOUNT);
            if let Some(etag) = etag {
                request = request.header("if-match", etag);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.expect("send");
            let status = response.status().as_u16();
            let etag =
                response.headers().get("etag").map(|v| v.to_str().expect("ascii").to_owned()).unwrap_or_default();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            if status != 409 || body["error"]["code"] != "write_conflict" {
                return (status, body, etag);
            }
        }
    }

    async fn listed(&self, path: &str) -> Vec<Value> {
        let page: Value = self
            .request(reqwest::Method::GET, &format!("{path}?limit=100"), ADMIN_ACCOUNT)
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        assert!(page["next"].is_null(), "one page: {page}");
        page["items"].as_array().expect("items").clone()
    }

    /// The counters as the usage statistics read them, and how many items hold them.
    async fn counters(&self) -> (Counters, usize) {
        let tenant = TenantKey::from_verified(CLIENT).expect("key");
        let store = &self.app.state.store;
        let now = self.app.now_secs();
        let counts = counters::read(store.as_ref(), &tenant, now).await.expect("counters");
        let page = store.query(&tenant, keys::COUNTERS, PageRequest { limit: 100, after: None }, now).await;
        (counts, page.expect("query").items.len())
    }

    /// The counters recounted from the sites and themes the API lists.
    async fn recounted(&self) -> Counters {
        let sites = self.listed("/api/sites").await;
        let distinct = |site: &Value, field: &str| {
            let values = site[field].as_array().cloned().unwrap_or_default();
            values
                .iter()
                .map(|v| v.as_str().expect("a string").to_ascii_lowercase())
                .collect::<std::collections::BTreeSet<_>>()
                .len() as i64
        };
        Counters {
            sites: sites.len() as i64,
            themes: self.listed("/api/themes").await.len() as i64,
            custom_domains: sites.iter().map(|s| distinct(s, "customDomains")).sum(),
            spaces: sites.iter().map(|s| distinct(s, "spaces")).sum(),
        }
    }
}

fn counted_site(name: &str, wide: bool) -> Value {
    let (spaces, domains) = if wide {
        (json!(["DOC", "ENG"]), json!([format!("{name}.example.com")]))
    } else {
        (json!(["DOC"]), json!([]))
    };
    json!({"name": name, "spaces": spaces, "customDomains": domains, "visibility": "public"})
}

fn counted_theme() -> Value {
    json!({"name": "Brand", "colors": {"primary": "#0052CC", "background": "#FFFFFF", "text": "#172B4D"}, "fonts": {"body": "Inter, sans-serif"}})
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

    pub async fn counters_stay_exact_and_the_site_quota_holds_under_concurrent_writers(w: World) {
        let w = Arc::new(w);
        let writers = (0..COUNTING_WRITERS).map(|writer| {
            let w = w.clone();
            tokio::spawn(async move {
                let name = format!("w{writer}");
                let (status, site, mut etag) =
                    w.write(reqwest::Method::POST, "/api/sites", None, Some(&counted_site(&name, false))).await;
                assert_eq!(status, 201, "{site}");
                let path = format!("/api/sites/{}", site["id"].as_str().expect("id"));
                for change in 0..COUNTED_CHANGES {
                    let body = counted_site(&name, change % 2 == 0);
                    let (status, answer, next) = w.write(reqwest::Method::PUT, &path, Some(&etag), Some(&body)).await;
                    assert_eq!(status, 200, "{answer}");
                    etag = next;
                }
                let (status, theme, theme_etag) =
                    w.write(reqwest::Method::POST, "/api/themes", None, Some(&counted_theme())).await;
                assert_eq!(status, 201, "{theme}");
                if writer % 2 == 0 {
                    let path = format!("/api/themes/{}", theme["id"].as_str().expect("id"));
                    let (status, answer, _) = w.write(reqwest::Method::DELETE, &path, Some(&theme_etag), None).await;
                    assert_eq!(status, 204, "{answer}");
                }
            })
        });
        for writer in writers.collect::<Vec<_>>() {
            writer.await.expect("writer");
        }
        let (counts, items) = w.counters().await;
        assert_eq!(counts, w.recounted().await, "the counters drifted from what they count");
        assert_eq!(counts.sites, COUNTING_WRITERS as i64);
        assert!(items > 1, "every change landed on one counters item: the writers still contend on it");

        // Up to two sites short of the quota, then more creates at once than it has room for.
        for n in COUNTING_WRITERS..MAX_SITES_PER_TENANT as usize - 2 {
            let (status, answer, _) =
                w.write(reqwest::Method::POST, "/api/sites", None, Some(&counted_site(&format!("s{n}"), true))).await;
            assert_eq!(status, 201, "{answer}");
        }
        let creators = (0..COUNTING_WRITERS).map(|creator| {
            let w = w.clone();
            tokio::spawn(async move {
                let body = counted_site(&format!("late{creator}"), true);
                let (status, answer, _) = w.write(reqwest::Method::POST, "/api/sites", None, Some(&body)).await;
                assert!(
                    status == 201 || (status == 422 && answer["error"]["code"] == "limit_reached"),
                    "{status}: {answer}"
                );
                status
            })
        });
        let mut created = 0;
        for creator in creators.collect::<Vec<_>>() {
            created += usize::from(creator.await.expect("creator") == 201);
        }
        assert_eq!(created, 2, "the quota let {created} of {COUNTING_WRITERS} concurrent creates through for 2 places");
        let (counts, _) = w.counters().await;
        assert_eq!(counts, w.recounted().await, "the counters drifted from what they count");
        assert_eq!(counts.sites, MAX_SITES_PER_TENANT);
    }
}

support::scenarios!(stores: [
    if_match_writers_lose_no_update,
    rate_limit_admits_exactly_its_limit_under_parallel_load,
    counters_stay_exact_and_the_site_quota_holds_under_concurrent_writers,
]);
