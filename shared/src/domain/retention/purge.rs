//! Purging a tenant's partition and media in this region, resumably, with a receipt.
//!
//! Start: a `PURGE` marker is written in the same transaction as a check that the install record
//! is still the uninstalled one that fell due, so a re-install that got there first wins (and an
//! install while the marker exists is refused until the purge ends). Then every media object
//! under the tenant's prefix (DeleteObjects, 1000 at a time), every item (BatchWriteItem, 25 at a
//! time), and last the receipt and the install record itself. Counts survive an interrupted run
//! on the marker.

use serde::{Deserialize, Serialize};

use super::{Budget, SweepReport};
use crate::domain::data::Stack;
use crate::domain::tenants::{self, TenantState};
use crate::kernel::clock::rfc3339;
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Body, Condition, Item, MAX_BATCH_DELETES, MAX_PAGE_SIZE, PageRequest, Write};

/// BatchWriteItem calls in flight at once during a purge.
pub const PARALLEL_BATCHES: usize = 8;

fn joined(next: Option<std::result::Result<Result<u64>, tokio::task::JoinError>>) -> Result<u64> {
    match next {
        Some(Ok(result)) => result,
        Some(Err(join)) => Err(Error::internal(format!("purge batch task: {join}"))),
        None => Ok(0),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Reason {
    /// 30 days after uninstall, or after the site stopped answering.
    Uninstalled,
    /// The tenant moved to another region and its rollback window here closed.
    MigratedAway,
    /// An operator deleted the tenant before its date, on the customer's request (`on_request.rs`).
    OnRequest,
}

#[derive(Debug, PartialEq)]
pub enum Outcome {
    Purged(Box<Receipt>),
    OutOfTime,
    Skipped,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Marker {
    started_at: i64,
    items: u64,
    objects: u64,
}

/// What stays after a purge, for audit: no key, no name, no personal data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// SHA-256 of the clientKey: lets an operator confirm a given tenant was purged without
    /// the receipt naming it.
    pub tenant_key_sha256: String,
    pub reason: Reason,
    pub region: String,
    pub started_at: String,
    pub purged_at: String,
    pub items_deleted: u64,
    pub objects_deleted: u64,
}

fn marker_item(tenant: &TenantKey, marker: &Marker, version: u64, now: i64) -> Result<Item> {
    Ok(Item {
        tenant: tenant.clone(),
        sk: keys::PURGE.into(),
        version,
        updated_at: now,
        updated_by: None,
        due: None,
        expires_at: None,
        body: Body::of(&marker)?,
    })
}

/// Starts (or resumes) the purge of a tenant's partition and media in this region.
pub async fn purge_tenant(
    state: &Stack,
    tenant: &TenantKey,
    reason: Reason,
    budget: &Budget,
    report: &mut SweepReport,
) -> Result<Outcome> {
    let now_secs = state.clock.now_secs();
    let Some(record_item) = state.store.get(tenant, keys::TENANT_RECORD, now_secs).await? else {
        return Ok(Outcome::Skipped);
    };
    let record: tenants::Tenant = record_item.body.decode().map_err(Error::internal)?;
    if reason == Reason::Uninstalled && record.state != TenantState::Uninstalled {
        return Ok(Outcome::Skipped);
    }
    let (mut marker, marker_version) = match state.store.get(tenant, keys::PURGE, now_secs).await? {
        Some(item) => (item.body.decode::<Marker>().map_err(Error::internal)?, item.version),
        None => {
            let marker = Marker { started_at: state.clock.now_millis(), ..Marker::default() };
            let start = vec![
                Write::Check {
                    tenant: tenant.clone(),
                    sk: keys::TENANT_RECORD.into(),
                    condition: Condition::Version(record_item.version),
                },
                Write::Put { item: marker_item(tenant, &marker, 1, marker.started_at)?, condition: Condition::Absent },
            ];
            match state.store.transact(start, now_secs).await {
                Ok(()) => (marker, 1),
                // A re-install (or another sweep) changed the record first: leave it to them.
                Err(Error::WriteConflict) => return Ok(Outcome::Skipped),
                Err(other) => return Err(other),
            }
        }
    };
    tracing::info!(tenant_hash = %&keys::tenant_hash(tenant)[..16], ?reason, "purging tenant");

    let objects = state.media.delete_prefix(&keys::media_prefix(tenant)).await?;
    marker.objects += objects;
    report.objects_deleted += objects;

    loop {
        if budget.exhausted() {
            save_progress(state, tenant, &marker, marker_version).await?;
            return Ok(Outcome::OutOfTime);
        }
        let page = state
            .store
            .query(tenant, "", PageRequest { limit: MAX_PAGE_SIZE, after: None }, state.clock.now_secs())
            .await?;
        let doomed: Vec<(TenantKey, String)> = page
            .items
            .iter()
            .filter(|item| item.sk != keys::TENANT_RECORD && item.sk != keys::PURGE)
            .map(|item| (tenant.clone(), item.sk.clone()))
            .collect();
        if doomed.is_empty() {
            break;
        }
        // Batches go out several at a time: each BatchWriteItem is a round trip, and the
        // purge of a large tenant is bound by their latency, not by the store's throughput.
        let mut in_flight = tokio::task::JoinSet::new();
        for batch in doomed.chunks(MAX_BATCH_DELETES).map(<[(TenantKey, String)]>::to_vec) {
            let store = state.store.clone();
            in_flight.spawn(async move {
                store.delete_batch(&batch).await?;
                Ok::<u64, Error>(batch.len() as u64)
            });
            if in_flight.len() >= PARALLEL_BATCHES {
                let done = joined(in_flight.join_next().await)?;
                marker.items += done;
                report.items_deleted += done;
            }
        }
        while let Some(next) = in_flight.join_next().await {
            let done = joined(Some(next))?;
            marker.items += done;
            report.items_deleted += done;
        }
    }

    let purged_at = state.clock.now_millis();
    let receipt = Receipt {
        tenant_key_sha256: keys::tenant_hash(tenant),
        reason,
        region: state.config.home_region.clone(),
        started_at: rfc3339(marker.started_at),
        purged_at: rfc3339(purged_at),
        items_deleted: marker.items + 2,
        objects_deleted: marker.objects,
    };
    let operator = keys::operator_tenant();
    let receipt_item = Item {
        tenant: operator,
        sk: keys::receipt(purged_at, tenant),
        version: 1,
        updated_at: purged_at,
        updated_by: None,
        due: None,
        expires_at: None,
        body: Body::of(&receipt)?,
    };
    let mut finish = vec![
        Write::Put { item: receipt_item, condition: Condition::Absent },
        Write::Delete { tenant: tenant.clone(), sk: keys::PURGE.into(), condition: Condition::Version(marker_version) },
        Write::Delete { tenant: tenant.clone(), sk: keys::TENANT_RECORD.into(), condition: Condition::None },
    ];
    // The site's cloudId must stop leading to a tenant that no longer exists.
    if let Some(cloud_id) = &record.cloud_id {
        finish.extend(crate::domain::tenants::cloud_index::release_writes(state, tenant, cloud_id).await?);
    }
    match state.store.transact(finish, state.clock.now_secs()).await {
        Ok(()) => {
            report.items_deleted += 2;
            tracing::info!(tenant_hash = %&receipt.tenant_key_sha256[..16], items = receipt.items_deleted, objects = receipt.objects_deleted, "tenant purged");
            Ok(Outcome::Purged(Box::new(receipt)))
        }
        // A concurrent sweep finished this tenant first.
        Err(Error::WriteConflict) => Ok(Outcome::Skipped),
        Err(other) => Err(other),
    }
}

async fn save_progress(state: &Stack, tenant: &TenantKey, marker: &Marker, version: u64) -> Result<()> {
    let item = marker_item(tenant, marker, version + 1, state.clock.now_millis())?;
    match state
        .store
        .transact(vec![Write::Put { item, condition: Condition::Version(version) }], state.clock.now_secs())
        .await
    {
        // Another sweep is on this tenant too; its counts win, ours are not lost work.
        Ok(()) | Err(Error::WriteConflict) => Ok(()),
        Err(other) => Err(other),
    }
}

/// Receipts, oldest first (operators).
pub async fn receipts(state: &Stack, limit: u32, after: Option<String>) -> Result<crate::ports::store::Page<Receipt>> {
    let page = state
        .store
        .query(&keys::operator_tenant(), keys::RECEIPT_PREFIX, PageRequest { limit, after }, state.clock.now_secs())
        .await?;
    let items =
        page.items.into_iter().map(|i| i.body.decode().map_err(Error::internal)).collect::<Result<Vec<Receipt>>>()?;
    Ok(crate::ports::store::Page { items, next: page.next })
}
