//! Promoted search results: pages, spaces or URLs pinned to the top of a site's search for keywords.

use serde::{Deserialize, Serialize};

use crate::kernel::error::Result;

use super::bounds;
use super::{ContentModel, MAX_DOCUMENT_BYTES, check_size};

/// Keywords are matched against every search query of the site: a few synonyms, not a thesaurus.
pub const MAX_KEYWORDS: usize = 20;
pub const MAX_KEYWORD_CHARS: usize = 100;
/// Promoted results sit above the organic ones; more than ten would push those off the page.
pub const MAX_TARGETS: usize = 10;
pub const MAX_TARGET_TITLE_CHARS: usize = 200;
pub const MAX_TARGET_DESCRIPTION_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromotedSearch {
    /// Unique once trimmed and lowercased, which is how queries are matched.
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub targets: Vec<SearchTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchTarget {
    pub title: String,
    pub target: SearchDestination,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum SearchDestination {
    #[schema(rename_all = "camelCase")]
    Page { page_id: String },
    #[schema(rename_all = "camelCase")]
    Space { space_key: String },
    #[schema(rename_all = "camelCase")]
    Url { url: String },
}

impl PromotedSearch {
    /// Started (or no start) and not ended at `unix_secs`.
    pub fn is_active_at(&self, unix_secs: i64) -> bool {
        bounds::window_contains(self.starts_at.as_deref(), self.ends_at.as_deref(), unix_secs)
    }
}

/// How a keyword is compared with others and with queries.
pub fn normalize_keyword(keyword: &str) -> String {
    keyword.trim().to_lowercase()
}

impl ContentModel for PromotedSearch {
    const KIND: &'static str = "promoted search";

    /// Inside its window.
    fn shown_to_visitor(&self, _signed_in: bool, now_secs: i64) -> bool {
        self.is_active_at(now_secs)
    }

    fn validate(&self) -> Result<()> {
        check_size(Self::KIND, self, MAX_DOCUMENT_BYTES)?;
        bounds::list_len("keywords", self.keywords.len(), 1, MAX_KEYWORDS)?;
        for (i, keyword) in self.keywords.iter().enumerate() {
            bounds::required_text(&format!("keywords[{i}]"), keyword, MAX_KEYWORD_CHARS)?;
        }
        bounds::unique("keywords", self.keywords.iter().map(|k| normalize_keyword(k)))?;

        bounds::list_len("targets", self.targets.len(), 1, MAX_TARGETS)?;
        for (i, target) in self.targets.iter().enumerate() {
            let path = format!("targets[{i}]");
            bounds::required_text(&format!("{path}.title"), &target.title, MAX_TARGET_TITLE_CHARS)?;
            match &target.target {
                SearchDestination::Page { page_id } => bounds::page_id(&format!("{path}.target.pageId"), page_id)?,
                SearchDestination::Space { space_key } => {
                    bounds::space_key(&format!("{path}.target.spaceKey"), space_key)?
                }
                SearchDestination::Url { url } => bounds::http_url(&format!("{path}.target.url"), url)?,
            }
            if let Some(description) = &target.description {
                bounds::single_line(&format!("{path}.description"), description, MAX_TARGET_DESCRIPTION_CHARS)?;
            }
        }
        bounds::time_window(self.starts_at.as_deref(), self.ends_at.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::kernel::error::Error;

    fn full() -> serde_json::Value {
        json!({
            "keywords": ["vpn", "remote access", "Ünïcode"],
            "targets": [
                {"title": "VPN setup", "target": {"type": "page", "pageId": "123456"}, "description": "How to connect."},
                {"title": "IT space", "target": {"type": "space", "spaceKey": "IT"}},
                {"title": "Request access", "target": {"type": "url", "url": "https://it.example.com/request"}}
            ],
            "startsAt": "2025-01-01T00:00:00Z",
            "endsAt": "2026-01-01T00:00:00Z"
        })
    }

    fn parse(value: serde_json::Value) -> PromotedSearch {
        serde_json::from_value(value).unwrap()
    }

    fn invalid_message(search: &PromotedSearch) -> String {
        match search.validate() {
            Err(Error::Invalid { code: "invalid_field", message }) => message,
            other => panic!("expected invalid_field, got {other:?}"),
        }
    }

    fn url_target() -> SearchTarget {
        SearchTarget {
            title: "T".into(),
            target: SearchDestination::Url { url: "https://x.example".into() },
            description: None,
        }
    }

    #[test]
    fn full_example_round_trips_and_is_valid() {
        let search = parse(full());
        search.validate().unwrap();
        assert_eq!(serde_json::to_value(&search).unwrap(), full());
        assert!(search.media_ids().is_empty());
        assert_eq!(PromotedSearch::KIND, "promoted search");
        assert!(search.is_active_at(1_735_689_600));
        assert!(!search.is_active_at(1_767_225_600));
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_refused() {
        let mut value = full();
        value["targets"][0]["rank"] = json!(1);
        let err = serde_json::from_value::<PromotedSearch>(value).unwrap_err().to_string();
        assert!(err.contains("unknown field `rank`"), "{err}");
        let mut value = full();
        value["targets"][1]["target"] = json!({"type": "none"});
        let err = serde_json::from_value::<PromotedSearch>(value).unwrap_err().to_string();
        assert!(err.contains("unknown variant `none`"), "{err}");
        let mut value = full();
        value["keywords"] = json!("vpn");
        let err = serde_json::from_value::<PromotedSearch>(value).unwrap_err().to_string();
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn keyword_bounds_and_uniqueness() {
        let mut search = parse(full());
        search.keywords = (0..MAX_KEYWORDS).map(|i| format!("k{i}")).collect();
        search.validate().unwrap();
        search.keywords.push("extra".into());
        assert_eq!(invalid_message(&search), "keywords: more than 20 items");
        search.keywords.clear();
        assert_eq!(invalid_message(&search), "keywords: needs at least 1 item");
        search.keywords = vec!["k".repeat(MAX_KEYWORD_CHARS)];
        search.validate().unwrap();
        search.keywords = vec!["k".repeat(MAX_KEYWORD_CHARS + 1)];
        assert_eq!(invalid_message(&search), "keywords[0]: longer than 100 characters");
        search.keywords = vec!["   ".into()];
        assert_eq!(invalid_message(&search), "keywords[0]: empty");
        search.keywords = vec!["VPN".into(), "other".into(), " vpn ".into()];
        assert_eq!(invalid_message(&search), "keywords[2]: duplicate of keywords[0]");
        search.keywords = vec!["ÜNÏCODE".into(), "ünïcode".into()];
        assert_eq!(invalid_message(&search), "keywords[1]: duplicate of keywords[0]");
    }

    #[test]
    fn target_bounds() {
        let mut search = parse(full());
        search.targets = vec![url_target(); MAX_TARGETS];
        search.validate().unwrap();
        search.targets.push(url_target());
        assert_eq!(invalid_message(&search), "targets: more than 10 items");
        search.targets.clear();
        assert_eq!(invalid_message(&search), "targets: needs at least 1 item");
        search.targets = vec![SearchTarget { title: "t".repeat(MAX_TARGET_TITLE_CHARS + 1), ..url_target() }];
        assert_eq!(invalid_message(&search), "targets[0].title: longer than 200 characters");
        search.targets =
            vec![SearchTarget { description: Some("d".repeat(MAX_TARGET_DESCRIPTION_CHARS)), ..url_target() }];
        search.validate().unwrap();
        search.targets =
            vec![SearchTarget { description: Some("d".repeat(MAX_TARGET_DESCRIPTION_CHARS + 1)), ..url_target() }];
        assert_eq!(invalid_message(&search), "targets[0].description: longer than 500 characters");
        search.targets =
            vec![SearchTarget { target: SearchDestination::Page { page_id: "abc".into() }, ..url_target() }];
        assert!(invalid_message(&search).starts_with("targets[0].target.pageId: "));
    }

    #[test]
    fn end_before_start_is_refused() {
        let mut search = parse(full());
        search.ends_at = Some("2024-12-31T23:59:59Z".into());
        assert_eq!(invalid_message(&search), "endsAt: before startsAt");
    }
}
