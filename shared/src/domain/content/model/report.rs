//! Report configurations (Jira): a saved JQL query with its columns, sort, grouping, filters and
//! aggregations. The JQL is Jira's to check when the report runs.

use serde::{Deserialize, Serialize};

use crate::kernel::error::Result;

use super::bounds::{self, invalid};
use super::{ContentModel, MAX_DOCUMENT_BYTES, check_size};

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
/// A hand-written JQL query is a few hundred characters; 10 000 leaves room for generated ones.
pub const MAX_JQL_CHARS: usize = 10_000;
/// Columns shown; each is a field Jira returns for every issue of the report.
pub const MAX_COLUMNS: usize = 50;
pub const MAX_SORT_KEYS: usize = 5;
pub const MAX_FILTERS: usize = 20;
/// Values of one `in`/`notIn` filter: a pick list, not a data set.
pub const MAX_FILTER_VALUES: usize = 100;
pub const MAX_FILTER_VALUE_CHARS: usize = 500;
pub const MAX_AGGREGATIONS: usize = 10;
/// The pseudo-field an aggregation counts issues with; only `count` takes it.
pub const ISSUE_FIELD: &str = "issue";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReportConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub jql: String,
    /// Jira field ids, e.g. "summary", "customfield_10010".
    #[serde(default)]
    pub columns: Vec<String>,
    #[serde(default)]
    pub sort: Vec<SortKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<String>,
    #[serde(default)]
    pub filters: Vec<Filter>,
    #[serde(default)]
    pub aggregations: Vec<Aggregation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SortKey {
    pub field: String,
    pub direction: SortDirection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortDirection {
    Asc,
    Desc,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Filter {
    pub field: String,
    pub operator: FilterOperator,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum FilterOperator {
    Eq,
    Ne,
    In,
    NotIn,
    Gt,
    Gte,
    Lt,
    Lte,
    Contains,
    IsEmpty,
    IsNotEmpty,
}

impl FilterOperator {
    /// The name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::In => "in",
            Self::NotIn => "notIn",
            Self::Gt => "gt",
            Self::Gte => "gte",
            Self::Lt => "lt",
            Self::Lte => "lte",
            Self::Contains => "contains",
            Self::IsEmpty => "isEmpty",
            Self::IsNotEmpty => "isNotEmpty",
        }
    }

    /// How many values the operator takes: none, exactly one, or a list of at least one.
    pub fn value_count(self) -> std::ops::RangeInclusive<usize> {
        match self {
            Self::IsEmpty | Self::IsNotEmpty => 0..=0,
            Self::In | Self::NotIn => 1..=MAX_FILTER_VALUES,
            Self::Eq | Self::Ne | Self::Gt | Self::Gte | Self::Lt | Self::Lte | Self::Contains => 1..=1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Aggregation {
    /// A field id, or "issue" with `count`.
    pub field: String,
    pub function: AggregateFunction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AggregateFunction {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

impl ContentModel for ReportConfig {
    const KIND: &'static str = "report";

    fn validate(&self) -> Result<()> {
        check_size(Self::KIND, self, MAX_DOCUMENT_BYTES)?;
        bounds::required_text("name", &self.name, MAX_NAME_CHARS)?;
        if let Some(description) = &self.description {
            bounds::multi_line("description", description, MAX_DESCRIPTION_CHARS)?;
        }
        bounds::not_blank("jql", &self.jql)?;
        bounds::multi_line("jql", &self.jql, MAX_JQL_CHARS)?;

        bounds::list_len("columns", self.columns.len(), 1, MAX_COLUMNS)?;
        for (i, column) in self.columns.iter().enumerate() {
            bounds::field_id(&format!("columns[{i}]"), column)?;
        }
        bounds::unique("columns", self.columns.iter())?;

        bounds::list_len("sort", self.sort.len(), 0, MAX_SORT_KEYS)?;
        for (i, key) in self.sort.iter().enumerate() {
            bounds::field_id(&format!("sort[{i}].field"), &key.field)?;
        }
        bounds::unique("sort", self.sort.iter().map(|key| &key.field))?;

        if let Some(field) = &self.group_by {
            bounds::field_id("groupBy", field)?;
        }

        bounds::list_len("filters", self.filters.len(), 0, MAX_FILTERS)?;
        for (i, filter) in self.filters.iter().enumerate() {
            filter.validate(&format!("filters[{i}]"))?;
        }

        bounds::list_len("aggregations", self.aggregations.len(), 0, MAX_AGGREGATIONS)?;
        for (i, aggregation) in self.aggregations.iter().enumerate() {
            let path = format!("aggregations[{i}].field");
            bounds::field_id(&path, &aggregation.field)?;
            if aggregation.field == ISSUE_FIELD && aggregation.function != AggregateFunction::Count {
                return Err(invalid(&path, "\"issue\" can only be counted"));
            }
        }
        bounds::unique("aggregations", self.aggregations.iter().map(|a| (&a.field, a.function)))
    }
}

impl Filter {
    fn validate(&self, path: &str) -> Result<()> {
        bounds::field_id(&format!("{path}.field"), &self.field)?;
        let values_path = format!("{path}.values");
        let operator = self.operator.as_str();
        let count = self.values.len();
        let expected = self.operator.value_count();
        if !expected.contains(&count) {
            return Err(match (*expected.start(), *expected.end()) {
                (0, _) => invalid(&values_path, format_args!("{operator} takes no values")),
                (1, 1) => invalid(&values_path, format_args!("{operator} takes exactly one value")),
                (_, max) if count > max => invalid(&values_path, format_args!("more than {max} items")),
                _ => invalid(&values_path, format_args!("{operator} takes at least one value")),
            });
        }
        for (i, value) in self.values.iter().enumerate() {
            bounds::single_line(&format!("{values_path}[{i}]"), value, MAX_FILTER_VALUE_CHARS)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::kernel::error::Error;

    fn full() -> serde_json::Value {
        json!({
            "name": "Open bugs by team",
            "description": "All open bugs.\nRefreshed on view.",
            "jql": "project = APP AND issuetype = Bug\n\tAND statusCategory != Done ORDER BY priority",
            "columns": ["summary", "status", "assignee", "customfield_10010"],
            "sort": [{"field": "priority", "direction": "desc"}, {"field": "created", "direction": "asc"}],
            "groupBy": "customfield_10010",
            "filters": [
                {"field": "priority", "operator": "in", "values": ["High", "Highest"]},
                {"field": "labels", "operator": "notIn", "values": ["wontfix"]},
                {"field": "created", "operator": "gte", "values": ["2025-01-01"]},
                {"field": "summary", "operator": "contains", "values": ["crash"]},
                {"field": "resolution", "operator": "isEmpty", "values": []}
            ],
            "aggregations": [
                {"field": "issue", "function": "count"},
                {"field": "customfield_10016", "function": "sum"},
                {"field": "customfield_10016", "function": "avg"}
            ]
        })
    }

    fn parse(value: serde_json::Value) -> ReportConfig {
        serde_json::from_value(value).unwrap()
    }

    fn invalid_message(report: &ReportConfig) -> String {
        match report.validate() {
            Err(Error::Invalid { code: "invalid_field", message }) => message,
            other => panic!("expected invalid_field, got {other:?}"),
        }
    }

    fn filter(operator: FilterOperator, values: usize) -> Filter {
        Filter { field: "f".into(), operator, values: (0..values).map(|i| format!("v{i}")).collect() }
    }

    #[test]
    fn full_example_round_trips_and_is_valid() {
        let report = parse(full());
        report.validate().unwrap();
        assert_eq!(serde_json::to_value(&report).unwrap(), full());
        assert!(report.media_ids().is_empty());
        assert_eq!(ReportConfig::KIND, "report");
        let operators: Vec<&str> = report.filters.iter().map(|f| f.operator.as_str()).collect();
        let names: Vec<String> =
            report.filters.iter().map(|f| serde_json::to_value(f.operator).unwrap().to_string()).collect();
        assert_eq!(names, operators.iter().map(|o| format!("\"{o}\"")).collect::<Vec<_>>());
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_refused() {
        let mut value = full();
        value["filters"][0]["negate"] = json!(true);
        let err = serde_json::from_value::<ReportConfig>(value).unwrap_err().to_string();
        assert!(err.contains("unknown field `negate`"), "{err}");
        let mut value = full();
        value["sort"][0]["direction"] = json!("DESC");
        let err = serde_json::from_value::<ReportConfig>(value).unwrap_err().to_string();
        assert!(err.contains("unknown variant `DESC`"), "{err}");
        let mut value = full();
        value["filters"][0]["operator"] = json!("like");
        assert!(serde_json::from_value::<ReportConfig>(value).is_err());
        let mut value = full();
        value["aggregations"][0]["function"] = json!("median");
        assert!(serde_json::from_value::<ReportConfig>(value).is_err());
        let mut value = full();
        value["columns"] = json!([1, 2]);
        let err = serde_json::from_value::<ReportConfig>(value).unwrap_err().to_string();
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn filters_take_the_right_number_of_values() {
        use FilterOperator::*;
        let mut report = parse(full());
        let cases: [(FilterOperator, usize, Option<&str>); 12] = [
            (IsEmpty, 0, None),
            (IsNotEmpty, 1, Some("filters[0].values: isNotEmpty takes no values")),
            (IsEmpty, 2, Some("filters[0].values: isEmpty takes no values")),
            (Eq, 1, None),
            (Eq, 0, Some("filters[0].values: eq takes exactly one value")),
            (Ne, 2, Some("filters[0].values: ne takes exactly one value")),
            (Lte, 2, Some("filters[0].values: lte takes exactly one value")),
            (Contains, 0, Some("filters[0].values: contains takes exactly one value")),
            (In, 0, Some("filters[0].values: in takes at least one value")),
            (NotIn, 0, Some("filters[0].values: notIn takes at least one value")),
            (In, MAX_FILTER_VALUES, None),
            (NotIn, MAX_FILTER_VALUES + 1, Some("filters[0].values: more than 100 items")),
        ];
        for (operator, count, expected) in cases {
            report.filters = vec![filter(operator, count)];
            match expected {
                None => report.validate().unwrap(),
                Some(message) => assert_eq!(invalid_message(&report), message, "{operator:?} with {count}"),
            }
        }
        report.filters = vec![Filter { values: vec!["v".repeat(MAX_FILTER_VALUE_CHARS)], ..filter(Eq, 0) }];
        report.validate().unwrap();
        report.filters = vec![Filter { values: vec!["v".repeat(MAX_FILTER_VALUE_CHARS + 1)], ..filter(Eq, 0) }];
        assert_eq!(invalid_message(&report), "filters[0].values[0]: longer than 500 characters");
        report.filters = vec![filter(Eq, 1); MAX_FILTERS];
        report.validate().unwrap();
        report.filters.push(filter(Eq, 1));
        assert_eq!(invalid_message(&report), "filters: more than 20 items");
        report.filters = vec![Filter { field: "due date".into(), ..filter(Eq, 1) }];
        assert!(invalid_message(&report).starts_with("filters[0].field: not a field id"));
    }

    #[test]
    fn jql_is_bounded_and_free_of_control_characters() {
        let mut report = parse(full());
        report.jql = "j".repeat(MAX_JQL_CHARS);
        report.validate().unwrap();
        report.jql.push('j');
        assert_eq!(invalid_message(&report), "jql: longer than 10000 characters");
        report.jql = "project = A\u{0}".into();
        assert!(invalid_message(&report).starts_with("jql: contains a control character"));
        report.jql = "project = A\r\n".into();
        assert!(invalid_message(&report).starts_with("jql: contains a control character"));
        report.jql = "\n".into();
        assert_eq!(invalid_message(&report), "jql: empty");
    }

    #[test]
    fn columns_sort_and_grouping() {
        let mut report = parse(full());
        report.columns = (0..MAX_COLUMNS).map(|i| format!("customfield_{i}")).collect();
        report.validate().unwrap();
        report.columns.push("summary".into());
        assert_eq!(invalid_message(&report), "columns: more than 50 items");
        report.columns.clear();
        assert_eq!(invalid_message(&report), "columns: needs at least 1 item");
        report.columns = vec!["summary".into(), "summary".into()];
        assert_eq!(invalid_message(&report), "columns[1]: duplicate of columns[0]");
        report.columns = vec!["f".repeat(101)];
        assert!(invalid_message(&report).starts_with("columns[0]: not a field id"));

        let mut report = parse(full());
        let key = SortKey { field: "f".into(), direction: SortDirection::Asc };
        report.sort = (0..MAX_SORT_KEYS).map(|i| SortKey { field: format!("f{i}"), ..key.clone() }).collect();
        report.validate().unwrap();
        report.sort.push(key.clone());
        assert_eq!(invalid_message(&report), "sort: more than 5 items");
        report.sort = vec![key.clone(), SortKey { direction: SortDirection::Desc, ..key }];
        assert_eq!(invalid_message(&report), "sort[1]: duplicate of sort[0]");

        let mut report = parse(full());
        report.group_by = Some("a b".into());
        assert!(invalid_message(&report).starts_with("groupBy: not a field id"));
    }

    #[test]
    fn aggregations() {
        let mut report = parse(full());
        report.aggregations[0].function = AggregateFunction::Sum;
        assert_eq!(invalid_message(&report), "aggregations[0].field: \"issue\" can only be counted");
        let mut report = parse(full());
        report.aggregations = (0..MAX_AGGREGATIONS)
            .map(|i| Aggregation { field: format!("f{i}"), function: AggregateFunction::Max })
            .collect();
        report.validate().unwrap();
        report.aggregations.push(Aggregation { field: "g".into(), function: AggregateFunction::Min });
        assert_eq!(invalid_message(&report), "aggregations: more than 10 items");
        report.aggregations = vec![Aggregation { field: "g".into(), function: AggregateFunction::Min }; 2];
        assert_eq!(invalid_message(&report), "aggregations[1]: duplicate of aggregations[0]");
    }

    #[test]
    fn name_and_description_bounds() {
        let mut report = parse(full());
        report.name = "n".repeat(MAX_NAME_CHARS);
        report.description = Some("d".repeat(MAX_DESCRIPTION_CHARS));
        report.validate().unwrap();
        report.description = Some("d".repeat(MAX_DESCRIPTION_CHARS + 1));
        assert_eq!(invalid_message(&report), "description: longer than 2000 characters");
        report.description = None;
        report.name.push('n');
        assert_eq!(invalid_message(&report), "name: longer than 200 characters");
    }
}
