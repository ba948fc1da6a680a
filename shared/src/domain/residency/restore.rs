//! Restoring one tenant from a point-in-time copy of the table (infra/README.md): DynamoDB
//! restores a whole table into a new one; this makes one tenant's partition in the live table
//! equal to that copy, with the residency engine's copy pass (`residency::copy::sync`).
//!
//! The install record, a migration in flight and a purge marker stay as they are live: the
//! tenant's current secret, state and region win over the restored ones. Media records come back
//! with their objects only while the bucket still holds them (noncurrent versions, 7 days).

use crate::domain::regions::Region;
use crate::kernel::error::Result;
use crate::kernel::tenant_key::TenantKey;

/// What a restore did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restored {
    /// Items of the tenant in the restored copy (the install record aside).
    pub items: u64,
    /// Live items written back (changed or deleted since).
    pub put: u64,
    /// Live items the restored copy does not have (created since), deleted.
    pub deleted: u64,
}

/// Makes `tenant`'s partition in `live` what it is in `restored`. Idempotent: a second run
/// changes nothing.
pub async fn restore_tenant(restored: &Region, live: &Region, tenant: &TenantKey, now: i64) -> Result<Restored> {
    let synced = super::copy::sync(restored, live, tenant, now).await?;
    tracing::info!(tenant = %tenant, items = synced.total, put = synced.put, deleted = synced.deleted, "tenant restored");
    Ok(Restored { items: synced.total, put: synced.put, deleted: synced.deleted })
}
