//! Application state: the adapters and config a binary chose, built once per process.

use std::sync::Arc;

use crate::adapters::admins::AdminDirectory;
use crate::adapters::install_keys::InstallKeys;
use crate::domain::forge::ForgeRemote;
use crate::domain::regions::Regions;
use crate::kernel::clock::Clock;
use crate::kernel::config::AppConfig;
use crate::ports::media::MediaStore;
use crate::ports::secrets::SecretSealer;
use crate::ports::store::ItemStore;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<AppConfig>,
    pub store: Arc<dyn ItemStore>,
    pub install_keys: Arc<dyn InstallKeys>,
    pub clock: Arc<dyn Clock>,
    pub admins: Arc<dyn AdminDirectory>,
    pub media: Arc<dyn MediaStore>,
    /// Forge Invocation Token keys and the cloudId → tenant cache.
    pub forge: ForgeRemote,
    /// Every region's store and media store (the home one is `store`/`media`), for residency.
    pub regions: Regions,
    /// Seals tenant shared secrets before they reach the store (KMS on AWS, a keyring file locally).
    pub secrets: SecretSealer,
}
