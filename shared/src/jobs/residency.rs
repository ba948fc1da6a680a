//! The residency worker's scheduled entry point: drives every migration in flight, one run at a
//! time across every instance (a lease in the store, `domain::lease`).

use super::schedule::ScheduledEvent;
use crate::domain::data::Stack;
use crate::domain::lease;
use crate::domain::residency::{any_in_flight, resume_all};
use crate::kernel::error::Result;

/// The worker's lease: it outlives the longest run (Lambda's 900 s timeout) by a minute, so a run
/// that crashed frees it by itself.
pub const LEASE: &str = "residency-worker";
pub const LEASE_SECS: i64 = 960;

/// The scheduled worker's handler (every minute): on Lambda a migration started by an HTTP request
/// is not driven after the response, so this drives every migration in flight to its next resting
/// point. A run that finds another run holding the lease does nothing.
///
/// Most minutes nothing is in flight: a run first looks at the due index and, finding nothing,
/// ends there (one read instead of taking and freeing the lease around that read). A migration
/// requested just after the look is driven by the next minute's run, as one requested just after
/// a full run would be; with something due, the run takes the lease and reads the index again
/// under it.
pub async fn on_schedule(state: &Stack, event: ScheduledEvent) -> Result<u64> {
    if !any_in_flight(state).await? {
        tracing::info!(scheduled_for = %event.time, driven = 0, "residency worker: nothing in flight");
        return Ok(0);
    }
    let Some(held) = lease::acquire(state, LEASE, LEASE_SECS).await? else {
        tracing::info!(scheduled_for = %event.time, "residency worker: another run holds the lease");
        return Ok(0);
    };
    let driven = resume_all(state).await;
    lease::release(state, held).await?;
    let driven = driven?;
    tracing::info!(scheduled_for = %event.time, driven, "residency worker");
    Ok(driven)
}
