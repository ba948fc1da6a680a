//! Content models: the typed, validated JSON body of every document kind customers store (no I/O).
//!
//! Each kind is exactly its API shape; ids, versions and timestamps are the storage layer's and
//! live around these bodies. Parsing refuses unknown fields and wrong types; [`ContentModel::validate`]
//! checks structure and bounds and answers 422 `invalid_field` naming the JSON path, or 413 for size.
//!
//! Nested kinds (layout containers, navigation trees) rely on serde_json's default recursion limit
//! (128) to bound parsing depth; never parse them with that limit disabled.

pub mod announcement;
pub mod bounds;
pub mod layout;
pub mod link;
pub mod markup;
pub mod navigation;
pub mod page_metadata;
pub mod promoted_search;
pub mod report;
pub mod site;
pub mod theme;

use serde::Serialize;

use crate::kernel::error::{Error, Result};

pub use announcement::{Announcement, Audience, Severity};
pub use layout::{Background, Block, Column, Layout, Section};
pub use link::Link;
pub use navigation::{NavItem, NavTarget, Navigation};
pub use page_metadata::PageMetadata;
pub use promoted_search::{PromotedSearch, SearchDestination, SearchTarget};
pub use report::{AggregateFunction, Aggregation, Filter, FilterOperator, ReportConfig, SortDirection, SortKey};
pub use site::{Site, Visibility};
pub use theme::{Colors, Fonts, Footer, Header, Theme};

/// The largest serialized body of any kind: under the store's 350 KiB body bound
/// (`store::MAX_BODY_BYTES`) with room for the envelope the storage layer wraps around it.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// A customer-stored document kind.
pub trait ContentModel: Serialize + serde::de::DeserializeOwned + Clone + Send + Sync + 'static {
    /// Singular noun used in messages and routes' error codes, e.g. "layout".
    const KIND: &'static str;
    /// Structure and bounds; an error is `Error::invalid("invalid_field", "<json.path>: <what is wrong>")`
    /// naming the field path (e.g. "sections[2].columns[0].blocks[5].markup: longer than 20000 characters"),
    /// or `Error::too_large` when the serialized body exceeds its bound.
    fn validate(&self) -> Result<()>;
    /// Media ids (uploaded images) this document references, each once, in document order; the caller
    /// checks they exist in the tenant.
    fn media_ids(&self) -> Vec<&str> {
        Vec::new()
    }
    /// Whether a visitor (signed in or not) is shown this item at `now_secs`: every item unless
    /// the model has a window or an audience (`domain::access` explains what visitors get).
    fn shown_to_visitor(&self, _signed_in: bool, _now_secs: i64) -> bool {
        true
    }
    /// Top-level fields a visitor's answer leaves out: what rendering does not need and the
    /// visitor has no business knowing (a restricted site's groups).
    const ADMIN_ONLY_FIELDS: &'static [&'static str] = &[];
}

/// 413 when `value` serializes (compact JSON) to more than `limit` bytes.
pub fn check_size<T: Serialize>(kind: &str, value: &T, limit: usize) -> Result<()> {
    let n = serialized_len(value)?;
    if n > limit {
        return Err(Error::too_large(format!("{kind} is {n} bytes; the limit is {limit} bytes.")));
    }
    Ok(())
}

/// The compact JSON length of `value`, counted without building the string.
pub fn serialized_len<T: Serialize>(value: &T) -> Result<usize> {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    serde_json::to_writer(&mut counter, value).map_err(Error::internal)?;
    Ok(counter.0)
}

/// The first occurrence of each id, in order (DynamoDB batch reads refuse duplicate keys).
fn dedup<'a>(ids: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter().filter(|id| seen.insert(*id)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_size_is_413_over_the_limit() {
        let value = serde_json::json!({"a": "bcd"});
        let n = serialized_len(&value).unwrap();
        assert_eq!(n, serde_json::to_vec(&value).unwrap().len());
        assert!(check_size("thing", &value, n).is_ok());
        let err = check_size("thing", &value, n - 1).unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(err.to_string(), format!("thing is {n} bytes; the limit is {} bytes.", n - 1));
    }

    #[test]
    fn document_bound_fits_the_store() {
        const { assert!(MAX_DOCUMENT_BYTES < crate::ports::store::MAX_BODY_BYTES) };
    }

    #[test]
    fn dedup_keeps_first_occurrences_in_order() {
        assert_eq!(dedup(["b", "a", "b", "c", "a"]), ["b", "a", "c"]);
    }
}
