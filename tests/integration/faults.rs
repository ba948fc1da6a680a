//! Failing dependencies lose nothing. DynamoDB Local and s3s-fs run as private processes that
//! these tests stop mid-run (DynamoDB Local with SIGTERM while writes go on, and SIGKILL inside a
//! purge; s3s-fs with SIGKILL) and restart; a proxy answers DynamoDB throttling errors.
//! While a dependency is down or throttling, writes answer 503 with `Retry-After` and a JSON
//! error; afterwards every write that was acknowledged is there, multi-item transactions are
//! whole (the counters equal what they count, every site has its listing entry) and a job cut
//! short by a crash resumes and finishes. Each test prints the faults it injected.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use canopy_shared::domain::content::counters;
use canopy_shared::domain::content::sites::MAX_SITES_PER_TENANT;
use canopy_shared::domain::retention;
use canopy_shared::kernel::keys;
use canopy_shared::ports::store::{DueEntry, Item, ItemStore, Page, PageRequest, Write};
use canopy_shared::{Result, TenantKey};
use serde_json::{Value, json};
use support::app::*;
use support::processes::{self, Process};

const CLIENT: &str = "faults-tenant";
const SECRET: &str = "faults-secret";
/// Writers sending requests at once while the faults happen.
const WRITERS: usize = 4;
/// Acknowledged writes to wait for between two faults, so each fault lands mid-run.
const ACKS_BETWEEN_FAULTS: usize = 6;
/// Writers stop creating sites here: under the tenant's site limit even with every writer's
/// request in flight (and one that committed though its answer was lost).
const MAX_ACKED: usize = MAX_SITES_PER_TENANT as usize - 2 * WRITERS;
/// Bound on waiting for a phase of a test (a stuck test fails instead of hanging).
const PHASE_TIMEOUT: Duration = Duration::from_secs(60);

fn tenant() -> TenantKey {
    TenantKey::from_verified(CLIENT).expect("key")
}

async fn install(app: &TestApp) {
    let token = sign_install(&install_claims(CLIENT, "/lifecycle/installed", app.now_secs()));
    let (status, _, body) =
        app.send(post("/lifecycle/installed", Some(&token), &install_payload(CLIENT, SECRET))).await;
    assert_eq!(status, 204, "{body}");
}

fn admin_token(app: &TestApp) -> String {
    context_token_as(CLIENT, SECRET, Some(ADMIN_ACCOUNT), app.now_secs())
}

/// A DynamoDB store over the private DynamoDB Local `process`.
async fn store_on(process: &Process) -> Arc<dyn ItemStore> {
    Arc::new(support::dynamo::fresh_dynamo_at(&process.endpoint()).await)
}

/// What the writers saw: the ids of acknowledged (201) sites, the 503s, anything else.
#[derive(Default)]
struct Outcomes {
    acked: std::sync::Mutex<Vec<String>>,
    unavailable: AtomicUsize,
    /// 409 `write_conflict`: every create bumps the tenant's counters item under a version
    /// condition, so concurrent creates genuinely race on it and one can lose all of the content
    /// layer's `WRITE_ATTEMPTS`; nothing is written. (Not the residency fence: this store is not
    /// fenced, and the adapter sends again writes refused only for a transaction in flight.)
    conflicts: AtomicUsize,
    unexpected: std::sync::Mutex<Vec<String>>,
}

impl Outcomes {
    fn acked(&self) -> usize {
        self.acked.lock().expect("lock").len()
    }
}

/// Checks a 503 as a client must see it: `Retry-After` and a JSON error naming the cause.
async fn assert_unavailable(response: reqwest::Response) {
    assert_eq!(response.status().as_u16(), 503);
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert!(retry_after.and_then(|v| v.parse::<u64>().ok()).is_some_and(|secs| secs > 0), "503 without Retry-After");
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!(body["error"]["code"], "dependency_unavailable", "{body}");
}

/// `WRITERS` tasks creating sites through the served app until `stop`.
fn start_writers(
    base: &str,
    token: &str,
    stop: &Arc<AtomicBool>,
    outcomes: &Arc<Outcomes>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..WRITERS)
        .map(|writer| {
            let (base, token, stop, outcomes) = (base.to_owned(), token.to_owned(), stop.clone(), outcomes.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) && outcomes.acked() < MAX_ACKED {
                    n += 1;
                    let body = json!({"name": format!("w{writer}-{n}"), "spaces": ["DOC"], "visibility": "public"});
                    let response = client
                        .post(format!("{base}/api/sites"))
                        .header("authorization", format!("JWT {token}"))
                        .json(&body)
                        .send()
                        .await
                        .expect("the app answers");
                    match response.status().as_u16() {
                        201 => {
                            let created: Value = response.json().await.expect("json");
                            outcomes.acked.lock().expect("lock").push(created["id"].as_str().expect("id").to_owned());
                        }
                        503 => {
                            assert_unavailable(response).await;
                            outcomes.unavailable.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        status => {
                            let text = response.text().await.unwrap_or_default();
                            if status == 409 && text.contains("\"write_conflict\"") {
                                outcomes.conflicts.fetch_add(1, Ordering::SeqCst);
                            } else {
                                outcomes.unexpected.lock().expect("lock").push(format!("{status}: {text}"));
                            }
                        }
                    }
                }
            })
        })
        .collect()
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < PHASE_TIMEOUT, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("{:>6.1} s until {what}", started.elapsed().as_secs_f64());
}

/// Every acknowledged site is stored whole: site, listing entry, and counters that equal what
/// is stored. Answers how many sites there are.
async fn assert_consistent(store: &dyn ItemStore, acked: &[String]) -> usize {
    let mut sites = BTreeSet::new();
    let mut listings = BTreeSet::new();
    let mut after = None;
    loop {
        let page = store.query(&tenant(), "", PageRequest { limit: 1000, after }, 0).await.expect("query");
        for item in &page.items {
            if let Some(id) = item.sk.strip_prefix("SITE#").filter(|rest| !rest.contains('#')) {
                sites.insert(id.to_owned());
            } else if let Some(id) = item.sk.strip_prefix(keys::SITE_LISTING_PREFIX) {
                listings.insert(id.to_owned());
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    for id in acked {
        assert!(sites.contains(id), "acknowledged site {id} is missing");
    }
    assert_eq!(sites, listings, "a site without its listing entry (or the reverse): a half-written transaction");
    let counters = json!(counters::read(store, &tenant(), 0).await.expect("counters"));
    assert_eq!(counters["sites"], json!(sites.len()), "site counter drifted: {counters}");
    assert_eq!(counters["spaces"], json!(sites.len()), "space counter drifted: {counters}");
    sites.len()
}

#[tokio::test]
async fn dynamodb_killed_mid_run_loses_no_acknowledged_write() {
    let mut dynamo = processes::dynamodb_local().await;
    let app = TestApp::with_store(store_on(&dynamo).await);
    install(&app).await;
    let base = app.serve().await;
    let (stop, outcomes) = (Arc::new(AtomicBool::new(false)), Arc::new(Outcomes::default()));
    let writers = start_writers(&base, &admin_token(&app), &stop, &outcomes);

    wait_until("writes are acknowledged", || outcomes.acked() >= ACKS_BETWEEN_FAULTS).await;
    dynamo.stop();
    wait_until("writes answer 503", || outcomes.unavailable.load(Ordering::SeqCst) >= WRITERS).await;
    dynamo.start().await;
    let acked = outcomes.acked();
    wait_until("writes are acknowledged after the restart", || outcomes.acked() >= acked + ACKS_BETWEEN_FAULTS).await;
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.expect("writer");
    }

    let unexpected = outcomes.unexpected.lock().expect("lock").clone();
    assert!(unexpected.is_empty(), "answers other than 201, 503 and 409 write_conflict: {unexpected:?}");
    let acked = outcomes.acked.lock().expect("lock").clone();
    let stored = assert_consistent(app.state.store.as_ref(), &acked).await;
    eprintln!(
        "faults: {} stops of DynamoDB Local; {} writes acknowledged, {} answered 503, {} 409, {stored} sites stored",
        dynamo.kills,
        acked.len(),
        outcomes.unavailable.load(Ordering::SeqCst),
        outcomes.conflicts.load(Ordering::SeqCst)
    );
}

#[tokio::test]
async fn throttled_store_answers_503_with_retry_after_and_writes_nothing_partial() {
    let (throttle, endpoint) = support::throttle::proxy(support::dynamo::endpoint()).await;
    let store: Arc<dyn ItemStore> = Arc::new(support::dynamo::fresh_dynamo_at(&endpoint).await);
    let app = TestApp::with_store(store.clone());
    install(&app).await;
    let base = app.serve().await;
    let token = admin_token(&app);
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{base}/api/sites"))
        .header("authorization", format!("JWT {token}"))
        .json(&json!({"name": "Before", "spaces": ["DOC"], "visibility": "public"}))
        .send()
        .await
        .expect("send");
    assert_eq!(created.status().as_u16(), 201);
    let site: Value = created.json().await.expect("json");
    let site_id = site["id"].as_str().expect("id").to_owned();

    // Every request throttled: the SDK's retries give up, the client gets 503, nothing changes.
    throttle.set(1, 0);
    let before = store.get(&tenant(), &keys::site(&site_id), 0).await;
    assert!(before.is_err(), "reads are throttled too");
    for request in [
        client.post(format!("{base}/api/sites")).json(&json!({"name": "During", "visibility": "public"})),
        client
            .put(format!("{base}/api/sites/{site_id}"))
            .header("if-match", "\"1\"")
            .json(&json!({"name": "Renamed", "visibility": "public"})),
        client.delete(format!("{base}/api/sites/{site_id}")).header("if-match", "\"1\""),
    ] {
        let response = request.header("authorization", format!("JWT {token}")).send().await.expect("send");
        assert_unavailable(response).await;
    }
    throttle.set(0, 1);
    let after = store.get(&tenant(), &keys::site(&site_id), 0).await.expect("get").expect("the site is still there");
    assert_eq!(
        (after.version, &after.body.to_value().unwrap()["name"]),
        (1, &json!("Before")),
        "a throttled write changed the site"
    );
    assert_consistent(store.as_ref(), std::slice::from_ref(&site_id)).await;

    // Two of every three requests throttled while writers run: some get through after the SDK's
    // retries, some answer 503; none is half-applied.
    throttle.set(2, 1);
    let (stop, outcomes) = (Arc::new(AtomicBool::new(false)), Arc::new(Outcomes::default()));
    let writers = start_writers(&base, &token, &stop, &outcomes);
    wait_until("writes get through and others are refused", || {
        outcomes.acked() >= 2 * ACKS_BETWEEN_FAULTS && outcomes.unavailable.load(Ordering::SeqCst) >= WRITERS
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.expect("writer");
    }
    throttle.set(0, 1);
    let unexpected = outcomes.unexpected.lock().expect("lock").clone();
    assert!(unexpected.is_empty(), "answers other than 201, 503 and 409 write_conflict: {unexpected:?}");
    let mut acked = outcomes.acked.lock().expect("lock").clone();
    acked.push(site_id);
    let stored = assert_consistent(store.as_ref(), &acked).await;
    // A throttled request never reaches the table, so here a 503 is unambiguous: no write that
    // answered 503 may be stored (a create once re-read its item after the commit, and a
    // throttled re-read answered 503 for a stored site).
    assert_eq!(stored, acked.len(), "a write that answered 503 was stored");
    eprintln!(
        "faults: {} throttling answers injected; {} writes acknowledged, {} answered 503, {stored} sites stored",
        throttle.injected(),
        acked.len() - 1,
        outcomes.unavailable.load(Ordering::SeqCst)
    );
}

/// The media store over the private s3s-fs `process`, with a bucket of its own.
async fn s3_on(process: &Process) -> Arc<dyn canopy_shared::ports::media::MediaStore> {
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    let credentials = Credentials::new(processes::S3_ACCESS_KEY, processes::S3_SECRET_KEY, None, None, "faults");
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials)
        .endpoint_url(process.endpoint())
        .force_path_style(true)
        .http_client(canopy_shared::adapters::aws::https_client())
        .build();
    let client = aws_sdk_s3::Client::from_conf(config);
    client.create_bucket().bucket("faults").send().await.expect("create bucket");
    Arc::new(canopy_shared::adapters::media::s3::S3MediaStore::new(client, "faults".to_owned()))
}

async fn media_state(app: &TestApp, token: &str, id: &str) -> Value {
    let (status, _, body) = app.send(get(&format!("/api/media/{id}"), Some(token))).await;
    assert_eq!(status, 200, "{body}");
    body["state"].clone()
}

#[tokio::test]
async fn s3_killed_mid_upload_keeps_the_record_and_the_upload_completes_after_restart() {
    use support::media::{PNG, put as upload};
    let mut s3 = processes::s3s_fs().await;
    let app = TestApp::with_media(s3_on(&s3).await);
    install(&app).await;
    let token = admin_token(&app);
    let ticket_for = || async {
        let request = json!({"purpose": "logo", "contentType": "image/png", "size": PNG.len()});
        let (status, _, ticket) = app.send(post("/api/media/uploads", Some(&token), &request)).await;
        assert_eq!(status, 201, "{ticket}");
        ticket
    };
    let complete = |id: String| {
        let request = post(&format!("/api/media/{id}/complete"), Some(&token), &json!({}));
        async { app.send(request).await }
    };

    // Killed before the browser's PUT, and killed between the PUT and `complete`.
    let before_put = ticket_for().await;
    let after_put = ticket_for().await;
    assert_eq!(upload(&after_put["upload"], PNG.to_vec(), None).await, 200);
    s3.kill();
    for ticket in [&before_put, &after_put] {
        let id = ticket["media"]["id"].as_str().expect("id").to_owned();
        let (status, headers, body) = complete(id.clone()).await;
        assert_eq!((status, &body["error"]["code"]), (503, &json!("dependency_unavailable")), "{body}");
        assert!(headers.contains_key("retry-after"), "503 without Retry-After");
        assert_eq!(media_state(&app, &token, &id).await, "pending", "an outage must not discard the upload");
    }
    s3.start().await;
    assert_eq!(upload(&before_put["upload"], PNG.to_vec(), None).await, 200, "the signed URL still works");
    for ticket in [&before_put, &after_put] {
        let id = ticket["media"]["id"].as_str().expect("id").to_owned();
        let (status, _, body) = complete(id.clone()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(media_state(&app, &token, &id).await, "ready");
    }
    eprintln!("faults: {} kills of s3s-fs; 2 uploads completed after the restart", s3.kills);
}

/// Forwards to a store and kills the DynamoDB Local process behind it when the job reaches its
/// `kill_at`-th write, so the crash lands in the middle of the run.
struct KillSwitch {
    inner: Arc<dyn ItemStore>,
    writes: AtomicUsize,
    kill_at: AtomicUsize,
    process: std::sync::Mutex<Option<Process>>,
}

impl KillSwitch {
    fn count_write(&self) {
        if self.writes.fetch_add(1, Ordering::SeqCst) + 1 == self.kill_at.load(Ordering::SeqCst)
            && let Some(process) = self.process.lock().expect("lock").as_mut()
        {
            process.kill();
        }
    }
}

#[async_trait]
impl ItemStore for KillSwitch {
    async fn get(&self, tenant: &TenantKey, sk: &str, now: i64) -> Result<Option<Item>> {
        self.inner.get(tenant, sk, now).await
    }

    async fn query(&self, tenant: &TenantKey, prefix: &str, page: PageRequest, now: i64) -> Result<Page<Item>> {
        self.inner.query(tenant, prefix, page, now).await
    }

    async fn transact(&self, writes: Vec<Write>, now: i64) -> Result<()> {
        self.count_write();
        self.inner.transact(writes, now).await
    }

    async fn due(&self, kind: &str, now: i64, page: PageRequest) -> Result<Page<DueEntry>> {
        self.inner.due(kind, now, page).await
    }

    async fn delete_batch(&self, keys: &[(TenantKey, String)]) -> Result<()> {
        self.count_write();
        self.inner.delete_batch(keys).await
    }

    async fn purge_expired(&self, now: i64) -> Result<u64> {
        self.inner.purge_expired(now).await
    }
}

#[tokio::test]
async fn retention_purge_killed_mid_run_resumes_and_finishes() {
    const SITES: usize = 20;
    let dynamo = processes::dynamodb_local().await;
    let inner = store_on(&dynamo).await;
    let switch = Arc::new(KillSwitch {
        inner,
        writes: AtomicUsize::new(0),
        kill_at: AtomicUsize::new(usize::MAX),
        process: std::sync::Mutex::new(Some(dynamo)),
    });
    let app = TestApp::with_store(switch.clone());
    install(&app).await;
    let token = admin_token(&app);
    for i in 0..SITES {
        let body = json!({"name": format!("Site {i}"), "spaces": ["DOC"], "visibility": "public"});
        let (status, _, answer) = app.send(post("/api/sites", Some(&token), &body)).await;
        assert_eq!(status, 201, "{answer}");
    }
    let uninstall = sign_install(&install_claims(CLIENT, "/lifecycle/uninstalled", app.now_secs()));
    let (status, _, body) =
        app.send(post("/lifecycle/uninstalled", Some(&uninstall), &install_payload(CLIENT, "x"))).await;
    assert_eq!(status, 204, "{body}");
    app.clock.advance_secs(31 * 86_400);
    let budget = || retention::Budget::new(Duration::from_secs(300));

    // The crash: DynamoDB Local dies at the sweep's third write.
    switch.kill_at.store(switch.writes.load(Ordering::SeqCst) + 3, Ordering::SeqCst);
    let cut_short = retention::sweep(&app.state, &budget(), &mut |_| {}).await;
    let mut dynamo = switch.process.lock().expect("lock").take().expect("process");
    assert_eq!(dynamo.kills, 1, "the store was killed mid-run");
    if let Err(err) = &cut_short {
        assert_eq!(err.status().as_u16(), 503, "{err}");
    }
    dynamo.start().await;
    let left = items(app.state.store.as_ref()).await;
    assert!(left.len() > SITES, "the crash landed mid-purge, {} items left", left.len());

    let report = retention::sweep(&app.state, &budget(), &mut |_| {}).await.expect("the next run");
    let left = items(app.state.store.as_ref()).await;
    assert!(left.is_empty(), "the resumed purge left {left:?}");
    let receipts = retention::purge::receipts(&app.state, 10, None).await.expect("receipts").items;
    assert_eq!(receipts.len(), 1, "one receipt for the purged tenant");
    eprintln!("faults: 1 kill of DynamoDB Local mid-purge (first run: {cut_short:?}); resumed run: {report:?}");
}

async fn items(store: &dyn ItemStore) -> Vec<String> {
    let page = store.query(&tenant(), "", PageRequest { limit: 1000, after: None }, 0).await.expect("query");
    page.items.into_iter().map(|i| i.sk).collect()
}
