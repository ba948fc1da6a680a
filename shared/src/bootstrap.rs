//! The composition root: builds the adapters a host runs with. Only binaries call this; domain
//! and HTTP code see nothing but the ports.

use std::path::Path;
use std::sync::Arc;

use crate::admins::{CachedAdminDirectory, ConnectAdminDirectory, LocalAdminDirectory};
use crate::clock::{Clock, SystemClock};
use crate::config::AppConfig;
use crate::connect::install_keys::{HttpInstallKeys, http_client};
use crate::connect::product::ProductClient;
use crate::error::{Error, Result};
use crate::forge::ForgeRemote;
use crate::forge::jwks::HttpForgeKeys;
use crate::forge::product::ForgeProductClient;
use crate::media::local::LocalMediaStore;
use crate::media::s3::S3MediaStore;
use crate::state::AppState;
use crate::store::dynamo::DynamoItemStore;
use crate::store::embedded::EmbeddedItemStore;

/// Lambda: DynamoDB table `CANOPY_TABLE` and bucket `CANOPY_MEDIA_BUCKET` (endpoint overrides
/// `CANOPY_DYNAMODB_ENDPOINT`, `CANOPY_S3_ENDPOINT` for local servers), install keys over HTTPS, config from the environment. Built once per cold start.
pub async fn lambda_state() -> Result<AppState> {
    let config = AppConfig::from_env(None)?;
    let table = std::env::var("CANOPY_TABLE").map_err(|_| Error::internal("CANOPY_TABLE is not set"))?;
    let bucket = std::env::var("CANOPY_MEDIA_BUCKET").map_err(|_| Error::internal("CANOPY_MEDIA_BUCKET is not set"))?;
    let sdk = crate::aws::sdk_config().await;
    let client = DynamoItemStore::client(&sdk, std::env::var("CANOPY_DYNAMODB_ENDPOINT").ok().as_deref());
    let s3 = S3MediaStore::client(&sdk, std::env::var("CANOPY_S3_ENDPOINT").ok().as_deref());
    let http = http_client()?;
    let install_keys = HttpInstallKeys::new(&config.connect_keys_url, http.clone());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let forge_keys = HttpForgeKeys::new(&config.forge_jwks_url, http.clone(), clock.clone());
    let admins = CachedAdminDirectory::with_ttl_secs(
        ConnectAdminDirectory::new(ProductClient::new(config.app_key.clone(), http.clone()))
            .with_forge(ForgeProductClient::new(&config.forge_api_base_url, http)),
        clock.clone(),
        config.admin_cache_secs,
    );
    Ok(AppState {
        config: Arc::new(config),
        store: Arc::new(DynamoItemStore::new(client, table)),
        install_keys: Arc::new(install_keys),
        forge: ForgeRemote::new(Arc::new(forge_keys), clock.clone()),
        clock,
        admins: Arc::new(admins),
        media: Arc::new(S3MediaStore::new(s3, bucket)),
    })
}

/// Local server: the embedded store and media files under `data_dir`, install keys and Forge
/// keys over HTTP from `config`, and a fixed set of admin accountIds (there is no product to ask). The local
/// media store is also returned: the local server serves its signed URLs.
pub fn local_state(
    config: AppConfig,
    data_dir: &Path,
    admins: impl IntoIterator<Item = String>,
) -> Result<(AppState, LocalMediaStore)> {
    std::fs::create_dir_all(data_dir).map_err(|e| Error::internal(format!("create {}: {e}", data_dir.display())))?;
    let store = EmbeddedItemStore::open(&data_dir.join("canopy.redb"))?;
    let http = http_client()?;
    let install_keys = HttpInstallKeys::new(&config.connect_keys_url, http.clone());
    let media = LocalMediaStore::open(data_dir, &config.base_url)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let forge_keys = HttpForgeKeys::new(&config.forge_jwks_url, http, clock.clone());
    let state = AppState {
        config: Arc::new(config),
        store: Arc::new(store),
        install_keys: Arc::new(install_keys),
        forge: ForgeRemote::new(Arc::new(forge_keys), clock.clone()),
        clock,
        admins: Arc::new(LocalAdminDirectory::new(admins)),
        media: Arc::new(media.clone()),
    };
    Ok((state, media))
}
