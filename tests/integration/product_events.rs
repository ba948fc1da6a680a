//! Stored data follows the product: Confluence's page and space events (Connect webhooks with a
//! request-bound JWT, Forge triggers with a FIT), on both stores and under both schemes. Page
//! metadata goes to the trash and comes back on a restore; navigation is never rewritten, a
//! site answers which entries are broken; events twice, replayed or out of order change nothing.

use canopy_shared::TenantKey;
use canopy_shared::kernel::clock::Clock;
use canopy_shared::kernel::keys;
use serde_json::{Value, json};
use support::app::*;
use support::world::{Opened, Scheme, Store};

const A: &str = "tenant-a";
const B: &str = "tenant-b";
const SECRET_A: &str = "secret-a";
const SECRET_B: &str = "secret-b";
const PAGE: &str = "12345";

struct World {
    app: TestApp,
    scheme: Scheme,
    _dir: Option<tempfile::TempDir>,
}

async fn world(store: Store, scheme: Scheme) -> World {
    let Opened { store, dir } = store.open().await;
    let app = TestApp::with_store(store);
    for (client, secret) in [(A, SECRET_A), (B, SECRET_B)] {
        app.install(client, secret).await;
    }
    World { app, scheme, _dir: dir }
}

fn secret(client: &str) -> &'static str {
    if client == A { SECRET_A } else { SECRET_B }
}

/// The Connect event name and its Forge event type.
fn forge_type(event: &str) -> &'static str {
    match event {
        "page_trashed" => "avi:confluence:trashed:page",
        "page_removed" => "avi:confluence:deleted:page",
        "page_restored" => "avi:confluence:restored:page",
        "space_removed" => "avi:confluence:deleted:space:V2",
        other => panic!("no Forge type for {other}"),
    }
}

impl World {
    fn admin(&self, client: &str) -> String {
        self.scheme.token(client, secret(client), Some(ADMIN_ACCOUNT), self.app.now_secs())
    }

    /// Sends `event` about `id` (a page id or a space key) as the product does under this
    /// world's scheme; `at` is the event's time (Connect sends it, Forge does not).
    async fn event(&self, client: &str, event: &str, id: &str, at: i64) -> (u16, Value) {
        let now = self.app.now_secs();
        let request = match self.scheme {
            Scheme::Connect => {
                let path = format!("/webhooks/confluence/{event}");
                let token = request_token(client, secret(client), "POST", &path, now);
                post(&path, Some(&token), &connect_payload(event, id, at))
            }
            Scheme::Forge => {
                let token = forge_token(&cloud_of(client), None, now);
                post("/forge/events/confluence", Some(&token), &forge_payload(event, id))
            }
        };
        let (status, _, body) = self.app.send(request).await;
        (status, body)
    }

    async fn applied(&self, client: &str, event: &str, id: &str, at: i64) -> String {
        let (status, body) = self.event(client, event, id, at).await;
        assert_eq!(status, 200, "{event} {id}: {body}");
        body["outcome"].as_str().expect("outcome").to_owned()
    }

    async fn site_with_navigation(&self, client: &str) -> (String, String) {
        let admin = self.admin(client);
        let site = json!({"name": "Intranet", "visibility": "public"});
        let (status, _, created) = self.app.send(post("/api/sites", Some(&admin), &site)).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().expect("id").to_owned();
        let nav = json!({"items": [
            {"id": "home", "label": "Home", "target": {"type": "page", "pageId": PAGE}, "children": [
                {"id": "docs", "label": "Docs", "target": {"type": "space", "spaceKey": "DOC"}, "children": []},
                {"id": "mine", "label": "Mine", "target": {"type": "space", "spaceKey": "~557058:admin"}, "children": []},
                {"id": "web", "label": "Web", "target": {"type": "url", "url": "https://example.com"}, "children": []}
            ]},
            {"id": "again", "label": "Home again", "target": {"type": "page", "pageId": PAGE}, "children": []}
        ]});
        let (status, headers, body) =
            self.app.send(put(&format!("/api/sites/{id}/navigation"), &admin, None, &nav)).await;
        assert_eq!(status, 201, "{body}");
        (id, headers["etag"].to_str().expect("etag").to_owned())
    }

    async fn put_metadata(&self, client: &str, page: &str) {
        let body = json!({"description": "About us"});
        let (status, _, answer) =
            self.app.send(put(&format!("/api/pages/{page}/metadata"), &self.admin(client), None, &body)).await;
        assert_eq!(status, 201, "{answer}");
    }

    async fn metadata(&self, client: &str, page: &str) -> (u16, Value) {
        let (status, _, body) =
            self.app.send(get(&format!("/api/pages/{page}/metadata"), Some(&self.admin(client)))).await;
        (status, body)
    }

    async fn broken(&self, client: &str, site: &str) -> Vec<(String, String)> {
        let path = format!("/api/sites/{site}/navigation/broken");
        let (status, _, body) = self.app.send(get(&path, Some(&self.admin(client)))).await;
        assert_eq!(status, 200, "{body}");
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|e| {
                (e["id"].as_str().unwrap_or_default().to_owned(), e["reason"].as_str().unwrap_or_default().to_owned())
            })
            .collect()
    }

    async fn trash(&self, client: &str) -> Vec<Value> {
        let (_, _, body) = self.app.send(get("/api/trash", Some(&self.admin(client)))).await;
        body["items"].as_array().cloned().unwrap_or_default()
    }

    async fn marker(&self, client: &str, sk: &str) -> Option<Value> {
        let tenant = TenantKey::from_verified(client).expect("key");
        self.app
            .state
            .store
            .get(&tenant, sk, self.app.now_secs())
            .await
            .expect("get")
            .map(|i| i.body.to_value().unwrap())
    }
}

fn connect_payload(event: &str, id: &str, at: i64) -> Value {
    if event == "space_removed" {
        json!({"space": {"key": id, "name": "Docs"}, "timestamp": at})
    } else {
        // Connect sends page ids as numbers.
        json!({"page": {"id": id.parse::<u64>().unwrap_or(0), "spaceKey": "DOC", "title": "t"}, "timestamp": at})
    }
}

fn forge_payload(event: &str, id: &str) -> Value {
    if event == "space_removed" {
        json!({"eventType": forge_type(event), "space": {"id": 1, "key": id}})
    } else {
        json!({"eventType": forge_type(event), "content": {"id": id, "type": "page", "status": "trashed", "space": {"key": "DOC"}}})
    }
}

mod scenarios {
    use super::*;

    /// Trashing a page takes its metadata to Canopy's trash (cause named) and marks both
    /// navigation entries to it broken, leaving the tree and its version alone; the same event
    /// again changes nothing; the restore brings the metadata back and clears the mark.
    pub async fn a_trashed_page_goes_to_the_trash_and_its_restore_brings_it_back(w: World) {
        let (site, nav_etag) = w.site_with_navigation(A).await;
        w.put_metadata(A, PAGE).await;
        w.put_metadata(B, PAGE).await;
        let t0 = w.app.clock.now_millis();
        assert!(w.broken(A, &site).await.is_empty());

        assert_eq!(w.applied(A, "page_trashed", PAGE, t0).await, "applied");
        assert_eq!(w.metadata(A, PAGE).await.0, 404);
        let trash = w.trash(A).await;
        let entry = trash.iter().find(|e| e["kind"] == "page metadata").expect("in the trash");
        assert_eq!(entry["cause"], "page_trashed");
        assert!(entry.get("deletedBy").is_none(), "the product, not an editor: {entry}");
        let broken =
            vec![("home".to_owned(), "page_trashed".to_owned()), ("again".to_owned(), "page_trashed".to_owned())];
        assert_eq!(w.broken(A, &site).await, broken);
        let (_, headers, _) = w.app.send(get(&format!("/api/sites/{site}/navigation"), Some(&w.admin(A)))).await;
        assert_eq!(headers["etag"].to_str().unwrap(), nav_etag, "the admin's tree is not rewritten");
        assert_eq!(w.metadata(B, PAGE).await.0, 200, "another tenant's page of the same id is untouched");

        if w.scheme == Scheme::Connect {
            assert_eq!(w.applied(A, "page_trashed", PAGE, t0).await, "unchanged", "delivered twice");
        }
        w.app.clock.advance_secs(60);
        assert_eq!(w.applied(A, "page_restored", PAGE, w.app.clock.now_millis()).await, "applied");
        let (status, metadata) = w.metadata(A, PAGE).await;
        assert_eq!((status, metadata["description"].as_str()), (200, Some("About us")));
        assert!(w.trash(A).await.iter().all(|e| e["kind"] != "page metadata"));
        assert!(w.broken(A, &site).await.is_empty());
    }

    /// A removed space marks the entries to it; a personal space (its key is an accountId) is
    /// ignored and leaves no marker.
    pub async fn a_removed_space_marks_its_entries(w: World) {
        let (site, _) = w.site_with_navigation(A).await;
        let at = w.app.clock.now_millis();
        assert_eq!(w.applied(A, "space_removed", "DOC", at).await, "applied");
        assert_eq!(w.broken(A, &site).await, vec![("docs".to_owned(), "space_removed".to_owned())]);
        assert_eq!(w.applied(A, "space_removed", "~557058:admin", at).await, "ignored");
        assert!(w.marker(A, &keys::product_space("~557058:admin")).await.is_none());
        assert_eq!(w.broken(B, &w.site_with_navigation(B).await.0).await, vec![], "per tenant");
    }

    /// Events are verified like any call from Atlassian, and bad ones change nothing.
    pub async fn events_are_verified_and_bad_ones_change_nothing(w: World) {
        w.put_metadata(A, PAGE).await;
        let now = w.app.now_secs();
        let at = w.app.clock.now_millis();
        let path = "/webhooks/confluence/page_trashed";
        let body = connect_payload("page_trashed", PAGE, at);
        let refused = [
            post(path, None, &body),
            // A context token is for browsers; a webhook's token is bound to its request.
            post(path, Some(&context_token(A, SECRET_A, now)), &body),
            // Bound to another event's path.
            post(path, Some(&request_token(A, SECRET_A, "POST", "/webhooks/confluence/page_restored", now)), &body),
            // Signed with another tenant's secret.
            post(path, Some(&request_token(A, SECRET_B, "POST", path, now)), &body),
            post("/forge/events/confluence", None, &forge_payload("page_trashed", PAGE)),
            // A Connect JWT where a FIT is due.
            post(
                "/forge/events/confluence",
                Some(&request_token(A, SECRET_A, "POST", "/forge/events/confluence", now)),
                &forge_payload("page_trashed", PAGE),
            ),
        ];
        for request in refused {
            let (status, _, answer) = w.app.send(request).await;
            assert_eq!(status, 401, "{answer}");
        }
        let unknown = "/webhooks/confluence/page_created";
        let (status, _, _) =
            w.app.send(post(unknown, Some(&request_token(A, SECRET_A, "POST", unknown, now)), &body)).await;
        assert_eq!(status, 404);
        for bad in [json!({"page": {"id": "12;DROP"}, "timestamp": at}), json!({"timestamp": at}), json!([1])] {
            let token = request_token(A, SECRET_A, "POST", path, now);
            let (status, _, answer) = w.app.send(post(path, Some(&token), &bad)).await;
            assert_eq!(status, 422, "{bad}: {answer}");
        }
        let fit = forge_token(&cloud_of(A), None, now);
        let bad = json!({"eventType": "avi:confluence:trashed:page", "content": {"id": "x/../1"}});
        assert_eq!(w.app.send(post("/forge/events/confluence", Some(&fit), &bad)).await.0, 422);
        let other = json!({"eventType": "avi:confluence:created:page", "content": {"id": PAGE}});
        let (status, _, answer) = w.app.send(post("/forge/events/confluence", Some(&fit), &other)).await;
        assert_eq!((status, answer["outcome"].as_str()), (200, Some("ignored")));
        assert_eq!(w.metadata(A, PAGE).await.0, 200, "nothing changed");
        assert!(w.marker(A, &keys::product_page(PAGE)).await.is_none());
    }

    /// Metadata an admin deleted stays deleted when the product restores the page; the broken
    /// list is for site admins, and another tenant's site is missing there.
    pub async fn an_admins_deletion_is_not_undone_and_the_broken_list_is_for_admins(w: World) {
        let (site, _) = w.site_with_navigation(A).await;
        w.put_metadata(A, PAGE).await;
        let delete_meta = delete(&format!("/api/pages/{PAGE}/metadata"), &w.admin(A), Some("\"1\""));
        assert_eq!(w.app.send(delete_meta).await.0, 204);
        let at = w.app.clock.now_millis();
        assert_eq!(w.applied(A, "page_trashed", PAGE, at).await, "applied");
        w.app.clock.advance_secs(1);
        assert_eq!(w.applied(A, "page_restored", PAGE, w.app.clock.now_millis()).await, "applied");
        assert_eq!(w.metadata(A, PAGE).await.0, 404, "the admin's deletion stands");
        assert_eq!(w.trash(A).await.len(), 1, "still restorable by the admin");

        let path = format!("/api/sites/{site}/navigation/broken");
        let user = w.scheme.token(A, SECRET_A, Some(USER_ACCOUNT), w.app.now_secs());
        assert_eq!(w.app.send(get(&path, Some(&user))).await.0, 403);
        assert_eq!(w.app.send(get(&path, Some(&w.admin(B)))).await.0, 404);
        assert_eq!(w.app.send(get(&path, None)).await.0, 401);
    }
}

mod ordering {
    use super::*;

    /// Connect events carry their time: a restore that arrives before the trashing it undid, a
    /// replayed removal and a replayed restore are all recognised as stale and change nothing.
    pub async fn events_out_of_order_or_replayed_change_nothing(w: World) {
        let (site, _) = w.site_with_navigation(A).await;
        w.put_metadata(A, PAGE).await;
        let t = w.app.clock.now_millis();
        assert_eq!(w.applied(A, "page_restored", PAGE, t + 2_000).await, "applied", "the restore arrives first");
        assert_eq!(w.applied(A, "page_trashed", PAGE, t + 1_000).await, "stale");
        assert_eq!(w.metadata(A, PAGE).await.0, 200, "the late trashing took nothing");
        assert!(w.broken(A, &site).await.is_empty());

        assert_eq!(w.applied(A, "page_removed", PAGE, t + 3_000).await, "applied");
        assert_eq!(w.applied(A, "page_removed", PAGE, t + 3_000).await, "unchanged", "replayed");
        assert_eq!(w.applied(A, "page_restored", PAGE, t + 2_000).await, "stale", "an old restore replayed");
        assert_eq!(w.metadata(A, PAGE).await.0, 404);
        assert_eq!(w.broken(A, &site).await.first().map(|(_, r)| r.as_str()), Some("page_removed"));
        let trashed: Vec<_> = w.trash(A).await.into_iter().filter(|e| e["kind"] == "page metadata").collect();
        assert_eq!(trashed.len(), 1, "one trash entry, whatever the replays");
    }
}

support::scenarios!(stores and schemes: [
    a_trashed_page_goes_to_the_trash_and_its_restore_brings_it_back,
    a_removed_space_marks_its_entries,
    events_are_verified_and_bad_ones_change_nothing,
    an_admins_deletion_is_not_undone_and_the_broken_list_is_for_admins,
]);

mod ordered {
    use super::*;

    #[tokio::test]
    async fn events_out_of_order_or_replayed_change_nothing_on_embedded() {
        ordering::events_out_of_order_or_replayed_change_nothing(world(Store::Embedded, Scheme::Connect).await).await;
    }

    #[tokio::test]
    async fn events_out_of_order_or_replayed_change_nothing_on_dynamo() {
        ordering::events_out_of_order_or_replayed_change_nothing(world(Store::Dynamo, Scheme::Connect).await).await;
    }
}
