//! Benchmark: purging a tenant of N items and M media objects on DynamoDB Local and the local S3
//! server (s3s-fs). Run by `scripts/bench-purge`, which starts both servers and passes their
//! endpoints; prints items/s for several sizes so the growth with N shows.
//!
//! Seeding uses the store's transactions (100 items each) and presigned PUTs, like the product
//! would; only the purge is timed.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use canopy_shared::TenantKey;
use canopy_shared::admins::LocalAdminDirectory;
use canopy_shared::clock::ManualClock;
use canopy_shared::config::AppConfig;
use canopy_shared::connect::install_keys::StaticInstallKeys;
use canopy_shared::forge::ForgeRemote;
use canopy_shared::forge::jwks::StaticForgeKeys;
use canopy_shared::media::port::{MediaStore, ObjectKey};
use canopy_shared::retention::{self, Budget};
use canopy_shared::state::AppState;
use canopy_shared::store::{Condition, Due, Item, ItemStore, Write};
use common::{dynamo, s3, unique};
use serde_json::json;

const NOW: i64 = 1_800_000_000;

async fn seed(store: Arc<dyn ItemStore>, media: &dyn MediaStore, tenant: &TenantKey, items: usize, objects: usize) {
    let body = json!({"name": "x".repeat(200), "spaces": ["DOC"], "visibility": "public"});
    let item = |sk: String| Item {
        tenant: tenant.clone(),
        sk,
        version: 1,
        updated_at: 0,
        updated_by: None,
        due: None,
        expires_at: None,
        body: body.clone(),
    };
    let mut tenant_record = item("TENANT".into());
    tenant_record.body = json!({
        "clientKey": tenant.as_str(), "productType": "confluence", "baseUrl": "https://x.atlassian.net/wiki", "sharedSecret": "s",
        "state": "uninstalled", "region": "us", "firstInstalledAt": "", "installedAt": "", "history": []
    });
    tenant_record.due = Some(Due { kind: "purge".into(), at: NOW - 1 });
    store.transact(vec![Write::Put { item: tenant_record, condition: Condition::None }], NOW).await.expect("tenant");
    let keys: Vec<String> = (0..items.saturating_sub(1)).map(|i| format!("ITEM#{i:08}")).collect();
    let chunks: Vec<Vec<String>> = keys.chunks(100).map(<[String]>::to_vec).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in chunks {
        let writes: Vec<Write> =
            chunk.into_iter().map(|sk| Write::Put { item: item(sk), condition: Condition::None }).collect();
        let store = store.clone();
        tasks.spawn(async move { store.transact(writes, NOW).await.expect("seed") });
        while tasks.len() >= 8 {
            tasks.join_next().await;
        }
    }
    while tasks.join_next().await.is_some() {}
    let client = reqwest::Client::new();
    for i in 0..objects {
        let key = ObjectKey::media(tenant, &format!("obj{i:05}"));
        let upload = media.presign_upload(&key, "image/png", 64, Duration::from_secs(300)).await.expect("presign");
        let mut request = client.put(&upload.url).body(vec![0u8; 64]);
        for (name, value) in &upload.headers {
            if !name.eq_ignore_ascii_case("content-length") {
                request = request.header(name, value);
            }
        }
        assert!(request.send().await.expect("put").status().is_success());
    }
}

async fn run(items: usize, objects: usize) {
    let store = dynamo().await;
    let media = s3().await;
    let tenant = TenantKey::from_verified(&unique("tenant")).expect("key");
    let seed_started = Instant::now();
    seed(store.clone(), media.as_ref(), &tenant, items, objects).await;
    let seeded = seed_started.elapsed();

    let clock: Arc<dyn canopy_shared::clock::Clock> = Arc::new(ManualClock::at_millis(NOW * 1000));
    let config = AppConfig::new("http://127.0.0.1");
    let state = AppState {
        regions: canopy_shared::regions::Regions::home_only(&config, store.clone(), media.clone()),
        config: Arc::new(config),
        store,
        install_keys: Arc::new(StaticInstallKeys::default()),
        clock: clock.clone(),
        admins: Arc::new(LocalAdminDirectory::new(Vec::<String>::new())),
        media,
        forge: ForgeRemote::new(Arc::new(StaticForgeKeys::default()), clock),
        secrets: canopy_shared::secrets::SecretSealer::new(Arc::new(
            canopy_shared::secrets::local::LocalKeyring::in_memory(),
        )),
    };
    let started = Instant::now();
    let report = retention::sweep(&state, &Budget::new(Duration::from_secs(3600)), &mut |_| {}).await.expect("sweep");
    let took = started.elapsed();
    assert_eq!(report.tenants_purged, 1, "{report:?}");
    assert_eq!(report.objects_deleted as usize, objects);
    println!(
        "{items:>7} items + {objects:>5} objects: purged in {:>6.2} s = {:>7.0} items/s (seeding took {:.1} s)",
        took.as_secs_f64(),
        report.items_deleted as f64 / took.as_secs_f64(),
        seeded.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![10_000, 100_000] } else { sizes };
    for items in sizes {
        let objects = (items / 100).max(1);
        run(items, objects).await;
    }
}
