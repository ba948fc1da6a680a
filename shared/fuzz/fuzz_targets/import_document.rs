//! Import documents (`POST /api/import`) through the real import over the embedded store. The
//! input is the request body. Properties: a refusal is a client error (4xx) and writes nothing;
//! a document the dry run accepts is accepted for real with the same counts, and importing it a
//! second time changes nothing.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use canopy_shared::TenantKey;
use canopy_shared::adapters::admins::LocalAdminDirectory;
use canopy_shared::adapters::forge_keys::StaticForgeKeys;
use canopy_shared::adapters::groups::LocalGroupDirectory;
use canopy_shared::adapters::install_keys::StaticInstallKeys;
use canopy_shared::adapters::media::local::LocalMediaStore;
use canopy_shared::adapters::secrets::local::{KEYRING_FILE, LocalKeyring};
use canopy_shared::adapters::store::embedded::EmbeddedItemStore;
use canopy_shared::domain::content::portability::{ExportDocument, import};
use canopy_shared::domain::forge::ForgeRemote;
use canopy_shared::domain::records::Editor;
use canopy_shared::domain::regions::Regions;
use canopy_shared::http::body::parse_json;
use canopy_shared::kernel::clock::ManualClock;
use canopy_shared::kernel::config::AppConfig;
use canopy_shared::kernel::keys;
use canopy_shared::ports::media::MediaStore;
use canopy_shared::ports::secrets::SecretSealer;
use canopy_shared::ports::store::{ItemStore, PageRequest};
use canopy_shared::state::AppState;
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;

const BASE_URL: &str = "https://canopy.example.com";
const START_MILLIS: i64 = 1_768_435_200_000;

struct World {
    state: AppState,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: Arc<dyn ItemStore> =
            Arc::new(EmbeddedItemStore::open(&dir.path().join("canopy.redb")).expect("embedded store"));
        let media: Arc<dyn MediaStore> = Arc::new(LocalMediaStore::open(dir.path(), BASE_URL).expect("local media"));
        let clock = Arc::new(ManualClock::at_millis(START_MILLIS));
        let config = AppConfig::new(BASE_URL);
        let regions = Regions::home_only(&config, store.clone(), media.clone());
        let state = AppState {
            install_keys: Arc::new(StaticInstallKeys::default()),
            forge: ForgeRemote::new(Arc::new(StaticForgeKeys::default()), clock.clone()),
            tenants: canopy_shared::domain::tenants::cache::TenantCache::new(),
            configs: canopy_shared::domain::content::site_config::ConfigCache::new(),
            admins: Arc::new(LocalAdminDirectory::new(["557058:admin".to_owned()])),
            groups: Arc::new(LocalGroupDirectory::new([])),
            stack: canopy_shared::domain::data::Stack {
                data: canopy_shared::domain::data::Data {
                    store,
                    clock,
                    secrets: SecretSealer::new(Arc::new(
                        LocalKeyring::open_or_create(&dir.path().join(KEYRING_FILE)).expect("keyring"),
                    )),
                },
                config: Arc::new(config),
                media,
                regions,
            },
        };
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        World { state, runtime, _dir: dir }
    })
}

/// A tenant no earlier input wrote to.
fn fresh_editor() -> Editor {
    static N: AtomicU64 = AtomicU64::new(0);
    let key = format!("fuzz-tenant-{}", N.fetch_add(1, Ordering::Relaxed));
    Editor { tenant: TenantKey::from_verified(&key).expect("a valid key"), account_id: Some("557058:admin".into()) }
}

/// The tenant's items besides the import limit's counters: a dry run is charged to the limit like
/// an import (it does the same reads), so only its counters may appear.
fn stored_items(world: &World, tenant: &TenantKey) -> usize {
    let page = world.runtime.block_on(world.state.store.query(tenant, "", PageRequest { limit: 1000, after: None }, 0));
    page.expect("query").items.iter().filter(|item| !item.sk.starts_with(keys::RATE_PREFIX)).count()
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    let mut headers = HeaderMap::new();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    let doc: ExportDocument = match parse_json(&headers, data) {
        Ok(doc) => doc,
        Err(err) => return assert!(err.status().is_client_error(), "parse answered {}: {err}", err.status()),
    };
    let editor = fresh_editor();
    let dry = world.runtime.block_on(import(&world.state, &editor, &doc, true));
    assert_eq!(stored_items(world, &editor.tenant), 0, "a dry run wrote");
    let dry = match dry {
        Ok(report) => report,
        Err(err) => return assert!(err.status().is_client_error(), "dry run answered {}: {err}", err.status()),
    };
    let real = world.runtime.block_on(import(&world.state, &editor, &doc, false)).expect("the dry run accepted it");
    assert_eq!(real.created, dry.created, "dry run and import disagree");
    let again = world.runtime.block_on(import(&world.state, &editor, &doc, false)).expect("a repeated import");
    assert!(
        again.created.values().all(|&n| n == 0) && again.updated.values().all(|&n| n == 0),
        "repeat changed {again:?}"
    );
});
