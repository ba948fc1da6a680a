//! Application state: the adapters and config a binary chose, built once per process.

use std::ops::Deref;
use std::sync::Arc;

use crate::adapters::admins::AdminDirectory;
use crate::adapters::groups::GroupDirectory;
use crate::domain::content::site_config::ConfigCache;
use crate::domain::data::Stack;
use crate::domain::forge::ForgeRemote;
use crate::domain::tenants::cache::TenantCache;
use crate::ports::keys::InstallKeys;

/// What the routers and jobs run on. The domain sees only its part, the [`Stack`] (`Deref`).
#[derive(Clone)]
pub struct AppState {
    pub stack: Stack,
    pub install_keys: Arc<dyn InstallKeys>,
    pub admins: Arc<dyn AdminDirectory>,
    /// Group membership, which opens `restricted` sites (never stored).
    pub groups: Arc<dyn GroupDirectory>,
    /// Forge Invocation Token keys and the cloudId → tenant cache.
    pub forge: ForgeRemote,
    /// Tenant records as authentication reads them; the home store forgets what it writes
    /// ([`TenantCache::watching`]).
    pub tenants: Arc<TenantCache>,
    /// Site configs as last decoded and rendered, reused while their query answers the same items.
    pub configs: Arc<ConfigCache>,
}

impl AppState {
    /// This state acting on another stack (a tenant's home region), for lifecycle events.
    pub fn with_stack(&self, stack: Stack) -> AppState {
        AppState { stack, ..self.clone() }
    }
}

impl Deref for AppState {
    type Target = Stack;

    fn deref(&self) -> &Stack {
        &self.stack
    }
}
