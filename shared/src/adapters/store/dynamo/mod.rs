//! `DynamoItemStore`: the production [`ItemStore`] adapter over one DynamoDB table per region.
//!
//! # Table
//!
//! Key `pk` (S, HASH) + `sk` (S, RANGE), billed PAY_PER_REQUEST, TTL on `ttl`, and one sparse
//! global secondary index `due` on `duePk` (S, HASH) + `dueSk` (S, RANGE), projection KEYS_ONLY.
//! [`DynamoItemStore::create_table`] builds exactly this (template.yaml declares the same table).
//!
//! # Attributes of an item
//!
//! | attribute   | type | content                                                                 |
//! |-------------|------|-------------------------------------------------------------------------|
//! | `pk`        | S    | [`keys::partition_key`] of the tenant                                    |
//! | `sk`        | S    | the item's sort key                                                      |
//! | `v`         | N    | version (`Item::version`)                                                |
//! | `updatedAt` | N    | unix milliseconds of the last write                                      |
//! | `updatedBy` | S    | accountId of the last writer; absent when `None`                         |
//! | `body`      | S    | the JSON body serialized as a string                                     |
//! | `duePk`     | S    | [`keys::due_partition`] of the due kind; only when `due` is set          |
//! | `dueSk`     | S    | [`keys::due_sort_key`]; only when `due` is set (this makes the GSI sparse) |
//! | `ttl`       | N    | unix seconds (`expires_at`), the table's TTL attribute; only when set    |
//!
//! The body is a JSON string rather than a DynamoDB map on purpose: it is portable across
//! adapters (the embedded store keeps JSON too, so export and migration copy it as is),
//! round-trips every JSON value exactly, and sidesteps DynamoDB's quirks (no empty sets,
//! 38-digit decimal numbers, empty maps and nested type descriptors).
//!
//! # Semantics
//!
//! - DynamoDB deletes expired items late (DynamoDB Local never does): every read filters items
//!   whose `ttl <= now`, and write conditions treat them as absent.
//! - A failed condition is [`write_conflict`] at once; throttling, 5xx answers, timeouts and
//!   connection failures are [`Error::unavailable`]; anything else is [`Error::internal`].
//! - A write refused only because another transaction is in flight on one of its items
//!   (`TransactionConflict`, e.g. two writes of one tenant meeting on the residency fence's
//!   marker) wrote nothing: the adapter sends it again, at most [`IN_FLIGHT_ATTEMPTS`] times in
//!   all with jittered backoff, and answers [`write_conflict`] only if the contention outlasts that.
//! - `transact` sends one write as PutItem/DeleteItem and several as TransactWriteItems (whose
//!   idempotency token the SDK fills in, so its own retries cannot apply a transaction twice).
//! - Page cursors are sort keys (`sk` for [`ItemStore::query`], `dueSk` for [`ItemStore::due`]),
//!   never DynamoDB's `LastEvaluatedKey`; `next` is set only when another entry follows, found by
//!   reading one entry ahead.
//! - The `due` index is KEYS_ONLY, so [`ItemStore::due`] cannot see `ttl`: an expired item still
//!   on the index is listed until DynamoDB deletes it; callers `get` the item before acting.

mod codec;
mod conditions;
mod errors;
mod in_flight;
mod table;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, DeleteRequest, Put, TransactWriteItem, WriteRequest,
};

use crate::adapters::aws::LazyClient;
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{
    Condition, DueEntry, Item, ItemStore, MAX_SORT_KEY_BYTES, Page, PageRequest, Write, check_batch, check_page,
    check_sort_key, check_writes, is_live, write_conflict,
};
use codec::{DUE_PK, DUE_SK, PK, SK, TTL, decode, encode, item_key, item_key_from, number, required_string};
use conditions::Conditional;
use errors::{sdk_error, transact_error};
pub use in_flight::ATTEMPTS as IN_FLIGHT_ATTEMPTS;
use in_flight::Refusal;
use table::DUE_INDEX;

#[derive(Debug, Clone)]
pub struct DynamoItemStore {
    client: LazyClient<Client>,
    table: String,
    conflict_retries: Arc<AtomicU64>,
}

impl DynamoItemStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self::over(LazyClient::ready(client), table)
    }

    /// A store whose client is built at its first call ([`LazyClient`]): the Lambda functions'.
    pub fn lazy(sdk: &aws_config::SdkConfig, endpoint: Option<&str>, table: impl Into<String>) -> Self {
        let (sdk, endpoint) = (sdk.clone(), endpoint.map(str::to_owned));
        Self::over(LazyClient::new(move || Self::client(&sdk, endpoint.as_deref())), table)
    }

    fn over(client: LazyClient<Client>, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), conflict_retries: Arc::default() }
    }

    /// Sends repeated because a transaction in flight refused a write (see the module docs),
    /// counted over this store and its clones.
    pub fn conflict_retries(&self) -> u64 {
        self.conflict_retries.load(Ordering::Relaxed)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The one HTTPS client (hyper 1 + rustls with ring) every AWS SDK client of Canopy uses; it
    /// also speaks plain HTTP to local emulators.
    pub fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
        crate::adapters::aws::https_client()
    }

    /// A client from the process's shared SDK config, optionally pointed at another endpoint
    /// (DynamoDB Local).
    pub fn client(sdk: &aws_config::SdkConfig, endpoint: Option<&str>) -> Client {
        let mut builder = aws_sdk_dynamodb::config::Builder::from(sdk);
        if let Some(endpoint) = endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        Client::from_conf(builder.build())
    }

    async fn put_one(&self, item: &Item, condition: Condition, now: i64) -> Result<()> {
        let request =
            self.client.put_item().table_name(&self.table).set_item(Some(encode(item)?)).condition(condition, now);
        in_flight::send_with_retries(&self.conflict_retries, || async {
            request.clone().send().await.map(drop).map_err(|err| match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => Refusal::Final(write_conflict()),
                // Another request was changing the item (in this region or another); nothing written.
                Some(
                    PutItemError::TransactionConflictException(_) | PutItemError::ReplicatedWriteConflictException(_),
                ) => Refusal::InFlight,
                _ => Refusal::Final(sdk_error("PutItem", err)),
            })
        })
        .await
    }

    async fn delete_one(&self, tenant: &TenantKey, sk: &str, condition: Condition, now: i64) -> Result<()> {
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(item_key(tenant, sk)))
            .condition(condition, now);
        in_flight::send_with_retries(&self.conflict_retries, || async {
            request.clone().send().await.map(drop).map_err(|err| match err.as_service_error() {
                Some(DeleteItemError::ConditionalCheckFailedException(_)) => Refusal::Final(write_conflict()),
                Some(
                    DeleteItemError::TransactionConflictException(_)
                    | DeleteItemError::ReplicatedWriteConflictException(_),
                ) => Refusal::InFlight,
                _ => Refusal::Final(sdk_error("DeleteItem", err)),
            })
        })
        .await
    }

    async fn transact_many(&self, writes: &[Write], now: i64) -> Result<()> {
        let mut items = Vec::with_capacity(writes.len());
        for write in writes {
            let transact_item = match write {
                Write::Put { item, condition } => {
                    let put = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(encode(item)?))
                        .condition(*condition, now)
                        .build()
                        .map_err(Error::internal)?;
                    TransactWriteItem::builder().put(put).build()
                }
                Write::Delete { tenant, sk, condition } => {
                    let delete = Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(item_key(tenant, sk)))
                        .condition(*condition, now)
                        .build()
                        .map_err(Error::internal)?;
                    TransactWriteItem::builder().delete(delete).build()
                }
                Write::Check { tenant, sk, condition } => {
                    let check = ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(item_key(tenant, sk)))
                        .condition(*condition, now)
                        .build()
                        .map_err(Error::internal)?;
                    TransactWriteItem::builder().condition_check(check).build()
                }
            };
            items.push(transact_item);
        }
        // Each send is a new call, so the SDK gives it a new idempotency token.
        let request = self.client.transact_write_items().set_transact_items(Some(items));
        in_flight::send_with_retries(&self.conflict_retries, || async {
            request.clone().send().await.map(drop).map_err(transact_error)
        })
        .await
    }
}

#[async_trait]
impl ItemStore for DynamoItemStore {
    async fn get(&self, tenant: &TenantKey, sk: &str, now: i64) -> Result<Option<Item>> {
        check_sort_key(sk)?;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item_key(tenant, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| sdk_error("GetItem", err))?;
        match out.item {
            Some(raw) => {
                let item = decode(raw)?;
                Ok(is_live(item.expires_at, now).then_some(item))
            }
            None => Ok(None),
        }
    }

    async fn query(&self, tenant: &TenantKey, prefix: &str, page: PageRequest, now: i64) -> Result<Page<Item>> {
        let limit = check_page(&page, prefix)? as usize;
        if let Some(after) = &page.after
            && check_sort_key(after).is_err()
        {
            return Err(bad_cursor());
        }
        if prefix.len() > MAX_SORT_KEY_BYTES {
            // No stored sort key can start with it.
            return Ok(Page { items: Vec::new(), next: None });
        }
        let pk = keys::partition_key(tenant);
        let mut names = HashMap::from([("#pk".to_owned(), PK.to_owned()), ("#ttl".to_owned(), TTL.to_owned())]);
        let mut values =
            HashMap::from([(":pk".to_owned(), AttributeValue::S(pk.clone())), (":now".to_owned(), number(now))]);
        let key_condition = if prefix.is_empty() {
            "#pk = :pk"
        } else {
            names.insert("#sk".to_owned(), SK.to_owned());
            values.insert(":prefix".to_owned(), AttributeValue::S(prefix.to_owned()));
            "#pk = :pk AND begins_with(#sk, :prefix)"
        };
        let mut start = page.after.map(|after| item_key_from(pk.clone(), after));
        let mut items: Vec<Item> = Vec::with_capacity(limit + 1);
        // Read one item ahead so that `next` is set only when another live item follows.
        loop {
            let mut out = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression(key_condition)
                .filter_expression("attribute_not_exists(#ttl) OR #ttl > :now")
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .limit(page_limit(limit))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|err| sdk_error("Query", err))?;
            for raw in out.items.take().unwrap_or_default() {
                let item = decode(raw)?;
                if is_live(item.expires_at, now) {
                    items.push(item);
                }
            }
            match out.last_evaluated_key {
                Some(key) if items.len() <= limit && !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|item| item.sk.clone())
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn transact(&self, writes: Vec<Write>, now: i64) -> Result<()> {
        check_writes(&writes)?;
        match writes.as_slice() {
            [Write::Put { item, condition }] => self.put_one(item, *condition, now).await,
            [Write::Delete { tenant, sk, condition }] => self.delete_one(tenant, sk, *condition, now).await,
            many => self.transact_many(many, now).await,
        }
    }

    async fn delete_batch(&self, keys_to_delete: &[(TenantKey, String)]) -> Result<()> {
        check_batch(keys_to_delete)?;
        let mut requests = Vec::with_capacity(keys_to_delete.len());
        for (tenant, sk) in keys_to_delete {
            let delete =
                DeleteRequest::builder().set_key(Some(item_key(tenant, sk))).build().map_err(Error::internal)?;
            requests.push(WriteRequest::builder().delete_request(delete).build());
        }
        // DynamoDB may leave part of a batch unprocessed under load: retry that part with
        // backoff, a bounded number of times, then report the store as unavailable.
        for attempt in 0..BATCH_ATTEMPTS {
            if requests.is_empty() {
                return Ok(());
            }
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt.min(6))).await;
            }
            let out = self
                .client
                .batch_write_item()
                .request_items(self.table.clone(), std::mem::take(&mut requests))
                .send()
                .await
                .map_err(|err| sdk_error("BatchWriteItem", err))?;
            requests = out.unprocessed_items.and_then(|mut left| left.remove(&self.table)).unwrap_or_default();
        }
        if requests.is_empty() {
            Ok(())
        } else {
            Err(Error::unavailable("dynamodb", format!("BatchWriteItem left {} deletes unprocessed", requests.len())))
        }
    }

    async fn purge_expired(&self, _now: i64) -> Result<u64> {
        Ok(0)
    }

    async fn due(&self, kind: &str, now: i64, page: PageRequest) -> Result<Page<DueEntry>> {
        let limit = check_page(&page, "")? as usize;
        let due_pk = keys::due_partition(kind);
        let upper = keys::due_upper_bound(now);
        let mut start = match &page.after {
            None => None,
            Some(cursor) => {
                let (_, tenant, sk) = keys::parse_due_sort_key(cursor).ok_or_else(bad_cursor)?;
                check_sort_key(&sk).map_err(|_| bad_cursor())?;
                if *cursor >= upper {
                    // The cursor lies beyond what is due now (DynamoDB would refuse it as a start key).
                    return Ok(Page { items: Vec::new(), next: None });
                }
                let mut key = item_key(&tenant, &sk);
                key.insert(DUE_PK.to_owned(), AttributeValue::S(due_pk.clone()));
                key.insert(DUE_SK.to_owned(), AttributeValue::S(cursor.clone()));
                Some(key)
            }
        };
        let names = HashMap::from([("#dpk".to_owned(), DUE_PK.to_owned()), ("#dsk".to_owned(), DUE_SK.to_owned())]);
        let values = HashMap::from([
            (":dpk".to_owned(), AttributeValue::S(due_pk.clone())),
            (":upper".to_owned(), AttributeValue::S(upper)),
        ]);
        let mut entries: Vec<(String, DueEntry)> = Vec::with_capacity(limit + 1);
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(DUE_INDEX)
                .key_condition_expression("#dpk = :dpk AND #dsk < :upper")
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(true)
                .limit(page_limit(limit))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|err| sdk_error("Query due index", err))?;
            for raw in out.items() {
                let due_sk = required_string(raw, DUE_SK)?;
                let (at, tenant, sk) = keys::parse_due_sort_key(due_sk)
                    .ok_or_else(|| Error::internal(format!("malformed {DUE_SK} on the due index: {due_sk:?}")))?;
                entries.push((due_sk.to_owned(), DueEntry { tenant, sk, at }));
            }
            match out.last_evaluated_key {
                Some(key) if entries.len() <= limit && !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        let next = if entries.len() > limit {
            entries.truncate(limit);
            entries.last().map(|(due_sk, _)| due_sk.clone())
        } else {
            None
        };
        Ok(Page { items: entries.into_iter().map(|(_, entry)| entry).collect(), next })
    }
}

/// BatchWriteItem rounds before unprocessed deletes are reported.
const BATCH_ATTEMPTS: u32 = 8;

/// DynamoDB's `Limit` for a page of `limit`: one entry more, to learn whether another follows.
fn page_limit(limit: usize) -> i32 {
    i32::try_from(limit + 1).unwrap_or(i32::MAX)
}

fn bad_cursor() -> Error {
    Error::bad_request("bad_cursor", "The page cursor does not belong to this listing.")
}
