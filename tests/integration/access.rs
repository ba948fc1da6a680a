//! Site access (`domain::access`, `http::access`) through the router, on both stores and under
//! both token schemes: who sees a `public`, `licensed` and `restricted` site on every
//! site-scoped read, and that a hidden site answers exactly what a missing one does.

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use support::app::*;
use support::world::{Opened, Scheme, Store};

const A: &str = "tenant-a";
const B: &str = "tenant-b";
const SECRET_A: &str = "secret-a";
const SECRET_B: &str = "secret-b";
/// A site id no tenant has.
const MISSING: &str = "01J00000000000000000000000";

struct World {
    app: TestApp,
    scheme: Scheme,
    _dir: Option<tempfile::TempDir>,
}

async fn world(store: Store, scheme: Scheme) -> World {
    let Opened { store, dir } = store.open().await;
    let app = TestApp::with_store(store).with_feedback_routes();
    for (client, secret) in [(A, SECRET_A), (B, SECRET_B)] {
        app.install(client, secret).await;
    }
    World { app, scheme, _dir: dir }
}

impl World {
    fn token(&self, client: &str, account: Option<&str>) -> String {
        let secret = if client == A { SECRET_A } else { SECRET_B };
        self.scheme.token(client, secret, account, self.app.now_secs())
    }

    async fn create(&self, path: &str, body: &Value) -> String {
        let (status, _, answer) = self.app.send(post(path, Some(&self.token(A, Some(ADMIN_ACCOUNT))), body)).await;
        assert_eq!(status, 201, "{path}: {answer}");
        answer["id"].as_str().expect("id").to_owned()
    }

    /// A site of tenant A with navigation, an announcement for everyone, a promoted search
    /// and a page's metadata.
    /// A site restricted to `groups` (ids) when any.
    async fn furnished_site(&self, visibility: &str, groups: &[&str]) -> String {
        let groups: Vec<Value> = groups.iter().map(|id| json!({"id": id, "name": "Execs"})).collect();
        self.furnish(&json!({"name": "Intranet", "visibility": visibility, "restrictedToGroups": groups})).await
    }

    /// Rewrites the stored site's groups as a record from before groups were kept by id held
    /// them: plain strings.
    async fn store_legacy_groups(&self, site: &str, groups: &[&str]) {
        use canopy_shared::ports::store::{Condition, Write};
        let (tenant, sk) =
            (canopy_shared::TenantKey::from_verified(A).expect("key"), canopy_shared::kernel::keys::site(site));
        let store = &self.app.state.store;
        let now = self.app.now_secs();
        let mut item = store.get(&tenant, &sk, now).await.expect("read").expect("the site");
        let mut body = item.body.to_value().unwrap();
        body["restrictedToGroups"] = json!(groups);
        item.body = body.into();
        let condition = Condition::Version(item.version);
        item.version += 1;
        store.transact(vec![Write::Put { item, condition }], now).await.expect("write");
    }

    /// [`Self::furnished_site`] of a site created from `site`.
    async fn furnish(&self, site: &Value) -> String {
        let site = self.create("/api/sites", site).await;
        let admin = self.token(A, Some(ADMIN_ACCOUNT));
        let nav = json!({"items": [{"id": "home", "label": "Home", "target": {"type": "page", "pageId": "12345"}, "children": []}]});
        let (status, _, body) = self.app.send(put(&format!("/api/sites/{site}/navigation"), &admin, None, &nav)).await;
        assert_eq!(status, 201, "{body}");
        let announcement = json!({"title": "Hello", "body": "", "severity": "info", "audience": "everyone"});
        self.create(&format!("/api/sites/{site}/announcements"), &announcement).await;
        let search =
            json!({"keywords": ["vpn"], "targets": [{"title": "VPN", "target": {"type": "page", "pageId": "12345"}}]});
        self.create(&format!("/api/sites/{site}/promoted-searches"), &search).await;
        let (status, _, body) =
            self.app.send(put("/api/pages/12345/metadata", &admin, None, &json!({"description": "VPN how-to"}))).await;
        // 428 when an earlier site of the test already wrote it.
        assert!(status == 201 || status == 428, "{body}");
        site
    }
}

async fn read_paths(w: &World, site: &str) -> Vec<String> {
    let admin = w.token(A, Some(ADMIN_ACCOUNT));
    let mut paths = vec![
        format!("/api/sites/{site}"),
        format!("/api/sites/{site}/config"),
        format!("/api/sites/{site}/navigation"),
        format!("/api/sites/{site}/announcements"),
        format!("/api/sites/{site}/promoted-searches"),
        format!("/api/sites/{site}/pages/12345/metadata"),
    ];
    for collection in ["announcements", "promoted-searches"] {
        let (status, _, body) = w.app.send(get(&format!("/api/sites/{site}/{collection}"), Some(&admin))).await;
        if status == 200 {
            for item in body["items"].as_array().into_iter().flatten() {
                paths.push(format!("/api/sites/{site}/{collection}/{}", item["id"].as_str().expect("id")));
            }
        }
    }
    paths
}

fn with_token(path: &str, token: &str) -> Request<Body> {
    get(path, Some(token))
}

/// The same request on the missing site: its path with the site id swapped.
fn on_missing(path: &str, site: &str) -> String {
    path.replace(site, MISSING)
}

/// `path` (a read of `site`) answers `token` exactly as the same read of a missing site does.
async fn assert_hidden(w: &World, path: &str, site: &str, token: &str) {
    let hidden = w.app.send_raw(with_token(path, token)).await;
    let missing = w.app.send_raw(with_token(&on_missing(path, site), token)).await;
    assert_eq!(hidden.0, 404, "{path}: {}", String::from_utf8_lossy(&hidden.2));
    assert_eq!(hidden.2, missing.2, "{path}: the body is byte for byte a missing site's");
    assert_eq!(hidden.1, missing.1, "{path}: the headers are a missing site's");
}

async fn assert_visible(w: &World, path: &str, token: &str) {
    let (status, _, body) = w.app.send(with_token(path, token)).await;
    assert_eq!(status, 200, "{path}: {body}");
}

async fn listed(w: &World, token: &str) -> Vec<String> {
    let (status, _, body) = w.app.send(get("/api/sites", Some(token))).await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().expect("items").iter().map(|s| s["id"].as_str().expect("id").to_owned()).collect()
}

/// `answer` without the fields only administrators get: every `updatedBy` and
/// `restrictedToGroups`, and in the site config every `version`.
fn as_for_visitors(answer: &Value, config: bool) -> Value {
    match answer {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .filter(|(name, _)| !["updatedBy", "restrictedToGroups"].contains(&name.as_str()))
                .filter(|(name, _)| !(config && name.as_str() == "version"))
                .map(|(name, value)| (name.clone(), as_for_visitors(value, config)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|item| as_for_visitors(item, config)).collect()),
        other => other.clone(),
    }
}

/// Whether `answer` has a field `name` anywhere.
fn has_field(answer: &Value, name: &str) -> bool {
    match answer {
        Value::Object(fields) => fields.iter().any(|(field, value)| field == name || has_field(value, name)),
        Value::Array(items) => items.iter().any(|item| has_field(item, name)),
        _ => false,
    }
}

fn announcement(title: &str, audience: &str, window: (Option<&str>, Option<&str>)) -> Value {
    let mut body = json!({"title": title, "body": "", "severity": "info", "audience": audience});
    if let Some(starts) = window.0 {
        body["startsAt"] = json!(starts);
    }
    if let Some(ends) = window.1 {
        body["endsAt"] = json!(ends);
    }
    body
}

fn titles(answer: &Value) -> Vec<String> {
    let mut titles: Vec<String> = answer
        .as_array()
        .expect("a list")
        .iter()
        .map(|item| item["title"].as_str().expect("title").to_owned())
        .collect();
    titles.sort();
    titles
}

mod scenarios {
    use super::*;

    pub async fn visitors_get_what_rendering_needs_and_admins_the_full_records(w: World) {
        let theme = w
            .create("/api/themes", &json!({"name": "Brand", "colors": {"primary": "#0052CC", "background": "#FFFFFF", "text": "#172B4D"}, "fonts": {"body": "Inter, sans-serif"}}))
            .await;
        let layout = w
            .create("/api/layouts", &json!({"title": "Home", "sections": [{"id": "s1", "columns": [{"width": 12, "blocks": [{"type": "text", "markup": "Welcome"}]}]}]}))
            .await;
        let site = w
            .furnish(&json!({"name": "Board", "visibility": "restricted", "restrictedToGroups": [{"id": GROUP_ID}], "themeId": theme, "homeLayoutId": layout}))
            .await;
        let mut paths = read_paths(&w, &site).await;
        paths.extend(["/api/sites".to_owned(), "/api/themes".to_owned(), "/api/layouts".to_owned()]);
        paths.extend([format!("/api/themes/{theme}"), format!("/api/layouts/{layout}")]);
        let (admin, member) = (w.token(A, Some(ADMIN_ACCOUNT)), w.token(A, Some(MEMBER_ACCOUNT)));
        for path in &paths {
            let config = path.ends_with("/config");
            let (status, _, full) = w.app.send(get(path, Some(&admin))).await;
            assert_eq!(status, 200, "{path}: {full}");
            assert!(has_field(&full, "updatedBy"), "{path}: an administrator sees who changed it: {full}");
            let (status, _, seen) = w.app.send(get(path, Some(&member))).await;
            assert_eq!(status, 200, "{path}: {seen}");
            assert_eq!(
                seen,
                as_for_visitors(&full, config),
                "{path}: a visitor gets the record without the admin-only fields"
            );
            for hidden in ["updatedBy", "restrictedToGroups", "deletedBy"] {
                assert!(!has_field(&seen, hidden), "{path}: {hidden} in {seen}");
            }
            assert!(!seen.to_string().contains(GROUP_ID), "{path}: the group id leaked: {seen}");
            assert!(!seen.to_string().contains(ADMIN_ACCOUNT), "{path}: an editor's accountId leaked: {seen}");
        }
        let (_, _, full) = w.app.send(get(&format!("/api/sites/{site}/config"), Some(&admin))).await;
        assert_eq!(full["site"]["restrictedToGroups"], json!([{"id": GROUP_ID}]), "{full}");
        assert_eq!((full["theme"]["version"].as_u64(), full["site"]["version"].as_u64()), (Some(1), Some(1)));
        let (_, _, seen) = w.app.send(get(&format!("/api/sites/{site}/config"), Some(&member))).await;
        assert!(!has_field(&seen, "version"), "no version of any part for a visitor: {seen}");
        assert_eq!(seen["theme"]["colors"]["primary"], "#0052CC", "what rendering needs stays: {seen}");
        // An item's own version stays on its own route: it is the answer's ETag.
        let (_, headers, seen) = w.app.send(get(&format!("/api/sites/{site}"), Some(&member))).await;
        assert_eq!(headers["etag"].to_str().unwrap(), format!("\"{}\"", seen["version"]));
    }

    pub async fn announcements_and_searches_not_live_for_a_visitor_are_missing_on_every_route(w: World) {
        let site = w.furnished_site("public", &[]).await;
        let base = format!("/api/sites/{site}");
        let future = (Some("2030-01-01T00:00:00Z"), None);
        let over = (Some("2025-01-01T00:00:00Z"), Some("2025-02-01T00:00:00Z"));
        let mut ids = std::collections::BTreeMap::new();
        for (title, audience, window) in [
            ("future", "loggedIn", future),
            ("over", "everyone", over),
            ("signed-in", "loggedIn", (None, None)),
            ("anonymous", "anonymous", (None, None)),
        ] {
            ids.insert(title, w.create(&format!("{base}/announcements"), &announcement(title, audience, window)).await);
        }
        let later = json!({"keywords": ["holidays"], "targets": [{"title": "Holidays", "target": {"type": "page", "pageId": "2"}}], "startsAt": "2030-01-01T00:00:00Z"});
        let later = w.create(&format!("{base}/promoted-searches"), &later).await;

        let (admin, user, anonymous) =
            (w.token(A, Some(ADMIN_ACCOUNT)), w.token(A, Some(USER_ACCOUNT)), w.token(A, None));
        let (_, _, all) = w.app.send(get(&format!("{base}/announcements"), Some(&admin))).await;
        assert_eq!(
            titles(&all["items"]),
            ["Hello", "anonymous", "future", "over", "signed-in"],
            "an administrator manages them all"
        );
        for (token, live) in [(&user, vec!["Hello", "signed-in"]), (&anonymous, vec!["Hello", "anonymous"])] {
            let (_, _, listed) = w.app.send(get(&format!("{base}/announcements"), Some(token))).await;
            assert_eq!(titles(&listed["items"]), live, "the list");
            let (_, _, config) = w.app.send(get(&format!("{base}/config"), Some(token))).await;
            assert_eq!(titles(&config["announcements"]), live, "the config");
            for (title, id) in &ids {
                let path = format!("{base}/announcements/{id}");
                if live.contains(title) {
                    assert_visible(&w, &path, token).await;
                } else {
                    let hidden = w.app.send_raw(get(&path, Some(token))).await;
                    let missing = w.app.send_raw(get(&format!("{base}/announcements/{MISSING}"), Some(token))).await;
                    assert_eq!(hidden.0, 404, "{title}");
                    assert_eq!(
                        (&hidden.1, &hidden.2),
                        (&missing.1, &missing.2),
                        "{title}: exactly a missing announcement"
                    );
                }
            }
            let (_, _, searches) = w.app.send(get(&format!("{base}/promoted-searches"), Some(token))).await;
            assert_eq!(searches["items"].as_array().map(Vec::len), Some(1), "only the live search: {searches}");
            let (status, _, _) = w.app.send(get(&format!("{base}/promoted-searches/{later}"), Some(token))).await;
            assert_eq!(status, 404);
        }
        for id in ids.values().chain([&later]) {
            let collection = if id == &later { "promoted-searches" } else { "announcements" };
            assert_visible(&w, &format!("{base}/{collection}/{id}"), &admin).await;
        }
    }

    pub async fn a_restricted_site_opens_to_members_and_admins_and_is_missing_for_everyone_else(w: World) {
        let site = w.furnished_site("restricted", &[GROUP_ID]).await;
        let paths = read_paths(&w, &site).await;
        assert_eq!(paths.len(), 8, "two item reads beside the six site reads");
        let (admin, member) = (w.token(A, Some(ADMIN_ACCOUNT)), w.token(A, Some(MEMBER_ACCOUNT)));
        let (user, anonymous) = (w.token(A, Some(USER_ACCOUNT)), w.token(A, None));
        for path in &paths {
            assert_visible(&w, path, &admin).await;
            assert_visible(&w, path, &member).await;
            assert_hidden(&w, path, &site, &user).await;
            assert_hidden(&w, path, &site, &anonymous).await;
        }
        assert_eq!(listed(&w, &admin).await, std::slice::from_ref(&site));
        assert_eq!(listed(&w, &member).await, std::slice::from_ref(&site));
        assert!(listed(&w, &user).await.is_empty());
        assert!(listed(&w, &anonymous).await.is_empty());
        // Another tenant's member is no member here: the site is not theirs to find.
        let other = w.token(B, Some(MEMBER_ACCOUNT));
        assert_hidden(&w, &format!("/api/sites/{site}"), &site, &other).await;
    }

    pub async fn a_licensed_site_opens_to_signed_in_users_only(w: World) {
        let site = w.furnished_site("licensed", &[]).await;
        let (user, anonymous) = (w.token(A, Some(USER_ACCOUNT)), w.token(A, None));
        for path in read_paths(&w, &site).await {
            assert_visible(&w, &path, &user).await;
            assert_hidden(&w, &path, &site, &anonymous).await;
        }
        assert_eq!(listed(&w, &user).await, std::slice::from_ref(&site));
        assert!(listed(&w, &anonymous).await.is_empty());
    }

    pub async fn a_public_site_opens_to_anonymous_visitors(w: World) {
        let site = w.furnished_site("public", &[]).await;
        let anonymous = w.token(A, None);
        for path in read_paths(&w, &site).await {
            assert_visible(&w, &path, &anonymous).await;
        }
        assert_eq!(listed(&w, &anonymous).await, [site]);
    }

    pub async fn groups_match_by_id_and_never_by_their_display_name(w: World) {
        let admin = w.token(A, Some(ADMIN_ACCOUNT));
        let by_id = w
            .create(
                "/api/sites",
                &json!({"name": "A", "visibility": "restricted", "restrictedToGroups": [{"id": GROUP_ID}]}),
            )
            .await;
        let by_name = w
            .create("/api/sites", &json!({"name": "B", "visibility": "restricted", "restrictedToGroups": [{"id": "another-group-id", "name": GROUP_NAME}]}))
            .await;
        let member = w.token(A, Some(MEMBER_ACCOUNT));
        assert_visible(&w, &format!("/api/sites/{by_id}/config"), &member).await;
        assert_hidden(&w, &format!("/api/sites/{by_name}/config"), &by_name, &member).await;
        // A new group needs its id: a plain name, or an entry without an id, is refused.
        for groups in [json!([GROUP_NAME]), json!([{"name": GROUP_NAME}])] {
            let body = json!({"name": "C", "visibility": "restricted", "restrictedToGroups": groups});
            let (status, _, answer) = w.app.send(post("/api/sites", Some(&admin), &body)).await;
            assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("invalid_field")), "{answer}");
            assert!(
                answer["error"]["message"].as_str().unwrap().starts_with("restrictedToGroups[0].id: missing"),
                "{answer}"
            );
        }
        assert_eq!(listed(&w, &admin).await.len(), 2, "nothing written");
    }

    pub async fn groups_stored_by_name_read_as_name_only_entries_until_an_admin_gives_ids(w: World) {
        let site = w.furnished_site("restricted", &[GROUP_ID]).await;
        let path = format!("/api/sites/{site}");
        w.store_legacy_groups(&site, &["EXECS", "board"]).await;
        let (admin, member, user) =
            (w.token(A, Some(ADMIN_ACCOUNT)), w.token(A, Some(MEMBER_ACCOUNT)), w.token(A, Some(USER_ACCOUNT)));
        let (_, _, stored) = w.app.send(get(&path, Some(&admin))).await;
        assert_eq!(stored["restrictedToGroups"], json!([{"name": "EXECS"}, {"name": "board"}]), "migrated on read");
        // A name-only entry matches a group of that name, case aside.
        assert_visible(&w, &format!("{path}/config"), &member).await;
        assert_hidden(&w, &format!("{path}/config"), &site, &user).await;
        // An old entry may have held an id: it matches as one.
        w.store_legacy_groups(&site, &[GROUP_ID]).await;
        assert_visible(&w, &format!("{path}/config"), &member).await;

        // Saving keeps the entries the site has; a new one needs its id.
        w.store_legacy_groups(&site, &["execs", "board"]).await;
        let (_, headers, stored) = w.app.send(get(&path, Some(&admin))).await;
        let etag = headers["etag"].to_str().unwrap().to_owned();
        let mut body = stored.clone();
        for field in ["id", "version", "updatedAt", "updatedBy"] {
            body.as_object_mut().unwrap().remove(field);
        }
        body["name"] = json!("Renamed");
        let mut added = body.clone();
        added["restrictedToGroups"] = json!([{"name": "execs"}, {"name": "board"}, {"name": "staff"}]);
        let (status, _, answer) = w.app.send(put(&path, &admin, Some(&etag), &added)).await;
        assert_eq!(status, 422, "{answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().starts_with("restrictedToGroups[2].id: missing"),
            "{answer}"
        );
        let (status, _, saved) = w.app.send(put(&path, &admin, Some(&etag), &body)).await;
        assert_eq!(status, 200, "{saved}");
        assert_eq!(saved["restrictedToGroups"], json!([{"name": "execs"}, {"name": "board"}]));
        // The admin gives the ids: matched by id from then on.
        body["restrictedToGroups"] = json!([{"id": "board-group-id", "name": "board"}]);
        let etag = format!("\"{}\"", saved["version"]);
        let (status, _, saved) = w.app.send(put(&path, &admin, Some(&etag), &body)).await;
        assert_eq!(status, 200, "{saved}");
        assert_hidden(&w, &format!("{path}/config"), &site, &member).await;
    }

    pub async fn feedback_about_a_hidden_site_is_refused_as_about_a_missing_one(w: World) {
        let site = w.furnished_site("restricted", &[GROUP_ID]).await;
        let user = w.token(A, Some(USER_ACCOUNT));
        let submit = |site_id: &str| post("/api/feedback", Some(&user), &json!({"siteId": site_id, "rating": 5}));
        let hidden = w.app.send_raw(submit(&site)).await;
        let missing = w.app.send_raw(submit(MISSING)).await;
        assert_eq!((hidden.0, &hidden.2), (missing.0, &missing.2));
        assert_eq!(hidden.0, 404);
        let member = w.token(A, Some(MEMBER_ACCOUNT));
        let (status, _, body) =
            w.app.send(post("/api/feedback", Some(&member), &json!({"siteId": site, "rating": 5}))).await;
        assert_eq!(status, 201, "{body}");
    }

    pub async fn page_metadata_outside_a_site_is_for_admins(w: World) {
        w.furnished_site("public", &[]).await;
        for account in [Some(USER_ACCOUNT), None] {
            let token = w.token(A, account);
            for path in ["/api/pages", "/api/pages/12345/metadata"] {
                let (status, _, body) = w.app.send(get(path, Some(&token))).await;
                assert_eq!((status, body["error"]["code"].as_str()), (403, Some("not_admin")), "{path}");
            }
        }
        assert_visible(&w, "/api/pages/12345/metadata", &w.token(A, Some(ADMIN_ACCOUNT))).await;
    }
}

support::scenarios!(stores and schemes: [
    visitors_get_what_rendering_needs_and_admins_the_full_records,
    announcements_and_searches_not_live_for_a_visitor_are_missing_on_every_route,
    a_restricted_site_opens_to_members_and_admins_and_is_missing_for_everyone_else,
    a_licensed_site_opens_to_signed_in_users_only,
    a_public_site_opens_to_anonymous_visitors,
    groups_match_by_id_and_never_by_their_display_name,
    groups_stored_by_name_read_as_name_only_entries_until_an_admin_gives_ids,
    feedback_about_a_hidden_site_is_refused_as_about_a_missing_one,
    page_metadata_outside_a_site_is_for_admins,
]);
