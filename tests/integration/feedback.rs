//! The feedback function through its router, on both store adapters: submission about sites and
//! pages, the admin listing (newest first, filters, bounded scans), export, delete to the trash,
//! the contact kept only when chosen, rate limits holding across two app instances over one
//! store, `/api/me` with hourly `lastSeen` and bounded dismissals, and bad input.

use std::sync::Arc;

use canopy_shared::TenantKey;
use canopy_shared::domain::feedback::model::MAX_TEXT_CHARS;
use canopy_shared::domain::feedback::{ANONYMOUS_WINDOWS, MAX_SCANNED_PER_PAGE, SOURCE_WINDOWS, USER_WINDOWS};
use canopy_shared::domain::users::MAX_DISMISSED_ANNOUNCEMENTS;
use canopy_shared::http::feedback::MAX_FEEDBACK_BODY_BYTES;
use canopy_shared::kernel::clock::Clock;
use canopy_shared::kernel::keys;
use canopy_shared::ports::store::{Condition, Item, ItemStore, PageRequest, Write};
use serde_json::{Value, json};
use support::app::*;
use support::counting::{Calls, CountingStore};
use support::world::{Opened, Scheme, Store};
use tower::ServiceExt;

const A: &str = "tenant-a";
const B: &str = "tenant-b";
const SECRET_A: &str = "secret-a";
const SECRET_B: &str = "secret-b";
const OTHER_USER: &str = "557058:other-user";

/// Two app instances (two "Lambda instances") over one store, each with its own clock.
struct World {
    app: TestApp,
    second: TestApp,
    /// The store calls of the first instance.
    calls: Arc<Calls>,
    scheme: Scheme,
    _dir: Option<tempfile::TempDir>,
}

async fn world(store: Store, scheme: Scheme) -> World {
    let Opened { store, dir } = store.open().await;
    let calls = Arc::new(Calls::default());
    let counting: Arc<dyn ItemStore> = Arc::new(CountingStore { inner: store.clone(), calls: calls.clone() });
    let app = TestApp::with_store(counting).with_feedback_routes();
    // Two instances of one deployment: one store, one master key for the tenants' secrets.
    let mut second = TestApp::with_store(store);
    second.state.stack.data.secrets = app.state.secrets.clone();
    let second = second.with_feedback_routes();
    for (client, secret) in [(A, SECRET_A), (B, SECRET_B)] {
        app.install(client, secret).await;
    }
    World { app, second, calls, scheme, _dir: dir }
}

fn secret(client: &str) -> &'static str {
    if client == A { SECRET_A } else { SECRET_B }
}

impl World {
    fn token(&self, client: &str, account: Option<&str>) -> String {
        self.scheme.token(client, secret(client), account, self.app.now_secs())
    }

    fn admin(&self) -> String {
        self.token(A, Some(ADMIN_ACCOUNT))
    }

    fn user(&self) -> String {
        self.token(A, Some(USER_ACCOUNT))
    }

    /// Both instances' clocks move together.
    fn advance_secs(&self, secs: i64) {
        self.app.clock.advance_secs(secs);
        self.second.clock.advance_secs(secs);
    }

    async fn submit_on(&self, app: &TestApp, token: &str, body: &Value) -> (u16, axum::http::HeaderMap, Value) {
        app.send(post("/api/feedback", Some(token), body)).await
    }

    /// A submission from the network address `ip` (as the local server's socket peer).
    async fn submit_from(
        &self,
        app: &TestApp,
        ip: &str,
        token: &str,
        body: &Value,
    ) -> (u16, axum::http::HeaderMap, Value) {
        let mut request = post("/api/feedback", Some(token), body);
        let peer: std::net::SocketAddr = format!("{ip}:443").parse().expect("address");
        request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
        app.send(request).await
    }

    async fn submit(&self, token: &str, body: &Value) -> (u16, Value) {
        let (status, _, body) = self.submit_on(&self.app, token, body).await;
        (status, body)
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let (status, _, body) = self.app.send(get(path, Some(token))).await;
        (status, body)
    }

    async fn site(&self, name: &str) -> String {
        let (status, _, body) = self
            .app
            .send(post("/api/sites", Some(&self.admin()), &json!({"name": name, "visibility": "public"})))
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().expect("id").to_owned()
    }

    async fn items(&self, client: &str, prefix: &str) -> Vec<Item> {
        let tenant = TenantKey::from_verified(client).expect("key");
        let page = PageRequest { limit: 1000, after: None };
        self.app.state.store.query(&tenant, prefix, page, self.app.now_secs()).await.expect("query").items
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().expect("items").iter().map(|i| i["id"].as_str().expect("id").to_owned()).collect()
}

fn error_code(body: &Value) -> Option<&str> {
    body["error"]["code"].as_str()
}

mod scenarios {
    use super::*;

    pub async fn submit_list_filter_export_delete_and_restore(w: World) {
        let site = w.site("Docs").await;
        let other_site = w.site("Blog").await;
        let mut submitted = Vec::new();
        for (i, about) in [
            json!({"siteId": site}),
            json!({"pageId": "12345"}),
            json!({"siteId": other_site, "pageId": "12345"}),
            json!({"siteId": site, "pageId": "777"}),
        ]
        .into_iter()
        .enumerate()
        {
            let mut body = about.clone();
            body["rating"] = json!(i as i64 + 1);
            body["text"] = json!(format!("  feedback {i}\n"));
            let (status, created) = w.submit(&w.user(), &body).await;
            assert_eq!(status, 201, "{created}");
            assert_eq!(created["text"], format!("feedback {i}"), "trimmed");
            assert_eq!(created["submittedAt"], format!("2026-01-15T00:00:0{i}Z"));
            submitted.push(created["id"].as_str().expect("id").to_owned());
            w.advance_secs(1);
        }
        let newest_first: Vec<String> = submitted.iter().rev().cloned().collect();

        let (status, page) = w.get("/api/feedback", &w.admin()).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(ids(&page), newest_first);
        assert_eq!(page["nextCursor"], Value::Null);
        assert!(page["items"][0].get("contactAccountId").is_none());

        let (_, first) = w.get("/api/feedback?limit=3", &w.admin()).await;
        assert_eq!(ids(&first), newest_first[..3]);
        let cursor = first["nextCursor"].as_str().expect("more follow");
        let (_, rest) = w.get(&format!("/api/feedback?limit=3&cursor={cursor}"), &w.admin()).await;
        assert_eq!((ids(&rest), &rest["nextCursor"]), (newest_first[3..].to_vec(), &Value::Null));

        let (_, by_site) = w.get(&format!("/api/feedback?siteId={site}"), &w.admin()).await;
        assert_eq!(ids(&by_site), vec![submitted[3].clone(), submitted[0].clone()]);
        let (_, by_page) = w.get("/api/feedback?pageId=12345", &w.admin()).await;
        assert_eq!(ids(&by_page), vec![submitted[2].clone(), submitted[1].clone()]);
        let (_, both) = w.get(&format!("/api/feedback?siteId={site}&pageId=777"), &w.admin()).await;
        assert_eq!(ids(&both), vec![submitted[3].clone()]);
        let (_, by_site_paged) = w.get(&format!("/api/feedback?siteId={site}&limit=1"), &w.admin()).await;
        assert_eq!(ids(&by_site_paged), vec![submitted[3].clone()]);
        assert!(by_site_paged["nextCursor"].is_string());

        let (status, headers, document) = w.app.send(get("/api/feedback/export", Some(&w.admin()))).await;
        assert_eq!(status, 200);
        assert_eq!(document["format"], "canopy-feedback-export");
        assert_eq!(document["schemaVersion"], 1);
        assert_eq!(ids(&document), newest_first);
        assert_eq!(headers["content-disposition"], "attachment; filename=\"canopy-feedback-2026-01-15.json\"");

        let path = format!("/api/feedback/{}", submitted[0]);
        let (status, one) = w.get(&path, &w.admin()).await;
        assert_eq!((status, one["rating"].as_i64()), (200, Some(1)));
        let (status, _, body) = w.app.send(delete(&path, &w.admin(), Some("\"9\""))).await;
        assert_eq!((status, error_code(&body)), (412, Some("version_mismatch")));
        let (status, _, _) = w.app.send(delete(&path, &w.admin(), None)).await;
        assert_eq!(status, 204);
        assert_eq!(w.get(&path, &w.admin()).await.0, 404);
        let (status, _, body) = w.app.send(delete(&path, &w.admin(), None)).await;
        assert_eq!((status, error_code(&body)), (404, Some("not_found")));
        let (_, page) = w.get("/api/feedback", &w.admin()).await;
        assert_eq!(ids(&page).len(), 3);

        let (_, trash) = w.get("/api/trash", &w.admin()).await;
        let entries = trash["items"].as_array().expect("items");
        assert_eq!((entries.len(), entries[0]["kind"].as_str()), (1, Some("feedback")));
        let trash_id = entries[0]["id"].as_str().expect("trash id");
        let (status, _, body) =
            w.app.send(post(&format!("/api/trash/{trash_id}/restore"), Some(&w.admin()), &json!({}))).await;
        assert_eq!(status, 200, "restore answers 200 with what it restored: {body}");
        let (_, page) = w.get(&format!("/api/feedback?siteId={site}"), &w.admin()).await;
        assert_eq!(ids(&page), vec![submitted[3].clone(), submitted[0].clone()], "restored in place");
    }

    pub async fn the_contact_is_kept_only_when_chosen(w: World) {
        let site = w.site("Docs").await;
        let (status, quiet) = w.submit(&w.user(), &json!({"siteId": site, "rating": 4})).await;
        assert_eq!(status, 201);
        assert!(quiet.get("contactAccountId").is_none());
        let (status, contactable) =
            w.submit(&w.user(), &json!({"siteId": site, "text": "call me", "contactable": true})).await;
        assert_eq!((status, contactable["contactAccountId"].as_str()), (201, Some(USER_ACCOUNT)));

        let stored = w.items(A, keys::FEEDBACK_PREFIX).await;
        assert_eq!(stored.len(), 2);
        for item in &stored {
            assert_eq!(item.updated_by, None, "the submitter is never the writer of record");
        }
        let with_contact: Vec<&Item> = stored.iter().filter(|i| i.body.field::<Value>("contact").is_some()).collect();
        assert_eq!(with_contact.len(), 1);
        assert!(
            !stored
                .iter()
                .any(|i| i.body.to_string().contains(USER_ACCOUNT) && i.body.field::<Value>("contact").is_none())
        );
        let pointers = w.items(A, &keys::contacts_of(USER_ACCOUNT)).await;
        assert_eq!(pointers.len(), 1);
        assert!(pointers[0].sk.ends_with(contactable["id"].as_str().expect("id")));

        // An anonymous visitor cannot be contacted.
        let anonymous = w.token(A, None);
        let (status, body) = w.submit(&anonymous, &json!({"siteId": site, "rating": 2, "contactable": true})).await;
        assert_eq!((status, error_code(&body)), (422, Some("invalid_field")));
        let (status, body) = w.submit(&anonymous, &json!({"siteId": site, "rating": 2})).await;
        assert_eq!(status, 201, "{body}");
    }

    pub async fn bad_input_is_refused_and_writes_nothing(w: World) {
        let site = w.site("Docs").await;
        let foreign_site = {
            let token = w.token(B, Some(ADMIN_ACCOUNT));
            let (status, _, body) =
                w.app.send(post("/api/sites", Some(&token), &json!({"name": "B's", "visibility": "public"}))).await;
            assert_eq!(status, 201);
            body["id"].as_str().expect("id").to_owned()
        };
        let user = w.user();
        let at_limit = "x".repeat(MAX_TEXT_CHARS);
        let over_limit = "x".repeat(MAX_TEXT_CHARS + 1);
        let cases: Vec<(Value, u16, &str)> = vec![
            (json!({"siteId": site}), 422, "empty_feedback"),
            (json!({"siteId": site, "text": "   "}), 422, "empty_feedback"),
            (json!({"siteId": site, "text": over_limit}), 422, "invalid_field"),
            (json!({"siteId": site, "rating": 0}), 422, "invalid_field"),
            (json!({"siteId": site, "rating": 6}), 422, "invalid_field"),
            (json!({"siteId": site, "rating": 2.5}), 422, "invalid_body"),
            (json!({"siteId": site, "rating": "5"}), 422, "invalid_body"),
            (json!({"rating": 5}), 422, "invalid_field"),
            (json!({"pageId": "12a", "rating": 5}), 422, "invalid_field"),
            (json!({"siteId": "nope", "rating": 5}), 422, "invalid_field"),
            (json!({"siteId": site, "rating": 5, "stars": 5}), 422, "invalid_body"),
            (json!({"siteId": foreign_site, "rating": 5}), 404, "not_found"),
            (json!({"siteId": "01JD0000000000000000000009", "rating": 5}), 404, "not_found"),
        ];
        for (body, status, code) in &cases {
            let (got, answer) = w.submit(&user, body).await;
            assert_eq!((got, error_code(&answer)), (*status, Some(*code)), "{body}");
        }
        // Another tenant's site is exactly a missing one.
        let (_, foreign) = w.submit(&user, &json!({"siteId": foreign_site, "rating": 5})).await;
        let (_, missing) = w.submit(&user, &json!({"siteId": "01JD0000000000000000000009", "rating": 5})).await;
        assert_eq!(foreign, missing);

        // A body of exactly the bound is read (and refused for its text); one byte more is not.
        let base = json!({"siteId": site, "text": ""}).to_string().len();
        let at_bound = json!({"siteId": site, "text": "y".repeat(MAX_FEEDBACK_BODY_BYTES - base)});
        assert_eq!(at_bound.to_string().len(), MAX_FEEDBACK_BODY_BYTES);
        let (status, body) = w.submit(&user, &at_bound).await;
        assert_eq!((status, error_code(&body)), (422, Some("invalid_field")));
        let huge = json!({"siteId": site, "text": "y".repeat(MAX_FEEDBACK_BODY_BYTES - base + 1)});
        let (status, body) = w.submit(&user, &huge).await;
        assert_eq!((status, error_code(&body)), (413, Some("payload_too_large")));
        let (status, _, body) = w
            .app
            .send(
                axum::http::Request::post("/api/feedback")
                    .header("authorization", authorization(&user))
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from("{\"siteId\": "))
                    .expect("request"),
            )
            .await;
        assert_eq!((status, error_code(&body)), (400, Some("malformed_json")));
        let (status, body) = w.submit("not-a-token", &json!({"siteId": site, "rating": 5})).await;
        assert_eq!((status, error_code(&body)), (401, Some("unauthenticated")));

        assert!(w.items(A, keys::FEEDBACK_PREFIX).await.is_empty(), "nothing was written");
        assert!(w.items(A, keys::USER_PREFIX).await.is_empty(), "not even the visit");
        assert!(w.items(A, keys::PRIVACY_REPORT).await.is_empty());
        assert!(w.items(A, "RATE#").await.is_empty(), "refused submissions cost nothing");
        assert!(w.items(B, keys::FEEDBACK_PREFIX).await.is_empty());

        let (status, body) = w.submit(&user, &json!({"siteId": site, "text": at_limit})).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(w.items(A, keys::FEEDBACK_PREFIX).await.len(), 1);
        assert_eq!(w.items(A, keys::USER_PREFIX).await.len(), 1, "a successful submission records the visit");
    }

    pub async fn only_admins_read_and_delete_feedback(w: World) {
        let site = w.site("Docs").await;
        let (_, created) = w.submit(&w.user(), &json!({"siteId": site, "rating": 5})).await;
        let path = format!("/api/feedback/{}", created["id"].as_str().expect("id"));
        for token in [w.user(), w.token(A, None)] {
            for route in ["/api/feedback", "/api/feedback/export", path.as_str()] {
                let (status, body) = w.get(route, &token).await;
                assert_eq!((status, error_code(&body)), (403, Some("not_admin")), "{route}");
            }
            let (status, _, body) = w.app.send(delete(&path, &token, None)).await;
            assert_eq!((status, error_code(&body)), (403, Some("not_admin")));
        }
        // Another tenant's admin sees nothing of A's.
        let b_admin = w.token(B, Some(ADMIN_ACCOUNT));
        assert_eq!(w.get(&path, &b_admin).await.0, 404);
        let (status, page) = w.get("/api/feedback", &b_admin).await;
        assert_eq!((status, ids(&page).len()), (200, 0));
        let (status, body) = w.get("/api/feedback?siteId=nope", &w.admin()).await;
        assert_eq!((status, error_code(&body)), (400, Some("bad_query")));
        let (status, body) = w.get("/api/feedback?cursor=nope", &w.admin()).await;
        assert_eq!((status, error_code(&body)), (400, Some("bad_cursor")));
        let (status, body) = w.get("/api/feedback?limit=201", &w.admin()).await;
        assert_eq!((status, error_code(&body)), (400, Some("bad_page_size")));
        let (status, body) = w.get("/api/feedback?sort=asc", &w.admin()).await;
        assert_eq!((status, error_code(&body)), (400, Some("bad_query")));
    }

    /// Two instances over one store: the minute limit is shared, exact, and per user.
    pub async fn flooding_is_limited_across_two_instances(w: World) {
        let site = w.site("Docs").await;
        let body = json!({"siteId": site, "rating": 3});
        let per_minute = USER_WINDOWS[0].max;
        for i in 0..per_minute {
            let app = if i % 2 == 0 { &w.app } else { &w.second };
            let (status, _, answer) = w.submit_on(app, &w.user(), &body).await;
            assert_eq!(status, 201, "submission {i}: {answer}");
        }
        for app in [&w.app, &w.second] {
            let (status, headers, answer) = w.submit_on(app, &w.user(), &body).await;
            assert_eq!((status, error_code(&answer)), (429, Some("rate_limited")));
            // The clock stands at the start of a minute: all of it is left.
            assert_eq!(headers["retry-after"], "60");
        }
        // Another user of the tenant, and the same user in another tenant, have their own budget.
        let other = w.token(A, Some(OTHER_USER));
        assert_eq!(w.submit_on(&w.second, &other, &body).await.0, 201);
        let b_site = {
            let token = w.token(B, Some(ADMIN_ACCOUNT));
            let (_, _, b) =
                w.app.send(post("/api/sites", Some(&token), &json!({"name": "B", "visibility": "public"}))).await;
            b["id"].as_str().expect("id").to_owned()
        };
        let b_user = w.token(B, Some(USER_ACCOUNT));
        assert_eq!(w.submit(&b_user, &json!({"siteId": b_site, "rating": 1})).await.0, 201);
        assert_eq!(w.items(A, keys::FEEDBACK_PREFIX).await.len() as u64, per_minute + 1);

        w.advance_secs(30);
        let (_, headers, _) = w.submit_on(&w.second, &w.user(), &body).await;
        assert_eq!(headers["retry-after"], "30");
        w.advance_secs(30);
        assert_eq!(w.submit_on(&w.second, &w.user(), &body).await.0, 201, "a new minute");

        // A concurrent burst over both instances in a fresh minute: never more than the bound
        // gets through, everything else is a 429, and what got through is exactly what is stored.
        w.advance_secs(60);
        let before = w.items(A, keys::FEEDBACK_PREFIX).await.len();
        let mut burst = tokio::task::JoinSet::new();
        for i in 0..per_minute + 5 {
            let router = if i % 2 == 0 { w.app.router.clone() } else { w.second.router.clone() };
            let request = post("/api/feedback", Some(&w.user()), &body);
            burst.spawn(async move { router.oneshot(request).await.expect("answer").status().as_u16() });
        }
        let statuses = burst.join_all().await;
        let accepted = statuses.iter().filter(|s| **s == 201).count();
        assert!(statuses.iter().all(|s| *s == 201 || *s == 429), "{statuses:?}");
        assert!((1..=per_minute as usize).contains(&accepted), "{statuses:?}");
        assert_eq!(w.items(A, keys::FEEDBACK_PREFIX).await.len(), before + accepted);
    }

    /// The day limit at and over its bound, and the one bucket anonymous visitors share.
    pub async fn the_day_limit_and_the_anonymous_bucket(w: World) {
        let site = w.site("Docs").await;
        let body = json!({"siteId": site, "rating": 3});
        let (minute, day) = (USER_WINDOWS[0].max, USER_WINDOWS[1].max);
        for i in 0..day {
            if i > 0 && i % minute == 0 {
                w.advance_secs(60);
            }
            let app = if i % 2 == 0 { &w.app } else { &w.second };
            assert_eq!(w.submit_on(app, &w.user(), &body).await.0, 201, "submission {i}");
        }
        w.advance_secs(60);
        let (status, headers, answer) = w.submit_on(&w.second, &w.user(), &body).await;
        assert_eq!((status, error_code(&answer)), (429, Some("rate_limited")), "one over the day's bound");
        let retry: i64 = headers["retry-after"].to_str().expect("ascii").parse().expect("secs");
        let seconds_into_day = w.app.now_secs() % 86_400;
        assert_eq!(retry, 86_400 - seconds_into_day, "until the next UTC day");
        w.advance_secs(retry);
        assert_eq!(w.submit(&w.user(), &body).await.0, 201, "a new day");

        let (anon_minute, _) = (ANONYMOUS_WINDOWS[0].max, ANONYMOUS_WINDOWS[1].max);
        for i in 0..anon_minute {
            // Different anonymous visitors, one bucket.
            let app = if i % 2 == 0 { &w.app } else { &w.second };
            let ip = format!("198.51.100.{i}");
            assert_eq!(w.submit_from(app, &ip, &w.token(A, None), &body).await.0, 201, "anonymous {i}");
        }
        assert_eq!(w.submit_from(&w.app, "203.0.113.9", &w.token(A, None), &body).await.0, 429);
        assert_eq!(w.submit(&w.token(A, Some(OTHER_USER)), &body).await.0, 201, "users are not in it");
    }

    /// One anonymous source has its own bucket beside the tenant's: it cannot spend the tenant's.
    pub async fn one_anonymous_source_cannot_spend_the_tenants_anonymous_budget(w: World) {
        let site = w.site("Docs").await;
        let body = json!({"siteId": site, "rating": 1});
        let (minute, day) = (SOURCE_WINDOWS[0].max, SOURCE_WINDOWS[1].max);
        let flooder = "198.51.100.66";
        for i in 0..minute {
            let app = if i % 2 == 0 { &w.app } else { &w.second };
            assert_eq!(w.submit_from(app, flooder, &w.token(A, None), &body).await.0, 201, "submission {i}");
        }
        let before = w.items(A, keys::FEEDBACK_PREFIX).await.len();
        let (status, headers, answer) = w.submit_from(&w.second, flooder, &w.token(A, None), &body).await;
        assert_eq!((status, error_code(&answer)), (429, Some("rate_limited")), "one over the source's minute");
        assert!(headers.contains_key("retry-after"));
        assert_eq!(w.items(A, keys::FEEDBACK_PREFIX).await.len(), before, "a refused submission writes nothing");
        // Everyone else still gets in: other anonymous visitors, a signed-in user at the same address.
        for i in 0..ANONYMOUS_WINDOWS[0].max - minute {
            let ip = format!("203.0.113.{i}");
            assert_eq!(w.submit_from(&w.app, &ip, &w.token(A, None), &body).await.0, 201, "visitor {i}");
        }
        assert_eq!(w.submit_from(&w.app, flooder, &w.user(), &body).await.0, 201, "users are not in it");
        // Another tenant's visitors from the same address are counted apart.
        assert_eq!(
            w.submit_from(&w.app, flooder, &w.token(B, None), &json!({"rating": 1, "pageId": "1"})).await.0,
            201
        );

        // The source's day, at and over its bound.
        let mut sent = minute;
        while sent < day {
            w.advance_secs(60);
            for _ in 0..minute.min(day - sent) {
                assert_eq!(w.submit_from(&w.app, flooder, &w.token(A, None), &body).await.0, 201, "day {sent}");
                sent += 1;
            }
        }
        w.advance_secs(60);
        let (status, headers, _) = w.submit_from(&w.app, flooder, &w.token(A, None), &body).await;
        assert_eq!(status, 429, "one over the source's day");
        let retry: i64 = headers["retry-after"].to_str().expect("ascii").parse().expect("secs");
        assert_eq!(retry, 86_400 - w.app.now_secs() % 86_400, "until the next UTC day");
    }

    pub async fn me_records_visits_hourly_and_keeps_dismissals_bounded(w: World) {
        let (status, me) = w.get("/api/me", &w.user()).await;
        assert_eq!(status, 200, "{me}");
        assert_eq!(me["accountId"], USER_ACCOUNT);
        assert_eq!(
            (me["firstSeen"].as_str(), me["lastSeen"].as_str()),
            (Some("2026-01-15T00:00:00Z"), Some("2026-01-15T00:00:00Z"))
        );
        assert_eq!(me["dismissedAnnouncements"], json!([]));
        let record = || async { w.items(A, &keys::user(USER_ACCOUNT)).await.remove(0) };
        assert_eq!(record().await.version, 1);

        w.advance_secs(3_599);
        let (_, me) = w.get("/api/me", &w.user()).await;
        assert_eq!(me["lastSeen"], "2026-01-15T00:00:00Z", "within the hour: no write");
        assert_eq!(record().await.version, 1);
        w.advance_secs(1);
        let (_, me) = w.get("/api/me", &w.user()).await;
        assert_eq!(
            (me["firstSeen"].as_str(), me["lastSeen"].as_str()),
            (Some("2026-01-15T00:00:00Z"), Some("2026-01-15T01:00:00Z"))
        );
        assert_eq!(record().await.version, 2);

        let dismiss =
            |id: String| post("/api/me/dismissed-announcements", Some(&w.user()), &json!({"announcementId": id}));
        let ids: Vec<String> = (0..=MAX_DISMISSED_ANNOUNCEMENTS).map(|i| format!("01JD{:022}", i)).collect();
        let (status, _, me) = w.app.send(dismiss(ids[0].clone())).await;
        assert_eq!((status, me["dismissedAnnouncements"].clone()), (200, json!([ids[0]])));
        let (_, _, me) = w.app.send(dismiss(ids[0].clone())).await;
        assert_eq!(me["dismissedAnnouncements"], json!([ids[0]]), "idempotent");
        for id in &ids[1..MAX_DISMISSED_ANNOUNCEMENTS] {
            assert_eq!(w.app.send(dismiss(id.clone())).await.0, 200);
        }
        let (_, me) = w.get("/api/me", &w.user()).await;
        assert_eq!(
            me["dismissedAnnouncements"].as_array().map(Vec::len),
            Some(MAX_DISMISSED_ANNOUNCEMENTS),
            "at the bound"
        );
        let (_, _, me) = w.app.send(dismiss(ids[MAX_DISMISSED_ANNOUNCEMENTS].clone())).await;
        let kept = me["dismissedAnnouncements"].as_array().expect("list");
        assert_eq!(kept.len(), MAX_DISMISSED_ANNOUNCEMENTS, "over the bound the oldest goes");
        assert_eq!(
            (kept[0].as_str(), kept.last().and_then(Value::as_str)),
            (Some(ids[1].as_str()), Some(ids[MAX_DISMISSED_ANNOUNCEMENTS].as_str()))
        );

        let (status, _, body) = w
            .app
            .send(post("/api/me/dismissed-announcements", Some(&w.user()), &json!({"announcementId": "x#y"})))
            .await;
        assert_eq!((status, error_code(&body)), (422, Some("invalid_field")));
        let (status, _, body) =
            w.app.send(post("/api/me/dismissed-announcements", Some(&w.user()), &json!({"id": ids[0]}))).await;
        assert_eq!((status, error_code(&body)), (422, Some("invalid_body")));
        let anonymous = w.token(A, None);
        let (status, body) = w.get("/api/me", &anonymous).await;
        assert_eq!((status, error_code(&body)), (403, Some("anonymous_user")));
        let (status, _, body) = w
            .app
            .send(post("/api/me/dismissed-announcements", Some(&anonymous), &json!({"announcementId": ids[0]})))
            .await;
        assert_eq!((status, error_code(&body)), (403, Some("anonymous_user")));

        // A user record is only the accountId and what Canopy keeps for them; the first one of a
        // tenant enrolled it in personal-data reporting, due at once.
        let stored = record().await;
        let body = stored.body.to_value().unwrap();
        let fields: Vec<&String> = body.as_object().expect("object").keys().collect();
        assert_eq!(fields, ["dismissedAnnouncements", "firstSeen", "lastSeen"]);
        let enrolled = w.items(A, keys::PRIVACY_REPORT).await;
        assert_eq!(enrolled.len(), 1);
        assert_eq!(enrolled[0].due.as_ref().map(|d| (d.kind.as_str(), d.at)), Some(("privacy-report", 1_768_435_200)));
        assert!(w.items(B, keys::PRIVACY_REPORT).await.is_empty(), "B has no user yet");
    }

    /// A filtered page examines at most MAX_SCANNED_PER_PAGE items and says where to go on.
    pub async fn filtered_listing_scans_a_bounded_page(w: World) {
        let site = w.site("Docs").await;
        let (status, wanted) = w.submit(&w.user(), &json!({"siteId": site, "rating": 5})).await;
        assert_eq!(status, 201);
        // MAX_SCANNED_PER_PAGE newer items about a page only, written straight to the store.
        let tenant = TenantKey::from_verified(A).expect("key");
        let start = w.app.clock.now_millis() + 1_000;
        let items: Vec<Write> = (0..MAX_SCANNED_PER_PAGE)
            .map(|i| {
                let millis = start + i as i64;
                let id = canopy_shared::kernel::ids::new_ulid(millis).expect("ulid");
                Write::Put {
                    item: Item {
                        tenant: tenant.clone(),
                        sk: keys::feedback(&id, millis),
                        version: 1,
                        updated_at: millis,
                        updated_by: None,
                        due: None,
                        expires_at: None,
                        body: json!({"pageId": "1", "rating": 1, "submittedAt": millis}).into(),
                    },
                    condition: Condition::Absent,
                }
            })
            .collect();
        for chunk in items.chunks(100) {
            w.app.state.store.transact(chunk.to_vec(), w.app.now_secs()).await.expect("write");
        }
        let (status, first) = w.get(&format!("/api/feedback?siteId={site}"), &w.admin()).await;
        assert_eq!(status, 200);
        assert!(ids(&first).is_empty(), "the whole budget went on other feedback");
        let cursor = first["nextCursor"].as_str().expect("a cursor to go on");
        let (_, second) = w.get(&format!("/api/feedback?siteId={site}&cursor={cursor}"), &w.admin()).await;
        assert_eq!(ids(&second), vec![wanted["id"].as_str().expect("id").to_owned()]);
        assert_eq!(second["nextCursor"], Value::Null);
        let (_, unfiltered) = w.get("/api/feedback?limit=200", &w.admin()).await;
        assert_eq!(ids(&unfiltered).len(), 200);
    }
}

support::scenarios!(stores and schemes: [
    submit_list_filter_export_delete_and_restore,
    the_contact_is_kept_only_when_chosen,
    bad_input_is_refused_and_writes_nothing,
    only_admins_read_and_delete_feedback,
    flooding_is_limited_across_two_instances,
    the_day_limit_and_the_anonymous_bucket,
    one_anonymous_source_cannot_spend_the_tenants_anonymous_budget,
    me_records_visits_hourly_and_keeps_dismissals_bounded,
    filtered_listing_scans_a_bounded_page,
]);

/// `/api/me` answers the record its visit read or wrote: a first visit costs the tenant record,
/// the user record and the reporting enrolment (three reads) and one transaction; a visit within
/// the hour costs the user record alone (the tenant record is warm in `tenants::cache`).
/// Connect tokens only: a Forge token adds its site lookup.
async fn me_reads_the_user_record_once(w: World) {
    w.calls.reset();
    let (status, me) = w.get("/api/me", &w.user()).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(w.calls.snapshot(), (3, 0, 1), "first visit: (gets, queries, transactions)");
    w.calls.reset();
    let (status, again) = w.get("/api/me", &w.user()).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, me);
    assert_eq!(w.calls.snapshot(), (1, 0, 0), "visit within the hour: (gets, queries, transactions)");
}

#[tokio::test]
async fn me_reads_the_user_record_once_on_embedded() {
    me_reads_the_user_record_once(world(Store::Embedded, Scheme::Connect).await).await;
}

#[tokio::test]
async fn me_reads_the_user_record_once_on_dynamo() {
    me_reads_the_user_record_once(world(Store::Dynamo, Scheme::Connect).await).await;
}
