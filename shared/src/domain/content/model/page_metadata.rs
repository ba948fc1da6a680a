//! Page metadata: what a site adds to a Confluence page (featured image, description), never the
//! page's content.

use serde::{Deserialize, Serialize};

use crate::kernel::error::Result;

use super::bounds::{self, invalid};
use super::{ContentModel, MAX_DOCUMENT_BYTES, check_size};

/// Used as the page's meta description and card text: a paragraph.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PageMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub featured_image_media_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl ContentModel for PageMetadata {
    const KIND: &'static str = "page metadata";

    fn validate(&self) -> Result<()> {
        check_size(Self::KIND, self, MAX_DOCUMENT_BYTES)?;
        if self.featured_image_media_id.is_none() && self.description.is_none() {
            return Err(invalid("featuredImageMediaId", "missing, and so is description; give at least one"));
        }
        if let Some(id) = &self.featured_image_media_id {
            bounds::content_id("featuredImageMediaId", id)?;
        }
        if let Some(description) = &self.description {
            bounds::not_blank("description", description)?;
            bounds::multi_line("description", description, MAX_DESCRIPTION_CHARS)?;
        }
        Ok(())
    }

    fn media_ids(&self) -> Vec<&str> {
        self.featured_image_media_id.as_deref().into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::kernel::error::Error;

    fn full() -> serde_json::Value {
        json!({"featuredImageMediaId": "01HZX3K8Q9V7W2N4M6P8R0T2Y4", "description": "How to set up the VPN.\nFor staff."})
    }

    fn parse(value: serde_json::Value) -> PageMetadata {
        serde_json::from_value(value).unwrap()
    }

    fn invalid_message(metadata: &PageMetadata) -> String {
        match metadata.validate() {
            Err(Error::Invalid { code: "invalid_field", message }) => message,
            other => panic!("expected invalid_field, got {other:?}"),
        }
    }

    #[test]
    fn full_example_round_trips_and_is_valid() {
        let metadata = parse(full());
        metadata.validate().unwrap();
        assert_eq!(serde_json::to_value(&metadata).unwrap(), full());
        assert_eq!(metadata.media_ids(), ["01HZX3K8Q9V7W2N4M6P8R0T2Y4"]);
        assert_eq!(PageMetadata::KIND, "page metadata");
    }

    #[test]
    fn one_of_the_two_is_enough_and_needed() {
        parse(json!({"description": "d"})).validate().unwrap();
        let image_only = parse(json!({"featuredImageMediaId": "M"}));
        image_only.validate().unwrap();
        assert_eq!(image_only.media_ids(), ["M"]);
        assert!(parse(json!({"description": "d"})).media_ids().is_empty());
        assert_eq!(
            invalid_message(&parse(json!({}))),
            "featuredImageMediaId: missing, and so is description; give at least one"
        );
        assert_eq!(invalid_message(&parse(json!({"description": " "}))), "description: empty");
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_refused() {
        let err = serde_json::from_value::<PageMetadata>(json!({"description": "d", "body": "page text"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `body`"), "{err}");
        let err = serde_json::from_value::<PageMetadata>(json!({"description": 3})).unwrap_err().to_string();
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn bounds() {
        parse(json!({"description": "d".repeat(MAX_DESCRIPTION_CHARS)})).validate().unwrap();
        assert_eq!(
            invalid_message(&parse(json!({"description": "d".repeat(MAX_DESCRIPTION_CHARS + 1)}))),
            "description: longer than 1000 characters"
        );
        assert!(invalid_message(&parse(json!({"featuredImageMediaId": "../x"}))).starts_with("featuredImageMediaId: "));
    }
}
