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

mod in_flight;

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, DeleteRequest, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, Put, ScalarAttributeType, TimeToLiveSpecification,
    TransactWriteItem, WriteRequest,
};

use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{
    Condition, Due, DueEntry, Item, ItemStore, MAX_SORT_KEY_BYTES, Page, PageRequest, Write, check_batch, check_page,
    check_sort_key, check_writes, is_live, write_conflict,
};
pub use in_flight::ATTEMPTS as IN_FLIGHT_ATTEMPTS;
use in_flight::{Cancellation, Refusal};

/// Name of the sparse global secondary index of due entries.
pub const DUE_INDEX: &str = "due";

const PK: &str = "pk";
const SK: &str = "sk";
const VERSION: &str = "v";
const UPDATED_AT: &str = "updatedAt";
const UPDATED_BY: &str = "updatedBy";
const BODY: &str = "body";
const DUE_PK: &str = "duePk";
const DUE_SK: &str = "dueSk";
const TTL: &str = "ttl";

/// Longest [`DynamoItemStore::create_table`] waits for a new table to become ACTIVE.
const TABLE_ACTIVE_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

type AttributeMap = HashMap<String, AttributeValue>;

#[derive(Debug, Clone)]
pub struct DynamoItemStore {
    client: Client,
    table: String,
    conflict_retries: Arc<AtomicU64>,
}

impl DynamoItemStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
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

    /// Creates the table as template.yaml declares it and enables TTL on `ttl`, waiting until it
    /// is ACTIVE. If a table of that name already exists with the same key layout this is a
    /// no-op, so a local server can call it on every start.
    pub async fn create_table(&self) -> Result<()> {
        let key = |name: &str, key_type: KeyType| {
            KeySchemaElement::builder().attribute_name(name).key_type(key_type).build().map_err(Error::internal)
        };
        let string_attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(Error::internal)
        };
        let due_index = GlobalSecondaryIndex::builder()
            .index_name(DUE_INDEX)
            .key_schema(key(DUE_PK, KeyType::Hash)?)
            .key_schema(key(DUE_SK, KeyType::Range)?)
            .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
            .build()
            .map_err(Error::internal)?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(string_attr(PK)?)
            .attribute_definitions(string_attr(SK)?)
            .attribute_definitions(string_attr(DUE_PK)?)
            .attribute_definitions(string_attr(DUE_SK)?)
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            .global_secondary_indexes(due_index)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(err) if matches!(err.as_service_error(), Some(CreateTableError::ResourceInUseException(_))) => {
                return self.check_existing_table().await;
            }
            Err(err) => return Err(sdk_error("CreateTable", err)),
        }
        self.client
            .wait_until_table_exists()
            .table_name(&self.table)
            .wait(TABLE_ACTIVE_WAIT)
            .await
            .map_err(|err| Error::unavailable("dynamodb", format!("waiting for table {}: {err}", self.table)))?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(TTL)
                    .enabled(true)
                    .build()
                    .map_err(Error::internal)?,
            )
            .send()
            .await
            .map_err(|err| sdk_error("UpdateTimeToLive", err))?;
        Ok(())
    }

    /// An existing table must have our key schema and the due index.
    async fn check_existing_table(&self) -> Result<()> {
        let described = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|err| sdk_error("DescribeTable", err))?;
        let table = described.table.ok_or_else(|| Error::internal("DescribeTable answered no table"))?;
        let names =
            |schema: &[KeySchemaElement]| schema.iter().map(|k| k.attribute_name().to_owned()).collect::<Vec<_>>();
        let has_due_index = table
            .global_secondary_indexes()
            .iter()
            .any(|index| index.index_name() == Some(DUE_INDEX) && names(index.key_schema()) == [DUE_PK, DUE_SK]);
        if names(table.key_schema()) != [PK, SK] || !has_due_index {
            return Err(Error::internal(format!("table {} exists with another key layout", self.table)));
        }
        Ok(())
    }

    async fn put_one(&self, item: &Item, condition: Condition, now: i64) -> Result<()> {
        let expression = ConditionExpr::new(condition, now);
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(item)?))
            .set_condition_expression(expression.expression)
            .set_expression_attribute_names(expression.names)
            .set_expression_attribute_values(expression.values);
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
        let expression = ConditionExpr::new(condition, now);
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(item_key(tenant, sk)))
            .set_condition_expression(expression.expression)
            .set_expression_attribute_names(expression.names)
            .set_expression_attribute_values(expression.values);
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
                    let expression = ConditionExpr::new(*condition, now);
                    let put = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(encode(item)?))
                        .set_condition_expression(expression.expression)
                        .set_expression_attribute_names(expression.names)
                        .set_expression_attribute_values(expression.values)
                        .build()
                        .map_err(Error::internal)?;
                    TransactWriteItem::builder().put(put).build()
                }
                Write::Delete { tenant, sk, condition } => {
                    let expression = ConditionExpr::new(*condition, now);
                    let delete = Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(item_key(tenant, sk)))
                        .set_condition_expression(expression.expression)
                        .set_expression_attribute_names(expression.names)
                        .set_expression_attribute_values(expression.values)
                        .build()
                        .map_err(Error::internal)?;
                    TransactWriteItem::builder().delete(delete).build()
                }
                Write::Check { tenant, sk, condition } => {
                    let expression = ConditionExpr::new(*condition, now);
                    let check = ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(item_key(tenant, sk)))
                        .set_condition_expression(expression.expression)
                        .set_expression_attribute_names(expression.names)
                        .set_expression_attribute_values(expression.values)
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
                let item = decode(&raw)?;
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
            let out = self
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
            for raw in out.items() {
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

/// A condition as DynamoDB expression parts (`None` parts for [`Condition::None`]).
struct ConditionExpr {
    expression: Option<String>,
    names: Option<HashMap<String, String>>,
    values: Option<AttributeMap>,
}

impl ConditionExpr {
    fn new(condition: Condition, now: i64) -> Self {
        // `ttl` is a DynamoDB reserved word: every attribute goes through a name placeholder.
        let (expression, names, values) = match condition {
            Condition::None => {
                return Self { expression: None, names: None, values: None };
            }
            // An expired item that DynamoDB has not deleted yet counts as absent.
            Condition::Absent => (
                "attribute_not_exists(#pk) OR #ttl <= :now",
                vec![("#pk", PK), ("#ttl", TTL)],
                vec![(":now", number(now))],
            ),
            Condition::Version(version) => (
                "#v = :v AND (attribute_not_exists(#ttl) OR #ttl > :now)",
                vec![("#v", VERSION), ("#ttl", TTL)],
                vec![(":v", number(version)), (":now", number(now))],
            ),
        };
        Self {
            expression: Some(expression.to_owned()),
            names: Some(names.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()),
            values: Some(values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()),
        }
    }
}

/// DynamoDB's `Limit` for a page of `limit`: one entry more, to learn whether another follows.
/// BatchWriteItem rounds before unprocessed deletes are reported.
const BATCH_ATTEMPTS: u32 = 8;

fn page_limit(limit: usize) -> i32 {
    i32::try_from(limit + 1).unwrap_or(i32::MAX)
}

fn bad_cursor() -> Error {
    Error::bad_request("bad_cursor", "The page cursor does not belong to this listing.")
}

fn number(value: impl Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn item_key(tenant: &TenantKey, sk: &str) -> AttributeMap {
    item_key_from(keys::partition_key(tenant), sk.to_owned())
}

fn item_key_from(pk: String, sk: String) -> AttributeMap {
    HashMap::from([(PK.to_owned(), AttributeValue::S(pk)), (SK.to_owned(), AttributeValue::S(sk))])
}

fn encode(item: &Item) -> Result<AttributeMap> {
    let body = serde_json::to_string(&item.body).map_err(Error::internal)?;
    let mut map = item_key(&item.tenant, &item.sk);
    map.insert(VERSION.to_owned(), number(item.version));
    map.insert(UPDATED_AT.to_owned(), number(item.updated_at));
    map.insert(BODY.to_owned(), AttributeValue::S(body));
    if let Some(by) = &item.updated_by {
        map.insert(UPDATED_BY.to_owned(), AttributeValue::S(by.clone()));
    }
    if let Some(due) = &item.due {
        map.insert(DUE_PK.to_owned(), AttributeValue::S(keys::due_partition(&due.kind)));
        map.insert(DUE_SK.to_owned(), AttributeValue::S(keys::due_sort_key(due.at, &item.tenant, &item.sk)));
    }
    if let Some(expires_at) = item.expires_at {
        map.insert(TTL.to_owned(), number(expires_at));
    }
    Ok(map)
}

fn decode(map: &AttributeMap) -> Result<Item> {
    let pk = required_string(map, PK)?;
    let tenant = keys::tenant_of_partition(pk).ok_or_else(|| malformed(PK, pk))?;
    let sk = required_string(map, SK)?.to_owned();
    let version = optional_number(map, VERSION)?.ok_or_else(|| missing(VERSION))?;
    let updated_at = optional_number(map, UPDATED_AT)?.ok_or_else(|| missing(UPDATED_AT))?;
    let updated_by = optional_string(map, UPDATED_BY)?.map(str::to_owned);
    let body = required_string(map, BODY)?;
    let body = serde_json::from_str(body)
        .map_err(|err| Error::internal(format!("stored item {pk} {sk} has an unparseable body: {err}")))?;
    let due = match (optional_string(map, DUE_PK)?, optional_string(map, DUE_SK)?) {
        (None, None) => None,
        (Some(due_pk), Some(due_sk)) => {
            // `due_partition("")` is the prefix every due partition key starts with.
            let kind =
                due_pk.strip_prefix(keys::due_partition("").as_str()).ok_or_else(|| malformed(DUE_PK, due_pk))?;
            let (at, _, _) = keys::parse_due_sort_key(due_sk).ok_or_else(|| malformed(DUE_SK, due_sk))?;
            Some(Due { kind: kind.to_owned(), at })
        }
        _ => {
            return Err(Error::internal(format!("stored item {pk} {sk} has only one of {DUE_PK}/{DUE_SK}")));
        }
    };
    let expires_at = optional_number(map, TTL)?;
    Ok(Item { tenant, sk, version, updated_at, updated_by, due, expires_at, body })
}

fn optional_string<'a>(map: &'a AttributeMap, name: &str) -> Result<Option<&'a str>> {
    match map.get(name) {
        None => Ok(None),
        Some(AttributeValue::S(value)) => Ok(Some(value)),
        Some(other) => Err(Error::internal(format!("stored attribute {name} is not a string: {other:?}"))),
    }
}

fn required_string<'a>(map: &'a AttributeMap, name: &str) -> Result<&'a str> {
    optional_string(map, name)?.ok_or_else(|| missing(name))
}

fn optional_number<T: FromStr>(map: &AttributeMap, name: &str) -> Result<Option<T>> {
    match map.get(name) {
        None => Ok(None),
        Some(AttributeValue::N(value)) => value.parse().map(Some).map_err(|_| malformed(name, value)),
        Some(other) => Err(Error::internal(format!("stored attribute {name} is not a number: {other:?}"))),
    }
}

fn missing(name: &str) -> Error {
    Error::internal(format!("stored item lacks attribute {name}"))
}

fn malformed(name: &str, value: &str) -> Error {
    Error::internal(format!("stored attribute {name} is malformed: {value:?}"))
}

/// Error codes of DynamoDB answers that say "try again later" rather than "this is wrong".
fn is_transient_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ThrottlingException"
                | "ProvisionedThroughputExceededException"
                | "RequestLimitExceeded"
                | "ServiceUnavailable"
                | "InternalServerError"
                | "TransactionInProgressException"
        )
    )
}

/// Translates an SDK error that is not a failed condition: transient failures (throttling,
/// 5xx answers, timeouts, connection failures) are `unavailable`, the rest `internal`.
fn sdk_error<E>(operation: &str, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ServiceError(context) => {
            is_transient_code(context.err().code()) || context.raw().status().is_server_error()
        }
        SdkError::ResponseError(context) => context.raw().status().is_server_error(),
        _ => false,
    };
    let cause = format!("{operation}: {}", DisplayErrorContext(&err));
    if transient { Error::unavailable("dynamodb", cause) } else { Error::internal(cause) }
}

fn transact_error(err: SdkError<TransactWriteItemsError, HttpResponse>) -> Refusal {
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() {
        let codes: Vec<&str> = cancelled.cancellation_reasons().iter().filter_map(|reason| reason.code()).collect();
        match in_flight::classify(&codes) {
            Cancellation::ConditionFailed => return Refusal::Final(write_conflict()),
            Cancellation::InFlight => return Refusal::InFlight,
            Cancellation::Throttled => {
                return Refusal::Final(Error::unavailable(
                    "dynamodb",
                    format!("TransactWriteItems cancelled: {codes:?}"),
                ));
            }
            Cancellation::Other => {}
        }
    }
    Refusal::Final(sdk_error("TransactWriteItems", err))
}
