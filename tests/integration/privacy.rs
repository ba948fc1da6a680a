//! The personal-data reporting job against a fake report-accounts API on loopback that verifies
//! the app JWT as Atlassian does (HS256 with the tenant's secret, `iss` = app key, qsh of the
//! request it received under the `/wiki` base path), on both store adapters: batches of at most
//! 90, erasure of closed accounts (user record, feedback contacts live and trashed), `Cycle-Period`,
//! 429 / 5xx / garbage answers that erase nothing and come back later, resuming at the cursor,
//! and the run bounds.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use canopy_shared::TenantKey;
use canopy_shared::adapters::http::http_client;
use canopy_shared::domain::connect::jwt::{QshRule, unverified_issuer, verify_hs256};
use canopy_shared::domain::connect::qsh::query_string_hash;
use canopy_shared::domain::privacy::state as report_state;
use canopy_shared::domain::privacy::state::DEFAULT_CYCLE_SECS;
use canopy_shared::domain::users;
use canopy_shared::jobs::privacy::{self, MAX_ACCOUNTS_PER_REPORT, PrivacyJob, RunBounds, RunReport};
use canopy_shared::kernel::clock::{Clock, SystemClock};
use canopy_shared::kernel::keys;
use canopy_shared::ports::store::{Condition, Item, PageRequest, Write};
use serde_json::{Value, json};
use support::app::*;
use support::world::{Opened, Store};

const A: &str = "tenant-a";
const B: &str = "tenant-b";
const APP_KEY: &str = "canopy";
const PATH: &str = "/rest/atlassian-connect/latest/report-accounts";

fn account(i: usize) -> String {
    format!("557058:u{i:03}")
}

/// What the fake answers to one call; an empty script answers [`Reply::Normal`].
#[derive(Clone)]
enum Reply {
    /// 200 with the statuses of the closed and updated accounts asked about, or 204 if none.
    Normal,
    TooMany(&'static str),
    Status(u16),
    Body(&'static str),
}

/// One tenant's site, as Atlassian serves its report-accounts API.
struct FakeAtlassian {
    secret: String,
    closed: HashSet<String>,
    updated: HashSet<String>,
    cycle_period: Option<&'static str>,
    script: Mutex<VecDeque<Reply>>,
    /// The accounts of every call that passed authentication.
    calls: Mutex<Vec<Vec<Value>>>,
    refused: Mutex<Vec<String>>,
}

impl FakeAtlassian {
    fn calls(&self) -> Vec<Vec<String>> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|call| call.iter().map(|a| a["accountId"].as_str().unwrap_or_default().to_owned()).collect())
            .collect()
    }

    fn script(&self, replies: &[Reply]) {
        self.script.lock().unwrap().extend(replies.iter().cloned());
    }
}

fn verify(fake: &FakeAtlassian, method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<(), String> {
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or("no Authorization")?;
    let token = auth.strip_prefix("JWT ").ok_or("not a JWT Authorization")?;
    if unverified_issuer(token).map_err(|e| e.to_string())? != APP_KEY {
        return Err("iss is not the app key".into());
    }
    let qsh = query_string_hash(method.as_str(), uri.path(), uri.query().unwrap_or(""), "/wiki");
    let (claims, _) = verify_hs256(token, &fake.secret, QshRule::Request(&qsh), Some(SystemClock.now_secs()))
        .map_err(|e| e.to_string())?;
    if claims.sub.is_some() || claims.exp.zip(claims.iat).map(|(exp, iat)| exp - iat) != Some(180) {
        return Err("unexpected claims".into());
    }
    if method != Method::POST || uri.path() != format!("/wiki{PATH}") {
        return Err(format!("unexpected request {method} {}", uri.path()));
    }
    if headers.get(header::CONTENT_TYPE).is_none_or(|v| v != "application/json") {
        return Err("not JSON".into());
    }
    Ok(())
}

async fn handle(
    State(fake): State<Arc<FakeAtlassian>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(reason) = verify(&fake, &method, &uri, &headers) {
        fake.refused.lock().unwrap().push(reason.clone());
        return (StatusCode::UNAUTHORIZED, reason).into_response();
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let accounts = request["accounts"].as_array().cloned().unwrap_or_default();
    fake.calls.lock().unwrap().push(accounts.clone());
    let reply = fake.script.lock().unwrap().pop_front().unwrap_or(Reply::Normal);
    let mut response = match reply {
        Reply::TooMany(after) => (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, after)], "").into_response(),
        Reply::Status(code) => StatusCode::from_u16(code).expect("status").into_response(),
        Reply::Body(text) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Reply::Normal => {
            let statuses: Vec<Value> = accounts
                .iter()
                .filter_map(|a| a["accountId"].as_str())
                .filter_map(|id| {
                    let status = if fake.closed.contains(id) {
                        "closed"
                    } else if fake.updated.contains(id) {
                        "updated"
                    } else {
                        return None;
                    };
                    Some(json!({"accountId": id, "status": status}))
                })
                .collect();
            if statuses.is_empty() {
                StatusCode::NO_CONTENT.into_response()
            } else {
                axum::Json(json!({"accounts": statuses})).into_response()
            }
        }
    };
    if let Some(cycle) = fake.cycle_period {
        response.headers_mut().insert("cycle-period", cycle.parse().expect("header"));
    }
    response
}

async fn spawn(fake: Arc<FakeAtlassian>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let app = Router::new().fallback(handle).with_state(fake);
    tokio::spawn(async move { axum::serve(listener, app).await.expect("fake serves") });
    addr
}

struct World {
    app: TestApp,
    job: PrivacyJob,
    _dir: Option<tempfile::TempDir>,
}

fn fake(secret: &str, closed: &[usize], updated: &[usize], cycle: Option<&'static str>) -> Arc<FakeAtlassian> {
    Arc::new(FakeAtlassian {
        secret: secret.into(),
        closed: closed.iter().map(|i| account(*i)).collect(),
        updated: updated.iter().map(|i| account(*i)).collect(),
        cycle_period: cycle,
        script: Mutex::default(),
        calls: Mutex::default(),
        refused: Mutex::default(),
    })
}

async fn world(store: Store) -> World {
    let Opened { store, dir } = store.open().await;
    let app = TestApp::with_store(store).with_feedback_routes();
    let job = PrivacyJob::new(app.state.clone(), http_client().expect("client"));
    World { app, job, _dir: dir }
}

impl World {
    /// Installs `client` with its site served by `fake`, and `users` user records (the first
    /// through a real visit, which enrols the tenant; the rest written in bulk).
    async fn tenant(&self, client: &str, fake: &Arc<FakeAtlassian>, users: usize) {
        let addr = spawn(fake.clone()).await;
        let mut payload = install_payload(client, &fake.secret);
        payload["baseUrl"] = json!(format!("http://{addr}/wiki"));
        let token = sign_install(&install_claims(client, "/lifecycle/installed", self.app.now_secs()));
        let (status, _, body) = self.app.send(post("/lifecycle/installed", Some(&token), &payload)).await;
        assert_eq!(status, 204, "{body}");
        let tenant = key(client);
        users::record_visit(&self.app.state, &tenant, Some(&account(0))).await.expect("first visit");
        let now = self.app.clock.now_millis();
        let writes: Vec<Write> = (1..users)
            .map(|i| Write::Put {
                item: Item {
                    tenant: tenant.clone(),
                    sk: keys::user(&account(i)),
                    version: 1,
                    updated_at: now,
                    updated_by: None,
                    due: None,
                    expires_at: None,
                    body: json!({"firstSeen": now, "lastSeen": now, "dismissedAnnouncements": []}).into(),
                },
                condition: Condition::Absent,
            })
            .collect();
        for chunk in writes.chunks(100) {
            self.app.state.store.transact(chunk.to_vec(), self.app.now_secs()).await.expect("users");
        }
    }

    async fn run(&self) -> RunReport {
        privacy::run(&self.job).await.expect("run")
    }

    async fn has_user(&self, client: &str, i: usize) -> bool {
        self.app
            .state
            .store
            .get(&key(client), &keys::user(&account(i)), self.app.now_secs())
            .await
            .expect("get")
            .is_some()
    }

    async fn items(&self, client: &str, prefix: &str) -> Vec<Item> {
        let page = PageRequest { limit: 1000, after: None };
        self.app.state.store.query(&key(client), prefix, page, self.app.now_secs()).await.expect("query").items
    }

    async fn progress(&self, client: &str) -> report_state::ReportState {
        report_state::load(&self.app.state, &key(client)).await.expect("load").expect("enrolled").0
    }

    /// Feedback by `user` about a fresh site, contactable or not; answers the feedback id.
    async fn feedback_by(&self, client: &str, user: usize, contactable: bool) -> String {
        let secret = &self.secret_of(client);
        let admin = context_token_as(client, secret, Some(ADMIN_ACCOUNT), self.app.now_secs());
        let (status, _, site) =
            self.app.send(post("/api/sites", Some(&admin), &json!({"name": "S", "visibility": "public"}))).await;
        assert_eq!(status, 201, "{site}");
        let token = context_token_as(client, secret, Some(&account(user)), self.app.now_secs());
        let body = json!({"siteId": site["id"], "rating": 4, "contactable": contactable});
        let (status, _, created) = self.app.send(post("/api/feedback", Some(&token), &body)).await;
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().expect("id").to_owned()
    }

    fn secret_of(&self, client: &str) -> String {
        format!("{client}-secret")
    }
}

fn key(client: &str) -> TenantKey {
    TenantKey::from_verified(client).expect("key")
}

/// The contacts on feedback items (or on the feedback in trash entries), sorted.
fn contacts(items: &[Item]) -> Vec<String> {
    let mut contacts: Vec<String> = items
        .iter()
        .filter_map(|i| {
            let body = i.body.to_value().unwrap();
            body.get("contact").or_else(|| body["body"].get("contact")).cloned()
        })
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect();
    contacts.sort();
    contacts
}

mod scenarios {
    use super::*;

    pub async fn reports_every_account_in_batches_and_erases_closed_ones(w: World) {
        let site = fake(&w.secret_of(A), &[5, 150], &[10], Some("10 Days"));
        w.tenant(A, &site, 200).await;
        let live = w.feedback_by(A, 5, true).await;
        let trashed = w.feedback_by(A, 5, true).await;
        w.feedback_by(A, 150, false).await;
        w.feedback_by(A, 6, true).await;
        let admin = context_token_as(A, &w.secret_of(A), Some(ADMIN_ACCOUNT), w.app.now_secs());
        let (status, _, _) = w.app.send(delete(&format!("/api/feedback/{trashed}"), &admin, None)).await;
        assert_eq!(status, 204);
        assert_eq!(contacts(&w.items(A, keys::FEEDBACK_PREFIX).await), [account(5), account(6)]);
        assert_eq!(contacts(&w.items(A, keys::TRASH_PREFIX).await), [account(5)]);
        let users_before = w.items(A, keys::USER_PREFIX).await.len();

        let report = w.run().await;
        assert_eq!(
            report,
            RunReport {
                tenants_due: 1,
                completed: 1,
                reports_sent: 3,
                accounts_reported: users_before as u32,
                closed: 2,
                updated: 1,
                users_erased: 2,
                contacts_erased: 2,
                ..RunReport::default()
            }
        );
        assert!(site.refused.lock().unwrap().is_empty(), "{:?}", site.refused.lock().unwrap());
        let calls = site.calls();
        assert_eq!(
            calls.iter().map(Vec::len).collect::<Vec<_>>(),
            [MAX_ACCOUNTS_PER_REPORT, MAX_ACCOUNTS_PER_REPORT, 20 + 1]
        );
        let reported: Vec<String> = calls.concat();
        let mut expected: Vec<String> = w.items(A, "USER#").await.iter().map(|i| i.sk[5..].to_owned()).collect();
        expected.extend([account(5), account(150)]);
        expected.sort();
        assert_eq!(reported, expected, "every stored account once, in key order");
        let first = site.calls.lock().unwrap()[0][0].clone();
        assert_eq!(first["updatedAt"], "2026-01-15T00:00:00Z");
        // The admin who created the sites got a user record too (they used the feedback routes).
        assert!(reported.contains(&ADMIN_ACCOUNT.to_owned()));

        assert!(!w.has_user(A, 5).await && !w.has_user(A, 150).await, "closed accounts are gone");
        assert!(w.has_user(A, 6).await && w.has_user(A, 10).await && w.has_user(A, 199).await);
        assert_eq!(contacts(&w.items(A, keys::FEEDBACK_PREFIX).await), [account(6)]);
        assert!(contacts(&w.items(A, keys::TRASH_PREFIX).await).is_empty(), "the trashed copy too");
        assert!(w.items(A, &keys::contacts_of(&account(5))).await.is_empty());
        assert_eq!(w.items(A, &keys::contacts_of(&account(6))).await.len(), 1);
        let admin_view = w.app.send(get(&format!("/api/feedback/{live}"), Some(&admin))).await.2;
        assert!(admin_view.get("contactAccountId").is_none(), "{admin_view}");

        let progress = w.progress(A).await;
        assert_eq!(progress.cycle_period_secs, 10 * 86_400, "Cycle-Period honoured");
        assert_eq!(progress.next_due_at, w.app.now_secs() + 10 * 86_400);
        assert_eq!((progress.cursor, progress.last_outcome.as_deref()), (None, Some("completed")));

        // Idempotent: nothing is due until the next cycle.
        assert_eq!(w.run().await, RunReport::default());
        w.app.clock.advance_secs(10 * 86_400 - 1);
        assert_eq!(w.run().await.tenants_due, 0);
        w.app.clock.advance_secs(1);
        let again = w.run().await;
        assert_eq!((again.completed, again.accounts_reported, again.closed), (1, users_before as u32 - 2, 0));
    }

    pub async fn a_429_stops_the_tenant_and_the_next_run_resumes_at_the_cursor(w: World) {
        let site = fake(&w.secret_of(A), &[150], &[], None);
        w.tenant(A, &site, 200).await;
        site.script(&[Reply::Normal, Reply::TooMany("120")]);
        let report = w.run().await;
        assert_eq!((report.rate_limited, report.reports_sent, report.closed), (1, 2, 0));
        assert!(w.has_user(A, 150).await, "nothing erased from a refused batch");
        let progress = w.progress(A).await;
        assert_eq!(progress.cursor.as_deref(), Some(keys::user(&account(89)).as_str()));
        assert_eq!(progress.next_due_at, w.app.now_secs() + 120);
        assert_eq!(progress.cycle_period_secs, DEFAULT_CYCLE_SECS);

        w.app.clock.advance_secs(119);
        assert_eq!(w.run().await.tenants_due, 0, "Retry-After is honoured");
        w.app.clock.advance_secs(1);
        let report = w.run().await;
        assert_eq!((report.completed, report.reports_sent, report.closed, report.users_erased), (1, 2, 1, 1));
        let calls = site.calls();
        assert_eq!(calls.len(), 4);
        assert_eq!(calls[2][0], account(90), "resumed at the cursor");
        assert_eq!(calls[3].last(), Some(&account(199)));
        assert!(!w.has_user(A, 150).await);
        assert_eq!(w.progress(A).await.next_due_at, w.app.now_secs() + DEFAULT_CYCLE_SECS);
    }

    pub async fn failures_and_garbage_erase_nothing_and_back_off(w: World) {
        let site = fake(&w.secret_of(A), &[3], &[], Some("soon"));
        w.tenant(A, &site, 10).await;
        w.feedback_by(A, 3, true).await;
        let bad: [(Reply, i64); 6] = [
            (Reply::Status(500), 900),
            (Reply::Status(503), 1_800),
            (Reply::Body("not json"), 3_600),
            (Reply::Body(r#"{"accounts": "closed"}"#), 7_200),
            (Reply::Body(r#"{"accounts": [{"accountId": "557058:u003", "status": 3}]}"#), 14_400),
            (Reply::Status(403), 28_800),
        ];
        for (reply, delay) in bad {
            site.script(&[reply]);
            let report = w.run().await;
            assert_eq!((report.failed, report.closed, report.errors), (1, 0, 0));
            assert!(w.has_user(A, 3).await, "nothing erased");
            assert_eq!(contacts(&w.items(A, keys::FEEDBACK_PREFIX).await), [account(3)]);
            let progress = w.progress(A).await;
            assert_eq!(progress.next_due_at, w.app.now_secs() + delay, "backs off");
            w.app.clock.advance_secs(delay);
        }
        // A site that does not answer at all.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let dead = closed.local_addr().expect("addr");
        drop(closed);
        let mut install = install_payload(A, &site.secret);
        install["baseUrl"] = json!(format!("http://{dead}/wiki"));
        let token = sign_install(&install_claims(A, "/lifecycle/installed", w.app.now_secs()));
        assert_eq!(w.app.send(post("/lifecycle/installed", Some(&token), &install)).await.0, 204);
        let report = w.run().await;
        assert_eq!((report.failed, report.closed), (1, 0));
        assert!(w.progress(A).await.last_outcome.is_some_and(|o| o.starts_with("failed: unreachable")));
        w.app.clock.advance_secs(86_400);

        let addr_back = spawn(site.clone()).await;
        install["baseUrl"] = json!(format!("http://{addr_back}/wiki"));
        let token = sign_install(&install_claims(A, "/lifecycle/installed", w.app.now_secs()));
        assert_eq!(w.app.send(post("/lifecycle/installed", Some(&token), &install)).await.0, 204);
        let report = w.run().await;
        assert_eq!((report.completed, report.closed, report.contacts_erased), (1, 1, 1));
        let progress = w.progress(A).await;
        assert_eq!(
            (progress.failures, progress.cycle_period_secs),
            (0, DEFAULT_CYCLE_SECS),
            "an unreadable Cycle-Period is ignored"
        );
        assert!(contacts(&w.items(A, keys::FEEDBACK_PREFIX).await).is_empty());
    }

    /// A closed admin's name leaves the content they edited and the trash entries of what they
    /// deleted; the content itself, its version (so an editor's `If-Match` still holds) and the
    /// other admin's traces stay. A second run finds nothing more.
    pub async fn a_closed_admin_is_forgotten_as_editor_and_deleter(w: World) {
        let site = Arc::new(FakeAtlassian {
            closed: HashSet::from([ADMIN_ACCOUNT.to_owned()]),
            ..Arc::into_inner(fake(&w.secret_of(A), &[], &[], None)).expect("fresh fake")
        });
        w.tenant(A, &site, 2).await;
        let secret = w.secret_of(A);
        let admin = context_token_as(A, &secret, Some(ADMIN_ACCOUNT), w.app.now_secs());
        users::record_visit(&w.app.state, &key(A), Some(ADMIN_ACCOUNT)).await.expect("admin visit");
        let create = |name: &str| post("/api/sites", Some(&admin), &json!({"name": name, "visibility": "public"}));
        let (status, _, kept) = w.app.send(create("Kept")).await;
        assert_eq!(status, 201, "{kept}");
        let (status, _, gone) = w.app.send(create("Deleted")).await;
        assert_eq!(status, 201, "{gone}");
        let gone_path = format!("/api/sites/{}", gone["id"].as_str().expect("id"));
        assert_eq!(w.app.send(delete(&gone_path, &admin, Some("\"1\""))).await.0, 204);
        let naming = |items: &[Item]| {
            items
                .iter()
                .filter(|i| {
                    i.updated_by.as_deref() == Some(ADMIN_ACCOUNT)
                        || i.body.to_value().unwrap()["deletedBy"] == ADMIN_ACCOUNT
                })
                .count()
        };
        let before = w.items(A, "").await;
        assert!(naming(&before) >= 3, "the site, its trash entry and the counters name the admin");

        let report = w.run().await;
        assert_eq!((report.closed, report.users_erased), (1, 1), "{report:?}");
        let after = w.items(A, "").await;
        assert_eq!(naming(&after), 0, "{after:#?}");
        assert_eq!(report.editors_forgotten as usize, naming(&before));
        let kept_path = format!("/api/sites/{}", kept["id"].as_str().expect("id"));
        let (status, headers, site_now) = w.app.send(get(&kept_path, Some(&admin))).await;
        assert_eq!((status, headers["etag"].to_str().unwrap()), (200, "\"1\""));
        assert_eq!(site_now["name"], "Kept");
        assert!(site_now.get("updatedBy").is_none_or(Value::is_null), "{site_now}");
        let trash = after.iter().find(|i| i.sk.starts_with(keys::TRASH_PREFIX)).expect("trash entry stays");
        assert_eq!(trash.body.to_value().unwrap()["body"]["name"], "Deleted");
        // The job's own bookkeeping (user records, report progress) aside, nothing was added,
        // removed or re-versioned.
        let fields = |items: &[Item]| {
            items
                .iter()
                .filter(|i| !i.sk.starts_with(keys::USER_PREFIX) && i.sk != keys::PRIVACY_REPORT)
                .map(|i| (i.sk.clone(), i.version))
                .collect::<Vec<_>>()
        };
        let content = |items: &[Item]| {
            fields(items).into_iter().filter(|(sk, _)| !sk.starts_with(keys::EDITOR_PREFIX)).collect::<Vec<_>>()
        };
        assert_eq!(content(&after), content(&before));
        assert!(after.iter().all(|i| !i.sk.starts_with(&keys::edits_of(ADMIN_ACCOUNT))), "the pointers go too");

        let again = canopy_shared::domain::privacy::editors::forget_editor(&w.app.state, &key(A), ADMIN_ACCOUNT)
            .await
            .expect("again");
        assert_eq!(again, 0);
    }

    /// Every kind of item an admin writes (site, navigation, announcement, page metadata, theme,
    /// a deletion to the trash, a restore) in two tenants, plus an item written before the editor
    /// pointers existed: after each tenant's report says `closed`, no item of either tenant
    /// holds the accountId anywhere (key, editor, body), pointers included.
    pub async fn after_a_closed_report_no_item_of_any_tenant_holds_the_account(w: World) {
        let pre_index = "PAGE#777";
        for client in [A, B] {
            let site = Arc::new(FakeAtlassian {
                closed: HashSet::from([ADMIN_ACCOUNT.to_owned()]),
                ..Arc::into_inner(fake(&w.secret_of(client), &[], &[], None)).expect("fresh fake")
            });
            w.tenant(client, &site, 2).await;
            let admin = context_token_as(client, &w.secret_of(client), Some(ADMIN_ACCOUNT), w.app.now_secs());
            users::record_visit(&w.app.state, &key(client), Some(ADMIN_ACCOUNT)).await.expect("admin visit");
            let created = |path: &str, body: Value| {
                let request = post(path, Some(&admin), &body);
                async {
                    let (status, _, body) = w.app.send(request).await;
                    assert_eq!(status, 201, "{body}");
                    body["id"].as_str().expect("id").to_owned()
                }
            };
            let theme = json!({"name": "T", "colors": {"primary": "#0052CC", "background": "#FFFFFF", "text": "#172B4D"}, "fonts": {"body": "Inter, sans-serif"}});
            let theme_id = created("/api/themes", theme).await;
            let site_id =
                created("/api/sites", json!({"name": "S", "visibility": "public", "themeId": theme_id})).await;
            let nav = json!({"items": [{"id": "n1", "label": "Home", "target": {"type": "space", "spaceKey": "DOC"}, "children": []}]});
            let status = w.app.send(put(&format!("/api/sites/{site_id}/navigation"), &admin, None, &nav)).await.0;
            assert_eq!(status, 201);
            let announcement = json!({"title": "Hi", "body": "x", "severity": "info", "audience": "everyone",
                "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2026-02-01T00:00:00Z", "dismissible": true});
            let path = format!("/api/sites/{site_id}/announcements");
            let gone = created(&path, announcement.clone()).await;
            created(&path, announcement).await;
            assert_eq!(w.app.send(delete(&format!("{path}/{gone}"), &admin, Some("\"1\""))).await.0, 204);
            let meta = json!({"description": "About"});
            assert_eq!(w.app.send(put("/api/pages/12345/metadata", &admin, None, &meta)).await.0, 201);
            assert_eq!(w.app.send(delete("/api/pages/12345/metadata", &admin, Some("\"1\""))).await.0, 204);
            let (_, _, trash) = w.app.send(get("/api/trash", Some(&admin))).await;
            let page_entry = trash["items"]
                .as_array()
                .and_then(|items| items.iter().find(|i| i["kind"] == "page metadata"))
                .and_then(|i| i["id"].as_str())
                .expect("page metadata in the trash")
                .to_owned();
            let restore = post(&format!("/api/trash/{page_entry}/restore"), Some(&admin), &json!({}));
            assert_eq!(w.app.send(restore).await.0, 200);
            // Written before the pointers existed: no pointer, found by the one-time indexing.
            let legacy = Item {
                tenant: key(client),
                sk: pre_index.into(),
                version: 3,
                updated_at: 0,
                updated_by: Some(ADMIN_ACCOUNT.into()),
                due: None,
                expires_at: None,
                body: json!({"description": "old"}).into(),
            };
            let write = Write::Put { item: legacy, condition: Condition::Absent };
            w.app.state.store.transact(vec![write], w.app.now_secs()).await.expect("legacy item");
        }
        let holding = |items: &[Item]| {
            items
                .iter()
                .filter(|i| {
                    i.sk.contains(ADMIN_ACCOUNT)
                        || i.updated_by.as_deref() == Some(ADMIN_ACCOUNT)
                        || i.body.to_string().contains(ADMIN_ACCOUNT)
                })
                .map(|i| i.sk.clone())
                .collect::<Vec<_>>()
        };
        for client in [A, B] {
            let items = w.items(client, "").await;
            let held = holding(&items);
            assert!(held.len() >= 10, "{client}: the admin is named widely before: {held:?}");
            assert!(
                !items.iter().any(|i| i.sk == keys::edit(ADMIN_ACCOUNT, pre_index)),
                "the legacy item has no pointer yet"
            );
        }

        let report = w.run().await;
        assert_eq!((report.completed, report.closed, report.errors), (2, 2, 0), "{report:?}");
        for client in [A, B] {
            let items = w.items(client, "").await;
            assert_eq!(holding(&items), Vec::<String>::new(), "{client} still holds the account");
            let legacy = items.iter().find(|i| i.sk == pre_index).expect("the content stays");
            assert_eq!((legacy.version, legacy.body.to_value().unwrap()["description"].as_str()), (3, Some("old")));
            assert!(w.progress(client).await.editors_indexed);
        }
    }

    /// The per-tenant bound at (180 accounts = 2 calls: completes) and over it (181: paused and
    /// due at once, finished by the next run); the per-run bound across two tenants.
    pub async fn run_bounds_pause_and_resume(w: World) {
        let (site_a, site_b) = (fake(&w.secret_of(A), &[], &[], None), fake(&w.secret_of(B), &[], &[], None));
        w.tenant(A, &site_a, 180).await;
        w.tenant(B, &site_b, 181).await;
        let mut job = w.job.clone();
        job.bounds = RunBounds { reports_per_run: 100, reports_per_tenant_run: 2 };
        let report = privacy::run(&job).await.expect("run");
        assert_eq!((report.completed, report.paused, report.reports_sent), (1, 1, 4));
        assert_eq!(w.progress(A).await.last_outcome.as_deref(), Some("completed"));
        let paused = w.progress(B).await;
        assert_eq!((paused.next_due_at, paused.cursor.clone()), (w.app.now_secs(), Some(keys::user(&account(179)))));
        let report = privacy::run(&job).await.expect("run");
        assert_eq!((report.tenants_due, report.completed, report.reports_sent), (1, 1, 1));
        assert_eq!(site_b.calls().last().map(Vec::len), Some(1));

        // The run bound: three calls in all, then the run stops and the rest stays due.
        w.app.clock.advance_secs(DEFAULT_CYCLE_SECS);
        job.bounds = RunBounds { reports_per_run: 3, reports_per_tenant_run: 50 };
        let report = privacy::run(&job).await.expect("run");
        assert_eq!((report.reports_sent, report.completed, report.paused), (3, 1, 1));
        let report = privacy::run(&job).await.expect("run");
        assert_eq!((report.completed, report.reports_sent), (1, 2));
    }

    /// A tenant that uninstalled is not reported (its data goes with the purge), nor is a
    /// Forge-only one; both stay on the schedule.
    pub async fn tenants_without_a_connect_install_are_skipped(w: World) {
        let site = fake(&w.secret_of(A), &[], &[], None);
        w.tenant(A, &site, 3).await;
        let token = sign_install(&install_claims(A, "/lifecycle/uninstalled", w.app.now_secs()));
        assert_eq!(
            w.app.send(post("/lifecycle/uninstalled", Some(&token), &json!({"key": "canopy", "clientKey": A}))).await.0,
            204
        );
        let report = w.run().await;
        assert_eq!((report.tenants_due, report.skipped, report.reports_sent), (1, 1, 0));
        assert_eq!(w.progress(A).await.next_due_at, w.app.now_secs() + DEFAULT_CYCLE_SECS);
        assert!(site.calls().is_empty());

        // A Forge-only site has no shared secret to sign a Connect app token with.
        let forge = key("forge:4869c4ef-cb0d-4108-8243-8929ac7cc1fa");
        let record = json!({
            "clientKey": forge.as_str(), "productType": "confluence", "baseUrl": "https://x.atlassian.net/wiki",
            "sharedSecret": "", "state": "enabled", "region": "us", "firstInstalledAt": "", "installedAt": "",
        });
        let item = Item {
            tenant: forge.clone(),
            sk: keys::TENANT_RECORD.into(),
            version: 1,
            updated_at: 0,
            updated_by: None,
            due: None,
            expires_at: None,
            body: record.into(),
        };
        w.app
            .state
            .store
            .transact(vec![Write::Put { item, condition: Condition::Absent }], w.app.now_secs())
            .await
            .expect("tenant");
        users::record_visit(&w.app.state, &forge, Some(&account(1))).await.expect("visit");
        let report = w.run().await;
        assert_eq!((report.tenants_due, report.skipped, report.reports_sent), (1, 1, 0));
        let progress = report_state::load(&w.app.state, &forge).await.expect("load").expect("enrolled").0;
        assert_eq!(progress.last_outcome.as_deref(), Some("skipped: Forge-only tenant"));
    }
}

support::scenarios!(stores: [
    reports_every_account_in_batches_and_erases_closed_ones,
    a_429_stops_the_tenant_and_the_next_run_resumes_at_the_cursor,
    failures_and_garbage_erase_nothing_and_back_off,
    run_bounds_pause_and_resume,
    tenants_without_a_connect_install_are_skipped,
    a_closed_admin_is_forgotten_as_editor_and_deleter,
    after_a_closed_report_no_item_of_any_tenant_holds_the_account,
]);
