//! Restoring one tenant from a point-in-time copy of the table (`restore`, infra/README.md), on
//! both store adapters: the tenant's items come back as they were, items created since go, its
//! install record stays live, and every other tenant is untouched.

use std::sync::Arc;

use canopy_shared::TenantKey;
use canopy_shared::adapters::media::local::LocalMediaStore;
use canopy_shared::adapters::store::embedded::EmbeddedItemStore;
use canopy_shared::domain::regions::Region;
use canopy_shared::domain::residency::restore::{Restored, restore_tenant};
use canopy_shared::kernel::config::regions::RegionSpec;
use canopy_shared::ports::media::MediaStore;
use canopy_shared::ports::store::{Condition, ItemStore, MAX_PAGE_SIZE, PageRequest, Write};
use serde_json::{Value, json};
use support::world::Store;

const NOW: i64 = 1_768_435_200;

struct World {
    restored: Region,
    live: Region,
    _dir: tempfile::TempDir,
}

fn region(store: Arc<dyn ItemStore>, media: Arc<dyn MediaStore>) -> Region {
    Region { spec: RegionSpec::new("us", "https://canopy.example.com"), store, media }
}

fn world_over(dir: tempfile::TempDir, restored: Arc<dyn ItemStore>, live: Arc<dyn ItemStore>) -> World {
    // One bucket for both: a table restore does not restore objects.
    let media: Arc<dyn MediaStore> =
        Arc::new(LocalMediaStore::open(dir.path(), "https://canopy.example.com").expect("media"));
    World { restored: region(restored, media.clone()), live: region(live, media), _dir: dir }
}

/// Two tables of one adapter: the restored copy and the live one.
async fn world(store: Store) -> World {
    let dir = tempfile::tempdir().expect("dir");
    match store {
        Store::Embedded => {
            let restored = Arc::new(EmbeddedItemStore::open(&dir.path().join("restored.redb")).expect("store"));
            let live = Arc::new(EmbeddedItemStore::open(&dir.path().join("live.redb")).expect("store"));
            world_over(dir, restored, live)
        }
        Store::Dynamo => world_over(dir, store.open().await.store, store.open().await.store),
    }
}

fn key(tenant: &str) -> TenantKey {
    TenantKey::from_verified(tenant).expect("key")
}

async fn put(store: &dyn ItemStore, tenant: &str, sk: &str, body: Value) {
    let current = store.get(&key(tenant), sk, NOW).await.expect("get");
    let (version, condition) = match current {
        Some(item) => (item.version + 1, Condition::Version(item.version)),
        None => (1, Condition::Absent),
    };
    let item = support::items::item(&key(tenant), sk, version, NOW, body);
    store.transact(vec![Write::Put { item, condition }], NOW).await.expect("put");
}

async fn partition(store: &dyn ItemStore, tenant: &str) -> Vec<(String, Value)> {
    let page =
        store.query(&key(tenant), "", PageRequest { limit: MAX_PAGE_SIZE, after: None }, NOW).await.expect("query");
    page.items.into_iter().map(|i| (i.sk, i.body.to_value().unwrap())).collect()
}

mod scenarios {
    use super::*;

    pub async fn one_tenant_comes_back_as_it_was_and_nothing_else_changes(world: World) {
        let (restored, live) = (world.restored.store.as_ref(), world.live.store.as_ref());
        // The table as it was at the chosen point in time.
        for store in [restored, live] {
            put(store, "acme", "TENANT", json!({"sealedSecret": "as-it-was"})).await;
            put(store, "acme", "SITE#1", json!({"name": "Intranet"})).await;
            put(store, "acme", "SITE#2", json!({"name": "Handbook"})).await;
            put(store, "globex", "SITE#9", json!({"name": "Globex"})).await;
        }
        // Then, live: a site overwritten, one deleted, one created, the secret re-installed, and
        // another tenant's work.
        put(live, "acme", "SITE#1", json!({"name": "oops"})).await;
        live.transact(
            vec![Write::Delete { tenant: key("acme"), sk: "SITE#2".into(), condition: Condition::None }],
            NOW,
        )
        .await
        .expect("delete");
        put(live, "acme", "SITE#3", json!({"name": "created since"})).await;
        put(live, "acme", "TENANT", json!({"sealedSecret": "current"})).await;
        put(live, "globex", "SITE#9", json!({"name": "Globex, edited since"})).await;
        let globex_before = partition(live, "globex").await;

        let done = restore_tenant(&world.restored, &world.live, &key("acme"), NOW).await.expect("restore");
        assert_eq!(done, Restored { items: 2, put: 2, deleted: 1 });
        assert_eq!(
            partition(live, "acme").await,
            vec![
                ("SITE#1".to_owned(), json!({"name": "Intranet"})),
                ("SITE#2".to_owned(), json!({"name": "Handbook"})),
                ("TENANT".to_owned(), json!({"sealedSecret": "current"})),
            ],
            "the sites as they were; the install record as it is live"
        );
        assert_eq!(partition(live, "globex").await, globex_before, "other tenants untouched");
        assert_eq!(partition(restored, "acme").await.len(), 3, "the restored copy is only read");

        let again = restore_tenant(&world.restored, &world.live, &key("acme"), NOW).await.expect("again");
        assert_eq!(again, Restored { items: 2, put: 0, deleted: 0 }, "a second run changes nothing");
    }
}

support::scenarios!(stores: [one_tenant_comes_back_as_it_was_and_nothing_else_changes]);
