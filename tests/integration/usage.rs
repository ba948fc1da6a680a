//! Usage statistics on both store adapters: the tenant registry on the due index, the daily
//! snapshot (per tenant + totals, one result per day however often it runs, chunked at its
//! bound), the operator routes (local, and IAM-only on Lambda), and the reserved operator
//! partition no Connect install or token can reach.

use canopy_shared::TenantKey;
use canopy_shared::domain::usage::day_of;
use canopy_shared::domain::usage::{self, TENANTS_PER_CHUNK};
use canopy_shared::http::ops::{self, OperatorAccess};
use canopy_shared::kernel::clock::Clock;
use canopy_shared::kernel::keys;
use canopy_shared::ports::store::{Condition, Due, Item, PageRequest, Write};
use serde_json::{Value, json};
use support::app::*;
use support::world::{Opened, Store};
use tower::ServiceExt;

const A: &str = "tenant-a";
const B: &str = "tenant-b";

struct World {
    app: TestApp,
    _dir: Option<tempfile::TempDir>,
}

async fn world(store: Store) -> World {
    let Opened { store, dir } = store.open().await;
    let routes = canopy_shared::http::lifecycle::routes()
        .merge(canopy_shared::http::content::routes())
        .merge(ops::routes(OperatorAccess::Local));
    let app = TestApp::with_store(store).serving(routes);
    World { app, _dir: dir }
}

impl World {
    /// Sends a signed lifecycle event (`installed`, `uninstalled`…) of `client`; it must succeed.
    async fn lifecycle(&self, client: &str, event: &str) {
        let path = format!("/lifecycle/{event}");
        let token = sign_install(&install_claims(client, &path, self.app.now_secs()));
        let (status, _, body) = self.app.send(post(&path, Some(&token), &install_payload(client, "s3cret"))).await;
        assert_eq!(status, 204, "{event} {client}: {body}");
    }

    async fn registry(&self) -> Vec<String> {
        let page = PageRequest { limit: 100, after: None };
        let due = self
            .app
            .state
            .store
            .due(canopy_shared::kernel::keys::REGISTRY_DUE_KIND, self.app.now_secs(), page)
            .await
            .expect("due");
        due.items.iter().map(|e| format!("{}/{}", e.tenant, e.sk)).collect()
    }

    async fn purge_queue(&self) -> Vec<String> {
        let page = PageRequest { limit: 100, after: None };
        let due = self
            .app
            .state
            .store
            .due(canopy_shared::kernel::keys::PURGE_DUE_KIND, i64::MAX / 4, page)
            .await
            .expect("due");
        due.items.iter().map(|e| e.tenant.to_string()).collect()
    }

    async fn content(&self, client: &str, path: &str, body: Value) {
        let token = context_token_as(client, "s3cret", Some(ADMIN_ACCOUNT), self.app.now_secs());
        let (status, _, answer) = self.app.send(post(path, Some(&token), &body)).await;
        assert_eq!(status, 201, "{answer}");
    }

    async fn operator_items(&self) -> Vec<Item> {
        let page = PageRequest { limit: 1000, after: None };
        self.app.state.store.query(&keys::operator_tenant(), "", page, self.app.now_secs()).await.expect("query").items
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let (status, _, body) = self.app.send(get(path, None)).await;
        (status, body)
    }
}

fn site(spaces: &[&str], domains: &[&str]) -> Value {
    json!({"name": "Docs", "visibility": "public", "spaces": spaces, "customDomains": domains})
}

fn theme() -> Value {
    json!({"name": "Brand", "colors": {"primary": "#0052CC", "background": "#FFFFFF", "text": "#172B4D"}, "fonts": {"body": "Inter"}})
}

mod scenarios {
    use super::*;

    pub async fn the_registry_lists_installed_tenants(w: World) {
        assert!(w.registry().await.is_empty());
        w.lifecycle(A, "installed").await;
        w.lifecycle(B, "installed").await;
        assert_eq!(w.registry().await, ["tenant-a/TENANT", "tenant-b/TENANT"]);
        w.lifecycle(B, "uninstalled").await;
        assert_eq!(w.registry().await, ["tenant-a/TENANT"], "an uninstalled tenant waits for its purge instead");
        assert_eq!(w.purge_queue().await, ["tenant-b"]);
        w.lifecycle(B, "installed").await;
        assert_eq!(w.registry().await, ["tenant-a/TENANT", "tenant-b/TENANT"]);
        assert!(w.purge_queue().await.is_empty(), "the re-install cancelled the purge");
    }

    pub async fn one_snapshot_per_day_with_per_tenant_figures_and_totals(w: World) {
        w.lifecycle(A, "installed").await;
        w.lifecycle(B, "installed").await;
        w.content(A, "/api/sites", site(&["DOC", "ENG"], &["docs.example.com"])).await;
        w.content(A, "/api/sites", site(&["DOC"], &[])).await;
        w.content(A, "/api/themes", theme()).await;
        w.content(B, "/api/sites", site(&["HR"], &["hr.example.com", "people.example.com"])).await;
        let today = day_of(w.app.now_secs()).expect("day");

        let first = usage::snapshot(&w.app.state, today).await.expect("snapshot");
        assert!(first.written);
        let summary = serde_json::to_value(&first.summary).expect("json");
        assert_eq!(summary["date"], "2026-01-15");
        assert_eq!(summary["tenants"], 2);
        assert_eq!(summary["totals"], json!({"sites": 3, "themes": 1, "customDomains": 3, "spaces": 4}));
        let (status, day) = w.get("/ops/usage/2026-01-15").await;
        assert_eq!(status, 200, "{day}");
        assert_eq!(
            day["perTenant"],
            json!([
                {"clientKey": A, "productType": "confluence", "state": "installed", "sites": 2, "themes": 1, "customDomains": 1, "spaces": 3},
                {"clientKey": B, "productType": "confluence", "state": "installed", "sites": 1, "themes": 0, "customDomains": 2, "spaces": 1},
            ])
        );
        let everything: String = w.operator_items().await.iter().map(|i| i.body.to_string()).collect();
        assert!(!everything.contains("557058"), "no accountId in usage: {everything}");

        // Later the same day, with more content: the day keeps its one result.
        w.app.clock.advance_secs(3_600);
        w.content(B, "/api/themes", theme()).await;
        let second = usage::snapshot(&w.app.state, today).await.expect("snapshot");
        assert!(!second.written);
        assert_eq!(second.summary, first.summary);
        assert_eq!(w.operator_items().await.len(), 2, "one summary and one chunk");

        let tomorrow = day_of(w.app.now_secs() + 86_400).expect("day");
        let next = usage::snapshot(&w.app.state, tomorrow).await.expect("snapshot");
        assert!(next.written);
        assert_eq!(next.summary.totals.themes, 2);

        let (status, days) = w.get("/ops/usage").await;
        assert_eq!(status, 200);
        let dates: Vec<&str> =
            days["items"].as_array().expect("items").iter().filter_map(|d| d["date"].as_str()).collect();
        assert_eq!(dates, ["2026-01-15", "2026-01-16"]);
        assert!(days["items"][0].get("perTenant").is_none(), "the list holds totals only");
        let (_, page) = w.get("/ops/usage?limit=1").await;
        assert_eq!(page["nextCursor"], "2026-01-15");
        let (_, rest) = w.get("/ops/usage?limit=1&cursor=2026-01-15").await;
        assert_eq!((rest["items"][0]["date"].as_str(), &rest["nextCursor"]), (Some("2026-01-16"), &Value::Null));

        for (path, status, code) in [
            ("/ops/usage/2026-01-17", 404, "unknown_day"),
            ("/ops/usage/2026-02-30", 404, "unknown_day"),
            ("/ops/usage/yesterday", 404, "unknown_day"),
            ("/ops/usage?cursor=x", 400, "bad_cursor"),
            ("/ops/usage?limit=0", 400, "bad_page_size"),
            ("/ops/usage?tenant=a", 400, "bad_query"),
        ] {
            let (got, body) = w.get(path).await;
            assert_eq!((got, body["error"]["code"].as_str()), (status, Some(code)), "{path}");
        }
    }

    /// The chunk bound: 1001 tenants fill one chunk to the bound and start a second, read back whole.
    pub async fn snapshots_chunk_their_tenants(w: World) {
        let now = w.app.clock.now_millis();
        let writes: Vec<Write> = (0..TENANTS_PER_CHUNK + 1)
            .map(|i| {
                let client = format!("bulk-{i:04}");
                // The stored shape, as JSON: other fields of `Tenant` have defaults.
                let record = json!({
                    "clientKey": client, "productType": "jira", "baseUrl": "https://x.atlassian.net",
                    "sharedSecret": "s", "state": "enabled", "region": "us",
                    "firstInstalledAt": "", "installedAt": "",
                });
                Write::Put {
                    item: Item {
                        tenant: TenantKey::from_verified(&client).expect("key"),
                        sk: keys::TENANT_RECORD.into(),
                        version: 1,
                        updated_at: now,
                        updated_by: None,
                        due: Some(Due { kind: canopy_shared::kernel::keys::REGISTRY_DUE_KIND.into(), at: 0 }),
                        expires_at: None,
                        body: record.into(),
                    },
                    condition: Condition::Absent,
                }
            })
            .collect();
        for chunk in writes.chunks(100) {
            w.app.state.store.transact(chunk.to_vec(), w.app.now_secs()).await.expect("tenants");
        }
        let today = day_of(w.app.now_secs()).expect("day");
        let over = usage::snapshot(&w.app.state, today).await.expect("snapshot");
        assert_eq!((over.summary.tenants, over.summary.chunks), (TENANTS_PER_CHUNK as u64 + 1, 2));
        let sizes: Vec<usize> = w
            .operator_items()
            .await
            .iter()
            .filter(|i| i.sk.starts_with(&keys::usage_tenants_of("2026-01-15")))
            .map(|i| i.body.to_value().unwrap().as_array().map_or(0, Vec::len))
            .collect();
        assert_eq!(sizes, [TENANTS_PER_CHUNK, 1], "a full chunk at the bound, the one over it in the next");
        let day = usage::day(&w.app.state, "2026-01-15").await.expect("day");
        assert_eq!(day.per_tenant.len(), TENANTS_PER_CHUNK + 1);
        assert_eq!(day.per_tenant.last().map(|t| t.client_key.as_str()), Some("bulk-1000"));
    }

    /// `_operator` is Canopy's: no install may take it and no token may name it.
    pub async fn the_operator_partition_is_out_of_every_tenants_reach(w: World) {
        let operator = keys::OPERATOR_TENANT;
        let token = sign_install(&install_claims(operator, "/lifecycle/installed", w.app.now_secs()));
        let (status, _, body) =
            w.app.send(post("/lifecycle/installed", Some(&token), &install_payload(operator, "s3cret"))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("reserved_client_key")));
        assert!(w.operator_items().await.is_empty(), "nothing written");

        usage::snapshot(&w.app.state, day_of(w.app.now_secs()).expect("day")).await.expect("snapshot");
        assert!(!w.operator_items().await.is_empty());
        let forged = context_token_as(operator, "s3cret", Some(ADMIN_ACCOUNT), w.app.now_secs());
        for path in ["/api/tenant", "/api/sites", "/api/export"] {
            let (status, _, body) = w.app.send(get(path, Some(&forged))).await;
            assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthenticated")), "{path}");
        }
    }
}

/// On Lambda the routes answer only requests API Gateway authorised with IAM.
#[tokio::test]
async fn on_lambda_the_operator_routes_demand_an_iam_identity() {
    let app = TestApp::new();
    let router = canopy_shared::http::finish(ops::routes(OperatorAccess::Iam), app.state.clone());
    let event = |authorizer: Value| {
        json!({
            "version": "2.0", "routeKey": "GET /ops/usage", "rawPath": "/ops/usage", "rawQueryString": "",
            "headers": {"host": "canopy.example.com"},
            "requestContext": {
                "accountId": "123456789012", "apiId": "canopyapi", "domainName": "canopy.example.com",
                "http": {"method": "GET", "path": "/ops/usage", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10", "userAgent": "curl"},
                "requestId": "r", "routeKey": "GET /ops/usage", "stage": "$default", "time": "15/Jan/2026:00:00:00 +0000",
                "timeEpoch": 1_768_435_200_000_i64, "authorizer": authorizer,
            },
            "isBase64Encoded": false,
        })
        .to_string()
    };
    let iam = json!({"iam": {"accessKey": "AKIA", "accountId": "123456789012", "callerId": "AID", "principalOrgId": null, "userArn": "arn:aws:iam::123456789012:user/operator", "userId": "AID"}});
    let jwt = json!({"jwt": {"claims": {"sub": "x"}, "scopes": null}});
    for (authorizer, expected) in [(iam, 200), (jwt, 403), (Value::Null, 403)] {
        let request = lambda_http::request::from_str(&event(authorizer.clone())).expect("event");
        let response = router.clone().oneshot(request).await.expect("answer");
        assert_eq!(response.status().as_u16(), expected, "{authorizer}");
    }
    // Outside Lambda there is no request context at all: refused as well.
    let (status, _, body) = {
        let mut app = TestApp::new();
        app.router = router.clone();
        app.send(get("/ops/usage", None)).await
    };
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("operator_only")));
}

support::scenarios!(stores: [
    the_registry_lists_installed_tenants,
    one_snapshot_per_day_with_per_tenant_figures_and_totals,
    snapshots_chunk_their_tenants,
    the_operator_partition_is_out_of_every_tenants_reach,
]);
