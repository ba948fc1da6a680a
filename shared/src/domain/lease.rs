//! Named leases in the operator partition: at most one holder at a time, across Lambda instances
//! and hosts, freed by its holder or by running out (a crashed holder never blocks for longer
//! than the lease's lifetime).
//!
//! The residency worker runs under one: two overlapping runs could each copy a tenant and the
//! older copy could overwrite the newer (`jobs::residency`). A lease in the store replaces the
//! reserved concurrency of 1 that new AWS accounts cannot grant.

use serde_json::json;

use super::data::Data;
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::ports::store::{Condition, Item, Write};

/// A lease this process holds until [`release`] or `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    sk: String,
    /// The version written: only the holder's release matches it.
    token: u64,
    pub expires_at: i64,
}

/// Takes the lease `name` for `ttl_secs`, or answers `None` while another holder's lease lives.
pub async fn acquire(ctx: &Data, name: &str, ttl_secs: i64) -> Result<Option<Lease>> {
    let now_millis = ctx.clock.now_millis();
    let now = now_millis.div_euclid(1000);
    let sk = keys::lease(name);
    let token = u64::try_from(now_millis).map_err(Error::internal)?.max(1);
    let expires_at = now + ttl_secs;
    let item = Item {
        tenant: keys::operator_tenant(),
        sk: sk.clone(),
        version: token,
        updated_at: now_millis,
        updated_by: None,
        due: None,
        expires_at: Some(expires_at),
        body: json!({ "until": expires_at }).into(),
    };
    // An expired lease counts as absent, so a crashed holder's lease is taken over here.
    match ctx.store.transact(vec![Write::Put { item, condition: Condition::Absent }], now).await {
        Ok(()) => Ok(Some(Lease { sk, token, expires_at })),
        Err(Error::WriteConflict) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Gives the lease back. A lease that ran out and was taken by another holder is left to it.
pub async fn release(ctx: &Data, lease: Lease) -> Result<()> {
    let write =
        Write::Delete { tenant: keys::operator_tenant(), sk: lease.sk, condition: Condition::Version(lease.token) };
    match ctx.store.transact(vec![write], ctx.clock.now_secs()).await {
        Ok(()) | Err(Error::WriteConflict) => Ok(()),
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::adapters::store::embedded::EmbeddedItemStore;
    use crate::kernel::clock::ManualClock;
    use crate::ports::secrets::SecretSealer;

    fn data(clock: Arc<ManualClock>) -> (Data, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(EmbeddedItemStore::open(&dir.path().join("canopy.redb")).expect("store"));
        let sealer = SecretSealer::new(Arc::new(crate::adapters::secrets::local::LocalKeyring::in_memory()));
        (Data { store, clock, secrets: sealer }, dir)
    }

    #[tokio::test]
    async fn one_holder_at_a_time_until_released_or_run_out() {
        let clock = Arc::new(ManualClock::at_millis(1_700_000_000_000));
        let (ctx, _dir) = data(clock.clone());
        let first = acquire(&ctx, "worker", 60).await.expect("acquire").expect("free");
        assert_eq!(acquire(&ctx, "worker", 60).await.expect("acquire"), None, "held");
        assert!(acquire(&ctx, "other", 60).await.expect("acquire").is_some(), "leases are by name");

        release(&ctx, first).await.expect("release");
        clock.advance_secs(1);
        let second = acquire(&ctx, "worker", 60).await.expect("acquire").expect("free after release");

        clock.advance_secs(61);
        let third = acquire(&ctx, "worker", 60).await.expect("acquire").expect("free after running out");
        // The late holder's release leaves the new holder's lease in place.
        release(&ctx, second).await.expect("late release");
        assert_eq!(acquire(&ctx, "worker", 60).await.expect("acquire"), None, "still held by the third");
        release(&ctx, third).await.expect("release");
    }
}
