//! Write conditions as DynamoDB condition expressions, set the same way on every request that
//! takes one (PutItem, DeleteItem, and a transaction's Put, Delete and ConditionCheck).

use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::types::builders::{ConditionCheckBuilder, DeleteBuilder, PutBuilder};

use std::collections::HashMap;

use crate::ports::store::Condition;

use super::codec::{AttributeMap, PK, TTL, VERSION, number};

/// A request builder that takes a condition expression.
pub(super) trait Conditional: Sized {
    /// Sets `condition` (nothing for [`Condition::None`]).
    fn condition(self, condition: Condition, now: i64) -> Self;
}

// The SDK's builders share the three setters but no trait: one macro body sets them on each.
macro_rules! conditional {
    ($($builder:ty),+) => {$(
        impl Conditional for $builder {
            fn condition(self, condition: Condition, now: i64) -> Self {
                let Some((expression, names, values)) = expression(condition, now) else { return self };
                self.condition_expression(expression)
                    .set_expression_attribute_names(Some(names))
                    .set_expression_attribute_values(Some(values))
            }
        }
    )+};
}

conditional!(PutItemFluentBuilder, DeleteItemFluentBuilder, PutBuilder, DeleteBuilder, ConditionCheckBuilder);

type Parts = (String, HashMap<String, String>, AttributeMap);

/// The expression, its names and its values; `None` for [`Condition::None`].
fn expression(condition: Condition, now: i64) -> Option<Parts> {
    // `ttl` is a DynamoDB reserved word: every attribute goes through a name placeholder.
    let (expression, names, values) = match condition {
        Condition::None => return None,
        // An expired item that DynamoDB has not deleted yet counts as absent.
        Condition::Absent => {
            ("attribute_not_exists(#pk) OR #ttl <= :now", vec![("#pk", PK), ("#ttl", TTL)], vec![(":now", number(now))])
        }
        Condition::Version(version) => (
            "#v = :v AND (attribute_not_exists(#ttl) OR #ttl > :now)",
            vec![("#v", VERSION), ("#ttl", TTL)],
            vec![(":v", number(version)), (":now", number(now))],
        ),
    };
    Some((
        expression.to_owned(),
        names.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    ))
}
