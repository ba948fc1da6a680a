//! The table: creating it as template.yaml declares it, or checking the layout of one that exists.

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};

use crate::kernel::error::{Error, Result};

use super::DynamoItemStore;
use super::codec::{DUE_PK, DUE_SK, PK, SK, TTL};
use super::errors::sdk_error;

/// Name of the sparse global secondary index of due entries.
pub const DUE_INDEX: &str = "due";

/// Longest [`DynamoItemStore::create_table`] waits for a new table to become ACTIVE.
const TABLE_ACTIVE_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

impl DynamoItemStore {
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
}
