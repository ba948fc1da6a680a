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
use canopy_shared::adapters::admins::LocalAdminDirectory;
use canopy_shared::adapters::forge_keys::StaticForgeKeys;
use canopy_shared::adapters::install_keys::StaticInstallKeys;
use canopy_shared::domain::forge::ForgeRemote;
use canopy_shared::domain::retention::{self, Budget};
use canopy_shared::kernel::clock::ManualClock;
use canopy_shared::kernel::config::AppConfig;
use canopy_shared::ports::media::MediaStore;
use canopy_shared::ports::store::{Condition, Due, ItemStore, Write};
use canopy_shared::state::AppState;
use common::{dynamo, s3, unique};
use serde_json::json;

const NOW: i64 = 1_800_000_000;

async fn seed(store: Arc<dyn ItemStore>, media: &dyn MediaStore, tenant: &TenantKey, items: usize, objects: usize) {
    let body = json!({"name": "x".repeat(200), "spaces": ["DOC"], "visibility": "public"});
    let mut tenant_record = common::item(
        tenant,
        "TENANT".into(),
        json!({
            "clientKey": tenant.as_str(), "productType": "confluence", "baseUrl": "https://x.atlassian.net/wiki", "sharedSecret": "s",
            "state": "uninstalled", "region": "us", "firstInstalledAt": "", "installedAt": "", "history": []
        }),
    );
    tenant_record.due = Some(Due { kind: "purge".into(), at: NOW - 1 });
    store.transact(vec![Write::Put { item: tenant_record, condition: Condition::None }], NOW).await.expect("tenant");
    let items =
        (0..items.saturating_sub(1)).map(|i| common::item(tenant, format!("ITEM#{i:08}"), body.clone())).collect();
    common::put_all(&store, items, 100, NOW).await;
    common::upload_objects(media, tenant, objects).await;
}

async fn run(items: usize, objects: usize) {
    let store = dynamo().await;
    let media = s3().await;
    let tenant = TenantKey::from_verified(&unique("tenant")).expect("key");
    let seed_started = Instant::now();
    seed(store.clone(), media.as_ref(), &tenant, items, objects).await;
    let seeded = seed_started.elapsed();

    let clock: Arc<dyn canopy_shared::kernel::clock::Clock> = Arc::new(ManualClock::at_millis(NOW * 1000));
    let config = AppConfig::new("http://127.0.0.1");
    let regions = canopy_shared::domain::regions::Regions::home_only(&config, store.clone(), media.clone());
    let state = AppState {
        install_keys: Arc::new(StaticInstallKeys::default()),
        forge: ForgeRemote::new(Arc::new(StaticForgeKeys::default()), clock.clone()),
        tenants: canopy_shared::domain::tenants::cache::TenantCache::new(),
        configs: canopy_shared::domain::content::site_config::ConfigCache::new(),
        admins: Arc::new(LocalAdminDirectory::new(Vec::<String>::new())),
        groups: Arc::new(canopy_shared::adapters::groups::LocalGroupDirectory::new([])),
        stack: canopy_shared::domain::data::Stack {
            data: canopy_shared::domain::data::Data {
                store,
                clock,
                secrets: canopy_shared::ports::secrets::SecretSealer::new(Arc::new(
                    canopy_shared::adapters::secrets::local::LocalKeyring::in_memory(),
                )),
            },
            config: Arc::new(config),
            media,
            regions,
        },
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
