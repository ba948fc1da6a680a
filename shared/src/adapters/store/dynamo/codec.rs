//! An [`Item`] as a DynamoDB attribute map and back (the attributes are listed in the module
//! docs of `dynamo`), and the item's key.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Body, Due, Item};

pub(super) const PK: &str = "pk";
pub(super) const SK: &str = "sk";
pub(super) const VERSION: &str = "v";
pub(super) const UPDATED_AT: &str = "updatedAt";
pub(super) const UPDATED_BY: &str = "updatedBy";
pub(super) const BODY: &str = "body";
pub(super) const DUE_PK: &str = "duePk";
pub(super) const DUE_SK: &str = "dueSk";
pub(super) const TTL: &str = "ttl";

pub(super) type AttributeMap = HashMap<String, AttributeValue>;

pub(super) fn number(value: impl Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn item_key(tenant: &TenantKey, sk: &str) -> AttributeMap {
    item_key_from(keys::partition_key(tenant), sk.to_owned())
}

pub(super) fn item_key_from(pk: String, sk: String) -> AttributeMap {
    HashMap::from([(PK.to_owned(), AttributeValue::S(pk)), (SK.to_owned(), AttributeValue::S(sk))])
}

pub(super) fn encode(item: &Item) -> Result<AttributeMap> {
    let body = item.body.json().to_owned();
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

/// Takes the item's attributes by value: the body's text moves into the item uncopied.
pub(super) fn decode(mut map: AttributeMap) -> Result<Item> {
    let body = match map.remove(BODY) {
        Some(AttributeValue::S(text)) => text,
        Some(other) => return Err(Error::internal(format!("stored attribute {BODY} is not a string: {other:?}"))),
        None => return Err(missing(BODY)),
    };
    let map = &map;
    let pk = required_string(map, PK)?;
    let tenant = keys::tenant_of_partition(pk).ok_or_else(|| malformed(PK, pk))?;
    let sk = required_string(map, SK)?.to_owned();
    let version = optional_number(map, VERSION)?.ok_or_else(|| missing(VERSION))?;
    let updated_at = optional_number(map, UPDATED_AT)?.ok_or_else(|| missing(UPDATED_AT))?;
    let updated_by = optional_string(map, UPDATED_BY)?.map(str::to_owned);
    let body = Body::from_json(body)
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

pub(super) fn required_string<'a>(map: &'a AttributeMap, name: &str) -> Result<&'a str> {
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
