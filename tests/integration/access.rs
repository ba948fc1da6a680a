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
    async fn furnished_site(&self, visibility: &str, groups: &[&str]) -> String {
        let site = self
            .create("/api/sites", &json!({"name": "Intranet", "visibility": visibility, "restrictedToGroups": groups}))
            .await;
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

mod scenarios {
    use super::*;

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

    pub async fn the_restricted_groups_match_by_id_or_by_a_stored_name(w: World) {
        let by_name = w.furnished_site("restricted", &[GROUP_NAME]).await;
        let by_other = w.furnished_site("restricted", &["some-other-group"]).await;
        let member = w.token(A, Some(MEMBER_ACCOUNT));
        assert_visible(&w, &format!("/api/sites/{by_name}/config"), &member).await;
        assert_hidden(&w, &format!("/api/sites/{by_other}/config"), &by_other, &member).await;
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
    a_restricted_site_opens_to_members_and_admins_and_is_missing_for_everyone_else,
    a_licensed_site_opens_to_signed_in_users_only,
    a_public_site_opens_to_anonymous_visitors,
    the_restricted_groups_match_by_id_or_by_a_stored_name,
    feedback_about_a_hidden_site_is_refused_as_about_a_missing_one,
    page_metadata_outside_a_site_is_for_admins,
]);
