//! Writers of different items of one tenant at once, through the residency fence as production
//! wires it: every write also checks the tenant's freeze marker, so on DynamoDB they share an
//! item and some are refused for a transaction in flight (`TransactionConflict`). The adapter
//! sends those again; none reaches the caller as 409, while a stale version still answers 409 at
//! once. DynamoDB Local never refuses so (it runs each transaction under a table lock), so the
//! refusals come from a proxy in front of it (`support::contention`).

use std::sync::Arc;

use support::contention::Contention;

use canopy_shared::adapters::store::dynamo::{DynamoItemStore, IN_FLIGHT_ATTEMPTS as ATTEMPTS};
use canopy_shared::domain::residency::fence::FencedStore;
use canopy_shared::ports::store::{Condition, Item, ItemStore, Write};
use canopy_shared::{Error, TenantKey};
use serde_json::json;
use tokio::sync::Barrier;

const NOW: i64 = 1_800_000_000;
/// Writers at once, each on an item of its own.
const WRITERS: usize = 16;
/// Writes of each writer, all writers starting each one together: a create, then updates.
const ROUNDS: u64 = 6;

fn tenant() -> TenantKey {
    TenantKey::from_verified("contended-tenant").expect("key")
}

fn item(writer: usize, version: u64) -> Item {
    support::items::item(
        &tenant(),
        &format!("ITEM#{writer:02}"),
        version,
        NOW,
        json!({"writer": writer, "version": version}),
    )
}

/// The write of `writer`'s item at `version`, conditional on the version before it.
fn write(writer: usize, version: u64) -> Write {
    let condition = if version == 1 { Condition::Absent } else { Condition::Version(version - 1) };
    Write::Put { item: item(writer, version), condition }
}

/// The adapter (whose retries are counted) over the contention proxy, with no refusals yet.
async fn adapter() -> (DynamoItemStore, Arc<Contention>) {
    let (contention, endpoint) = support::contention::proxy(support::dynamo::endpoint()).await;
    (support::dynamo::fresh_dynamo_at(&endpoint).await, contention)
}

/// [`adapter`] and the fenced store over it.
async fn fenced() -> (DynamoItemStore, Arc<Contention>, Arc<dyn ItemStore>) {
    let (dynamo, contention) = adapter().await;
    (dynamo.clone(), contention, FencedStore::wrap(Arc::new(dynamo)))
}

fn is_conflict(result: &canopy_shared::Result<()>) -> bool {
    matches!(result, Err(Error::WriteConflict))
}

/// `WRITERS` writers, each writing its own item `ROUNDS` times, all starting each write together.
/// Answers the failures.
async fn write_together(store: &Arc<dyn ItemStore>) -> Vec<String> {
    let barrier = Arc::new(Barrier::new(WRITERS));
    let writers = (0..WRITERS).map(|writer| {
        let (store, barrier) = (store.clone(), barrier.clone());
        tokio::spawn(async move {
            let mut failures = Vec::new();
            for version in 1..=ROUNDS {
                barrier.wait().await;
                if let Err(err) = store.transact(vec![write(writer, version)], NOW).await {
                    failures.push(format!("writer {writer} version {version}: {err}"));
                }
            }
            failures
        })
    });
    let mut failures = Vec::new();
    for writer in writers.collect::<Vec<_>>() {
        failures.extend(writer.await.expect("writer"));
    }
    failures
}

async fn assert_all_stored(store: &dyn ItemStore) {
    for writer in 0..WRITERS {
        let stored = store.get(&tenant(), &format!("ITEM#{writer:02}"), NOW).await.expect("get").expect("stored");
        assert_eq!(stored, item(writer, ROUNDS), "writer {writer}'s item");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_of_different_items_of_one_tenant_all_succeed_through_the_fence() {
    const WRITES: u64 = WRITERS as u64 * ROUNDS;
    let (dynamo, contention, store) = fenced().await;

    // DynamoDB Local as it is: it serializes the transactions and refuses none.
    let failures = write_together(&store).await;
    assert!(failures.is_empty(), "{} of {WRITES} writes failed: {failures:?}", failures.len());
    assert_all_stored(store.as_ref()).await;
    let unrefused = dynamo.conflict_retries();

    // Every write refused twice for a transaction in flight, as DynamoDB may under contention.
    let (dynamo, contention_2, store) = fenced().await;
    contention_2.set(2);
    let failures = write_together(&store).await;
    assert!(failures.is_empty(), "{} of {WRITES} writes failed: {failures:?}", failures.len());
    assert_all_stored(store.as_ref()).await;
    eprintln!(
        "contention: {WRITERS} writers x {ROUNDS} rounds = {WRITES} fenced writes twice, all stored, no 409; \
         unrefused: {unrefused} retries ({} refusals); refused: {} refusals, {} retries",
        contention.injected(),
        contention_2.injected(),
        dynamo.conflict_retries()
    );
    assert_eq!(contention_2.injected(), 2 * WRITES);
    assert_eq!(dynamo.conflict_retries(), 2 * WRITES, "each refused send was sent again, no more");
}

#[tokio::test]
async fn contention_past_the_bound_answers_409_and_writes_nothing() {
    let (dynamo, contention) = adapter().await;
    let fenced = FencedStore::wrap(Arc::new(dynamo.clone()));
    contention.set(u64::MAX);
    assert!(is_conflict(&fenced.transact(vec![write(0, 1)], NOW).await), "a fenced put");
    let retries = dynamo.conflict_retries();
    assert!(is_conflict(&dynamo.transact(vec![write(0, 1)], NOW).await), "a single put");
    let sends_per_write = (dynamo.conflict_retries() - retries + 1, retries + 1);
    eprintln!("contention: always refused, a write gives up after {sends_per_write:?} sends");
    // The SDK does not retry these refusals itself: each send the adapter makes is one answer.
    assert_eq!(contention.injected(), 2 * u64::from(ATTEMPTS));
    assert_eq!(dynamo.conflict_retries(), 2 * u64::from(ATTEMPTS - 1));
    contention.set(0);
    assert!(fenced.get(&tenant(), "ITEM#00", NOW).await.expect("get").is_none());

    // A single put and a single delete refused once each go through.
    contention.set(1);
    let refused = contention.injected();
    dynamo.transact(vec![write(0, 1)], NOW).await.expect("put after one refusal");
    let delete = Write::Delete { tenant: tenant(), sk: "ITEM#00".into(), condition: Condition::Version(1) };
    dynamo.transact(vec![delete], NOW).await.expect("delete after one refusal");
    assert_eq!(contention.injected() - refused, 2);
    assert!(dynamo.get(&tenant(), "ITEM#00", NOW).await.expect("get").is_none(), "deleted");
}

#[tokio::test]
async fn a_stale_version_answers_409_at_once_without_a_retry() {
    let (dynamo, _, store) = fenced().await;
    store.transact(vec![write(0, 1)], NOW).await.expect("create");
    store.transact(vec![write(0, 2)], NOW).await.expect("update");

    // Stale: the item is at version 2. Alone, and in a transaction of several writes.
    assert!(is_conflict(&store.transact(vec![write(0, 2)], NOW).await), "a stale put");
    let two = vec![write(0, 2), write(1, 1)];
    assert!(is_conflict(&store.transact(two, NOW).await), "a stale put beside a create");
    let stale_delete = Write::Delete { tenant: tenant(), sk: "ITEM#00".into(), condition: Condition::Version(1) };
    assert!(is_conflict(&store.transact(vec![stale_delete], NOW).await), "a stale delete");
    assert_eq!(dynamo.conflict_retries(), 0, "a failed condition was sent again");

    let stored = store.get(&tenant(), "ITEM#00", NOW).await.expect("get").expect("stored");
    assert_eq!(stored, item(0, 2));
    assert!(store.get(&tenant(), "ITEM#01", NOW).await.expect("get").is_none(), "half a transaction landed");
}
