//! The `ItemStore` contract: every case runs unchanged against the embedded adapter and against
//! `DynamoItemStore` on DynamoDB Local (started by `scripts/test`).

use canopy_shared::adapters::store::embedded::EmbeddedItemStore;
use canopy_shared::ports::store::{
    Body, Condition, Due, DueEntry, Item, ItemStore, MAX_BODY_BYTES, MAX_TRANSACTION_WRITES, PageRequest, Write,
};
use canopy_shared::{Error, TenantKey};
use serde_json::json;
use support::world::{Opened, Store};

const NOW: i64 = 1_800_000_000;

/// A fresh store of the adapter under test, and what keeps it alive.
type Harness = Opened;

async fn world(store: Store) -> Harness {
    store.open().await
}

fn tenant(name: &str) -> TenantKey {
    TenantKey::from_verified(name).expect("valid tenant key")
}

fn item(t: &TenantKey, sk: &str, version: u64) -> Item {
    support::items::item(t, sk, version, NOW, json!({"sk": sk, "v": version}))
}

fn put(item: Item, condition: Condition) -> Write {
    Write::Put { item, condition }
}

async fn put_one(store: &dyn ItemStore, item: Item, condition: Condition) -> canopy_shared::Result<()> {
    store.transact(vec![put(item, condition)], NOW).await
}

fn is_conflict(result: canopy_shared::Result<()>) -> bool {
    matches!(result, Err(Error::WriteConflict))
}

fn page(limit: u32, after: Option<String>) -> PageRequest {
    PageRequest { limit, after }
}

async fn collect_query(store: &dyn ItemStore, t: &TenantKey, prefix: &str, limit: u32) -> Vec<String> {
    let mut seen = Vec::new();
    let mut after = None;
    for _ in 0..1000 {
        let result = store.query(t, prefix, page(limit, after), NOW).await.expect("query");
        assert!(result.items.len() <= limit as usize);
        seen.extend(result.items.into_iter().map(|i| i.sk));
        match result.next {
            Some(next) => after = Some(next),
            None => return seen,
        }
    }
    panic!("paging did not end");
}

mod scenarios {
    use super::*;

    pub async fn round_trip_keeps_every_field(h: Harness) {
        let t = tenant("t1");
        let mut full = item(&t, "SITE#a", 1);
        full.updated_by = Some("557058:abc".into());
        full.due = Some(Due { kind: "purge".into(), at: NOW + 10 });
        full.expires_at = Some(NOW + 100);
        full.body = json!({"name": "Ünïcode ✓", "nested": {"list": [1, 2.5, null, true, ""]}, "empty": {}}).into();
        put_one(h.store.as_ref(), full.clone(), Condition::Absent).await.expect("put");
        assert_eq!(h.store.get(&t, "SITE#a", NOW).await.expect("get"), Some(full));
        assert_eq!(h.store.get(&t, "SITE#b", NOW).await.expect("get"), None);
    }

    /// The store keeps a body as JSON text, so readers decode it once into their model: the text
    /// (key order, spacing, escapes) comes back byte for byte, and is what the item bound counts.
    pub async fn a_body_comes_back_as_the_text_written(h: Harness) {
        let t = tenant("t1");
        let text = r#"{"zeta": 1, "alpha": {"list": [3, 1.50, "\u00e9"]},"m":null}"#;
        let mut written = item(&t, "SITE#a", 1);
        written.body = Body::from_json(text.to_owned()).expect("json");
        put_one(h.store.as_ref(), written, Condition::Absent).await.expect("put");
        let read = h.store.get(&t, "SITE#a", NOW).await.expect("get").expect("exists");
        assert_eq!(read.body.json(), text);
        assert_eq!(read.body.len(), text.len());
        let page = h.store.query(&t, "SITE#", PageRequest { limit: 10, after: None }, NOW).await.expect("query");
        assert_eq!(page.items.iter().map(|i| i.body.json()).collect::<Vec<_>>(), [text]);
    }

    pub async fn tenants_never_see_each_other(h: Harness) {
        let (a, b) = (tenant("tenant-a"), tenant("tenant-b"));
        put_one(h.store.as_ref(), item(&a, "SITE#1", 1), Condition::Absent).await.expect("put a");
        assert_eq!(h.store.get(&b, "SITE#1", NOW).await.expect("get"), None);
        assert!(collect_query(h.store.as_ref(), &b, "SITE#", 10).await.is_empty());
        // The same sort key under another tenant is another item: Absent holds for b.
        put_one(h.store.as_ref(), item(&b, "SITE#1", 1), Condition::Absent).await.expect("put b");
        assert_eq!(h.store.get(&a, "SITE#1", NOW).await.expect("get").map(|i| i.tenant), Some(a));
    }

    pub async fn absent_condition_refuses_an_existing_item(h: Harness) {
        let t = tenant("t1");
        put_one(h.store.as_ref(), item(&t, "A", 1), Condition::Absent).await.expect("first put");
        let mut other = item(&t, "A", 1);
        other.body = json!({"changed": true}).into();
        assert!(is_conflict(put_one(h.store.as_ref(), other, Condition::Absent).await));
        assert_eq!(
            h.store.get(&t, "A", NOW).await.expect("get").expect("exists").body,
            json!({"sk": "A", "v": 1}).into()
        );
    }

    pub async fn version_condition_prevents_lost_updates(h: Harness) {
        let t = tenant("t1");
        assert!(is_conflict(put_one(h.store.as_ref(), item(&t, "A", 2), Condition::Version(1)).await), "missing item");
        put_one(h.store.as_ref(), item(&t, "A", 1), Condition::Absent).await.expect("create");
        put_one(h.store.as_ref(), item(&t, "A", 2), Condition::Version(1)).await.expect("update from v1");
        assert!(is_conflict(put_one(h.store.as_ref(), item(&t, "A", 2), Condition::Version(1)).await), "stale v1");
        assert_eq!(h.store.get(&t, "A", NOW).await.expect("get").expect("exists").version, 2);
        put_one(h.store.as_ref(), item(&t, "A", 7), Condition::None).await.expect("unconditional");
        assert_eq!(h.store.get(&t, "A", NOW).await.expect("get").expect("exists").version, 7);
    }

    pub async fn deletes_are_conditional_too(h: Harness) {
        let t = tenant("t1");
        put_one(h.store.as_ref(), item(&t, "A", 3), Condition::Absent).await.expect("create");
        let delete = |condition| Write::Delete { tenant: t.clone(), sk: "A".into(), condition };
        assert!(is_conflict(h.store.transact(vec![delete(Condition::Version(2))], NOW).await));
        assert!(h.store.get(&t, "A", NOW).await.expect("get").is_some());
        h.store.transact(vec![delete(Condition::Version(3))], NOW).await.expect("delete v3");
        assert!(h.store.get(&t, "A", NOW).await.expect("get").is_none());
        h.store.transact(vec![delete(Condition::None)], NOW).await.expect("deleting nothing is fine");
    }

    pub async fn transactions_apply_all_or_nothing(h: Harness) {
        let t = tenant("t1");
        put_one(h.store.as_ref(), item(&t, "B", 1), Condition::Absent).await.expect("seed");
        let writes = vec![
            put(item(&t, "A", 1), Condition::Absent),
            put(item(&t, "B", 2), Condition::Version(5)),
            put(item(&t, "C", 1), Condition::Absent),
        ];
        assert!(is_conflict(h.store.transact(writes, NOW).await));
        assert!(h.store.get(&t, "A", NOW).await.expect("get").is_none(), "A must not be written");
        assert!(h.store.get(&t, "C", NOW).await.expect("get").is_none(), "C must not be written");
        assert_eq!(h.store.get(&t, "B", NOW).await.expect("get").expect("B").version, 1);

        let other = tenant("t2");
        let writes = vec![
            put(item(&t, "A", 1), Condition::Absent),
            put(item(&t, "B", 2), Condition::Version(1)),
            Write::Delete { tenant: t.clone(), sk: "C".into(), condition: Condition::None },
            put(item(&other, "A", 1), Condition::Absent),
        ];
        h.store.transact(writes, NOW).await.expect("all conditions hold");
        assert_eq!(h.store.get(&t, "B", NOW).await.expect("get").expect("B").version, 2);
        assert!(h.store.get(&other, "A", NOW).await.expect("get").is_some());
    }

    pub async fn condition_checks_guard_a_transaction_without_writing(h: Harness) {
        let t = tenant("t1");
        put_one(h.store.as_ref(), item(&t, "SITE#1", 4), Condition::Absent).await.expect("seed");
        let check = |condition| Write::Check { tenant: t.clone(), sk: "SITE#1".into(), condition };
        let stale = vec![check(Condition::Version(3)), put(item(&t, "SNAP", 1), Condition::None)];
        assert!(is_conflict(h.store.transact(stale, NOW).await));
        assert!(h.store.get(&t, "SNAP", NOW).await.expect("get").is_none());
        let current = vec![check(Condition::Version(4)), put(item(&t, "SNAP", 1), Condition::None)];
        h.store.transact(current, NOW).await.expect("check holds");
        assert!(h.store.get(&t, "SNAP", NOW).await.expect("get").is_some());
        let absent = vec![
            Write::Check { tenant: t.clone(), sk: "NONE".into(), condition: Condition::Absent },
            put(item(&t, "X", 1), Condition::None),
        ];
        h.store.transact(absent, NOW).await.expect("absence check holds");
        assert_eq!(
            h.store.get(&t, "SITE#1", NOW).await.expect("get").expect("unchanged").version,
            4,
            "a check writes nothing"
        );
        assert!(h.store.get(&t, "NONE", NOW).await.expect("get").is_none());
    }

    pub async fn batch_deletes_remove_items_and_their_due_entries(h: Harness) {
        let (a, b) = (tenant("tenant-a"), tenant("tenant-b"));
        let mut writes: Vec<Write> = (0..30).map(|i| put(item(&a, &format!("I#{i:02}"), 1), Condition::None)).collect();
        let mut due_item = item(&a, "TENANT", 1);
        due_item.due = Some(Due { kind: "purge".into(), at: NOW - 1 });
        writes.push(put(due_item, Condition::None));
        writes.push(put(item(&b, "I#00", 1), Condition::None));
        h.store.transact(writes, NOW).await.expect("seed");
        let batch: Vec<(TenantKey, String)> =
            (0..24).map(|i| (a.clone(), format!("I#{i:02}"))).chain([(a.clone(), "TENANT".to_owned())]).collect();
        h.store.delete_batch(&batch).await.expect("batch of 25");
        assert_eq!(collect_query(h.store.as_ref(), &a, "I#", 100).await.len(), 6);
        assert!(
            h.store.due("purge", NOW, page(10, None)).await.expect("due").items.is_empty(),
            "due entry gone with its item"
        );
        h.store.delete_batch(&batch).await.expect("deleting deleted items is fine");
        let too_many: Vec<(TenantKey, String)> = (0..26).map(|i| (a.clone(), format!("X#{i}"))).collect();
        assert!(h.store.delete_batch(&too_many).await.is_err());
        assert!(h.store.get(&b, "I#00", NOW).await.expect("get").is_some(), "other tenants untouched");
    }

    pub async fn transaction_bounds_are_enforced(h: Harness) {
        let t = tenant("t1");
        let too_many: Vec<Write> =
            (0..=MAX_TRANSACTION_WRITES).map(|i| put(item(&t, &format!("I#{i:03}"), 1), Condition::None)).collect();
        assert!(h.store.transact(too_many, NOW).await.is_err());
        let exactly_max: Vec<Write> =
            (0..MAX_TRANSACTION_WRITES).map(|i| put(item(&t, &format!("M#{i:03}"), 1), Condition::None)).collect();
        h.store.transact(exactly_max, NOW).await.expect("the maximum is allowed");
        let twice = vec![put(item(&t, "D", 1), Condition::None), put(item(&t, "D", 2), Condition::None)];
        assert!(h.store.transact(twice, NOW).await.is_err());
        assert!(h.store.get(&t, "D", NOW).await.expect("get").is_none());
        assert!(collect_query(h.store.as_ref(), &t, "I#", 1000).await.is_empty());
        assert_eq!(collect_query(h.store.as_ref(), &t, "M#", 1000).await.len(), MAX_TRANSACTION_WRITES);
        assert!(h.store.transact(Vec::new(), NOW).await.is_err());
    }

    pub async fn oversize_items_are_refused_whole(h: Harness) {
        let t = tenant("t1");
        let mut big = item(&t, "BIG", 1);
        big.body = json!({"text": "x".repeat(MAX_BODY_BYTES)}).into();
        let writes = vec![put(item(&t, "SMALL", 1), Condition::None), put(big, Condition::None)];
        assert!(matches!(h.store.transact(writes, NOW).await, Err(Error::PayloadTooLarge { .. })));
        assert!(h.store.get(&t, "SMALL", NOW).await.expect("get").is_none());
        let mut fits = item(&t, "FITS", 1);
        fits.body = json!({"text": "x".repeat(MAX_BODY_BYTES - 20)}).into();
        put_one(h.store.as_ref(), fits, Condition::None).await.expect("just under the bound");
    }

    pub async fn prefix_queries_page_in_order(h: Harness) {
        let t = tenant("t1");
        let other = tenant("t2");
        let mut writes: Vec<Write> =
            (0..25).map(|i| put(item(&t, &format!("SITE#s1#ANN#{i:02}"), 1), Condition::None)).collect();
        writes.push(put(item(&t, "SITE#s1", 1), Condition::None));
        writes.push(put(item(&t, "SITE#s2#ANN#00", 1), Condition::None));
        writes.push(put(item(&t, "SITE#s1$", 1), Condition::None));
        writes.push(put(item(&other, "SITE#s1#ANN#99", 1), Condition::None));
        h.store.transact(writes, NOW).await.expect("seed");
        let expected: Vec<String> = (0..25).map(|i| format!("SITE#s1#ANN#{i:02}")).collect();
        for limit in [1, 7, 24, 25, 26, 1000] {
            assert_eq!(collect_query(h.store.as_ref(), &t, "SITE#s1#ANN#", limit).await, expected, "limit {limit}");
        }
        let first = h.store.query(&t, "SITE#s1#ANN#", page(25, None), NOW).await.expect("query");
        assert_eq!(first.items.len(), 25);
        assert_eq!(first.next, None, "an exactly full last page has no next");
        assert_eq!(collect_query(h.store.as_ref(), &t, "SITE#s1", 1000).await.len(), 27);
        assert!(collect_query(h.store.as_ref(), &t, "NOPE#", 5).await.is_empty());
    }

    pub async fn bad_pages_are_refused(h: Harness) {
        let t = tenant("t1");
        assert!(h.store.query(&t, "SITE#", page(0, None), NOW).await.is_err());
        assert!(h.store.query(&t, "SITE#", page(1001, None), NOW).await.is_err());
        let foreign_cursor = Some("LAYOUT#x".to_owned());
        assert!(matches!(
            h.store.query(&t, "SITE#", page(10, foreign_cursor), NOW).await,
            Err(Error::BadRequest { code: "bad_cursor", .. })
        ));
        assert!(h.store.due("purge", NOW, page(10, Some("garbage".into()))).await.is_err());
        let t2 = tenant("t2");
        let future_cursor = canopy_shared::kernel::keys::due_sort_key(NOW + 1000, &t2, "TENANT");
        let beyond = h.store.due("purge", NOW, page(10, Some(future_cursor))).await.expect("cursor past now");
        assert!(beyond.items.is_empty() && beyond.next.is_none());
    }

    pub async fn expired_items_are_gone_for_readers(h: Harness) {
        let t = tenant("t1");
        let mut expired = item(&t, "RL#1", 1);
        expired.expires_at = Some(NOW);
        let mut live = item(&t, "RL#2", 1);
        live.expires_at = Some(NOW + 1);
        h.store.transact(vec![put(expired, Condition::None), put(live, Condition::None)], NOW).await.expect("seed");
        assert!(h.store.get(&t, "RL#1", NOW).await.expect("get").is_none());
        assert!(h.store.get(&t, "RL#2", NOW).await.expect("get").is_some());
        assert_eq!(collect_query(h.store.as_ref(), &t, "RL#", 1).await, vec!["RL#2".to_owned()]);
        assert!(is_conflict(put_one(h.store.as_ref(), item(&t, "RL#1", 2), Condition::Version(1)).await));
        put_one(h.store.as_ref(), item(&t, "RL#1", 1), Condition::Absent).await.expect("expired counts as absent");
        assert!(h.store.get(&t, "RL#1", NOW).await.expect("get").is_some());
    }

    pub async fn due_index_lists_what_fell_due_across_tenants(h: Harness) {
        let (a, b) = (tenant("tenant-a"), tenant("tenant-b"));
        let due = |t: &TenantKey, sk: &str, kind: &str, at: i64| {
            let mut i = item(t, sk, 1);
            i.due = Some(Due { kind: kind.into(), at });
            put(i, Condition::None)
        };
        let writes = vec![
            due(&a, "TENANT", "purge", NOW - 50),
            due(&b, "TENANT", "purge", NOW - 100),
            due(&b, "MEDIA#1", "purge", NOW),
            due(&a, "MEDIA#2", "purge", NOW + 1),
            due(&a, "MEDIA#3", "pending", NOW - 1),
            put(item(&a, "SITE#1", 1), Condition::None),
        ];
        h.store.transact(writes, NOW).await.expect("seed");
        let entry = |t: &TenantKey, sk: &str, at: i64| DueEntry { tenant: t.clone(), sk: sk.into(), at };
        let expected = vec![entry(&b, "TENANT", NOW - 100), entry(&a, "TENANT", NOW - 50), entry(&b, "MEDIA#1", NOW)];
        for limit in [1, 2, 3, 10] {
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let result = h.store.due("purge", NOW, page(limit, after)).await.expect("due");
                seen.extend(result.items);
                match result.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            assert_eq!(seen, expected, "limit {limit}");
        }
        let pending = h.store.due("pending", NOW, page(10, None)).await.expect("due");
        assert_eq!(pending.items, vec![entry(&a, "MEDIA#3", NOW - 1)]);

        // Re-writing without `due` takes an item off the index; deleting does too.
        h.store.transact(vec![put(item(&b, "TENANT", 2), Condition::Version(1))], NOW).await.expect("undue");
        let delete = Write::Delete { tenant: a.clone(), sk: "TENANT".into(), condition: Condition::None };
        h.store.transact(vec![delete], NOW).await.expect("delete");
        let left = h.store.due("purge", NOW + 10, page(10, None)).await.expect("due");
        assert_eq!(left.items, vec![entry(&b, "MEDIA#1", NOW), entry(&a, "MEDIA#2", NOW + 1)]);
    }
}

support::scenarios!(stores: [
    round_trip_keeps_every_field,
    a_body_comes_back_as_the_text_written,
    tenants_never_see_each_other,
    absent_condition_refuses_an_existing_item,
    version_condition_prevents_lost_updates,
    deletes_are_conditional_too,
    transactions_apply_all_or_nothing,
    transaction_bounds_are_enforced,
    condition_checks_guard_a_transaction_without_writing,
    batch_deletes_remove_items_and_their_due_entries,
    oversize_items_are_refused_whole,
    prefix_queries_page_in_order,
    bad_pages_are_refused,
    expired_items_are_gone_for_readers,
    due_index_lists_what_fell_due_across_tenants,
]);

#[tokio::test]
async fn embedded_store_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("canopy.redb");
    let t = tenant("t1");
    {
        let store = EmbeddedItemStore::open(&path).expect("open");
        put_one(&store, item(&t, "A", 1), Condition::Absent).await.expect("put");
    }
    let reopened = EmbeddedItemStore::open(&path).expect("reopen");
    assert_eq!(reopened.get(&t, "A", NOW).await.expect("get"), Some(item(&t, "A", 1)));
}
