//! Store items built directly, for tests that write below the HTTP layer.

use canopy_shared::TenantKey;
use canopy_shared::ports::store::Item;
use serde_json::Value;

/// An item at `version` holding `body`, written at `now` (seconds) by no one, with no due date and
/// no expiry.
pub fn item(tenant: &TenantKey, sk: &str, version: u64, now: i64, body: Value) -> Item {
    Item {
        tenant: tenant.clone(),
        sk: sk.into(),
        version,
        updated_at: now * 1000,
        updated_by: None,
        due: None,
        expires_at: None,
        body: body.into(),
    }
}
