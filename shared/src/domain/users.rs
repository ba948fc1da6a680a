//! Logged-in users: the accountIds of the people who used Canopy in a tenant, and the little
//! Canopy keeps for them (`USER#<accountId>`: first and last seen, dismissed announcements).
//! Nothing else about a person is stored; their profile stays with Atlassian.
//!
//! These records are what the personal-data reporting job reports (`privacy`), and the first
//! record of a tenant enrols the tenant in it.

use serde::{Deserialize, Serialize};

use crate::domain::data::Data;
use crate::domain::privacy::state as privacy_state;
use crate::kernel::clock::rfc3339;
use crate::kernel::error::{Error, Result};
use crate::kernel::ids;
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Body, Condition, Item, Write, retry_conflicts};

/// `lastSeen` moves at most once an hour: a visit costs one read, and a write only hourly.
pub const LAST_SEEN_RESOLUTION_MILLIS: i64 = 3_600_000;
/// Dismissed announcements kept per user; past it the oldest are forgotten (their announcements
/// have usually ended; a forgotten one that is still active shows again).
pub const MAX_DISMISSED_ANNOUNCEMENTS: usize = 100;
/// Atlassian accountIds are `557058:<uuid>` or 24 hex digits; anything longer is not one.
pub const MAX_ACCOUNT_ID_LEN: usize = 128;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UserRecord {
    /// Unix milliseconds.
    pub first_seen: i64,
    pub last_seen: i64,
    #[serde(default)]
    pub dismissed_announcements: Vec<String>,
}

/// `GET /api/me`: the caller's record, all of it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeView {
    pub account_id: String,
    pub first_seen: String,
    pub last_seen: String,
    pub dismissed_announcements: Vec<String>,
}

impl MeView {
    fn new(account_id: &str, record: UserRecord) -> Self {
        Self {
            account_id: account_id.to_owned(),
            first_seen: rfc3339(record.first_seen),
            last_seen: rfc3339(record.last_seen),
            dismissed_announcements: record.dismissed_announcements,
        }
    }
}

/// Whether an accountId can be a key part: bounded, and only the characters Atlassian uses
/// (`#` separates key parts). A token whose `sub` fails this is treated as anonymous.
pub fn is_storable_account_id(account_id: &str) -> bool {
    !account_id.is_empty()
        && account_id.len() <= MAX_ACCOUNT_ID_LEN
        && account_id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_' | b'.'))
}

/// The caller's accountId if Canopy may store it; `None` for anonymous callers.
pub fn storable(account_id: Option<&str>) -> Option<&str> {
    account_id.filter(|a| is_storable_account_id(a))
}

fn decode(item: &Item) -> Result<UserRecord> {
    item.body.decode().map_err(|e| Error::internal(format!("user record: {e}")))
}

fn item(tenant: &TenantKey, account_id: &str, version: u64, record: &UserRecord, now_millis: i64) -> Result<Item> {
    Ok(Item {
        tenant: tenant.clone(),
        sk: keys::user(account_id),
        version,
        updated_at: now_millis,
        updated_by: None,
        due: None,
        expires_at: None,
        body: Body::of(&record)?,
    })
}

/// The writes that create a user's record (and enrol the tenant in reporting if it is not yet).
async fn creation_writes(
    ctx: &Data,
    tenant: &TenantKey,
    account_id: &str,
    record: &UserRecord,
    now_millis: i64,
) -> Result<Vec<Write>> {
    let mut writes =
        vec![Write::Put { item: item(tenant, account_id, 1, record, now_millis)?, condition: Condition::Absent }];
    writes.extend(privacy_state::enrolment(ctx, tenant, now_millis).await?);
    Ok(writes)
}

/// Records that `account_id` used Canopy now: creates the record on the first visit, moves
/// `lastSeen` when it is an hour old, and does nothing for anonymous callers. A concurrent visit
/// that wrote first is as good as ours.
pub async fn record_visit(ctx: &Data, tenant: &TenantKey, account_id: Option<&str>) -> Result<()> {
    let Some(account_id) = storable(account_id) else { return Ok(()) };
    visit(ctx, tenant, account_id).await.map(drop)
}

/// [`record_visit`] for a storable accountId, answering the record as this visit left it, or
/// `None` when a concurrent write or a region move's read-only seconds took the visit's place
/// (the record is then whatever that write made it).
async fn visit(ctx: &Data, tenant: &TenantKey, account_id: &str) -> Result<Option<UserRecord>> {
    let now = ctx.clock.now_millis();
    let written = retry_conflicts(|| async {
        let stored = ctx.store.get(tenant, &keys::user(account_id), ctx.clock.now_secs()).await?;
        let (writes, record) = match stored {
            None => {
                let record = UserRecord { first_seen: now, last_seen: now, dismissed_announcements: Vec::new() };
                (creation_writes(ctx, tenant, account_id, &record, now).await?, record)
            }
            Some(stored) => {
                let mut record = decode(&stored)?;
                if now - record.last_seen < LAST_SEEN_RESOLUTION_MILLIS {
                    return Ok(record);
                }
                record.last_seen = now;
                let updated = item(tenant, account_id, stored.version + 1, &record, now)?;
                (vec![Write::Put { item: updated, condition: Condition::Version(stored.version) }], record)
            }
        };
        ctx.store.transact(writes, ctx.clock.now_secs()).await?;
        Ok(record)
    })
    .await;
    match written {
        // A visit is recorded at most hourly anyway: one lost to a concurrent write or to a
        // region move's read-only seconds (`residency::fence`) is not worth failing a read.
        Err(Error::WriteConflict | Error::ReadOnly { .. }) => Ok(None),
        other => other.map(Some),
    }
}

fn anonymous() -> Error {
    Error::forbidden("anonymous_user", "Only a signed-in user has a record in Canopy.")
}

/// The caller's record (recording this visit first). The visit answers the record it read or
/// wrote, so only a visit that lost to another write costs a second read.
pub async fn me(ctx: &Data, tenant: &TenantKey, account_id: Option<&str>) -> Result<MeView> {
    let account_id = storable(account_id).ok_or_else(anonymous)?;
    let record = match visit(ctx, tenant, account_id).await? {
        Some(record) => record,
        None => {
            let stored = ctx
                .store
                .get(tenant, &keys::user(account_id), ctx.clock.now_secs())
                .await?
                .ok_or_else(|| Error::unavailable("store", "the user record just written is not readable"))?;
            decode(&stored)?
        }
    };
    Ok(MeView::new(account_id, record))
}

/// Adds an announcement to the caller's dismissed list (idempotent; the oldest entries go past
/// [`MAX_DISMISSED_ANNOUNCEMENTS`]). Announcement ids are ULIDs; whether the announcement exists
/// is not checked, since a dismissal of a deleted one is harmless and the list is bounded.
pub async fn dismiss_announcement(
    ctx: &Data,
    tenant: &TenantKey,
    account_id: Option<&str>,
    announcement_id: &str,
) -> Result<MeView> {
    let account_id = storable(account_id).ok_or_else(anonymous)?;
    if !ids::is_ulid(announcement_id) {
        return Err(Error::invalid("invalid_field", "announcementId must be an announcement's id."));
    }
    retry_conflicts(|| async {
        let now = ctx.clock.now_millis();
        let stored = ctx.store.get(tenant, &keys::user(account_id), ctx.clock.now_secs()).await?;
        let (mut record, version) = match &stored {
            Some(stored) => (decode(stored)?, Some(stored.version)),
            None => (UserRecord { first_seen: now, last_seen: now, dismissed_announcements: Vec::new() }, None),
        };
        if !record.dismissed_announcements.iter().any(|id| id == announcement_id) {
            record.dismissed_announcements.push(announcement_id.to_owned());
            let excess = record.dismissed_announcements.len().saturating_sub(MAX_DISMISSED_ANNOUNCEMENTS);
            record.dismissed_announcements.drain(..excess);
            let writes = match version {
                None => creation_writes(ctx, tenant, account_id, &record, now).await?,
                Some(v) => {
                    record.last_seen = now;
                    vec![Write::Put {
                        item: item(tenant, account_id, v + 1, &record, now)?,
                        condition: Condition::Version(v),
                    }]
                }
            };
            ctx.store.transact(writes, ctx.clock.now_secs()).await?;
        }
        Ok(MeView::new(account_id, record))
    })
    .await
}

/// Deletes the user record (the erasure of a closed account); `true` if there was one.
pub async fn delete(ctx: &Data, tenant: &TenantKey, account_id: &str) -> Result<bool> {
    retry_conflicts(|| async {
        let sk = keys::user(account_id);
        let Some(stored) = ctx.store.get(tenant, &sk, ctx.clock.now_secs()).await? else { return Ok(false) };
        let delete = Write::Delete { tenant: tenant.clone(), sk, condition: Condition::Version(stored.version) };
        ctx.store.transact(vec![delete], ctx.clock.now_secs()).await?;
        Ok(true)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storable_account_ids_are_bounded_and_key_safe() {
        assert!(is_storable_account_id("557058:f58131cb-b67d-43c7-b30d-6b58d40bd077"));
        assert!(is_storable_account_id("5b10ac8d82e05b22cc7d4ef5"));
        assert!(is_storable_account_id(&"a".repeat(MAX_ACCOUNT_ID_LEN)));
        assert!(!is_storable_account_id(&"a".repeat(MAX_ACCOUNT_ID_LEN + 1)));
        assert!(!is_storable_account_id(""));
        assert!(!is_storable_account_id("a#b"));
        assert!(!is_storable_account_id("a/b"));
        assert_eq!(storable(Some("a b")), None);
        assert_eq!(storable(None), None);
    }
}
