//! The domain's contexts: what its use cases may reach, and nothing more.
//!
//! - [`Data`]: one region's item store, the clock and the secret sealer (tenant records hold
//!   their shared secret sealed): all that content, users, feedback and tenants need.
//! - [`Stack`]: a regional stack as the jobs and the media and residency use cases see it: its
//!   `Data`, its media store, every region Canopy runs in, and the configuration.
//!
//! `AppState` holds a `Stack` and dereferences to it (and so to `Data`): a handler passes `&state`
//! where a use case takes `&Data` or `&Stack`; the use case cannot reach the admin directory, the
//! key sources or the Forge caches. `residency::acting_in` builds the `Stack` of another region.

use std::ops::Deref;
use std::sync::Arc;

use crate::domain::regions::Regions;
use crate::kernel::clock::Clock;
use crate::kernel::config::AppConfig;
use crate::ports::media::MediaStore;
use crate::ports::secrets::SecretSealer;
use crate::ports::store::ItemStore;

#[derive(Clone)]
pub struct Data {
    pub store: Arc<dyn ItemStore>,
    pub clock: Arc<dyn Clock>,
    /// Seals tenant shared secrets before they reach the store (KMS on AWS, a keyring file locally).
    pub secrets: SecretSealer,
}

#[derive(Clone)]
pub struct Stack {
    pub data: Data,
    pub config: Arc<AppConfig>,
    pub media: Arc<dyn MediaStore>,
    /// Every region's store and media store (the home one is `store`/`media`), for residency.
    pub regions: Regions,
}

impl Deref for Stack {
    type Target = Data;

    fn deref(&self) -> &Data {
        &self.data
    }
}
