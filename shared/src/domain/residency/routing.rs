//! Which region answers for a tenant: the region of a new install, the live stack of a tenant
//! that moved, the stack acting in another region, uploads sent to the region left, the view.

use crate::domain::connect::jwt::{Audience, ConnectClaims};
use crate::domain::data::{Data, Stack};
use crate::domain::regions::{Region, install_region};
use crate::domain::tenants::Tenant;
use crate::kernel::clock::rfc3339;
use crate::kernel::error::{Error, Result};
use crate::kernel::tenant_key::TenantKey;
use crate::ports::media::{ObjectInfo, ObjectKey};

use super::model::{Phase, ResidencyView, load_in, load_tenant_in};

/// The region a new install is homed in (see `regions::install_region`). A stack only stores the
/// tenants it is home for: an install that names another region here is homed here (and logged),
/// since its data is here.
pub fn region_of_install(state: &Stack, claims: &ConnectClaims) -> String {
    let audiences: Vec<&str> = match &claims.aud {
        Some(Audience::One(a)) => vec![a.as_str()],
        Some(Audience::Many(list)) => list.iter().map(String::as_str).collect(),
        None => Vec::new(),
    };
    let config = &state.config;
    let region = install_region(&config.regions, &config.region_base_urls, &audiences, &config.base_url);
    if region != config.home_region {
        tracing::warn!(%region, home = %config.home_region, "an install for another region reached this stack; homed here");
        return config.home_region.clone();
    }
    region
}

pub(super) fn home(state: &Stack) -> Result<&Region> {
    state.regions.get(state.regions.home()).ok_or_else(|| Error::internal("the home region has no adapters"))
}

/// This stack acting on `region`'s table and bucket (every stack reaches every region): for
/// lifecycle events Atlassian sends to the region a tenant left, and for the local two-region
/// server.
pub fn acting_in(state: &Stack, region: &str) -> Result<Stack> {
    let target = state.regions.require(region)?.clone();
    let mut config = (*state.config).clone();
    config.home_region = region.to_owned();
    Ok(Stack {
        data: Data { store: target.store, ..state.data.clone() },
        config: std::sync::Arc::new(config),
        media: target.media,
        regions: state.regions.rehomed(region)?,
    })
}

/// The state whose store holds the tenant's live data: this one, or, for a tenant that moved
/// away (its record here names another region), that region's. Atlassian keeps sending lifecycle
/// events to the base URL it installed through; they must change the live record, not the copy
/// left behind for the rollback window.
pub async fn home_state(state: &Stack, tenant: &TenantKey) -> Result<Stack> {
    home_of(state, tenant).await.map(|home| home.stack)
}

/// Where a lifecycle event for a tenant is acted on ([`home_state`]), with what was read to
/// decide it.
pub struct Home {
    pub stack: Stack,
    /// The tenant's install record as `stack` stores it (its secret sealed) and its version, when
    /// `stack` is this one (`Some(None)`: no record): a caller about to read the record can start
    /// from this copy, since a write conditional on its version refuses it once changed.
    pub record_here: Option<Option<(Tenant, u64)>>,
}

/// [`home_state`], keeping the record it read.
pub async fn home_of(state: &Stack, tenant: &TenantKey) -> Result<Home> {
    let now = state.clock.now_secs();
    match load_tenant_in(home(state)?, tenant, now).await? {
        Some((record, _)) if record.region != state.regions.home() && state.regions.get(&record.region).is_some() => {
            tracing::info!(tenant = %tenant, region = %record.region, "lifecycle event for a tenant homed elsewhere");
            Ok(Home { stack: acting_in(state, &record.region)?, record_here: None })
        }
        stored => {
            Ok(Home { stack: state.clone(), record_here: Some(stored.map(|(record, item)| (record, item.version))) })
        }
    }
}

/// An upload URL issued before the tenant moved here points at the bucket it left (URLs live 5
/// minutes; the pending record moved with the data). While the source is kept (the rollback
/// window), `complete` finds the object there and copies it over; answers what is now stored
/// here, or `None` when nothing was uploaded anywhere.
pub async fn fetch_moved_upload(state: &Stack, tenant: &TenantKey, key: &ObjectKey) -> Result<Option<ObjectInfo>> {
    let now = state.clock.now_secs();
    let Some((m, _)) = load_in(home(state)?, tenant, now).await? else { return Ok(None) };
    let moved_here = m.phase == Phase::Switched && m.to == state.regions.home();
    if !moved_here || m.rollback_until_secs.is_none_or(|until| now >= until) {
        return Ok(None);
    }
    let from = state.regions.require(&m.from)?;
    let Some((bytes, content_type)) = from.media.get_object(key).await? else { return Ok(None) };
    let here = home(state)?;
    here.media.put_object(key, bytes, content_type.as_deref()).await?;
    tracing::info!(tenant = %tenant, from = %m.from, "an upload sent to the region the tenant left was copied over");
    here.media.head(key).await
}

/// `GET /api/residency`: where the tenant lives, the last migration, and the rollback window.
pub async fn view(state: &Stack, tenant: &TenantKey) -> Result<ResidencyView> {
    let now = state.clock.now_secs();
    let migration = load_in(home(state)?, tenant, now).await?.map(|(m, _)| m);
    let rollback_until = migration
        .as_ref()
        .filter(|m| m.phase == Phase::Switched && m.to == state.regions.home())
        .and_then(|m| m.rollback_until_secs)
        .filter(|until| *until > now)
        .map(|until| rfc3339(until * 1000));
    Ok(ResidencyView {
        region: state.regions.home().to_owned(),
        regions: state.regions.names(),
        migration,
        rollback_until,
    })
}
