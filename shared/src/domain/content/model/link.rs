//! A labelled link, used by layout link blocks and theme header and footer.

use serde::{Deserialize, Serialize};

use crate::kernel::error::Result;

use super::bounds;

pub const MAX_LINK_LABEL_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Link {
    pub label: String,
    pub url: String,
}

impl Link {
    pub fn validate(&self, path: &str) -> Result<()> {
        bounds::required_text(&format!("{path}.label"), &self.label, MAX_LINK_LABEL_CHARS)?;
        bounds::http_url(&format!("{path}.url"), &self.url)
    }
}

/// Checks a list of at most `max` links.
pub fn validate_links(path: &str, links: &[Link], max: usize) -> Result<()> {
    bounds::list_len(path, links.len(), 0, max)?;
    links.iter().enumerate().try_for_each(|(i, link)| link.validate(&format!("{path}[{i}]")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_label_and_url() {
        let link = Link { label: "Docs".into(), url: "https://docs.example.com".into() };
        assert!(link.validate("links[0]").is_ok());
        let err = Link { label: "a".repeat(201), ..link.clone() }.validate("links[0]").unwrap_err();
        assert_eq!(err.to_string(), "links[0].label: longer than 200 characters");
        assert!(Link { label: "a".repeat(200), ..link.clone() }.validate("links[0]").is_ok());
        assert!(Link { label: " ".into(), ..link.clone() }.validate("links[0]").is_err());
        let err = Link { url: "javascript:alert(1)".into(), ..link.clone() }.validate("links[0]").unwrap_err();
        assert!(err.to_string().starts_with("links[0].url: not an http(s) URL"));
        assert!(validate_links("links", &vec![link.clone(); 3], 3).is_ok());
        assert_eq!(validate_links("links", &vec![link; 4], 3).unwrap_err().to_string(), "links: more than 3 items");
    }
}
