//! Item store adapters: DynamoDB and the embedded redb store.

pub mod dynamo;
pub mod embedded;
