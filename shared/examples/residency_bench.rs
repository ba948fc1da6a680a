//! Benchmark: migrating a tenant of N items and N/10 media objects from one region to another
//! (two DynamoDB Local namespaces, two s3s-fs buckets) with the real engine; prints the total
//! time and the read-only window. Run by `scripts/bench-residency`.

mod common;

use std::sync::Arc;
use std::time::Instant;

use canopy_shared::TenantKey;
use canopy_shared::adapters::admins::LocalAdminDirectory;
use canopy_shared::adapters::forge_keys::StaticForgeKeys;
use canopy_shared::adapters::install_keys::StaticInstallKeys;
use canopy_shared::domain::forge::ForgeRemote;
use canopy_shared::domain::regions::{self, Regions, Settings};
use canopy_shared::domain::residency::fence::FencedStore;
use canopy_shared::domain::residency::{self, Kind};
use canopy_shared::kernel::clock::SystemClock;
use canopy_shared::kernel::config::AppConfig;
use canopy_shared::kernel::config::regions::RegionSpec;
use canopy_shared::ports::media::MediaStore;
use canopy_shared::ports::store::{Condition, Due, ItemStore, Write};
use canopy_shared::state::AppState;
use common::{dynamo, s3, unique};
use serde_json::json;

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

async fn seed(store: Arc<dyn ItemStore>, media: &dyn MediaStore, tenant: &TenantKey, items: usize, objects: usize) {
    let body = json!({"name": "x".repeat(200), "spaces": ["DOC"], "visibility": "public"});
    let mut tenant_record = common::item(
        tenant,
        "TENANT".into(),
        json!({
            "clientKey": tenant.as_str(), "productType": "confluence", "baseUrl": "https://x.atlassian.net/wiki", "sharedSecret": "s",
            "state": "installed", "region": "us", "firstInstalledAt": "", "installedAt": "", "history": []
        }),
    );
    tenant_record.due = Some(Due { kind: "registry".into(), at: 0 });
    store.transact(vec![Write::Put { item: tenant_record, condition: Condition::None }], now()).await.expect("tenant");
    let items = (0..items.saturating_sub(1))
        .map(|i| {
            common::item(
                tenant,
                if i < objects { format!("MEDIA#obj{i:05}") } else { format!("ITEM#{i:08}") },
                body.clone(),
            )
        })
        .collect();
    common::put_all(&store, items, canopy_shared::domain::residency::fence::MAX_FENCED_WRITES, now()).await;
    common::upload_objects(media, tenant, objects).await;
}

async fn run(items: usize, objects: usize) {
    // Behind the write fence, as every stack runs them (`bootstrap`).
    let (us_store, eu_store) = (FencedStore::wrap(dynamo().await), FencedStore::wrap(dynamo().await));
    let (us_media, eu_media) = (s3().await, s3().await);
    let tenant = TenantKey::from_verified(&unique("tenant")).expect("key");
    seed(us_store.clone(), us_media.as_ref(), &tenant, items, objects).await;

    let clock: Arc<dyn canopy_shared::kernel::clock::Clock> = Arc::new(SystemClock);
    let mut config = AppConfig::new("http://127.0.0.1");
    config.regions = vec![RegionSpec::new("us", "http://127.0.0.1"), RegionSpec::new("eu", "http://127.0.0.2")];
    let all = Regions::new(
        "us",
        [
            regions::Region { spec: config.regions[0].clone(), store: us_store.clone(), media: us_media.clone() },
            regions::Region { spec: config.regions[1].clone(), store: eu_store.clone(), media: eu_media.clone() },
        ],
    )
    .expect("regions")
    .with_settings(Settings { auto_drive: false });
    let state = AppState {
        install_keys: Arc::new(StaticInstallKeys::default()),
        forge: ForgeRemote::new(Arc::new(StaticForgeKeys::default()), clock.clone()),
        tenants: canopy_shared::domain::tenants::cache::TenantCache::new(),
        configs: canopy_shared::domain::content::site_config::ConfigCache::new(),
        admins: Arc::new(LocalAdminDirectory::new(Vec::<String>::new())),
        groups: Arc::new(canopy_shared::adapters::groups::LocalGroupDirectory::new([])),
        stack: canopy_shared::domain::data::Stack {
            data: canopy_shared::domain::data::Data {
                store: us_store,
                clock,
                secrets: canopy_shared::ports::secrets::SecretSealer::new(Arc::new(
                    canopy_shared::adapters::secrets::local::LocalKeyring::in_memory(),
                )),
            },
            config: Arc::new(config),
            media: us_media,
            regions: all,
        },
    };
    let started = Instant::now();
    residency::request(&state, &tenant, "eu", Kind::Migration, None).await.expect("request");
    let done = residency::drive(&state, &tenant).await.expect("migrate");
    let total = started.elapsed();
    assert_eq!(done.progress.objects_copied as usize, objects, "{done:?}");
    let read_only = done.read_only_ms.unwrap_or_default() as f64 / 1000.0;
    println!(
        "{items:>7} items + {objects:>5} objects: total {:>6.2} s, read-only {read_only:>5.2} s, {} copy passes",
        total.as_secs_f64(),
        done.progress.passes
    );
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    for items in if sizes.is_empty() { vec![10_000] } else { sizes } {
        run(items, items / 10).await;
    }
}
