//! The retention sweep on both store adapters, with a fake clock: day 29 nothing is gone, day 30
//! everything is, with a receipt; trash after 30 days, uploads never completed after a day; a run
//! stopped midway and restarted finishes with nothing left and nothing deleted that should stay.

use std::sync::Arc;

use canopy_shared::TenantKey;
use canopy_shared::domain::retention::purge;
use canopy_shared::domain::retention::{self, Budget, SweepReport};
use canopy_shared::kernel::keys;
use canopy_shared::kernel::keys::PURGE;
use canopy_shared::ports::media::ObjectKey;
use canopy_shared::ports::store::{Condition, Due, Item, PageRequest, Write};
use serde_json::{Value, json};
use support::app::*;
use support::media::{PNG, put as put_object};
use support::world::{Opened, Store};

const A: &str = "retention-a";
const B: &str = "retention-b";
const C: &str = "retention-c";
const DAY: i64 = 86_400;

struct World {
    app: TestApp,
    _dir: Option<tempfile::TempDir>,
    _served: support::media::Served,
}

async fn world(store: Store) -> World {
    let Opened { store, dir } = store.open().await;
    let served = support::media::local_served().await;
    let mut app = TestApp::with_media(served.store.clone());
    app.state.stack.data.store = app.state.tenants.watching(store);
    let app = app.with_media_routes();
    let w = World { app, _dir: dir, _served: served };
    for client in [A, B] {
        assert_eq!(w.install(client).await, 204);
    }
    w
}

fn tenant(client: &str) -> TenantKey {
    TenantKey::from_verified(client).expect("key")
}

impl World {
    async fn install(&self, client: &str) -> u16 {
        let token = sign_install(&install_claims(client, "/lifecycle/installed", self.app.now_secs()));
        self.app
            .send(post("/lifecycle/installed", Some(&token), &install_payload(client, &format!("s-{client}"))))
            .await
            .0
    }

    async fn uninstall(&self, client: &str) {
        let token = sign_install(&install_claims(client, "/lifecycle/uninstalled", self.app.now_secs()));
        let (status, _, body) =
            self.app.send(post("/lifecycle/uninstalled", Some(&token), &install_payload(client, "x"))).await;
        assert_eq!(status, 204, "{body}");
    }

    fn admin(&self, client: &str) -> String {
        context_token_as(client, &format!("s-{client}"), Some(ADMIN_ACCOUNT), self.app.now_secs())
    }

    /// A tenant with content, trash and a completed upload: what a purge must take.
    async fn populate(&self, client: &str, sites: usize) -> String {
        for i in 0..sites {
            let (status, _, body) = self
                .app
                .send(post(
                    "/api/sites",
                    Some(&self.admin(client)),
                    &json!({"name": format!("Site {i}"), "visibility": "public"}),
                ))
                .await;
            assert_eq!(status, 201, "{body}");
        }
        let ticket = self.upload_ticket(client).await;
        assert_eq!(put_object(&ticket["upload"], PNG.to_vec(), None).await, 200);
        let id = ticket["media"]["id"].as_str().expect("id").to_owned();
        let (status, _, body) =
            self.app.send(post(&format!("/api/media/{id}/complete"), Some(&self.admin(client)), &json!({}))).await;
        assert_eq!(status, 200, "{body}");
        id
    }

    /// A pending PNG logo: the media record and its upload URL.
    async fn upload_ticket(&self, client: &str) -> Value {
        let (status, _, ticket) = self
            .app
            .send(post(
                "/api/media/uploads",
                Some(&self.admin(client)),
                &json!({"purpose": "logo", "contentType": "image/png", "size": PNG.len()}),
            ))
            .await;
        assert_eq!(status, 201, "{ticket}");
        ticket
    }

    async fn items(&self, client: &str) -> Vec<String> {
        let page = self
            .app
            .state
            .store
            .query(&tenant(client), "", PageRequest { limit: 1000, after: None }, self.app.now_secs())
            .await
            .expect("query");
        page.items.into_iter().map(|i| i.sk).collect()
    }

    /// The tenant's items but the upload sweep markers, which the first sweep after their URL
    /// expired removes (`what_an_upload_url_writes_after_completion_is_swept_once_it_expired`).
    async fn kept_items(&self, client: &str) -> Vec<String> {
        self.items(client).await.into_iter().filter(|sk| !sk.starts_with(keys::UPLOAD_SWEEP_PREFIX)).collect()
    }

    /// The object a media record names (the checked copy once completed).
    async fn object_of(&self, client: &str, media_id: &str) -> ObjectKey {
        let sk = format!("{}{media_id}", keys::MEDIA_PREFIX);
        let item = self.app.state.store.get(&tenant(client), &sk, self.app.now_secs()).await.expect("get");
        canopy_shared::domain::media::object_of(&item.expect("media record")).expect("an object key")
    }

    async fn exists(&self, key: &ObjectKey) -> bool {
        self.app.state.media.head(key).await.expect("head").is_some()
    }

    async fn sweep(&self) -> SweepReport {
        retention::sweep(&self.app.state, &Budget::new(std::time::Duration::from_secs(60)), &mut |_| {})
            .await
            .expect("sweep")
    }

    async fn receipts(&self) -> Vec<purge::Receipt> {
        purge::receipts(&self.app.state, 100, None).await.expect("receipts").items
    }
}

/// A product site on loopback whose answer to the app can be switched.
#[derive(Clone)]
struct FakeSite {
    status: Arc<std::sync::atomic::AtomicU16>,
    base: String,
}

async fn fake_site() -> FakeSite {
    use axum::routing::get as route_get;
    let status = Arc::new(std::sync::atomic::AtomicU16::new(200));
    let answer = status.clone();
    let app = axum::Router::new().route(
        "/wiki/rest/api/space",
        route_get(move |headers: axum::http::HeaderMap| {
            let answer = answer.clone();
            async move {
                let signed =
                    headers.get("authorization").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("JWT "));
                let code = if signed { answer.load(std::sync::atomic::Ordering::SeqCst) } else { 400 };
                axum::http::StatusCode::from_u16(code).unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}/wiki", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    FakeSite { status, base }
}

impl World {
    async fn install_at(&self, client: &str, base_url: &str) {
        // A delivery of its own (issued a second earlier than `install`'s): a token is used with one body only.
        let mut claims = install_claims(client, "/lifecycle/installed", self.app.now_secs());
        claims.iat = claims.iat.map(|iat| iat - 1);
        let token = sign_install(&claims);
        let mut payload = install_payload(client, &format!("s-{client}"));
        payload["baseUrl"] = json!(base_url);
        assert_eq!(self.app.send(post("/lifecycle/installed", Some(&token), &payload)).await.0, 204);
    }

    async fn liveness(&self) -> retention::liveness::LivenessReport {
        let probe = canopy_shared::adapters::product::site_probe::ConnectSiteProbe {
            client: reqwest::Client::new(),
            app_key: "canopy".into(),
            hosts: self.app.state.config.product_hosts.clone(),
        };
        let budget = Budget::new(std::time::Duration::from_secs(60));
        retention::liveness::check_sites(&self.app.state, &probe, 14, &budget).await.expect("liveness")
    }

    async fn state_of(&self, client: &str) -> canopy_shared::domain::tenants::TenantState {
        canopy_shared::domain::tenants::load(&self.app.state, &tenant(client))
            .await
            .expect("load")
            .expect("tenant")
            .0
            .state
    }
}

mod scenarios {
    use super::*;

    pub async fn a_site_that_denies_access_for_14_days_is_uninstalled_and_an_outage_is_not(w: World) {
        let (gone, flaky) = (fake_site().await, fake_site().await);
        w.install_at(A, &gone.base).await;
        w.install_at(B, &flaky.base).await;
        assert_eq!(w.liveness().await.checked, 2, "both sites answer");
        gone.status.store(401, std::sync::atomic::Ordering::SeqCst);
        flaky.status.store(503, std::sync::atomic::Ordering::SeqCst);

        w.app.clock.advance_secs(DAY);
        assert_eq!(w.liveness().await.denied, 1, "denied since day 1");
        assert_eq!(w.liveness().await.checked, 0, "asked at most once a day");
        w.app.clock.advance_secs(13 * DAY);
        let report = w.liveness().await;
        assert_eq!((report.denied, report.uninstalled), (1, 0), "13 days of denial: not yet");
        w.app.clock.advance_secs(DAY);
        assert_eq!(w.liveness().await.uninstalled, 1, "14 days: treated as uninstalled");
        assert_eq!(w.state_of(A).await, canopy_shared::domain::tenants::TenantState::Uninstalled);
        assert_ne!(
            w.state_of(B).await,
            canopy_shared::domain::tenants::TenantState::Uninstalled,
            "an outage proves nothing"
        );

        w.app.clock.advance_secs(30 * DAY);
        assert_eq!(w.sweep().await.tenants_purged, 1, "then purged 30 days later like any uninstall");
        assert!(w.items(A).await.is_empty());
    }

    pub async fn a_tenant_whose_check_fails_stops_neither_the_others_nor_the_sweep(w: World) {
        let (first, last) = (fake_site().await, fake_site().await);
        w.install_at(A, &first.base).await;
        w.install_at(C, &last.base).await;
        // B's install record does not load (as a secret sealed by a key no client can reach).
        let broken = Item {
            tenant: tenant(B),
            sk: keys::TENANT_RECORD.into(),
            version: 1,
            updated_at: w.app.now_secs() * 1000,
            updated_by: None,
            due: Some(Due { kind: keys::REGISTRY_DUE_KIND.into(), at: 0 }),
            expires_at: None,
            body: json!({"clientKey": B, "sealedSecret": "not an envelope"}).into(),
        };
        let write = Write::Put { item: broken, condition: Condition::None };
        w.app.state.store.transact(vec![write], w.app.now_secs()).await.expect("write");
        w.uninstall(A).await;

        let report = w.liveness().await;
        assert_eq!((report.checked, report.errors), (1, 1), "C is checked after B failed: {report:?}");
        w.app.clock.advance_secs(30 * DAY);
        assert_eq!(w.sweep().await.tenants_purged, 1, "the sweep still purges A");
    }

    pub async fn a_tenant_is_purged_30_days_after_uninstall_with_a_receipt(w: World) {
        let media_a = w.populate(A, 3).await;
        let media_b = w.populate(B, 1).await;
        let before_b = w.kept_items(B).await;
        w.uninstall(A).await;

        w.app.clock.advance_secs(30 * DAY - 1);
        let report = w.sweep().await;
        assert_eq!(report.tenants_purged, 0, "day 29: nothing is due");
        assert!(w.items(A).await.len() > 5, "day 29: everything still there");
        assert!(w.items(A).await.iter().any(|sk| sk.starts_with(keys::EDITOR_PREFIX)), "editor pointers exist");
        let (object_a, object_b) = (w.object_of(A, &media_a).await, w.object_of(B, &media_b).await);
        assert!(w.exists(&object_a).await);

        w.app.clock.advance_secs(1);
        let report = w.sweep().await;
        assert_eq!((report.tenants_purged, report.objects_deleted, report.more), (1, 1, false), "{report:?}");
        assert_eq!(w.items(A).await, Vec::<String>::new(), "day 30: nothing of the tenant is left");
        assert!(!w.exists(&object_a).await, "its media objects are gone too");
        assert_eq!(w.items(B).await, before_b, "the other tenant is untouched");
        assert!(w.exists(&object_b).await);

        let receipts = w.receipts().await;
        assert_eq!(receipts.len(), 1);
        let receipt = &receipts[0];
        assert_eq!(receipt.tenant_key_sha256, canopy_shared::kernel::keys::tenant_hash(&tenant(A)));
        assert_eq!(receipt.objects_deleted, 1);
        assert!(receipt.items_deleted >= 9, "{receipt:?}");
        let text = serde_json::to_string(receipt).expect("json");
        assert!(!text.contains(A) && !text.contains(ADMIN_ACCOUNT), "no tenant key, no personal data: {text}");

        let ops = canopy_shared::http::finish(
            canopy_shared::http::ops::routes(canopy_shared::http::ops::OperatorAccess::Local),
            w.app.state.clone(),
        );
        let response = tower::ServiceExt::oneshot(ops, get("/ops/receipts", None)).await.expect("ops");
        assert_eq!(response.status(), 200);
        let bytes = http_body_util::BodyExt::collect(response.into_body()).await.expect("body").to_bytes();
        let listed: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(
            listed["items"][0]["tenantKeySha256"],
            receipt.tenant_key_sha256.as_str(),
            "operators read receipts"
        );

        let again = w.sweep().await;
        assert_eq!(
            (again.tenants_purged, again.items_deleted),
            (0, 0),
            "a second run has nothing to do and does not fail"
        );
        assert_eq!(w.install(A).await, 204, "the site can install afresh");
        assert_eq!(w.items(A).await, vec![keys::TENANT_RECORD.to_owned()]);
    }

    pub async fn a_reinstall_before_the_purge_date_keeps_everything(w: World) {
        w.populate(A, 2).await;
        let before = w.kept_items(A).await;
        w.uninstall(A).await;
        w.app.clock.advance_secs(10 * DAY);
        assert_eq!(w.install(A).await, 204);
        w.app.clock.advance_secs(40 * DAY);
        assert_eq!(w.sweep().await.tenants_purged, 0);
        assert_eq!(w.items(A).await, before);
    }

    pub async fn a_run_stopped_midway_resumes_and_blocks_reinstall_meanwhile(w: World) {
        w.populate(A, 30).await;
        let b_before = w.items(B).await;
        w.uninstall(A).await;
        w.app.clock.advance_secs(31 * DAY);
        let first = retention::sweep(&w.app.state, &Budget::steps(2), &mut |_| {}).await.expect("sweep");
        assert!(first.more && first.tenants_purged == 0, "{first:?}");
        assert!(first.items_deleted > 0);
        assert!(w.items(A).await.contains(&PURGE.to_owned()), "the marker records the purge");

        let token = sign_install(&install_claims(A, "/lifecycle/installed", w.app.now_secs()));
        let (status, headers, _) =
            w.app.send(post("/lifecycle/installed", Some(&token), &install_payload(A, "s-A"))).await;
        assert_eq!(status, 503, "no re-install into a half-purged tenant");
        assert_eq!(headers["retry-after"], "30");

        let second = w.sweep().await;
        assert_eq!((second.tenants_purged, second.more), (1, false), "{second:?}");
        assert!(w.items(A).await.is_empty());
        assert_eq!(w.items(B).await, b_before, "nothing deleted that should stay");
        let receipt = w.receipts().await.remove(0);
        assert_eq!(
            receipt.items_deleted,
            first.items_deleted + second.items_deleted,
            "counts survive the interruption"
        );
    }

    pub async fn trash_goes_after_30_days_and_stays_restorable_before(w: World) {
        let (_, _, site) =
            w.app.send(post("/api/sites", Some(&w.admin(A)), &json!({"name": "Old", "visibility": "public"}))).await;
        let id = site["id"].as_str().expect("id");
        assert_eq!(w.app.send(delete(&format!("/api/sites/{id}"), &w.admin(A), Some("\"1\""))).await.0, 204);
        w.app.clock.advance_secs(30 * DAY - 1);
        assert_eq!(w.sweep().await.trash_purged, 0);
        let (_, _, trash) = w.app.send(get("/api/trash", Some(&w.admin(A)))).await;
        assert_eq!(trash["items"].as_array().map(Vec::len), Some(1), "day 29: restorable");
        let trash_pointer = keys::edit(ADMIN_ACCOUNT, &keys::trash(&keys::site(id)));
        assert!(w.items(A).await.contains(&trash_pointer), "the deleter's pointer to the trash entry");
        w.app.clock.advance_secs(1);
        assert_eq!(w.sweep().await.trash_purged, 1);
        let (_, _, trash) = w.app.send(get("/api/trash", Some(&w.admin(A)))).await;
        assert_eq!(trash["items"], json!([]));
        assert!(!w.items(A).await.contains(&trash_pointer), "the pointer goes with the entry");
    }

    pub async fn uploads_never_completed_go_after_a_day(w: World) {
        let ticket = w.upload_ticket(A).await;
        assert_eq!(put_object(&ticket["upload"], PNG.to_vec(), None).await, 200, "uploaded but never completed");
        let id = ticket["media"]["id"].as_str().expect("id").to_owned();
        let done = w.populate(A, 0).await;
        w.app.clock.advance_secs(DAY - 1);
        assert_eq!(w.sweep().await.pending_uploads_removed, 0);
        w.app.clock.advance_secs(1);
        assert_eq!(w.sweep().await.pending_uploads_removed, 1);
        assert_eq!(w.app.send(get(&format!("/api/media/{id}"), Some(&w.admin(A)))).await.0, 404);
        assert!(!w.exists(&ObjectKey::upload(&tenant(A), &id)).await);
        assert!(w.exists(&w.object_of(A, &done).await).await, "completed media stays");
        let usage =
            w.app.state.store.get(&tenant(A), "MEDIA_USAGE", w.app.now_secs()).await.expect("get").expect("usage");
        assert_eq!(usage.body.to_value().unwrap()["pending"], 0);
        assert_eq!(usage.body.to_value().unwrap()["items"], 1);
    }

    pub async fn what_an_upload_url_writes_after_completion_is_swept_once_it_expired(w: World) {
        let ticket = w.upload_ticket(A).await;
        assert_eq!(put_object(&ticket["upload"], PNG.to_vec(), None).await, 200);
        let id = ticket["media"]["id"].as_str().expect("id").to_owned();
        let (status, _, body) =
            w.app.send(post(&format!("/api/media/{id}/complete"), Some(&w.admin(A)), &json!({}))).await;
        assert_eq!(status, 200, "{body}");
        let upload = ObjectKey::upload(&tenant(A), &id);
        assert!(!w.exists(&upload).await, "completion deletes the upload");
        assert_eq!(put_object(&ticket["upload"], PNG.to_vec(), None).await, 200, "the URL still writes");
        assert!(w.exists(&upload).await);

        let ttl = canopy_shared::domain::media::UPLOAD_URL_TTL.as_secs() as i64;
        w.app.clock.advance_secs(ttl - 1);
        assert_eq!(w.sweep().await.upload_objects_swept, 0, "the URL may still write");
        w.app.clock.advance_secs(1);
        assert_eq!(w.sweep().await.upload_objects_swept, 1);
        assert!(!w.exists(&upload).await, "what the URL wrote is gone");
        assert!(w.exists(&w.object_of(A, &id).await).await, "the checked copy stays");
        assert!(!w.items(A).await.iter().any(|sk| sk.starts_with(keys::UPLOAD_SWEEP_PREFIX)), "the marker goes");
        assert_eq!(w.sweep().await.upload_objects_swept, 0);
    }

    pub async fn expired_records_are_gone_for_readers_and_swept(w: World) {
        let item = Item {
            tenant: tenant(A),
            sk: "RATE#test".into(),
            version: 1,
            updated_at: 0,
            updated_by: None,
            due: None,
            expires_at: Some(w.app.now_secs() + 60),
            body: json!({"count": 3}).into(),
        };
        w.app
            .state
            .store
            .transact(vec![Write::Put { item, condition: Condition::None }], w.app.now_secs())
            .await
            .expect("seed");
        w.app.clock.advance_secs(61);
        w.sweep().await;
        assert!(w.app.state.store.get(&tenant(A), "RATE#test", w.app.now_secs()).await.expect("get").is_none());
        assert!(!w.items(A).await.contains(&"RATE#test".to_owned()));
    }

    pub async fn a_migrated_source_goes_after_its_rollback_window(w: World) {
        // What the residency function will write when a tenant moves away: the source copy's
        // install record due under `migrated-source` when its 7-day window closes.
        w.populate(A, 1).await;
        let record = w
            .app
            .state
            .store
            .get(&tenant(A), keys::TENANT_RECORD, w.app.now_secs())
            .await
            .expect("get")
            .expect("record");
        let moved = Item {
            version: record.version + 1,
            due: Some(Due {
                kind: canopy_shared::kernel::keys::MIGRATED_SOURCE_DUE_KIND.into(),
                at: w.app.now_secs() + 7 * DAY,
            }),
            ..record.clone()
        };
        w.app
            .state
            .store
            .transact(vec![Write::Put { item: moved, condition: Condition::Version(record.version) }], w.app.now_secs())
            .await
            .expect("mark");
        w.app.clock.advance_secs(7 * DAY - 1);
        assert_eq!(w.sweep().await.sources_purged, 0);
        w.app.clock.advance_secs(1);
        assert_eq!(w.sweep().await.sources_purged, 1);
        assert!(w.items(A).await.is_empty());
        assert_eq!(w.receipts().await[0].reason, purge::Reason::MigratedAway);
    }

    pub async fn an_uninstalled_tenant_is_deleted_now_on_request_with_a_receipt(w: World) {
        use retention::on_request::{Deletion, delete_now};
        let media_a = w.populate(A, 3).await;
        let media_b = w.populate(B, 1).await;
        let (a_before, b_before) = (w.items(A).await, w.items(B).await);
        let (object_a, object_b) = (w.object_of(A, &media_a).await, w.object_of(B, &media_b).await);
        let budget = Budget::new(std::time::Duration::from_secs(60));

        let installed = delete_now(&w.app.state, &tenant(A), &budget).await.expect_err("installed");
        assert_eq!(installed.code(), "tenant_installed");
        assert_eq!(w.items(A).await, a_before, "a refusal changes nothing");
        let unknown = delete_now(&w.app.state, &tenant(C), &budget).await.expect_err("unknown");
        assert_eq!(unknown.code(), "unknown_tenant");

        w.uninstall(A).await;
        w.app.clock.advance_secs(DAY);
        let Deletion::Deleted { receipt } = delete_now(&w.app.state, &tenant(A), &budget).await.expect("deleted")
        else {
            panic!("deleted in one go")
        };
        assert_eq!(receipt.reason, purge::Reason::OnRequest);
        assert_eq!(receipt.tenant_key_sha256, keys::tenant_hash(&tenant(A)));
        assert_eq!(receipt.objects_deleted, 1);
        assert_eq!(
            receipt.items_deleted as usize,
            a_before.len() + 1,
            "every item, the marker and the record: {a_before:?}"
        );
        assert!(w.items(A).await.is_empty(), "day 1, not day 30: nothing of the tenant is left");
        assert!(!w.exists(&object_a).await, "its media objects are gone too");
        assert_eq!(w.items(B).await, b_before, "the other tenant is untouched");
        assert!(w.exists(&object_b).await);
        assert_eq!(w.receipts().await, vec![*receipt], "the receipt is the operators' too");

        let again = delete_now(&w.app.state, &tenant(A), &budget).await.expect_err("gone");
        assert_eq!(again.code(), "unknown_tenant", "a second request finds nothing");
        w.app.clock.advance_secs(40 * DAY);
        assert_eq!(w.sweep().await.tenants_purged, 0, "the purge date finds nothing either");
        assert_eq!(w.install(A).await, 204, "the site can install afresh");
    }

    pub async fn a_deletion_now_out_of_time_carries_on_when_asked_again(w: World) {
        use retention::on_request::{Deletion, delete_now};
        w.populate(A, 30).await;
        w.uninstall(A).await;
        let first = delete_now(&w.app.state, &tenant(A), &Budget::steps(1)).await.expect("first");
        let Deletion::InProgress { items_deleted, .. } = first else { panic!("out of time: {first:?}") };
        assert!(items_deleted > 0);
        assert_eq!(w.install(A).await, 503, "no re-install into a half-deleted tenant");
        let Deletion::Deleted { receipt } =
            delete_now(&w.app.state, &tenant(A), &Budget::new(std::time::Duration::from_secs(60)))
                .await
                .expect("second")
        else {
            panic!("finished")
        };
        assert!(receipt.items_deleted > items_deleted, "the receipt counts both runs: {receipt:?}");
        assert!(w.items(A).await.is_empty());
    }

    pub async fn two_sweeps_at_once_delete_nothing_twice(w: World) {
        w.populate(A, 10).await;
        w.uninstall(A).await;
        w.app.clock.advance_secs(31 * DAY);
        let budget = Budget::new(std::time::Duration::from_secs(60));
        let (mut quiet_one, mut quiet_two) = (|_: &SweepReport| {}, |_: &SweepReport| {});
        let (one, two) = tokio::join!(
            retention::sweep(&w.app.state, &budget, &mut quiet_one),
            retention::sweep(&w.app.state, &budget, &mut quiet_two)
        );
        let (one, two) = (one.expect("first sweep"), two.expect("second sweep"));
        assert_eq!(one.tenants_purged + two.tenants_purged, 1, "{one:?} {two:?}");
        assert!(w.items(A).await.is_empty());
        assert_eq!(w.receipts().await.len(), 1);
    }

    /// The sweep reads its due lists before it purges: a tenant purged in the same sweep takes its
    /// trash and its unfinished uploads with it, and their own due entries are then skipped.
    pub async fn a_purge_and_the_tenants_other_due_work_in_one_sweep(w: World) {
        w.populate(A, 1).await;
        let (_, _, site) =
            w.app.send(post("/api/sites", Some(&w.admin(A)), &json!({"name": "Old", "visibility": "public"}))).await;
        let id = site["id"].as_str().expect("id");
        assert_eq!(w.app.send(delete(&format!("/api/sites/{id}"), &w.admin(A), Some("\"1\""))).await.0, 204);
        let ticket = w.upload_ticket(A).await;
        assert_eq!(put_object(&ticket["upload"], PNG.to_vec(), None).await, 200, "uploaded but never completed");
        w.uninstall(A).await;
        let before_b = w.kept_items(B).await;
        w.app.clock.advance_secs(30 * DAY);
        let report = w.sweep().await;
        assert_eq!(report.tenants_purged, 1, "{report:?}");
        assert_eq!((report.trash_purged, report.pending_uploads_removed, report.more), (0, 0, false), "{report:?}");
        assert_eq!(w.items(A).await, Vec::<String>::new(), "nothing of the tenant is left");
        assert_eq!(w.kept_items(B).await, before_b, "the other tenant is untouched");
        let again = w.sweep().await;
        assert_eq!((again.tenants_purged, again.trash_purged, again.pending_uploads_removed), (0, 0, 0), "{again:?}");
    }
}

support::scenarios!(stores: [
    a_purge_and_the_tenants_other_due_work_in_one_sweep,
    a_tenant_is_purged_30_days_after_uninstall_with_a_receipt,
    a_reinstall_before_the_purge_date_keeps_everything,
    a_run_stopped_midway_resumes_and_blocks_reinstall_meanwhile,
    trash_goes_after_30_days_and_stays_restorable_before,
    uploads_never_completed_go_after_a_day,
    what_an_upload_url_writes_after_completion_is_swept_once_it_expired,
    expired_records_are_gone_for_readers_and_swept,
    a_migrated_source_goes_after_its_rollback_window,
    two_sweeps_at_once_delete_nothing_twice,
    an_uninstalled_tenant_is_deleted_now_on_request_with_a_receipt,
    a_deletion_now_out_of_time_carries_on_when_asked_again,
    a_site_that_denies_access_for_14_days_is_uninstalled_and_an_outage_is_not,
    a_tenant_whose_check_fails_stops_neither_the_others_nor_the_sweep,
]);
