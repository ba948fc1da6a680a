//! Fixed-window rate limits with their counters in the item store, so that a limit holds across
//! every Lambda instance and server process sharing the table.
//!
//! Rule: for each window of a [`Limit`] (e.g. a minute and a UTC day) one counter item per caller
//! and window start, `RATE#<action>#<caller>#<secs>#<start>`, expiring when the window ends. A hit
//! is allowed while every window's count is below its maximum; it is charged by versioned puts of
//! every counter, returned as writes for the caller to commit in the same transaction as the work
//! it limits (so a refused or failed request is not counted and a counted one is never lost). Two
//! concurrent hits conflict on the counters' versions and the loser re-reads: the counts are exact.
//!
//! Fixed windows allow up to twice a window's maximum across a window boundary; that is the
//! accepted price of one item per window instead of a log of hits.

use serde::{Deserialize, Serialize};

use crate::domain::data::Data;
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Body, Condition, Item, Write};

/// At most `max` hits per `secs`-second window aligned on the unix epoch (a day window is a UTC day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub secs: i64,
    pub max: u64,
}

/// The windows of one limited action.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Names the counters (`feedback`); part of the key.
    pub action: &'static str,
    pub windows: &'static [Window],
}

/// Who a hit is counted against: one user, every anonymous caller of the tenant together, one
/// network source (the client IP), or every caller of the tenant together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller<'a> {
    User(&'a str),
    Anonymous,
    /// The client IP as API Gateway reports it (locally the socket peer); `None` when the host
    /// reports none, and then every such caller shares one counter. The key holds a hash of the
    /// address, never the address, and lives only as long as its window.
    Source(Option<&'a str>),
    Tenant,
}

impl Caller<'_> {
    fn key_part(&self) -> String {
        match self {
            Self::User(account_id) => format!("user#{account_id}"),
            Self::Anonymous => "anonymous".into(),
            Self::Source(Some(ip)) => {
                use sha2::{Digest, Sha256};
                format!("source#{}", &hex::encode(Sha256::digest(ip.as_bytes()))[..32])
            }
            Self::Source(None) => "source#unknown".into(),
            Self::Tenant => "tenant".into(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Counter {
    count: u64,
}

/// The writes that charge one hit to every window of `limit`, or [`Error::RateLimited`] with the
/// seconds until the first full window ends. Commit the writes in the transaction of the work;
/// run the whole read-charge-commit in `retry_conflicts` (see [`exhausted_on_conflict`]).
pub async fn charge(
    ctx: &Data,
    tenant: &TenantKey,
    limit: &Limit,
    caller: Caller<'_>,
    now_millis: i64,
) -> Result<Vec<Write>> {
    let now = now_millis.div_euclid(1000);
    let caller_key = caller.key_part();
    let mut writes = Vec::with_capacity(limit.windows.len());
    for window in limit.windows {
        let start = now - now.rem_euclid(window.secs);
        let end = start + window.secs;
        let sk = keys::rate_window(limit.action, &caller_key, window.secs, start);
        let stored = ctx.store.get(tenant, &sk, now).await?;
        let (count, condition) = match &stored {
            None => (0, Condition::Absent),
            Some(item) => {
                let counter: Counter =
                    item.body.decode().map_err(|e| Error::internal(format!("rate counter {sk}: {e}")))?;
                (counter.count, Condition::Version(item.version))
            }
        };
        if count >= window.max {
            return Err(Error::RateLimited { retry_after_secs: (end - now).max(1) as u64 });
        }
        let item = Item {
            tenant: tenant.clone(),
            sk,
            version: stored.map_or(1, |item| item.version + 1),
            updated_at: now_millis,
            updated_by: None,
            due: None,
            expires_at: Some(end),
            body: Body::of(&Counter { count: count + 1 })?,
        };
        writes.push(Write::Put { item, condition });
    }
    Ok(writes)
}

/// Charges one hit of `caller` and commits it on its own: for work that has no transaction to
/// carry the counters (exports, imports, scans). A refused hit is [`Error::RateLimited`] and
/// counts nothing.
pub async fn spend(ctx: &Data, tenant: &TenantKey, limit: &Limit, caller: Caller<'_>) -> Result<()> {
    crate::ports::store::retry_conflicts(|| async {
        let now = ctx.clock.now_millis();
        let writes = charge(ctx, tenant, limit, caller, now).await?;
        ctx.store.transact(writes, now.div_euclid(1000)).await
    })
    .await
    .map_err(exhausted_on_conflict)
}

/// A hit that still conflicts after every retry lost to a flood of concurrent hits on the same
/// counters: answer it as rate limited rather than as a version conflict the caller cannot fix.
pub fn exhausted_on_conflict(error: Error) -> Error {
    match error {
        Error::WriteConflict => Error::RateLimited { retry_after_secs: 1 },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_and_anonymous_callers_never_share_counters() {
        assert_eq!(Caller::User("557058:a").key_part(), "user#557058:a");
        assert_eq!(Caller::Anonymous.key_part(), "anonymous");
        assert_ne!(Caller::User("anonymous").key_part(), Caller::Anonymous.key_part());
        assert_ne!(Caller::User("tenant").key_part(), Caller::Tenant.key_part());
    }

    #[test]
    fn sources_are_counted_by_a_hash_of_the_address() {
        let key = Caller::Source(Some("198.51.100.77")).key_part();
        assert!(key.starts_with("source#") && !key.contains("198.51"), "{key}");
        assert_ne!(key, Caller::Source(Some("198.51.100.78")).key_part());
        assert_ne!(key, Caller::Source(None).key_part());
        assert_ne!(Caller::User("source#x").key_part(), Caller::Source(Some("x")).key_part());
    }

    #[test]
    fn only_exhausted_write_conflicts_become_rate_limits() {
        let conflict = Error::WriteConflict;
        assert!(matches!(exhausted_on_conflict(conflict), Error::RateLimited { retry_after_secs: 1 }));
        let other = Error::conflict("in_use", "x");
        assert!(matches!(exhausted_on_conflict(other), Error::Conflict { code: "in_use", .. }));
    }
}
