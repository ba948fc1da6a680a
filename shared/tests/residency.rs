//! Data residency across two regions (`us`, `eu`), each with its own store and media store, on
//! both store adapters (embedded + local media; DynamoDB Local + S3 through s3s-fs): migration
//! with content and media, writes during the copy carried over, the read-only phase, 421 from the
//! old region, rollback with the changes made since, the 7-day window and the sweep, crash
//! resumption, and Atlassian's realm-migration hooks.

#[allow(dead_code)]
#[macro_use]
mod support;

use std::sync::Arc;

use async_trait::async_trait;
use canopy_shared::TenantKey;
use canopy_shared::keys;
use canopy_shared::media::port::ObjectKey;
use canopy_shared::regions::{Region, RegionSpec, Regions};
use canopy_shared::residency::{self, Phase, Settings};
use canopy_shared::retention::{self, Budget};
use canopy_shared::state::AppState;
use canopy_shared::store::embedded::EmbeddedItemStore;
use canopy_shared::store::{DueEntry, Item, ItemStore, Page, PageRequest, Write};
use serde_json::{Value, json};
use support::app::*;
use support::media::{PNG, put as put_upload};

const A: &str = "tenant-a";
const SECRET: &str = "secret-a";
const EU_BASE_URL: &str = "https://eu.canopy.example.com";
const DAY: i64 = 86_400;

/// A store that refuses the write by which a switch's source follows the target, while armed:
/// a crash between the two halves of the switch.
struct Crashing {
    inner: Arc<dyn ItemStore>,
    armed: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl ItemStore for Crashing {
    async fn get(&self, t: &TenantKey, sk: &str, now: i64) -> canopy_shared::Result<Option<Item>> {
        self.inner.get(t, sk, now).await
    }
    async fn query(&self, t: &TenantKey, p: &str, page: PageRequest, now: i64) -> canopy_shared::Result<Page<Item>> {
        self.inner.query(t, p, page, now).await
    }
    async fn transact(&self, writes: Vec<Write>, now: i64) -> canopy_shared::Result<()> {
        let follows = writes.iter().any(|w| match w {
            Write::Put { item, .. } => {
                item.sk == keys::TENANT_RECORD
                    && item.due.as_ref().is_some_and(|d| d.kind == retention::MIGRATED_SOURCE_DUE_KIND)
            }
            _ => false,
        });
        if follows && self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return Err(canopy_shared::Error::unavailable("store", "injected crash"));
        }
        self.inner.transact(writes, now).await
    }
    async fn due(&self, kind: &str, now: i64, page: PageRequest) -> canopy_shared::Result<Page<DueEntry>> {
        self.inner.due(kind, now, page).await
    }
    async fn delete_batch(&self, keys: &[(TenantKey, String)]) -> canopy_shared::Result<()> {
        self.inner.delete_batch(keys).await
    }
    async fn purge_expired(&self, now: i64) -> canopy_shared::Result<u64> {
        self.inner.purge_expired(now).await
    }
}

struct Side {
    app: TestApp,
}

struct World {
    us: Side,
    eu: Side,
    crashing: Arc<Crashing>,
    _dirs: Vec<tempfile::TempDir>,
    _media: Vec<support::media::Served>,
}

fn tenant(client: &str) -> TenantKey {
    TenantKey::from_verified(client).expect("key")
}

fn router_of(state: &AppState) -> axum::Router {
    let routes = canopy_shared::http::lifecycle::routes()
        .merge(canopy_shared::http::content::routes())
        .merge(canopy_shared::http::media::routes())
        .merge(canopy_shared::http::residency::routes());
    canopy_shared::http::finish(routes, state.clone())
}

async fn world(
    us_store: Arc<dyn ItemStore>,
    eu_store: Arc<dyn ItemStore>,
    us_media: support::media::Served,
    eu_media: support::media::Served,
    dirs: Vec<tempfile::TempDir>,
) -> World {
    let crashing = Arc::new(Crashing { inner: us_store, armed: Default::default() });
    let us_store: Arc<dyn ItemStore> = crashing.clone();
    let specs = vec![RegionSpec::new("us", BASE_URL), RegionSpec::new("eu", EU_BASE_URL)];
    let regions = |home: &str| {
        Regions::new(
            home,
            [
                Region { spec: specs[0].clone(), store: us_store.clone(), media: us_media.store.clone() },
                Region { spec: specs[1].clone(), store: eu_store.clone(), media: eu_media.store.clone() },
            ],
        )
        .expect("regions")
        .with_settings(Settings { auto_drive: false, settle: std::time::Duration::ZERO })
    };
    let mut us = TestApp::with_store(us_store.clone());
    let mut config = (*us.state.config).clone();
    config.regions = specs.clone();
    us.state.config = Arc::new(config.clone());
    us.state.media = us_media.store.clone();
    us.state.regions = regions("us");
    us.router = router_of(&us.state);

    let mut eu = TestApp::with_store(eu_store.clone());
    let mut eu_config = config;
    eu_config.base_url = EU_BASE_URL.into();
    eu_config.home_region = "eu".into();
    eu.state.config = Arc::new(eu_config);
    eu.state.media = eu_media.store.clone();
    eu.state.regions = regions("eu");
    eu.state.clock = us.clock.clone();
    // Either region opens the other's sealed secrets (KMS: Decrypt on the other region's key;
    // locally: one keyring for every region).
    eu.state.secrets = us.state.secrets.clone();
    eu.clock = us.clock.clone();
    eu.router = router_of(&eu.state);

    let w =
        World { us: Side { app: us }, eu: Side { app: eu }, crashing, _dirs: dirs, _media: vec![us_media, eu_media] };
    let token = sign_install(&install_claims(A, "/lifecycle/installed", w.now()));
    let mut payload = install_payload(A, SECRET);
    payload["cloudId"] = json!(cloud_of(A));
    let (status, _, body) = w.us.app.send(post("/lifecycle/installed", Some(&token), &payload)).await;
    assert_eq!(status, 204, "{body}");
    w
}

async fn embedded() -> World {
    let (one, two) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let us = EmbeddedItemStore::open(&one.path().join("canopy.redb")).expect("store");
    let eu = EmbeddedItemStore::open(&two.path().join("canopy.redb")).expect("store");
    let (us_media, eu_media) = (support::media::local_served().await, support::media::local_served().await);
    world(Arc::new(us), Arc::new(eu), us_media, eu_media, vec![one, two]).await
}

async fn dynamo() -> World {
    let us = support::dynamo::fresh_dynamo_store().await;
    let eu = support::dynamo::fresh_dynamo_store().await;
    let (us_media, eu_media) = (support::media::s3_served().await, support::media::s3_served().await);
    world(us, eu, us_media, eu_media, Vec::new()).await
}

impl Side {
    fn admin(&self) -> String {
        context_token_as(A, SECRET, Some(ADMIN_ACCOUNT), self.app.now_secs())
    }
    async fn get(&self, path: &str) -> (u16, axum::http::HeaderMap, Value) {
        self.app.send(get(path, Some(&self.admin()))).await
    }
    async fn post(&self, path: &str, body: &Value) -> (u16, axum::http::HeaderMap, Value) {
        self.app.send(post(path, Some(&self.admin()), body)).await
    }
    async fn put(&self, path: &str, etag: &str, body: &Value) -> (u16, axum::http::HeaderMap, Value) {
        self.app.send(put(path, &self.admin(), Some(etag), body)).await
    }
    async fn create_site(&self, name: &str) -> (String, String) {
        let (status, headers, body) = self.post("/api/sites", &site(name)).await;
        assert_eq!(status, 201, "{body}");
        (body["id"].as_str().expect("id").to_owned(), etag(&headers))
    }
    fn state(&self) -> &AppState {
        &self.app.state
    }
}

fn etag(headers: &axum::http::HeaderMap) -> String {
    headers.get("etag").expect("etag").to_str().expect("ascii").to_owned()
}

fn site(name: &str) -> Value {
    json!({"name": name, "spaces": ["DOC"], "customDomains": [], "visibility": "public"})
}

impl World {
    fn now(&self) -> i64 {
        self.us.app.now_secs()
    }

    /// A completed PNG logo in the US bucket; answers its media id.
    async fn upload(&self) -> String {
        let (status, _, ticket) = self
            .us
            .post("/api/media/uploads", &json!({"purpose": "logo", "contentType": "image/png", "size": PNG.len()}))
            .await;
        assert_eq!(status, 201, "{ticket}");
        let id = ticket["media"]["id"].as_str().expect("id").to_owned();
        assert_eq!(put_upload(&ticket["upload"], PNG.to_vec(), None).await, 200);
        let (status, _, body) = self.us.post(&format!("/api/media/{id}/complete"), &json!({})).await;
        assert_eq!(status, 200, "{body}");
        id
    }

    async fn migrate(&self) -> residency::Migration {
        let (status, _, body) = self.us.post("/api/residency/migrations", &json!({"region": "eu"})).await;
        assert_eq!(status, 202, "{body}");
        let done = residency::drive(self.us.state(), &tenant(A)).await.expect("drive");
        assert_eq!(done.phase, Phase::Switched, "{done:?}");
        done
    }

    async fn items(&self, side: &Side) -> Vec<Item> {
        let page = PageRequest { limit: 1000, after: None };
        side.state().store.query(&tenant(A), "", page, self.now()).await.expect("query").items
    }
}

mod scenarios {
    use super::*;

    pub async fn a_migration_moves_content_and_media_and_the_old_region_answers_421(w: World) {
        let (id, site_etag) = w.us.create_site("Docs").await;
        let media_id = w.upload().await;
        let done = w.migrate().await;
        assert!(done.verified.as_ref().is_some_and(|v| v.items >= 2), "{done:?}");
        assert!(done.progress.objects_copied >= 1, "{done:?}");

        let (status, _, body) = w.us.get(&format!("/api/sites/{id}")).await;
        assert_eq!(status, 421, "{body}");
        assert_eq!(body["error"]["region"], "eu");
        assert_eq!(body["error"]["baseUrl"], EU_BASE_URL);
        let (status, headers, body) = w.eu.get(&format!("/api/sites/{id}")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(etag(&headers), site_etag, "versions are kept");
        let object = ObjectKey::media(&tenant(A), &media_id);
        let (bytes, _) = w.eu.state().media.get_object(&object).await.expect("get").expect("object copied");
        assert_eq!(bytes, PNG);
        let (status, _, body) = w.eu.get(&format!("/api/media/{media_id}")).await;
        assert_eq!(status, 200, "{body}");

        let (status, _, view) = w.eu.get("/api/residency").await;
        assert_eq!(status, 200, "{view}");
        assert_eq!(view["region"], "eu");
        assert_eq!(view["migration"]["phase"], "switched");
        assert!(view["rollbackUntil"].is_string(), "{view}");
        let (status, _, tenant_view) = w.eu.get("/api/tenant").await;
        assert_eq!((status, tenant_view["region"].as_str()), (200, Some("eu")));
        // The source copy is kept, untouched, for the rollback window.
        assert!(w.items(&w.us).await.len() >= 3);
    }

    pub async fn writes_during_the_copy_are_carried_over_and_the_freeze_refuses_writes_only(w: World) {
        let (id, etag_before) = w.us.create_site("Docs").await;
        let (gone, gone_etag) = w.us.create_site("Old").await;
        let (status, _, body) = w.us.post("/api/residency/migrations", &json!({"region": "eu"})).await;
        assert_eq!(status, 202, "{body}");
        let (status, _, body) = w.us.post("/api/residency/migrations", &json!({"region": "eu"})).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("migration_in_progress")));
        residency::copy_pass(w.us.state(), &tenant(A)).await.expect("copy");
        // The tenant is fully usable during the copy.
        let path = format!("/api/sites/{id}");
        let (status, headers, body) = w.us.put(&path, &etag_before, &site("Docs v2")).await;
        assert_eq!(status, 200, "{body}");
        let etag_after = etag(&headers);
        let (status, _, _) =
            w.us.app.send(delete(&format!("/api/sites/{gone}"), &w.us.admin(), Some(&gone_etag))).await;
        assert!(status == 204 || status == 200, "{status}");
        let (added, _) = w.us.create_site("New").await;

        residency::freeze(w.us.state(), &tenant(A)).await.expect("freeze");
        let (status, headers, body) = w.us.put(&path, &etag_after, &site("Docs v3")).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
        let (status, _, body) = w.us.get(&path).await;
        assert_eq!((status, body["name"].as_str()), (200, Some("Docs v2")), "reads go on");
        let (status, _, view) = w.us.get("/api/residency").await;
        assert_eq!((status, view["migration"]["phase"].as_str()), (200, Some("read-only")));

        let done = residency::finish_copy(w.us.state(), &tenant(A)).await.expect("finish");
        assert_eq!(done.phase, Phase::Switched);
        let (status, headers, body) = w.eu.get(&path).await;
        assert_eq!((status, body["name"].as_str()), (200, Some("Docs v2")));
        assert_eq!(etag(&headers), etag_after);
        assert_eq!(w.eu.get(&format!("/api/sites/{added}")).await.0, 200);
        assert_eq!(w.eu.get(&format!("/api/sites/{gone}")).await.0, 404, "a deletion during the copy is carried");
        let (status, _, body) = w.eu.put(&path, &etag_after, &site("Docs v3")).await;
        assert_eq!(status, 200, "the new region is writable: {body}");
    }

    pub async fn a_rollback_brings_back_the_changes_made_since_the_migration(w: World) {
        let (id, _) = w.us.create_site("Docs").await;
        let (gone, gone_etag) = w.us.create_site("Old").await;
        for n in 0..8 {
            w.us.create_site(&format!("Unchanged {n}")).await;
        }
        w.migrate().await;
        w.us.app.clock.advance_secs(3 * DAY);
        let path = format!("/api/sites/{id}");
        let (_, headers, _) = w.eu.get(&path).await;
        let (status, headers, body) = w.eu.put(&path, &etag(&headers), &site("Changed in EU")).await;
        assert_eq!(status, 200, "{body}");
        let changed_etag = etag(&headers);
        let (added, _) = w.eu.create_site("Added in EU").await;
        let (status, _, _) =
            w.eu.app.send(delete(&format!("/api/sites/{gone}"), &w.eu.admin(), Some(&gone_etag))).await;
        assert!(status == 204 || status == 200, "{status}");

        let (status, _, body) = w.us.post("/api/residency/rollback", &json!({})).await;
        assert_eq!(status, 421, "asked in the wrong region: {body}");
        let (status, _, body) = w.eu.post("/api/residency/rollback", &json!({})).await;
        assert_eq!(status, 202, "{body}");
        let done = residency::drive(w.eu.state(), &tenant(A)).await.expect("rollback");
        assert_eq!((done.phase, done.from.as_str(), done.to.as_str()), (Phase::Switched, "eu", "us"));
        // The passes only copied what changed: a quick rollback.
        assert!(done.progress.items_copied * 2 < done.progress.items_total, "{done:?}");

        let (status, headers, body) = w.us.get(&path).await;
        assert_eq!((status, body["name"].as_str()), (200, Some("Changed in EU")));
        assert_eq!(etag(&headers), changed_etag);
        assert_eq!(w.us.get(&format!("/api/sites/{added}")).await.0, 200);
        assert_eq!(w.us.get(&format!("/api/sites/{gone}")).await.0, 404);
        assert_eq!(w.eu.get(&path).await.0, 421);
        // The US record is live again: no sweep deletes it.
        w.us.app.clock.advance_secs(30 * DAY);
        let report = retention::sweep(w.us.state(), &Budget::new(std::time::Duration::from_secs(60)), &mut |_| {})
            .await
            .expect("sweep");
        assert_eq!(report.sources_purged, 0);
        assert_eq!(w.us.get(&path).await.0, 200);
    }

    pub async fn after_7_days_rollback_is_refused_and_the_sweep_purges_the_source(w: World) {
        w.us.create_site("Docs").await;
        w.upload().await;
        w.migrate().await;
        let sweep = |state: AppState| async move {
            retention::sweep(&state, &Budget::new(std::time::Duration::from_secs(60)), &mut |_| {})
                .await
                .expect("sweep")
        };
        w.us.app.clock.advance_secs(7 * DAY - 1);
        assert_eq!(sweep(w.us.state().clone()).await.sources_purged, 0);
        w.us.app.clock.advance_secs(1);
        let (status, _, body) = w.eu.post("/api/residency/rollback", &json!({})).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("rollback_window_closed")), "{body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("7-day")), "{body}");
        let report = sweep(w.us.state().clone()).await;
        assert_eq!(report.sources_purged, 1, "{report:?}");
        assert!(report.objects_deleted >= 1);
        assert!(w.items(&w.us).await.is_empty());
        assert!(!w.items(&w.eu).await.is_empty(), "the new home is untouched");
        let (status, _, view) = w.eu.get("/api/residency").await;
        assert_eq!((status, view["rollbackUntil"].clone()), (200, Value::Null));
    }

    pub async fn a_crash_at_any_step_resumes_without_loss(w: World) {
        let (id, _) = w.us.create_site("Docs").await;
        let (status, _, _) = w.us.post("/api/residency/migrations", &json!({"region": "eu"})).await;
        assert_eq!(status, 202);
        residency::copy_pass(w.us.state(), &tenant(A)).await.expect("copy");
        residency::copy_pass(w.us.state(), &tenant(A)).await.expect("a repeated pass copies nothing new");
        residency::freeze(w.us.state(), &tenant(A)).await.expect("freeze");
        residency::freeze(w.us.state(), &tenant(A)).await.expect("a repeated freeze is harmless");
        // The switch dies between the target taking over and the source following.
        w.crashing.armed.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(residency::drive(w.us.state(), &tenant(A)).await.is_err());
        assert_eq!(w.eu.get(&format!("/api/sites/{id}")).await.0, 200, "the target took over");
        let done = residency::resume_all(w.us.state()).await.expect("resume");
        assert_eq!(done, 1);
        let (status, _, body) = w.us.get(&format!("/api/sites/{id}")).await;
        assert_eq!(status, 421, "{body}");
        assert_eq!(residency::resume_all(w.us.state()).await.expect("nothing left"), 0);
        let count = |items: Vec<Item>| {
            items.into_iter().filter(|i| i.sk != keys::TENANT_RECORD && i.sk != keys::RESIDENCY).count()
        };
        assert_eq!(count(w.items(&w.us).await), count(w.items(&w.eu).await));
    }

    pub async fn realm_migration_hooks_drive_the_same_engine(w: World) {
        let (id, _) = w.us.create_site("Docs").await;
        let hook = |method: &str, hook: &str| {
            let path = format!("/lifecycle/dare-migration/{hook}");
            let token = request_token(A, SECRET, method, &path, w.now());
            (path, token)
        };
        let (path, token) = hook("GET", "status");
        let (status, _, body) = w.us.app.send(get(&path, Some(&token))).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("not-scheduled")), "{body}");
        let (path, token) = hook("POST", "schedule");
        let (status, _, body) = w.us.app.send(post(&path, Some(&token), &json!({"location": "AU"}))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("unsupported_realm")), "{body}");
        let (status, _, body) =
            w.us.app
                .send(post(&path, Some(&token), &json!({"location": "EU", "startTime": "2026-02-01T00:00:00Z"})))
                .await;
        assert_eq!(status, 200, "{body}");
        let (path, token) = hook("POST", "start");
        assert_eq!(w.us.app.send(post(&path, Some(&token), &json!({}))).await.0, 200);
        // A context token is not enough: the hooks are request-bound.
        let context = context_token(A, SECRET, w.now());
        assert_eq!(w.us.app.send(post(&path, Some(&context), &json!({}))).await.0, 401);
        let ready = residency::drive(w.us.state(), &tenant(A)).await.expect("drive");
        assert_eq!(ready.phase, Phase::Ready);
        let (path, token) = hook("GET", "status");
        let (_, _, body) = w.us.app.send(get(&path, Some(&token))).await;
        assert_eq!(body["status"], "ready-to-commit", "{body}");
        assert_eq!(w.us.post("/api/sites", &site("During")).await.0, 503, "read-only until the commit");
        let (path, token) = hook("POST", "commit");
        let (status, _, body) = w.us.app.send(post(&path, Some(&token), &json!({}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(w.us.get(&format!("/api/sites/{id}")).await.0, 421);
        assert_eq!(w.eu.get(&format!("/api/sites/{id}")).await.0, 200);
        let (path, token) = hook("GET", "status");
        let (_, _, body) = w.us.app.send(get(&path, Some(&token))).await;
        assert_eq!(body["status"], "committed", "{body}");
        let (path, token) = hook("POST", "rollback");
        assert_eq!(w.us.app.send(post(&path, Some(&token), &json!({}))).await.0, 409);
    }

    pub async fn a_realm_migration_rolled_back_keeps_the_original(w: World) {
        let (id, _) = w.us.create_site("Docs").await;
        let hook = |method: &str, hook: &str| {
            let path = format!("/lifecycle/dare-migration/{hook}");
            let token = request_token(A, SECRET, method, &path, w.now());
            (path, token)
        };
        let (path, token) = hook("POST", "schedule");
        assert_eq!(w.us.app.send(post(&path, Some(&token), &json!({"location": "EU"}))).await.0, 200);
        let (path, token) = hook("POST", "start");
        assert_eq!(w.us.app.send(post(&path, Some(&token), &json!({}))).await.0, 200);
        residency::drive(w.us.state(), &tenant(A)).await.expect("drive");
        let (path, token) = hook("POST", "rollback");
        let (status, _, body) = w.us.app.send(post(&path, Some(&token), &json!({}))).await;
        assert_eq!((status, body["migration"]["phase"].as_str()), (200, Some("cancelled")), "{body}");
        assert_eq!(w.us.post("/api/sites", &site("After")).await.0, 201, "writable again");
        assert_eq!(w.us.get(&format!("/api/sites/{id}")).await.0, 200);
        // The discarded copy goes with the next sweep of the EU region.
        let report = retention::sweep(w.eu.state(), &Budget::new(std::time::Duration::from_secs(60)), &mut |_| {})
            .await
            .expect("sweep");
        assert_eq!(report.sources_purged, 1, "{report:?}");
        assert!(w.items(&w.eu).await.is_empty());
    }
}

macro_rules! scenarios {
    ($($case:ident),+ $(,)?) => {
        scenarios_for!(embedded, $($case),+);
        scenarios_for!(dynamo, $($case),+);
    };
}

scenarios!(
    a_migration_moves_content_and_media_and_the_old_region_answers_421,
    writes_during_the_copy_are_carried_over_and_the_freeze_refuses_writes_only,
    a_rollback_brings_back_the_changes_made_since_the_migration,
    after_7_days_rollback_is_refused_and_the_sweep_purges_the_source,
    a_crash_at_any_step_resumes_without_loss,
    realm_migration_hooks_drive_the_same_engine,
    a_realm_migration_rolled_back_keeps_the_original,
);

#[tokio::test]
async fn new_tenants_are_homed_where_atlassian_installed_them() {
    let w = embedded().await;
    let (_, _, body) = w.us.get("/api/tenant").await;
    assert_eq!(body["region"], "us");
    // An install through the EU base URL reaches the EU stack and is homed there.
    let mut claims = install_claims("tenant-eu", "/lifecycle/installed", w.now());
    claims.aud = Some(canopy_shared::connect::jwt::Audience::Many(vec![EU_BASE_URL.into()]));
    let (status, _, body) =
        w.eu.app
            .send(post("/lifecycle/installed", Some(&sign_install(&claims)), &install_payload("tenant-eu", "s-eu")))
            .await;
    assert_eq!(status, 204, "{body}");
    let token = context_token("tenant-eu", "s-eu", w.now());
    let (status, _, body) = w.eu.app.send(get("/api/tenant", Some(&token))).await;
    assert_eq!((status, body["region"].as_str()), (200, Some("eu")), "{body}");
}
