//! The tenant-record cache of request authentication (`tenants::cache`) across instances: a
//! change made by another instance (the lifecycle function, another Lambda instance) is seen
//! within `TENANT_CACHE_SECS`, on the fake clock; a refusal is never made on a cached record, so
//! what reopens access is seen at once; and the instance that writes a record forgets it at once.
//! The residency switch has its scenario in `residency`.

use std::sync::Arc;

use canopy_shared::domain::tenants::cache::TENANT_CACHE_SECS;
use canopy_shared::ports::store::ItemStore;
use serde_json::{Value, json};
use support::app::*;
use support::world::{Scheme, Store};

const A: &str = "cache-a";
const SECRET: &str = "secret-a";
const UNINSTALLED: &str = "/lifecycle/uninstalled";
const DISABLED: &str = "/lifecycle/disabled";
const ENABLED: &str = "/lifecycle/enabled";
const INSTALLED: &str = "/lifecycle/installed";

struct World {
    /// The instance whose cache is under test: it serves the reads.
    reader: TestApp,
    /// Another instance over the same store and clock: it receives Atlassian's lifecycle calls.
    writer: TestApp,
    store: Arc<dyn ItemStore>,
    scheme: Scheme,
    site: String,
    _dir: Option<tempfile::TempDir>,
}

/// An instance over `store` with `first`'s keyring and clock: another Lambda instance.
fn another_instance(first: &TestApp, store: &Arc<dyn ItemStore>) -> TestApp {
    let mut app = TestApp::with_store(store.clone());
    app.state.stack.data.secrets = first.state.secrets.clone();
    app.state.stack.data.clock = first.clock.clone();
    app.clock = first.clock.clone();
    app.serving(canopy_shared::http::lifecycle::routes().merge(canopy_shared::http::content::routes()))
}

async fn world(store: Store, scheme: Scheme) -> World {
    let opened = store.open().await;
    let reader = TestApp::with_store(opened.store.clone());
    let writer = another_instance(&reader, &opened.store);
    writer.install(A, SECRET).await;
    let mut w = World { reader, writer, store: opened.store, scheme, site: String::new(), _dir: opened.dir };
    let (status, _, body) =
        w.reader.send(post("/api/sites", Some(&w.admin()), &json!({"name": "Docs", "visibility": "public"}))).await;
    assert_eq!(status, 201, "{body}");
    w.site = body["id"].as_str().expect("id").to_owned();
    w
}

impl World {
    fn admin(&self) -> String {
        self.scheme.token(A, SECRET, Some(ADMIN_ACCOUNT), self.reader.now_secs())
    }

    fn advance(&self, secs: i64) {
        self.reader.clock.advance_secs(secs);
    }

    /// The site config as `app` answers it to a signed-in user of `A` (the token minted now).
    async fn read_on(&self, app: &TestApp) -> (u16, Value) {
        let token = self.scheme.token(A, SECRET, Some(USER_ACCOUNT), app.now_secs());
        let (status, _, body) = app.send(get(&format!("/api/sites/{}/config", self.site), Some(&token))).await;
        (status, body)
    }

    async fn read(&self) -> (u16, Value) {
        self.read_on(&self.reader).await
    }

    /// Atlassian's HS256-signed `enabled`/`disabled` call, to the writer.
    async fn switch(&self, path: &str) {
        let token = request_token(A, SECRET, "POST", path, self.writer.now_secs());
        let (status, _, body) = self.writer.send(post(path, Some(&token), &install_payload(A, SECRET))).await;
        assert_eq!(status, 204, "{path}: {body}");
    }

    /// Atlassian's signed `installed` or `uninstalled` call, to the writer.
    async fn signed(&self, path: &str, secret: &str, event: &str) {
        let token = sign_install(&install_claims(A, path, self.writer.now_secs()));
        let mut payload = install_payload(A, secret);
        payload["eventType"] = json!(event);
        let (status, _, body) = self.writer.send(post(path, Some(&token), &payload)).await;
        assert_eq!(status, 204, "{path}: {body}");
    }
}

mod scenarios {
    use super::*;

    pub async fn an_uninstall_elsewhere_is_seen_within_the_bound(w: World) {
        for app in [&w.reader, &w.writer] {
            assert_eq!(w.read_on(app).await.0, 200, "both instances hold the record now");
        }
        w.signed(UNINSTALLED, SECRET, "uninstalled").await;
        assert_eq!(w.read_on(&w.writer).await.0, 401, "the instance that wrote it forgets it at once");

        w.advance(TENANT_CACHE_SECS - 1);
        assert_eq!(w.read().await.0, 200, "another instance may serve its record to reads until the bound");
        let (status, _, body) = w.reader.send(post("/api/sites", Some(&w.admin()), &json!({"name": "Late"}))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthenticated")), "never to a write");
        w.advance(1);
        let (status, body) = w.read().await;
        assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthenticated")), "{body}");

        // Coming back is seen at once: a refusal is decided on the stored record.
        w.signed(INSTALLED, SECRET, "installed").await;
        assert_eq!(w.read().await.0, 200);
    }

    pub async fn a_disable_elsewhere_is_seen_within_the_bound_and_an_enable_at_once(w: World) {
        for app in [&w.reader, &w.writer] {
            assert_eq!(w.read_on(app).await.0, 200, "both instances hold the record now");
        }
        w.switch(DISABLED).await;
        assert_eq!(w.read_on(&w.writer).await.0, 403, "the instance that wrote it forgets it at once");

        w.advance(TENANT_CACHE_SECS - 1);
        assert_eq!(w.read().await.0, 200, "another instance may serve its record to reads until the bound");
        let (status, _, body) = w.reader.send(post("/api/sites", Some(&w.admin()), &json!({"name": "Late"}))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("tenant_disabled")), "never to a write");
        w.advance(1);
        let (status, body) = w.read().await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("tenant_disabled")), "{body}");

        w.switch(ENABLED).await;
        assert_eq!(w.read().await.0, 200, "a refusal is decided on the stored record");
    }
}

support::scenarios!(stores and schemes: [
    an_uninstall_elsewhere_is_seen_within_the_bound,
    a_disable_elsewhere_is_seen_within_the_bound_and_an_enable_at_once,
]);

mod connect {
    use super::*;

    /// Re-install with a new secret (Connect only: a FIT is not signed with the shared secret).
    pub async fn a_new_secret_works_at_once_and_the_old_one_ends_within_the_bound(w: World) {
        let path = format!("/api/sites/{}/config", w.site);
        let token = |secret: &str| context_token_as(A, secret, Some(USER_ACCOUNT), w.reader.now_secs());
        // A second later than the install, so the re-install is another signed delivery; the
        // cache entries of this test start now.
        w.advance(TENANT_CACHE_SECS);
        let peer = another_instance(&w.reader, &w.store);
        for app in [&w.reader, &peer] {
            assert_eq!(app.send(get(&path, Some(&token(SECRET)))).await.0, 200, "both hold the record now");
        }
        w.signed(INSTALLED, "rotated-secret", "installed").await;
        assert_eq!(peer.send(get(&path, Some(&token("rotated-secret")))).await.0, 200, "the new secret at once");
        assert_eq!(w.writer.send(get(&path, Some(&token(SECRET)))).await.0, 401, "the writer reads the new record");

        w.advance(TENANT_CACHE_SECS - 1);
        assert_eq!(w.reader.send(get(&path, Some(&token(SECRET)))).await.0, 200, "the old secret until the bound");
        w.advance(1);
        let (status, _, body) = w.reader.send(get(&path, Some(&token(SECRET)))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthenticated")), "{body}");
        assert_eq!(w.reader.send(get(&path, Some(&token("rotated-secret")))).await.0, 200);
    }
}

mod connect_embedded {
    #[tokio::test]
    async fn a_new_secret_works_at_once_and_the_old_one_ends_within_the_bound() {
        let w = super::world(super::Store::Embedded, super::Scheme::Connect).await;
        super::connect::a_new_secret_works_at_once_and_the_old_one_ends_within_the_bound(w).await;
    }
}

mod connect_dynamo {
    #[tokio::test]
    async fn a_new_secret_works_at_once_and_the_old_one_ends_within_the_bound() {
        let w = super::world(super::Store::Dynamo, super::Scheme::Connect).await;
        super::connect::a_new_secret_works_at_once_and_the_old_one_ends_within_the_bound(w).await;
    }
}
