//! The content API through its router, on both store adapters: CRUD with versions, admin-only
//! writes, the trash, counters, the one-query site config, tenant isolation and bad input.

use std::sync::Arc;

use canopy_shared::TenantKey;
use canopy_shared::domain::content::counters;
use canopy_shared::domain::tenants::cache::TENANT_CACHE_SECS;
use canopy_shared::kernel::clock::rfc3339;
use canopy_shared::kernel::keys;
use canopy_shared::ports::store::{Condition, Item, ItemStore, PageRequest, Write};
use serde_json::{Value, json};
use support::app::*;
use support::counting::{Calls, CountingStore};
use support::world::{Opened, Scheme, Store};

const A: &str = "tenant-a";
const B: &str = "tenant-b";
const SECRET_A: &str = "secret-a";
const SECRET_B: &str = "secret-b";

struct World {
    app: TestApp,
    calls: Arc<Calls>,
    scheme: Scheme,
    _dir: Option<tempfile::TempDir>,
}

async fn world(store: Store, scheme: Scheme) -> World {
    world_over(store.open().await, scheme).await
}

async fn world_over(Opened { store, dir }: Opened, scheme: Scheme) -> World {
    let calls = Arc::new(Calls::default());
    let counting: Arc<dyn ItemStore> = Arc::new(CountingStore { inner: store, calls: calls.clone() });
    let app = TestApp::with_store(counting);
    for (client, secret) in [(A, SECRET_A), (B, SECRET_B)] {
        app.install(client, secret).await;
    }
    World { app, calls, scheme, _dir: dir }
}

impl World {
    fn token(&self, client: &str, account: Option<&str>) -> String {
        let secret = if client == A { SECRET_A } else { SECRET_B };
        self.scheme.token(client, secret, account, self.app.now_secs())
    }

    fn admin(&self, client: &str) -> String {
        self.token(client, Some(ADMIN_ACCOUNT))
    }

    fn user(&self, client: &str) -> String {
        self.token(client, Some(USER_ACCOUNT))
    }

    fn anonymous(&self, client: &str) -> String {
        self.token(client, None)
    }

    async fn create(&self, path: &str, token: &str, body: &Value) -> (u16, Value, String) {
        let (status, headers, body) = self.app.send(post(path, Some(token), body)).await;
        let etag = headers.get("etag").map(|v| v.to_str().expect("ascii").to_owned()).unwrap_or_default();
        (status, body, etag)
    }

    async fn created(&self, path: &str, body: &Value) -> (String, String) {
        let (status, body, etag) = self.create(path, &self.admin(A), body).await;
        assert_eq!(status, 201, "{path}: {body}");
        (body["id"].as_str().expect("id").to_owned(), etag)
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value, Option<String>) {
        let (status, headers, body) = self.app.send(get(path, Some(token))).await;
        (status, body, headers.get("etag").map(|v| v.to_str().expect("ascii").to_owned()))
    }

    /// The counters as the usage statistics read them (summed over their items); `null` while
    /// the tenant has no counters item.
    async fn counters(&self, client: &str) -> Value {
        let tenant = TenantKey::from_verified(client).expect("key");
        let (store, now) = (self.app.state.store.as_ref(), self.app.now_secs());
        let page = PageRequest { limit: 100, after: None };
        if store.query(&tenant, keys::COUNTERS, page, now).await.expect("query").items.is_empty() {
            return json!(null);
        }
        json!(counters::read(store, &tenant, now).await.expect("counters"))
    }
}

fn site(name: &str) -> Value {
    json!({"name": name, "spaces": ["DOC", "ENG"], "customDomains": ["docs.example.com"], "visibility": "public"})
}

fn theme(primary: &str) -> Value {
    json!({"name": "Brand", "colors": {"primary": primary, "background": "#FFFFFF", "text": "#172B4D"}, "fonts": {"body": "Inter, sans-serif"}})
}

fn layout(title: &str) -> Value {
    json!({"title": title, "sections": [{"id": "s1", "columns": [{"width": 12, "blocks": [{"type": "text", "markup": "Welcome"}]}]}]})
}

fn announcement(title: &str, starts: &str, ends: &str, audience: &str) -> Value {
    json!({"title": title, "body": "Read **this**", "severity": "info", "audience": audience, "startsAt": starts, "endsAt": ends, "dismissible": true})
}

mod scenarios {
    use super::*;

    pub async fn site_lifecycle_with_versions_trash_and_restore(w: World) {
        let (id, etag) = w.created("/api/sites", &site("Docs")).await;
        assert_eq!(etag, "\"1\"");
        let path = format!("/api/sites/{id}");
        let (status, body, etag) = w.get(&path, &w.user(A)).await;
        assert_eq!((status, body["name"].as_str(), etag.as_deref()), (200, Some("Docs"), Some("\"1\"")));
        assert_eq!(body["updatedBy"], json!(null), "a user is not told who edited it");
        let (_, body, _) = w.get(&path, &w.admin(A)).await;
        assert_eq!(body["updatedBy"], ADMIN_ACCOUNT);

        let (status, _, body) = w.app.send(put(&path, &w.admin(A), None, &site("Renamed"))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (428, Some("if_match_required")));
        let (status, headers, body) = w.app.send(put(&path, &w.admin(A), Some("\"1\""), &site("Renamed"))).await;
        assert_eq!((status, body["version"].as_u64()), (200, Some(2)), "{body}");
        assert_eq!(headers["etag"], "\"2\"");
        let (status, _, body) = w.app.send(put(&path, &w.admin(A), Some("\"1\""), &site("Stale"))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (412, Some("version_mismatch")));

        let (status, body, _) = w.get("/api/sites", &w.user(A)).await;
        assert_eq!(status, 200);
        assert_eq!(body["items"].as_array().map(Vec::len), Some(1));
        assert_eq!(body["items"][0]["name"], "Renamed");

        let (status, _, _) = w.app.send(delete(&path, &w.admin(A), Some("\"2\""))).await;
        assert_eq!(status, 204);
        assert_eq!(w.get(&path, &w.user(A)).await.0, 404);
        let (_, trash, _) = w.get("/api/trash", &w.admin(A)).await;
        let entries = trash["items"].as_array().expect("items");
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["kind"], "site");
        assert_eq!(entries[0]["purgeAfter"], "2026-02-14T00:00:00Z");
        let trash_id = entries[0]["id"].as_str().expect("id");
        let (status, _, body) =
            w.app.send(post(&format!("/api/trash/{trash_id}/restore"), Some(&w.admin(A)), &json!({}))).await;
        assert_eq!(status, 200, "{body}");
        let (status, body, etag) = w.get(&path, &w.user(A)).await;
        assert_eq!((status, body["name"].as_str(), etag.as_deref()), (200, Some("Renamed"), Some("\"3\"")));
        assert_eq!(w.get("/api/trash", &w.admin(A)).await.1["items"], json!([]));
    }

    pub async fn only_admins_write_and_everyone_reads(w: World) {
        for token in [w.user(A), w.anonymous(A)] {
            let (status, body, _) = w.create("/api/sites", &token, &site("Docs")).await;
            assert_eq!((status, body["error"]["code"].as_str()), (403, Some("not_admin")));
        }
        assert_eq!(w.get("/api/sites", &w.admin(A)).await.1["items"], json!([]), "nothing written");
        let (id, _) = w.created("/api/sites", &site("Docs")).await;
        assert_eq!(w.get(&format!("/api/sites/{id}"), &w.anonymous(A)).await.0, 200);
        assert_eq!(w.get("/api/trash", &w.user(A)).await.0, 403);
    }

    pub async fn counters_stay_exact(w: World) {
        let (one, _) = w.created("/api/sites", &site("One")).await;
        w.created("/api/sites", &json!({"name": "Two", "spaces": ["DOC"], "visibility": "licensed"})).await;
        w.created("/api/themes", &theme("#0052CC")).await;
        assert_eq!(w.counters(A).await, json!({"sites": 2, "themes": 1, "customDomains": 1, "spaces": 3}));
        let updated = json!({"name": "One", "spaces": ["DOC", "ENG", "OPS"], "customDomains": ["a.example.com", "b.example.com"], "visibility": "public"});
        let (status, _, _) = w.app.send(put(&format!("/api/sites/{one}"), &w.admin(A), Some("\"1\""), &updated)).await;
        assert_eq!(status, 200);
        assert_eq!(w.counters(A).await, json!({"sites": 2, "themes": 1, "customDomains": 2, "spaces": 4}));
        w.app.send(delete(&format!("/api/sites/{one}"), &w.admin(A), Some("\"2\""))).await;
        assert_eq!(w.counters(A).await, json!({"sites": 1, "themes": 1, "customDomains": 0, "spaces": 1}));
        assert_eq!(w.counters(B).await, json!(null), "the other tenant is untouched");
    }

    pub async fn site_config_is_one_query_with_what_is_active_now(w: World) {
        let (theme_id, _) = w.created("/api/themes", &theme("#0052CC")).await;
        let (layout_id, _) = w.created("/api/layouts", &layout("Home")).await;
        let (site_id, _) = w
            .created(
                "/api/sites",
                &json!({"name": "Docs", "visibility": "public", "themeId": theme_id, "homeLayoutId": layout_id}),
            )
            .await;
        let base = format!("/api/sites/{site_id}");
        let nav = json!({"items": [{"id": "n1", "label": "Home", "target": {"type": "space", "spaceKey": "DOC"}, "children": []}]});
        let (status, _, body) = w.app.send(put(&format!("{base}/navigation"), &w.admin(A), None, &nav)).await;
        assert_eq!(status, 201, "{body}");
        for (title, starts, ends, audience) in [
            ("now", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "everyone"),
            ("later", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z", "everyone"),
            ("over", "2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z", "everyone"),
            ("members", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "loggedIn"),
        ] {
            w.created(&format!("{base}/announcements"), &announcement(title, starts, ends, audience)).await;
        }

        // Warm: the admin's writes just read the tenant record, so the read is its own Query.
        w.calls.reset();
        let (status, config, etag) = w.get(&format!("{base}/config"), &w.user(A)).await;
        assert_eq!(status, 200, "{config}");
        assert_eq!(w.calls.snapshot(), (0, 1, 0), "one round trip: the Query for the config");
        // Cold: once the cached record is as old as the bound, one Get verifies the token again.
        w.app.clock.advance_secs(TENANT_CACHE_SECS);
        w.calls.reset();
        let token = w.user(A);
        assert_eq!(w.get(&format!("{base}/config"), &token).await.0, 200);
        assert_eq!(w.calls.snapshot(), (1, 1, 0), "one Get for the tenant record, one Query for the config");
        w.calls.reset();
        assert_eq!(w.get(&format!("{base}/config"), &token).await.0, 200);
        assert_eq!(w.calls.snapshot(), (0, 1, 0), "warm again");
        assert_eq!(config["site"]["name"], "Docs");
        assert_eq!(config["theme"]["colors"]["primary"], "#0052CC");
        assert_eq!(config["homeLayout"]["title"], "Home");
        assert_eq!(config["navigation"]["items"][0]["label"], "Home");
        let titles: Vec<&str> =
            config["announcements"].as_array().expect("list").iter().filter_map(|a| a["title"].as_str()).collect();
        assert_eq!(titles.len(), 2);
        assert!(titles.contains(&"now") && titles.contains(&"members"));
        let (_, anonymous, _) = w.get(&format!("{base}/config"), &w.anonymous(A)).await;
        assert_eq!(anonymous["announcements"].as_array().map(Vec::len), Some(1), "members-only hidden from anonymous");

        let etag = etag.expect("etag");
        let request = axum::http::Request::get(format!("{base}/config"))
            .header("authorization", authorization(&w.user(A)))
            .header("if-none-match", &etag)
            .body(axum::body::Body::empty())
            .expect("request");
        let (status, headers, body) = w.app.send(request).await;
        assert_eq!((status, body), (304, Value::Null));
        assert_eq!(headers["etag"], etag.as_str());
        assert_eq!(headers["cache-control"], "private, no-cache");

        // A theme update reaches the config through the site's snapshot, and changes the ETag.
        let (status, _, body) =
            w.app.send(put(&format!("/api/themes/{theme_id}"), &w.admin(A), Some("\"1\""), &theme("#FF5630"))).await;
        assert_eq!(status, 200, "{body}");
        let (_, config, new_etag) = w.get(&format!("{base}/config"), &w.user(A)).await;
        assert_eq!(config["theme"]["colors"]["primary"], "#FF5630");
        assert_ne!(new_etag.as_deref(), Some(etag.as_str()));

        let (status, _, body) =
            w.app.send(delete(&format!("/api/themes/{theme_id}"), &w.admin(A), Some("\"2\""))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("in_use")));
    }

    /// This process keeps what it decoded and rendered (`config_cache`), yet every read runs its
    /// query and answers what the query says: a change made below this process, even one that
    /// leaves the item's key, version, time and writer as they were, is answered at once, and an
    /// announcement's window opening renders anew without decoding again.
    pub async fn site_configs_are_rendered_once_per_change_and_never_answer_stale(w: World) {
        let (site_id, _) = w.created("/api/sites", &site("Docs")).await;
        let base = format!("/api/sites/{site_id}");
        let (starts, ends) = (rfc3339((w.app.now_secs() + 3600) * 1000), rfc3339((w.app.now_secs() + 7200) * 1000));
        w.created(&format!("{base}/announcements"), &announcement("soon", &starts, &ends, "everyone")).await;
        let nav = json!({"items": [{"id": "n1", "label": "Home", "target": {"type": "space", "spaceKey": "DOC"}, "children": []}]});
        let (status, _, body) = w.app.send(put(&format!("{base}/navigation"), &w.admin(A), None, &nav)).await;
        assert_eq!(status, 201, "{body}");
        let config = format!("{base}/config");
        let (decoded, rendered) = w.app.state.configs.work_done();
        let work = || {
            let (d, r) = w.app.state.configs.work_done();
            (d - decoded, r - rendered)
        };

        let first = w.get(&config, &w.user(A)).await;
        assert_eq!((first.0, work()), (200, (1, 1)), "{}", first.1);
        assert_eq!(w.get(&config, &w.user(A)).await, first, "the same answer, neither decoded nor rendered");
        assert_eq!(work(), (1, 1));
        let anonymous = w.get(&config, &w.anonymous(A)).await;
        let admin = w.get(&config, &w.admin(A)).await;
        assert_eq!(w.get(&config, &w.admin(A)).await, admin);
        assert_eq!(w.get(&config, &w.anonymous(A)).await, anonymous);
        assert_eq!(work(), (1, 3), "one render per view");
        assert!(admin.1["site"]["version"].is_number() && first.1["site"].get("version").is_none());

        // Below this process: the same key, version, time and writer, other text.
        let (tenant, now) = (TenantKey::from_verified(A).expect("key"), w.app.now_secs());
        let sk = keys::site_navigation(&site_id);
        let store = w.app.state.store.clone();
        let stored = store.get(&tenant, &sk, now).await.expect("get").expect("navigation");
        let mut text = stored.body.to_value().expect("json");
        text["items"][0]["label"] = json!("Start");
        let replaced = Item { body: text.into(), ..stored.clone() };
        let condition = Condition::Version(stored.version);
        store.transact(vec![Write::Delete { tenant: tenant.clone(), sk, condition }], now).await.expect("delete");
        store.transact(vec![Write::Put { item: replaced, condition: Condition::Absent }], now).await.expect("put");
        let changed = w.get(&config, &w.user(A)).await;
        assert_eq!(changed.1["navigation"]["items"][0]["label"], "Start");
        assert_ne!(changed.2, first.2, "a new ETag");
        assert_eq!(work(), (2, 4));

        // The announcement's window opens: the same items, another live set.
        assert_eq!(changed.1["announcements"], json!([]));
        w.app.clock.advance_secs(3600);
        let (_, live, _) = w.get(&config, &w.user(A)).await;
        assert_eq!(live["announcements"][0]["title"], "soon");
        assert_eq!(work(), (2, 5), "rendered again, not decoded again");
    }

    pub async fn another_tenants_ids_are_simply_not_found(w: World) {
        let (site_id, _) = w.created("/api/sites", &site("Private")).await;
        let (theme_id, _) = w.created("/api/themes", &theme("#0052CC")).await;
        let (_, missing, _) = w.get("/api/sites/01ARZ3NDEKTSV4RRFFQ69G5FAV", &w.admin(B)).await;
        for path in
            [format!("/api/sites/{site_id}"), format!("/api/sites/{site_id}/config"), format!("/api/themes/{theme_id}")]
        {
            let (status, body, _) = w.get(&path, &w.admin(B)).await;
            assert_eq!(status, 404, "{path}");
            assert_eq!(
                body["error"]["message"].as_str().map(|m| m.replace("theme", "site")),
                missing["error"]["message"].as_str().map(str::to_owned)
            );
            assert!(!body.to_string().contains("Private"));
        }
        let (status, _, _) =
            w.app.send(put(&format!("/api/sites/{site_id}"), &w.admin(B), Some("\"1\""), &site("Hijack"))).await;
        assert_eq!(status, 404);
        let (status, _, _) = w.app.send(delete(&format!("/api/themes/{theme_id}"), &w.admin(B), Some("\"1\""))).await;
        assert_eq!(status, 404);
        assert_eq!(w.get(&format!("/api/sites/{site_id}"), &w.admin(A)).await.1["name"], "Private");
        assert_eq!(w.get("/api/sites", &w.admin(B)).await.1["items"], json!([]));
    }

    pub async fn bad_input_is_refused_and_changes_nothing(w: World) {
        let admin = w.admin(A);
        let raw = |body: &str| {
            axum::http::Request::post("/api/sites")
                .header("content-type", "application/json")
                .header("authorization", authorization(&admin))
                .body(axum::body::Body::from(body.to_owned()))
                .expect("request")
        };
        let (status, _, body) = w.app.send(raw("{\"name\": ")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("malformed_json")));
        let (status, _, body) = w.app.send(raw(r#"{"name": 5, "visibility": "public"}"#)).await;
        assert_eq!(status, 422, "{body}");
        let (status, _, body) = w.app.send(raw(r#"{"name": "x", "visibility": "public", "colour": "red"}"#)).await;
        assert_eq!(status, 422);
        assert!(body["error"]["message"].as_str().expect("message").contains("colour"), "{body}");
        let huge = json!({"name": "x", "visibility": "public", "description": "y".repeat(600 * 1024)});
        let (status, _, _) = w.app.send(raw(&huge.to_string())).await;
        assert_eq!(status, 413);

        // Media of another tenant (or none at all) cannot be referenced.
        let tenant_b = TenantKey::from_verified(B).expect("key");
        let foreign = Item {
            tenant: tenant_b,
            sk: format!("{}01ARZ3NDEKTSV4RRFFQ69G5FAV", keys::MEDIA_PREFIX),
            version: 1,
            updated_at: 0,
            updated_by: None,
            due: None,
            expires_at: None,
            body: json!({}).into(),
        };
        w.app
            .state
            .store
            .transact(vec![Write::Put { item: foreign, condition: Condition::None }], w.app.now_secs())
            .await
            .expect("seed");
        let mut with_image = layout("Home");
        with_image["sections"][0]["columns"][0]["blocks"][0] =
            json!({"type": "image", "mediaId": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "alt": "x"});
        let (status, body, _) = w.create("/api/layouts", &admin, &with_image).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("unknown_media")));

        let (site_id, _) = w.created("/api/sites", &site("Docs")).await;
        let mut deep = json!({"id": "n5", "label": "5", "target": {"type": "none"}, "children": []});
        for level in (1..5).rev() {
            deep = json!({"id": format!("n{level}"), "label": level.to_string(), "target": {"type": "none"}, "children": [deep]});
        }
        let (status, _, body) =
            w.app.send(put(&format!("/api/sites/{site_id}/navigation"), &admin, None, &json!({"items": [deep]}))).await;
        assert_eq!(status, 422, "five levels: {body}");
        let twice = json!({"items": [
            {"id": "same", "label": "a", "target": {"type": "none"}, "children": [{"id": "same", "label": "b", "target": {"type": "none"}, "children": []}]}
        ]});
        let (status, _, body) =
            w.app.send(put(&format!("/api/sites/{site_id}/navigation"), &admin, None, &twice)).await;
        assert_eq!(status, 422, "a repeated id is how a cycle shows up: {body}");
        let backwards = announcement("x", "2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z", "everyone");
        let (status, body, _) = w.create(&format!("/api/sites/{site_id}/announcements"), &admin, &backwards).await;
        assert_eq!(status, 422, "{body}");

        let (_, sites, _) = w.get("/api/sites", &admin).await;
        assert_eq!(sites["items"].as_array().map(Vec::len), Some(1), "only the valid site");
        assert_eq!(w.get("/api/layouts", &admin).await.1["items"], json!([]));
        assert_eq!(w.get(&format!("/api/sites/{site_id}/navigation"), &admin).await.0, 404);
        assert_eq!(w.get(&format!("/api/sites/{site_id}/announcements"), &admin).await.1["items"], json!([]));
    }

    pub async fn export_and_import_round_trip_between_tenants(w: World) {
        let (theme_id, _) = w.created("/api/themes", &theme("#0052CC")).await;
        let (layout_id, _) = w.created("/api/layouts", &layout("Home")).await;
        let (site_id, _) = w
            .created("/api/sites", &json!({"name": "Docs", "spaces": ["DOC"], "visibility": "public", "themeId": theme_id, "homeLayoutId": layout_id}))
            .await;
        let nav = json!({"items": [{"id": "n1", "label": "Home", "target": {"type": "space", "spaceKey": "DOC"}, "children": []}]});
        w.app.send(put(&format!("/api/sites/{site_id}/navigation"), &w.admin(A), None, &nav)).await;
        w.created(
            &format!("/api/sites/{site_id}/announcements"),
            &announcement("now", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "everyone"),
        )
        .await;
        let (status, _, body) =
            w.app.send(put("/api/pages/12345/metadata", &w.admin(A), None, &json!({"description": "About us"}))).await;
        assert_eq!(status, 201, "{body}");

        let (status, export, _) = w.get("/api/export", &w.admin(A)).await;
        assert_eq!(status, 200);
        assert_eq!((export["format"].as_str(), export["schemaVersion"].as_u64()), (Some("canopy-export"), Some(1)));
        assert_eq!(export["tenant"]["clientKey"], A);
        assert!(!export.to_string().contains(SECRET_A), "the shared secret is never exported");
        assert_eq!(export["sites"].as_array().map(Vec::len), Some(1));
        assert_eq!(export["pageMetadata"][0]["id"], "12345");
        assert_eq!(w.get("/api/export", &w.user(A)).await.0, 403);

        let (status, _, report) = w.app.send(post("/api/import?dryRun=true", Some(&w.admin(B)), &export)).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(
            report["created"],
            json!({"announcements": 1, "layouts": 1, "navigations": 1, "pageMetadata": 1, "sites": 1, "themes": 1})
        );
        assert_eq!(w.get("/api/sites", &w.admin(B)).await.1["items"], json!([]), "a dry run writes nothing");

        let (status, _, report) = w.app.send(post("/api/import", Some(&w.admin(B)), &export)).await;
        assert_eq!(status, 200, "{report}");
        let (status, config_b, _) = w.get(&format!("/api/sites/{site_id}/config"), &w.user(B)).await;
        assert_eq!(status, 200, "{config_b}");
        let (_, config_a, _) = w.get(&format!("/api/sites/{site_id}/config"), &w.user(A)).await;
        assert_eq!(config_b["theme"], config_a["theme"]);
        assert_eq!(config_b["homeLayout"], config_a["homeLayout"]);
        assert_eq!(config_b["navigation"], config_a["navigation"]);
        assert_eq!(config_b["announcements"][0]["title"], "now");
        assert_eq!(w.counters(B).await, json!({"sites": 1, "themes": 1, "customDomains": 0, "spaces": 1}));

        let (_, _, again) = w.app.send(post("/api/import", Some(&w.admin(B)), &export)).await;
        assert_eq!(again["created"], json!({}));
        assert_eq!(again["updated"], json!({}));
        assert_eq!(again["unchanged"]["sites"], 1, "{again}");
    }

    pub async fn bad_imports_write_nothing(w: World) {
        let (theme_id, _) = w.created("/api/themes", &theme("#0052CC")).await;
        let (site_id, _) =
            w.created("/api/sites", &json!({"name": "Docs", "visibility": "public", "themeId": theme_id})).await;
        let (_, export, _) = w.get("/api/export", &w.admin(A)).await;

        let mut newer = export.clone();
        newer["schemaVersion"] = json!(2);
        let (status, _, body) = w.app.send(post("/api/import", Some(&w.admin(B)), &newer)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("unsupported_schema")));

        let mut dangling = export.clone();
        dangling["themes"] = json!([]);
        let (status, _, body) = w.app.send(post("/api/import", Some(&w.admin(B)), &dangling)).await;
        assert_eq!(status, 422, "a site whose theme is neither imported nor stored: {body}");

        let mut unknown = export.clone();
        unknown["surprise"] = json!(1);
        assert_eq!(w.app.send(post("/api/import", Some(&w.admin(B)), &unknown)).await.0, 422);

        let mut invalid = export.clone();
        invalid["sites"][0]["data"]["name"] = json!("");
        assert_eq!(w.app.send(post("/api/import", Some(&w.admin(B)), &invalid)).await.0, 422);

        let mut foreign_id = export.clone();
        foreign_id["sites"][0]["id"] = json!("../../TENANT");
        assert_eq!(w.app.send(post("/api/import", Some(&w.admin(B)), &foreign_id)).await.0, 422);

        assert_eq!(w.app.send(post("/api/import", Some(&w.user(B)), &export)).await.0, 403);
        assert_eq!(w.get("/api/sites", &w.admin(B)).await.1["items"], json!([]));
        assert_eq!(w.get("/api/themes", &w.admin(B)).await.1["items"], json!([]));
        assert_eq!(w.counters(B).await, json!(null));
        assert_eq!(w.get(&format!("/api/sites/{site_id}"), &w.admin(A)).await.0, 200, "the source is untouched");
    }

    pub async fn large_documents_fit_up_to_their_own_bound(w: World) {
        let mut big = layout("Big");
        let text = "x".repeat(15_000);
        big["sections"][0]["columns"][0]["blocks"] =
            json!((0..6).map(|_| json!({"type": "text", "markup": text})).collect::<Vec<_>>());
        let (status, body, _) = w.create("/api/layouts", &w.admin(A), &big).await;
        assert_eq!(status, 201, "a 90 KB layout is over the 64 KiB lifecycle limit but within content's: {body}");
        big["sections"][0]["columns"][0]["blocks"] =
            json!((0..9).map(|_| json!({"type": "text", "markup": text})).collect::<Vec<_>>());
        let (status, body, _) = w.create("/api/layouts", &w.admin(A), &big).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (413, Some("payload_too_large")),
            "135 KB is over the layout bound"
        );
    }

    /// Exports and imports read or write a whole tenant: each has a per-tenant limit, every admin
    /// of the tenant together; another tenant is not affected, and a new window lets them in again.
    pub async fn exports_and_imports_are_limited_per_tenant(w: World) {
        use canopy_shared::domain::content::portability::{EXPORT_WINDOWS, IMPORT_WINDOWS};
        let (_, export, _) = w.get("/api/export", &w.admin(A)).await;
        for i in 1..EXPORT_WINDOWS[0].max {
            assert_eq!(w.get("/api/export", &w.admin(A)).await.0, 200, "export {i}");
        }
        let (status, headers, body) = w.app.send(get("/api/export", Some(&w.admin(A)))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (429, Some("rate_limited")), "one over the minute");
        assert!(headers.contains_key("retry-after"));
        assert_eq!(w.get("/api/export", &w.admin(B)).await.0, 200, "another tenant has its own");

        for i in 0..IMPORT_WINDOWS[0].max {
            let (status, _, body) = w.app.send(post("/api/import?dryRun=true", Some(&w.admin(B)), &export)).await;
            assert_eq!(status, 200, "import {i}: {body}");
        }
        let (status, _, body) = w.app.send(post("/api/import", Some(&w.admin(B)), &export)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (429, Some("rate_limited")));
        assert_eq!(w.get("/api/sites", &w.admin(B)).await.1["items"], json!([]), "a refused import writes nothing");

        // The hour, at and over its bound: one window a minute.
        let mut exported = EXPORT_WINDOWS[0].max;
        while exported < EXPORT_WINDOWS[1].max {
            w.app.clock.advance_secs(60);
            for _ in 0..EXPORT_WINDOWS[0].max.min(EXPORT_WINDOWS[1].max - exported) {
                assert_eq!(w.get("/api/export", &w.admin(A)).await.0, 200, "export {exported}");
                exported += 1;
            }
        }
        w.app.clock.advance_secs(60);
        let (status, headers, _) = w.app.send(get("/api/export", Some(&w.admin(A)))).await;
        assert_eq!(status, 429, "one over the hour");
        let retry: i64 = headers["retry-after"].to_str().expect("ascii").parse().expect("secs");
        assert_eq!(retry, 3600 - w.app.now_secs() % 3600, "until the next hour");
        w.app.clock.advance_secs(retry);
        assert_eq!(w.get("/api/export", &w.admin(A)).await.0, 200, "a new hour");
    }
}

support::scenarios!(stores and schemes: [
    site_lifecycle_with_versions_trash_and_restore,
    only_admins_write_and_everyone_reads,
    counters_stay_exact,
    site_config_is_one_query_with_what_is_active_now,
    site_configs_are_rendered_once_per_change_and_never_answer_stale,
    another_tenants_ids_are_simply_not_found,
    bad_input_is_refused_and_changes_nothing,
    export_and_import_round_trip_between_tenants,
    bad_imports_write_nothing,
    large_documents_fit_up_to_their_own_bound,
    exports_and_imports_are_limited_per_tenant,
]);

/// Below the port: on DynamoDB Local a warm site config read is exactly one request, a Query.
#[tokio::test]
async fn on_dynamodb_the_site_config_read_sends_exactly_one_query() {
    let (store, sent) = support::dynamo::fresh_dynamo_counted().await;
    let w = world_over(Opened { store, dir: None }, Scheme::Connect).await;
    let (theme_id, _) = w.created("/api/themes", &theme("#0052CC")).await;
    let (site_id, _) =
        w.created("/api/sites", &json!({"name": "Docs", "visibility": "public", "themeId": theme_id})).await;
    for i in 0..25 {
        w.created(
            &format!("/api/sites/{site_id}/announcements"),
            &announcement(&format!("a{i}"), "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "everyone"),
        )
        .await;
    }
    let before =
        (sent.queries.load(std::sync::atomic::Ordering::SeqCst), sent.others.load(std::sync::atomic::Ordering::SeqCst));
    let (status, config, _) = w.get(&format!("/api/sites/{site_id}/config"), &w.user(A)).await;
    assert_eq!(status, 200);
    assert_eq!(config["announcements"].as_array().map(Vec::len), Some(25));
    let after =
        (sent.queries.load(std::sync::atomic::Ordering::SeqCst), sent.others.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(after.0 - before.0, 1, "one Query request");
    assert_eq!(after.1 - before.1, 0, "and nothing else: the tenant record that verifies the token is warm");
}
