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
use crate::state::AppState;
use crate::store::dynamo::DynamoItemStore;
use crate::store::embedded::EmbeddedItemStore;

/// Lambda: DynamoDB table `CANOPY_TABLE` (endpoint override `CANOPY_DYNAMODB_ENDPOINT` for
/// DynamoDB Local), install keys over HTTPS, config from the environment. Built once per cold start.
pub async fn lambda_state() -> Result<AppState> {
    let config = AppConfig::from_env(None)?;
    let table = std::env::var("CANOPY_TABLE").map_err(|_| Error::internal("CANOPY_TABLE is not set"))?;
    let endpoint = std::env::var("CANOPY_DYNAMODB_ENDPOINT").ok();
    let client = DynamoItemStore::client_from_env(endpoint.as_deref()).await;
    let http = http_client()?;
    let install_keys = HttpInstallKeys::new(&config.connect_keys_url, http.clone());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let admins = CachedAdminDirectory::with_ttl_secs(
        ConnectAdminDirectory::new(ProductClient::new(config.app_key.clone(), http)),
        clock.clone(),
        config.admin_cache_secs,
    );
    Ok(AppState {
        config: Arc::new(config),
        store: Arc::new(DynamoItemStore::new(client, table)),
        install_keys: Arc::new(install_keys),
        clock,
        admins: Arc::new(admins),
    })
}

/// Local server: the embedded store under `data_dir`, install keys over HTTP from `config`, and
/// a fixed set of admin accountIds (there is no product to ask).
pub fn local_state(config: AppConfig, data_dir: &Path, admins: impl IntoIterator<Item = String>) -> Result<AppState> {
    std::fs::create_dir_all(data_dir).map_err(|e| Error::internal(format!("create {}: {e}", data_dir.display())))?;
    let store = EmbeddedItemStore::open(&data_dir.join("canopy.redb"))?;
    let install_keys = HttpInstallKeys::new(&config.connect_keys_url, http_client()?);
    Ok(AppState {
        config: Arc::new(config),
        store: Arc::new(store),
        install_keys: Arc::new(install_keys),
        clock: Arc::new(SystemClock),
        admins: Arc::new(LocalAdminDirectory::new(admins)),
    })
}
