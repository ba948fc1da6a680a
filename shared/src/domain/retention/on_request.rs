//! Deleting a tenant now, on the customer's request, instead of on its purge date.
//!
//! The same purge as the sweep's (`purge.rs`: media, items, then a receipt without key or
//! personal data), started by an operator for one tenant. Only data the app no longer serves can
//! go: a tenant uninstalled here, or a copy that a move to another region left here. A tenant
//! with the app still installed is refused, because deleting its install record would break the
//! app on the customer's site until a re-install; the customer uninstalls first.

use serde::Serialize;

use super::purge::{self, Outcome, Reason, Receipt};
use super::{Budget, SweepReport};
use crate::domain::data::Stack;
use crate::domain::tenants::{self, TenantState};
use crate::kernel::error::{Error, Result};
use crate::kernel::tenant_key::TenantKey;

/// What a request to delete a tenant now achieved.
#[derive(Debug, Serialize, PartialEq)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum Deletion {
    /// Everything of the tenant in this region is gone; the receipt is also under `/ops/receipts`.
    Deleted { receipt: Box<Receipt> },
    /// The time budget ran out: what was deleted stays deleted, and the same request (or the
    /// sweep on the purge date) carries on from there. Installs stay refused meanwhile.
    InProgress { items_deleted: u64, objects_deleted: u64 },
}

pub fn parse_client_key(client_key: &str) -> Result<TenantKey> {
    // The operator's request is authenticated by IAM (who may invoke the retention function), so
    // the key it names is vouched for like a stored one.
    TenantKey::from_verified(client_key).ok_or_else(|| {
        Error::invalid("invalid_client_key", "clientKey is empty, too long or has characters a clientKey never has.")
    })
}

/// Purges `tenant` in this region now, within `budget`.
pub async fn delete_now(state: &Stack, tenant: &TenantKey, budget: &Budget) -> Result<Deletion> {
    let Some((record, _)) = tenants::load_sealed(state, tenant).await? else {
        return Err(Error::not_found(
            "unknown_tenant",
            "No tenant with this clientKey is stored in this region: never installed, already purged (see /ops/receipts), or stored in the other region.",
        ));
    };
    let homed_here = record.region == state.config.home_region;
    if homed_here && record.state != TenantState::Uninstalled {
        return Err(Error::conflict(
            "tenant_installed",
            "The app is still installed on this tenant's site: the customer uninstalls it first (Atlassian then sends `uninstalled`), then the tenant can be deleted now.",
        ));
    }
    let mut report = SweepReport::default();
    match purge::purge_tenant(state, tenant, Reason::OnRequest, budget, &mut report).await? {
        Outcome::Purged(receipt) => Ok(Deletion::Deleted { receipt }),
        Outcome::OutOfTime => {
            Ok(Deletion::InProgress { items_deleted: report.items_deleted, objects_deleted: report.objects_deleted })
        }
        Outcome::Skipped => Err(Error::conflict(
            "tenant_changed",
            "The tenant changed while the deletion started (a re-install, or a sweep that finished it first): ask again to see where it stands.",
        )),
    }
}
