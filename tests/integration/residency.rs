//! Data residency across two regions (`us`, `eu`), each with its own store and media store, on
//! both store adapters (embedded + local media; DynamoDB Local + S3 through s3s-fs): migration
//! with content and media, writes during the copy carried over, the read-only phase, 421 from the
//! old region, rollback with the changes made since, the 7-day window and the sweep, crash
//! resumption, and Atlassian's realm-migration hooks.

use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Duration;

use async_trait::async_trait;
use canopy_shared::TenantKey;
use canopy_shared::domain::regions::{Region, Regions, Settings};
use canopy_shared::domain::residency::fence::FencedStore;
use canopy_shared::domain::residency::{self, Phase};
use canopy_shared::domain::retention::{self, Budget};
use canopy_shared::domain::tenants::cache::TENANT_CACHE_SECS;
use canopy_shared::kernel::config::regions::RegionSpec;
use canopy_shared::kernel::keys;
use canopy_shared::ports::media::{DownloadHeaders, MediaStore, ObjectInfo, ObjectKey, PresignedUpload};
use canopy_shared::ports::store::{Condition, DueEntry, Item, ItemStore, Page, PageRequest, Write};
use canopy_shared::state::AppState;
use serde_json::{Value, json};
use support::app::*;
use support::media::{PNG, put as put_upload};
use support::world::{Media, Store};

const A: &str = "tenant-a";
const SECRET: &str = "secret-a";
const EU_BASE_URL: &str = "https://eu.canopy.example.com";
const DAY: i64 = 86_400;

/// Where an injected crash strikes a mutation: before it applies, or after (the write landed
/// but the process died before it learnt so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strike {
    Before,
    After,
}

/// A crash injected at the Nth mutation (store transaction or batch delete, object put or
/// delete, in either region) after arming: that one and every later one fail, as if the process
/// died there, until [`Faults::restart`].
#[derive(Default)]
struct Faults {
    /// 0: off.
    at: AtomicU64,
    seen: AtomicU64,
    after: AtomicBool,
    dead: AtomicBool,
}

impl Faults {
    fn arm(&self, at: u64, strike: Strike) {
        self.seen.store(0, SeqCst);
        self.dead.store(false, SeqCst);
        self.after.store(strike == Strike::After, SeqCst);
        self.at.store(at, SeqCst);
    }
    /// A fresh process: no more faults.
    fn restart(&self) -> bool {
        self.at.store(0, SeqCst);
        self.dead.swap(false, SeqCst)
    }
    /// Runs `mutation` unless the process is (or now becomes) dead.
    async fn guard<T>(
        &self,
        mutation: impl std::future::Future<Output = canopy_shared::Result<T>>,
    ) -> canopy_shared::Result<T> {
        let crash = || canopy_shared::Error::unavailable("store", "injected crash");
        if self.dead.load(SeqCst) {
            return Err(crash());
        }
        let at = self.at.load(SeqCst);
        if at == 0 || self.seen.fetch_add(1, SeqCst) + 1 != at {
            return mutation.await;
        }
        self.dead.store(true, SeqCst);
        if self.after.load(SeqCst) {
            mutation.await?;
        }
        Err(crash())
    }
}

struct FaultyStore {
    inner: Arc<dyn ItemStore>,
    faults: Arc<Faults>,
}

#[async_trait]
impl ItemStore for FaultyStore {
    async fn get(&self, t: &TenantKey, sk: &str, now: i64) -> canopy_shared::Result<Option<Item>> {
        self.inner.get(t, sk, now).await
    }
    async fn query(&self, t: &TenantKey, p: &str, page: PageRequest, now: i64) -> canopy_shared::Result<Page<Item>> {
        self.inner.query(t, p, page, now).await
    }
    async fn transact(&self, writes: Vec<Write>, now: i64) -> canopy_shared::Result<()> {
        self.faults.guard(self.inner.transact(writes, now)).await
    }
    async fn due(&self, kind: &str, now: i64, page: PageRequest) -> canopy_shared::Result<Page<DueEntry>> {
        self.inner.due(kind, now, page).await
    }
    async fn delete_batch(&self, keys: &[(TenantKey, String)]) -> canopy_shared::Result<()> {
        self.faults.guard(self.inner.delete_batch(keys)).await
    }
    async fn purge_expired(&self, now: i64) -> canopy_shared::Result<u64> {
        self.inner.purge_expired(now).await
    }
}

struct FaultyMedia {
    inner: Arc<dyn MediaStore>,
    faults: Arc<Faults>,
}

#[async_trait]
impl MediaStore for FaultyMedia {
    async fn presign_upload(
        &self,
        key: &ObjectKey,
        content_type: &str,
        length: u64,
        expires_in: Duration,
    ) -> canopy_shared::Result<PresignedUpload> {
        self.inner.presign_upload(key, content_type, length, expires_in).await
    }
    async fn head(&self, key: &ObjectKey) -> canopy_shared::Result<Option<ObjectInfo>> {
        self.inner.head(key).await
    }
    async fn first_bytes(&self, key: &ObjectKey, n: u64) -> canopy_shared::Result<Vec<u8>> {
        self.inner.first_bytes(key, n).await
    }
    async fn presign_download(
        &self,
        key: &ObjectKey,
        headers: &DownloadHeaders,
        expires_in: Duration,
    ) -> canopy_shared::Result<String> {
        self.inner.presign_download(key, headers, expires_in).await
    }
    async fn delete(&self, key: &ObjectKey) -> canopy_shared::Result<()> {
        self.faults.guard(self.inner.delete(key)).await
    }
    async fn delete_prefix(&self, prefix: &str) -> canopy_shared::Result<u64> {
        self.faults.guard(self.inner.delete_prefix(prefix)).await
    }
    async fn get_object(&self, key: &ObjectKey) -> canopy_shared::Result<Option<(Vec<u8>, Option<String>)>> {
        self.inner.get_object(key).await
    }
    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> canopy_shared::Result<bool> {
        self.faults.guard(self.inner.copy(from, to)).await
    }
    async fn put_object(
        &self,
        key: &ObjectKey,
        bytes: Vec<u8>,
        content_type: Option<&str>,
    ) -> canopy_shared::Result<()> {
        self.faults.guard(self.inner.put_object(key, bytes, content_type)).await
    }
}

struct Side {
    app: TestApp,
}

struct World {
    us: Side,
    eu: Side,
    faults: Arc<Faults>,
    dynamo: bool,
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

async fn world_over(
    us_store: Arc<dyn ItemStore>,
    eu_store: Arc<dyn ItemStore>,
    us_media: support::media::Served,
    eu_media: support::media::Served,
    dirs: Vec<tempfile::TempDir>,
    dynamo: bool,
) -> World {
    // As every stack runs them: behind the write fence; crashes are injected outside it.
    let faults = Arc::new(Faults::default());
    let faulty = |store: Arc<dyn ItemStore>| -> Arc<dyn ItemStore> {
        Arc::new(FaultyStore { inner: FencedStore::wrap(store), faults: faults.clone() })
    };
    let (us_store, eu_store) = (faulty(us_store), faulty(eu_store));
    let faulty_media = |media: &support::media::Served| -> Arc<dyn MediaStore> {
        Arc::new(FaultyMedia { inner: media.store.clone(), faults: faults.clone() })
    };
    let (us_bucket, eu_bucket) = (faulty_media(&us_media), faulty_media(&eu_media));
    let specs = vec![RegionSpec::new("us", BASE_URL), RegionSpec::new("eu", EU_BASE_URL)];
    let mut us = TestApp::with_store(us_store);
    let mut eu = TestApp::with_store(eu_store);
    // Each region's store as its own stack holds it (its tenant cache forgets what is written
    // through it), as bootstrap wires the home region's.
    let (us_store, eu_store) = (us.state.store.clone(), eu.state.store.clone());
    let regions = |home: &str| {
        Regions::new(
            home,
            [
                Region { spec: specs[0].clone(), store: us_store.clone(), media: us_bucket.clone() },
                Region { spec: specs[1].clone(), store: eu_store.clone(), media: eu_bucket.clone() },
            ],
        )
        .expect("regions")
        .with_settings(Settings { auto_drive: false })
    };
    let mut config = (*us.state.config).clone();
    config.regions = specs.clone();
    us.state.stack.config = Arc::new(config.clone());
    us.state.stack.media = us_bucket.clone();
    us.state.stack.regions = regions("us");
    us.router = router_of(&us.state);

    let mut eu_config = config;
    eu_config.base_url = EU_BASE_URL.into();
    eu_config.home_region = "eu".into();
    eu.state.stack.config = Arc::new(eu_config);
    eu.state.stack.media = eu_bucket.clone();
    eu.state.stack.regions = regions("eu");
    eu.state.stack.data.clock = us.clock.clone();
    // Either region opens the other's sealed secrets (KMS: Decrypt on the other region's key;
    // locally: one keyring for every region).
    eu.state.stack.data.secrets = us.state.secrets.clone();
    eu.clock = us.clock.clone();
    eu.router = router_of(&eu.state);

    let w = World {
        us: Side { app: us },
        eu: Side { app: eu },
        faults,
        dynamo,
        _dirs: dirs,
        _media: vec![us_media, eu_media],
    };
    let token = sign_install(&install_claims(A, "/lifecycle/installed", w.now()));
    let mut payload = install_payload(A, SECRET);
    payload["cloudId"] = json!(cloud_of(A));
    let (status, _, body) = w.us.app.send(post("/lifecycle/installed", Some(&token), &payload)).await;
    assert_eq!(status, 204, "{body}");
    w
}

/// Both regions on one adapter: embedded stores and the local media adapter, or DynamoDB
/// Local tables and S3 buckets on s3s-fs.
async fn world(store: Store) -> World {
    let (us, eu) = (store.open().await, store.open().await);
    let (us_media, eu_media) = match store {
        Store::Embedded => (Media::Local.serve().await, Media::Local.serve().await),
        Store::Dynamo => (Media::S3.serve().await, Media::S3.serve().await),
    };
    let dirs = [us.dir, eu.dir].into_iter().flatten().collect();
    world_over(us.store, eu.store, us_media, eu_media, dirs, store == Store::Dynamo).await
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

    /// Another instance of the US stack (another Lambda instance): its own tenant cache, the
    /// same store, regions, keyring and clock.
    fn us_peer(&self) -> Side {
        let first = &self.us.app;
        let mut app = TestApp::with_store(first.state.store.clone());
        app.state.stack.config = first.state.config.clone();
        app.state.stack.media = first.state.media.clone();
        app.state.stack.regions = first.state.regions.clone();
        app.state.stack.data.secrets = first.state.secrets.clone();
        app.state.stack.data.clock = first.clock.clone();
        app.clock = first.clock.clone();
        app.router = router_of(&app.state);
        Side { app }
    }

    async fn migrate(&self) -> residency::Migration {
        let (status, _, body) = self.us.post("/api/residency/migrations", &json!({"region": "eu"})).await;
        assert_eq!(status, 202, "{body}");
        let done = residency::drive(self.us.state(), &tenant(A)).await.expect("drive");
        assert_eq!(done.phase, Phase::Switched, "{done:?}");
        done
    }

    /// The object a media record in `side` names (the checked copy once completed).
    async fn object_of(&self, side: &Side, media_id: &str) -> ObjectKey {
        let sk = format!("{}{media_id}", keys::MEDIA_PREFIX);
        let item = side.state().store.get(&tenant(A), &sk, self.now()).await.expect("get").expect("media record");
        canopy_shared::domain::media::object_of(&item).expect("an object key")
    }

    async fn items(&self, side: &Side) -> Vec<Item> {
        let page = PageRequest { limit: 1000, after: None };
        side.state().store.query(&tenant(A), "", page, self.now()).await.expect("query").items
    }
}

/// The flows whose every step a crash may strike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// US → EU asked by the tenant admin.
    Migration,
    /// Back to the US, with what changed in the EU since (a deleted site and media included).
    Rollback,
    /// Atlassian's realm migration: start, copy, verify, commit.
    DareCommit,
    /// Atlassian's realm migration rolled back once ready: the copy discarded.
    DareRollback,
}

/// A tenant's partition in one region (the engine's own items aside) and its media objects.
#[derive(Debug, PartialEq)]
struct Contents {
    items: std::collections::BTreeMap<String, (u64, Value)>,
    objects: std::collections::BTreeMap<String, Vec<u8>>,
}

fn is_engine_item(sk: &str) -> bool {
    [keys::TENANT_RECORD, keys::RESIDENCY, keys::RESIDENCY_FREEZE, canopy_shared::kernel::keys::PURGE].contains(&sk)
}

impl World {
    async fn contents(&self, side: &Side) -> Contents {
        let mut contents = Contents { items: Default::default(), objects: Default::default() };
        for item in self.items(side).await.into_iter().filter(|i| !is_engine_item(&i.sk)) {
            if let Some(id) = item.sk.strip_prefix(keys::MEDIA_PREFIX) {
                let object = canopy_shared::domain::media::object_of(&item).expect("a media record names its object");
                if let Some((bytes, _)) = side.state().media.get_object(&object).await.expect("get object") {
                    contents.objects.insert(id.to_owned(), bytes);
                }
            }
            contents.items.insert(item.sk.clone(), (item.version, item.body.to_value().unwrap()));
        }
        contents
    }

    async fn record(&self, side: &Side) -> Item {
        side.state().store.get(&tenant(A), keys::TENANT_RECORD, self.now()).await.expect("get").expect("record")
    }

    async fn frozen(&self, side: &Side) -> bool {
        side.state().store.get(&tenant(A), keys::RESIDENCY_FREEZE, self.now()).await.expect("get").is_some()
    }

    /// Content, two media, and what the flow needs before its first step (nothing armed yet).
    async fn prepare(&self, flow: Flow) {
        let (gone, gone_etag) = self.us.create_site("Docs").await;
        self.upload().await;
        match flow {
            Flow::Migration => {
                let (status, _, body) = self.us.post("/api/residency/migrations", &json!({"region": "eu"})).await;
                assert_eq!(status, 202, "{body}");
            }
            Flow::Rollback => {
                self.us.create_site("Blog").await;
                let dropped = self.upload().await;
                self.migrate().await;
                self.us.app.clock.advance_secs(DAY);
                let (status, _, body) =
                    self.eu.app.send(delete(&format!("/api/sites/{gone}"), &self.eu.admin(), Some(&gone_etag))).await;
                assert_eq!(status, 204, "{body}");
                self.eu.create_site("Added in EU").await;
                let sk = format!("{}{dropped}", keys::MEDIA_PREFIX);
                let item = self.eu.state().store.get(&tenant(A), &sk, self.now()).await.expect("get");
                let version = item.expect("media record").version;
                let path = format!("/api/media/{dropped}?force=true");
                let (status, _, body) =
                    self.eu.app.send(delete(&path, &self.eu.admin(), Some(&format!("\"{version}\"")))).await;
                assert_eq!(status, 204, "{body}");
                let (status, _, body) = self.eu.post("/api/residency/rollback", &json!({})).await;
                assert_eq!(status, 202, "{body}");
            }
            Flow::DareCommit | Flow::DareRollback => {
                let plan = residency::DarePlan { location: "EU".into(), start_time: None, end_time: None };
                residency::request(self.us.state(), &tenant(A), "eu", residency::Kind::Dare, Some(plan))
                    .await
                    .expect("schedule");
                residency::start_scheduled(self.us.state(), &tenant(A)).await.expect("start");
                if flow == Flow::DareRollback {
                    let ready = residency::drive(self.us.state(), &tenant(A)).await.expect("drive");
                    assert_eq!(ready.phase, Phase::Ready);
                }
            }
        }
    }

    /// The region the flow moves the data out of, and into (for a realm rollback: stays put).
    fn sides(&self, flow: Flow) -> (&Side, &Side) {
        match flow {
            Flow::Rollback => (&self.eu, &self.us),
            _ => (&self.us, &self.eu),
        }
    }

    /// The flow's steps, as far as they go; an error is the crash.
    async fn steps(&self, flow: Flow) -> canopy_shared::Result<()> {
        let t = tenant(A);
        match flow {
            Flow::Migration => residency::drive(self.us.state(), &t).await.map(drop),
            Flow::Rollback => residency::drive(self.eu.state(), &t).await.map(drop),
            Flow::DareCommit => {
                residency::drive(self.us.state(), &t).await?;
                residency::dare::commit(self.us.state(), &t).await.map(drop)
            }
            Flow::DareRollback => residency::dare::rollback(self.us.state(), &t).await.map(drop),
        }
    }

    /// What a fresh process does after the crash (and Atlassian, retrying its hook).
    async fn recover(&self, flow: Flow) {
        let t = tenant(A);
        match flow {
            Flow::Migration => {
                residency::resume_all(self.us.state()).await.expect("resume");
            }
            Flow::Rollback => {
                residency::resume_all(self.eu.state()).await.expect("resume");
            }
            Flow::DareCommit => {
                residency::resume_all(self.us.state()).await.expect("resume");
                residency::dare::commit(self.us.state(), &t).await.expect("commit again");
            }
            Flow::DareRollback => {
                residency::dare::rollback(self.us.state(), &t).await.expect("rollback again");
            }
        }
    }

    /// Nothing lost, nothing duplicated: the destination holds exactly what the source held
    /// before the flow (items with their versions and bodies, objects byte for byte), the source
    /// is kept for the rollback window, and each region answers as it should.
    async fn check(&self, flow: Flow, before: &Contents) {
        let (from, to) = self.sides(flow);
        assert!(!self.frozen(from).await && !self.frozen(to).await, "{flow:?}: a fence marker was left");
        let site_id = before.items.keys().find_map(|sk| sk.strip_prefix("SITELIST#")).expect("a site").to_owned();
        if flow == Flow::DareRollback {
            assert_eq!(&self.contents(from).await, before, "the source is untouched");
            assert_eq!(from.post("/api/sites", &site("After")).await.0, 201, "writable again");
            let record = self.record(to).await;
            assert_eq!(
                record.due.map(|d| d.kind).as_deref(),
                Some(canopy_shared::kernel::keys::MIGRATED_SOURCE_DUE_KIND)
            );
            let report =
                retention::sweep(to.state(), &Budget::new(Duration::from_secs(60)), &mut |_| {}).await.expect("sweep");
            assert_eq!(report.sources_purged, 1, "{report:?}");
            assert!(self.items(to).await.is_empty(), "the copy is discarded");
            return;
        }
        let moved = self.contents(to).await;
        assert_eq!(&moved, before, "{flow:?}: the destination differs from the source before the move");
        assert_eq!(self.contents(from).await, moved, "{flow:?}: the source copy is kept as it was");
        assert!(!before.objects.is_empty());
        let (source, target) = (self.record(from).await, self.record(to).await);
        assert_eq!(source.due.map(|d| d.kind).as_deref(), Some(canopy_shared::kernel::keys::MIGRATED_SOURCE_DUE_KIND));
        assert_eq!(target.due.map(|d| d.kind).as_deref(), Some(canopy_shared::kernel::keys::REGISTRY_DUE_KIND));
        let (status, _, body) = from.get(&format!("/api/sites/{site_id}")).await;
        assert_eq!(status, 421, "{body}");
        assert_eq!(to.get(&format!("/api/sites/{site_id}")).await.0, 200);
        assert_eq!(to.post("/api/sites", &site("After")).await.0, 201, "the new home is writable");
    }
}

/// Runs `flow` once per mutation it makes (store transactions and batch deletes, object puts and
/// deletes, in both regions), crashing right after that mutation landed, then restarts and checks
/// nothing was lost or duplicated; one more run crashes before the first mutation, and the last
/// meets no crash. A crash before mutation N leaves the stores as a crash after mutation N-1 does
/// (the engine keeps nothing between mutations but what it stored), so these cover every point.
async fn crash_at_every_step(first: World, flow: Flow) {
    let dynamo = first.dynamo;
    let mut first = Some(first);
    let points = std::iter::once((Strike::Before, 1)).chain((1..80).map(|at| (Strike::After, at)));
    let mut mutations = 0;
    for (strike, at) in points {
        let w = match first.take() {
            Some(w) => w,
            None if dynamo => world(Store::Dynamo).await,
            None => world(Store::Embedded).await,
        };
        w.prepare(flow).await;
        let before = w.contents(w.sides(flow).0).await;
        w.faults.arm(at, strike);
        let outcome = w.steps(flow).await;
        if !w.faults.restart() {
            outcome.unwrap_or_else(|e| panic!("{flow:?}: without a crash the flow completes: {e}"));
            w.check(flow, &before).await;
            mutations = at - 1;
            break;
        }
        w.recover(flow).await;
        w.check(flow, &before).await;
    }
    eprintln!("{flow:?}: a crash after each of {mutations} mutations (and before the first) recovered");
    // A realm rollback is two writes (the copy handed to the sweep, the source thawed).
    let least = if flow == Flow::DareRollback { 2 } else { 6 };
    assert!(mutations >= least, "{flow:?}: only {mutations} mutations seen: the injection misses the engine");
}

mod scenarios {
    use super::*;

    /// The tenant-record cache (`tenants::cache`) and the switch: the instance that switched
    /// answers 421 at once; another one may answer reads from the source until the bound, never
    /// a write.
    pub async fn another_instance_sees_the_switch_within_the_bound(w: World) {
        let (id, site_etag) = w.us.create_site("Docs").await;
        let path = format!("/api/sites/{id}");
        let peer = w.us_peer();
        assert_eq!(peer.get(&path).await.0, 200, "the peer holds the record now");
        w.migrate().await;
        assert_eq!(w.us.get(&path).await.0, 421, "the instance that switched forgets the record at once");

        w.us.app.clock.advance_secs(TENANT_CACHE_SECS - 1);
        let (status, _, body) = peer.get(&path).await;
        assert_eq!((status, body["name"].as_str()), (200, Some("Docs")), "reads from the source until the bound");
        // A write is authenticated on the stored record, never a cached one: it is sent to eu.
        let before = w.items(&w.us).await;
        let (status, _, body) = peer.put(&path, &site_etag, &site("Renamed")).await;
        assert_eq!((status, body["error"]["region"].as_str()), (421, Some("eu")), "{body}");
        assert_eq!(w.items(&w.us).await, before, "a refused write changes nothing");

        w.us.app.clock.advance_secs(1);
        let (status, _, body) = peer.get(&path).await;
        assert_eq!((status, body["error"]["region"].as_str()), (421, Some("eu")), "{body}");
        let (status, _, body) = w.eu.get(&path).await;
        assert_eq!((status, body["name"].as_str()), (200, Some("Docs")));
    }

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
        let object = w.object_of(&w.eu, &media_id).await;
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
        // The editor pointers move with the content, so erasing a closed account in the new
        // region still reaches the site it wrote.
        let pointer = keys::edit(ADMIN_ACCOUNT, &keys::site(&id));
        assert!(w.items(&w.eu).await.iter().any(|item| item.sk == pointer), "the editor pointer moved");
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
        assert_eq!(status, 204);
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

    pub async fn a_write_racing_the_freeze_lands_before_the_final_copy_or_is_refused(w: World) {
        let (id, _) = w.us.create_site("Docs").await;
        let (status, _, body) = w.us.post("/api/residency/migrations", &json!({"region": "eu"})).await;
        assert_eq!(status, 202, "{body}");
        residency::copy_pass(w.us.state(), &tenant(A)).await.expect("copy");

        // A job that read before the freeze and writes after it meets no auth check: the fence
        // refuses its write, which is therefore never lost in the region left behind.
        let (store, now) = (w.us.state().store.clone(), w.now());
        let stored = store.get(&tenant(A), &format!("SITE#{id}"), now).await.expect("get").expect("site");
        residency::freeze(w.us.state(), &tenant(A)).await.expect("freeze");
        let mut changed = stored.clone();
        changed.version += 1;
        let mut body = changed.body.to_value().unwrap();
        body["name"] = json!("Changed by a job");
        changed.body = body.into();
        let late =
            store.transact(vec![Write::Put { item: changed, condition: Condition::Version(stored.version) }], now);
        let refused = late.await.expect_err("refused");
        assert_eq!((refused.status().as_u16(), refused.code()), (503, "tenant_read_only"));
        residency::cancel(w.us.state(), &tenant(A), Phase::Failed, "test").await.expect("thaw");
        assert!(!w.frozen(&w.us).await);

        // Writers racing a whole move: each write is either refused (503 tenant_read_only, or 421
        // once switched) or lands, and then it is in the new region.
        let (status, _, body) = w.us.post("/api/residency/migrations", &json!({"region": "eu"})).await;
        assert_eq!(status, 202, "{body}");
        let writers = async {
            let (mut created, mut refused) = (Vec::new(), 0);
            for n in 0..30 {
                let (status, _, body) = w.us.post("/api/sites", &site(&format!("Race {n}"))).await;
                match status {
                    201 => created.push(body["id"].as_str().expect("id").to_owned()),
                    503 => {
                        assert_eq!(body["error"]["code"], "tenant_read_only", "{body}");
                        refused += 1;
                    }
                    421 => break,
                    _ => panic!("{status} {body}"),
                }
                tokio::task::yield_now().await;
            }
            (created, refused)
        };
        let key = tenant(A);
        let mover = residency::drive(w.us.state(), &key);
        let ((created, refused), moved) = tokio::join!(writers, mover);
        assert_eq!(moved.expect("moved").phase, Phase::Switched);
        eprintln!("racing writes: {} landed, {refused} refused", created.len());
        for id in &created {
            assert_eq!(w.eu.get(&format!("/api/sites/{id}")).await.0, 200, "a write that landed was carried");
        }
        assert_eq!(w.contents(&w.us).await, w.contents(&w.eu).await);
    }

    pub async fn lifecycle_events_sent_to_the_old_region_reach_the_new_home(w: World) {
        w.migrate().await;
        // The secret as the region opens it (records are sealed at rest).
        let secret_in = |side: &Side| {
            let state = side.state().clone();
            async move {
                let item = state.store.get(&tenant(A), keys::TENANT_RECORD, 0).await.expect("get").expect("record");
                let (record, _) =
                    canopy_shared::domain::tenants::load(&state, &tenant(A)).await.expect("load").expect("record");
                (Some(record.shared_secret), item.body.to_value().unwrap()["state"].clone())
            }
        };
        // Atlassian keeps using the base URL it installed through: a reinstall rotates the secret
        // (a delivery of its own, signed anew).
        w.us.app.clock.advance_secs(1);
        let token = sign_install(&install_claims(A, "/lifecycle/installed", w.now()));
        let (status, _, body) =
            w.us.app.send(post("/lifecycle/installed", Some(&token), &install_payload(A, "secret-2"))).await;
        assert_eq!(status, 204, "{body}");
        assert_eq!(secret_in(&w.eu).await.0.as_deref(), Some("secret-2"), "the live record changed");
        assert_eq!(secret_in(&w.us).await.0.as_deref(), Some(SECRET), "the copy left behind did not");
        let eu_token = context_token_as(A, "secret-2", Some(ADMIN_ACCOUNT), w.now());
        assert_eq!(w.eu.app.send(get("/api/tenant", Some(&eu_token))).await.0, 200);

        let hook = |path: &str| {
            let token = request_token(A, "secret-2", "POST", path, w.now());
            post(path, Some(&token), &json!({"clientKey": A}))
        };
        assert_eq!(w.us.app.send(hook("/lifecycle/disabled")).await.0, 204);
        assert_eq!(w.eu.app.send(get("/api/tenant", Some(&eu_token))).await.0, 403, "disabled in its home");
        assert_eq!(w.us.app.send(hook("/lifecycle/enabled")).await.0, 204);
        assert_eq!(w.eu.app.send(get("/api/tenant", Some(&eu_token))).await.0, 200);
        let token = sign_install(&install_claims(A, "/lifecycle/uninstalled", w.now()));
        let (status, _, body) =
            w.us.app
                .send(post("/lifecycle/uninstalled", Some(&token), &json!({"key": "canopy", "clientKey": A})))
                .await;
        assert_eq!(status, 204, "{body}");
        assert_eq!(secret_in(&w.eu).await.1, "uninstalled");
        let (status, _, _) = w.eu.app.send(get("/api/tenant", Some(&eu_token))).await;
        assert_eq!(status, 401, "uninstalled in its home");
    }

    pub async fn an_upload_url_issued_before_the_move_still_completes_in_the_new_region(w: World) {
        let (status, _, ticket) =
            w.us.post("/api/media/uploads", &json!({"purpose": "logo", "contentType": "image/png", "size": PNG.len()}))
                .await;
        assert_eq!(status, 201, "{ticket}");
        let id = ticket["media"]["id"].as_str().expect("id").to_owned();
        w.migrate().await;
        // The browser still holds the URL of the bucket the tenant left.
        assert_eq!(put_upload(&ticket["upload"], PNG.to_vec(), None).await, 200);
        let complete = format!("/api/media/{id}/complete");
        assert_eq!(w.us.post(&complete, &json!({})).await.0, 421);
        let (status, _, body) = w.eu.post(&complete, &json!({})).await;
        assert_eq!((status, body["state"].as_str()), (200, Some("ready")), "{body}");
        let object = w.object_of(&w.eu, &id).await;
        let (bytes, _) = w.eu.state().media.get_object(&object).await.expect("get").expect("copied over");
        assert_eq!(bytes, PNG);
        assert_eq!(w.eu.get(&format!("/api/media/{id}")).await.0, 200);
        // An upload never sent anywhere is still "not uploaded".
        let (status, _, ticket) =
            w.eu.post("/api/media/uploads", &json!({"purpose": "logo", "contentType": "image/png", "size": PNG.len()}))
                .await;
        assert_eq!(status, 201, "{ticket}");
        let (status, _, body) =
            w.eu.post(&format!("/api/media/{}/complete", ticket["media"]["id"].as_str().expect("id")), &json!({}))
                .await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("not_uploaded")), "{body}");
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
        assert_eq!(status, 204);

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

    pub async fn a_crash_at_any_step_of_a_migration_resumes_without_loss(w: World) {
        crash_at_every_step(w, Flow::Migration).await;
    }

    pub async fn a_crash_at_any_step_of_a_rollback_resumes_without_loss(w: World) {
        crash_at_every_step(w, Flow::Rollback).await;
    }

    pub async fn a_crash_at_any_step_of_a_committed_realm_migration_resumes_without_loss(w: World) {
        crash_at_every_step(w, Flow::DareCommit).await;
    }

    pub async fn a_crash_at_any_step_of_a_realm_migration_rollback_resumes_without_loss(w: World) {
        crash_at_every_step(w, Flow::DareRollback).await;
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

    /// A signed install is claimed in the table of the region it was issued for, so its token
    /// cannot come back with another body through another region's endpoint.
    /// The scheduled worker drives what is in flight, under its lease; a run with nothing in
    /// flight, or while another run holds the lease, drives nothing.
    pub async fn the_worker_drives_a_migration_in_flight_under_its_lease(w: World) {
        use canopy_shared::jobs::residency::{LEASE, on_schedule};
        let run = || async {
            let event = serde_json::from_value(json!({
                "version": "0", "id": "worker-run", "detail-type": "Scheduled Event", "source": "aws.events",
                "account": "123456789012", "time": "2026-11-21T00:05:00Z", "region": "us-east-1",
                "resources": [], "detail": {}
            }))
            .expect("a scheduled event");
            on_schedule(w.us.state(), event).await.expect("worker run")
        };
        assert_eq!(run().await, 0, "nothing in flight");
        let (status, _, body) = w.us.post("/api/residency/migrations", &json!({"region": "eu"})).await;
        assert_eq!(status, 202, "{body}");
        let other = canopy_shared::domain::lease::acquire(w.us.state(), LEASE, 60).await.expect("acquire");
        let other = other.expect("the lease was free");
        assert_eq!(run().await, 0, "another run holds the lease");
        canopy_shared::domain::lease::release(w.us.state(), other).await.expect("release");
        assert_eq!(run().await, 1, "the migration in flight is driven");
        let (status, _, view) = w.eu.get("/api/residency").await;
        assert_eq!((status, view["migration"]["phase"].as_str()), (200, Some("switched")), "{view}");
        let again = canopy_shared::domain::lease::acquire(w.us.state(), LEASE, 60).await.expect("acquire");
        assert!(again.is_some(), "the run freed its lease");
    }

    pub async fn a_signed_install_cannot_be_replayed_through_another_regions_endpoint(mut w: World) {
        // As deployed, every stack accepts installs issued for any region's base URL.
        let mut eu_config = (*w.eu.app.state.config).clone();
        eu_config.region_base_urls = vec![("US".into(), BASE_URL.into()), ("EU".into(), EU_BASE_URL.into())];
        w.eu.app.state.stack.config = Arc::new(eu_config);
        w.eu.app.router = router_of(&w.eu.app.state);

        let client = "installed-through-the-us";
        let token = sign_install(&install_claims(client, "/lifecycle/installed", w.now()));
        let (status, _, body) =
            w.us.app.send(post("/lifecycle/installed", Some(&token), &install_payload(client, "genuine"))).await;
        assert_eq!(status, 204, "{body}");
        let (status, _, body) =
            w.eu.app.send(post("/lifecycle/installed", Some(&token), &install_payload(client, "replayed"))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("install_token_reused")), "{body}");
        let key = tenant(client);
        let eu_record = w.eu.state().store.get(&key, keys::TENANT_RECORD, w.now()).await.expect("get");
        assert_eq!(eu_record, None, "nothing written in the other region");
    }
}

support::scenarios!(stores: [
    another_instance_sees_the_switch_within_the_bound,
    the_worker_drives_a_migration_in_flight_under_its_lease,
    a_signed_install_cannot_be_replayed_through_another_regions_endpoint,
    a_migration_moves_content_and_media_and_the_old_region_answers_421,
    writes_during_the_copy_are_carried_over_and_the_freeze_refuses_writes_only,
    a_write_racing_the_freeze_lands_before_the_final_copy_or_is_refused,
    lifecycle_events_sent_to_the_old_region_reach_the_new_home,
    an_upload_url_issued_before_the_move_still_completes_in_the_new_region,
    a_rollback_brings_back_the_changes_made_since_the_migration,
    after_7_days_rollback_is_refused_and_the_sweep_purges_the_source,
    a_crash_at_any_step_of_a_migration_resumes_without_loss,
    a_crash_at_any_step_of_a_rollback_resumes_without_loss,
    a_crash_at_any_step_of_a_committed_realm_migration_resumes_without_loss,
    a_crash_at_any_step_of_a_realm_migration_rollback_resumes_without_loss,
    realm_migration_hooks_drive_the_same_engine,
    a_realm_migration_rolled_back_keeps_the_original,
]);

#[tokio::test]
async fn new_tenants_are_homed_where_atlassian_installed_them() {
    let w = world(Store::Embedded).await;
    let (_, _, body) = w.us.get("/api/tenant").await;
    assert_eq!(body["region"], "us");
    // An install through the EU base URL reaches the EU stack and is homed there.
    let mut claims = install_claims("tenant-eu", "/lifecycle/installed", w.now());
    claims.aud = Some(canopy_shared::domain::connect::jwt::Audience::Many(vec![EU_BASE_URL.into()]));
    let (status, _, body) =
        w.eu.app
            .send(post("/lifecycle/installed", Some(&sign_install(&claims)), &install_payload("tenant-eu", "s-eu")))
            .await;
    assert_eq!(status, 204, "{body}");
    let token = context_token("tenant-eu", "s-eu", w.now());
    let (status, _, body) = w.eu.app.send(get("/api/tenant", Some(&token))).await;
    assert_eq!((status, body["region"].as_str()), (200, Some("eu")), "{body}");
}
