//! Writes that DynamoDB refuses because another transaction is in flight on one of their items
//! (`TransactionConflict`): how a refusal is classified, and the adapter's bounded retry.
//!
//! Such a refusal wrote nothing and says nothing about the items' versions: it is contention, not
//! a lost race, so answering `write_conflict` would send the caller to re-read for no reason. The
//! residency fence makes it common: every tenant write also checks the tenant's freeze marker, so
//! two writes of *different* items of one tenant share an item. The adapter sends the same write
//! again, a new call with a new idempotency token (right: the refused one never committed), with
//! jittered exponential backoff. A failed condition is never retried here; its caller must re-read.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::kernel::error::{Error, Result};
use crate::ports::store::write_conflict;

/// Sends of one write, the first included, while transactions in flight refuse it; then it
/// answers `write_conflict`. Small on purpose: the pauses add up to at most
/// 35 ms (5 + 10 + 20), and contention that outlasts them is better left to the caller.
pub const ATTEMPTS: u32 = 4;

/// Pause before the second send; each later one doubles. A DynamoDB transaction holds its items
/// for a few milliseconds.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);

/// Why DynamoDB refused one send of a write.
#[derive(Debug)]
pub(super) enum Refusal {
    /// Only a transaction in flight was in the way; nothing was written.
    InFlight,
    /// Anything else, already translated to Canopy's error.
    Final(Error),
}

/// What the cancellation reason codes of a cancelled TransactWriteItems say.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Cancellation {
    /// A condition failed (a version, or the residency fence): a genuine conflict.
    ConditionFailed,
    /// Only transactions in flight on some items; no condition was found false.
    InFlight,
    Throttled,
    Other,
}

pub(super) fn classify(codes: &[&str]) -> Cancellation {
    // A failed condition wins over contention: sending again could not make it hold.
    if codes.contains(&"ConditionalCheckFailed") {
        Cancellation::ConditionFailed
    } else if codes.contains(&"TransactionConflict") {
        Cancellation::InFlight
    } else if codes.iter().any(|code| matches!(*code, "ThrottlingError" | "ProvisionedThroughputExceeded")) {
        Cancellation::Throttled
    } else {
        Cancellation::Other
    }
}

/// Calls `send` until it is not refused for a transaction in flight, at most [`ATTEMPTS`] times,
/// adding each send after the first to `retries`.
pub(super) async fn send_with_retries<F, Fut>(retries: &AtomicU64, mut send: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<(), Refusal>>,
{
    let mut attempt = 1;
    loop {
        match send().await {
            Ok(()) => return Ok(()),
            Err(Refusal::Final(err)) => return Err(err),
            Err(Refusal::InFlight) if attempt < ATTEMPTS => {
                tokio::time::sleep(backoff(attempt)).await;
                retries.fetch_add(1, Ordering::Relaxed);
                attempt += 1;
            }
            Err(Refusal::InFlight) => return Err(write_conflict()),
        }
    }
}

/// A random pause between half and all of `FIRST_BACKOFF * 2^(attempt - 1)`, so writers refused
/// together do not send again together.
fn backoff(attempt: u32) -> Duration {
    let ceiling = FIRST_BACKOFF * 2u32.pow(attempt.saturating_sub(1));
    let mut random = [0u8; 4];
    // Jitter only spreads writers apart: without randomness the pause is the ceiling.
    let fraction = match getrandom::getrandom(&mut random) {
        Ok(()) => f64::from(u32::from_le_bytes(random)) / f64::from(u32::MAX),
        Err(_) => 1.0,
    };
    ceiling.mul_f64(0.5 + fraction / 2.0)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;

    #[test]
    fn a_failed_condition_is_a_conflict_even_beside_contention() {
        assert_eq!(classify(&["None", "ConditionalCheckFailed"]), Cancellation::ConditionFailed);
        assert_eq!(classify(&["TransactionConflict", "ConditionalCheckFailed"]), Cancellation::ConditionFailed);
        assert_eq!(classify(&["ConditionalCheckFailed", "TransactionConflict"]), Cancellation::ConditionFailed);
    }

    #[test]
    fn contention_alone_is_in_flight() {
        assert_eq!(classify(&["None", "TransactionConflict"]), Cancellation::InFlight);
        assert_eq!(classify(&["TransactionConflict", "TransactionConflict"]), Cancellation::InFlight);
        assert_eq!(classify(&["TransactionConflict", "ThrottlingError"]), Cancellation::InFlight);
    }

    #[test]
    fn throttling_and_the_rest() {
        assert_eq!(classify(&["None", "ThrottlingError"]), Cancellation::Throttled);
        assert_eq!(classify(&["ProvisionedThroughputExceeded"]), Cancellation::Throttled);
        assert_eq!(classify(&["None", "ValidationError"]), Cancellation::Other);
        assert_eq!(classify(&[]), Cancellation::Other);
    }

    #[test]
    fn backoff_doubles_within_its_jitter() {
        for attempt in 1..ATTEMPTS {
            let ceiling = FIRST_BACKOFF * 2u32.pow(attempt - 1);
            for _ in 0..100 {
                let pause = backoff(attempt);
                assert!(pause >= ceiling / 2 && pause <= ceiling, "attempt {attempt}: {pause:?}");
            }
        }
    }

    /// Answers `InFlight` to the first `refusals` sends, then `last`.
    async fn run(refusals: u32, last: fn() -> std::result::Result<(), Refusal>) -> (Result<()>, u32, u64) {
        let (sends, retries) = (AtomicU32::new(0), AtomicU64::new(0));
        let result = send_with_retries(&retries, || {
            let n = sends.fetch_add(1, Ordering::SeqCst);
            async move { if n < refusals { Err(Refusal::InFlight) } else { last() } }
        })
        .await;
        (result, sends.load(Ordering::SeqCst), retries.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn contention_is_sent_again_until_it_passes() {
        let (result, sends, retries) = run(ATTEMPTS - 1, || Ok(())).await;
        assert!(result.is_ok());
        assert_eq!((sends, retries), (ATTEMPTS, u64::from(ATTEMPTS - 1)));
    }

    #[tokio::test]
    async fn contention_past_the_bound_is_a_write_conflict() {
        let (result, sends, retries) = run(u32::MAX, || Ok(())).await;
        assert!(matches!(result, Err(Error::WriteConflict)), "{result:?}");
        assert_eq!((sends, retries), (ATTEMPTS, u64::from(ATTEMPTS - 1)));
    }

    #[tokio::test]
    async fn a_final_refusal_is_never_sent_again() {
        let (result, sends, retries) = run(0, || Err(Refusal::Final(write_conflict()))).await;
        assert!(matches!(result, Err(Error::WriteConflict)), "{result:?}");
        assert_eq!((sends, retries), (1, 0));
        let (result, sends, retries) = run(1, || Err(Refusal::Final(Error::internal("boom")))).await;
        assert_eq!(result.expect_err("internal").code(), "internal");
        assert_eq!((sends, retries), (2, 1));
    }
}
