//! What a user submits and what Canopy stores of it: pure validation, no storage.

use serde::{Deserialize, Serialize};

use crate::domain::content::model::bounds::{self, is_page_id};
use crate::kernel::clock::rfc3339;
use crate::kernel::error::{Error, Result};
use crate::kernel::ids;

/// Longest feedback text, in characters: a few paragraphs, not a document.
pub const MAX_TEXT_CHARS: usize = 2000;
/// Ratings are 1 to 5 stars.
pub const MIN_RATING: i64 = 1;
pub const MAX_RATING: i64 = 5;

/// `POST /api/feedback`: about a site, a page, or a page within a site; a rating, a text or both.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Submission {
    #[serde(default)]
    pub site_id: Option<String>,
    #[serde(default)]
    pub page_id: Option<String>,
    #[serde(default)]
    pub rating: Option<i64>,
    #[serde(default)]
    pub text: Option<String>,
    /// The submitter agrees to be contacted: only then is their accountId stored with it.
    #[serde(default)]
    pub contactable: bool,
}

/// A stored feedback item (`FEEDBACK#…`). `contact` is the only personal data in it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Feedback {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Unix milliseconds.
    pub submitted_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

/// A feedback item as the API answers it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackView {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub submitted_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_account_id: Option<String>,
}

impl FeedbackView {
    pub fn new(id: &str, feedback: Feedback) -> Self {
        Self {
            id: id.to_owned(),
            site_id: feedback.site_id,
            page_id: feedback.page_id,
            rating: feedback.rating,
            text: feedback.text,
            submitted_at: rfc3339(feedback.submitted_at),
            contact_account_id: feedback.contact,
        }
    }
}

impl Submission {
    /// The item to store. `contact` is the submitter's storable accountId (`None` when anonymous);
    /// it is kept only if they ticked `contactable`. Messages name fields, never the text.
    pub fn validate(self, contact: Option<&str>, now_millis: i64) -> Result<Feedback> {
        if self.site_id.is_none() && self.page_id.is_none() {
            return Err(bounds::invalid("siteId", "feedback must be about a siteId, a pageId or both"));
        }
        if let Some(site_id) = &self.site_id
            && !ids::is_ulid(site_id)
        {
            return Err(bounds::invalid("siteId", "not a site id"));
        }
        if let Some(page_id) = &self.page_id
            && !is_page_id(page_id)
        {
            return Err(bounds::invalid("pageId", "not a Confluence page id (1 to 20 digits)"));
        }
        if let Some(rating) = self.rating
            && !(MIN_RATING..=MAX_RATING).contains(&rating)
        {
            return Err(bounds::invalid("rating", format_args!("must be {MIN_RATING} to {MAX_RATING}")));
        }
        let text = self.text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        if let Some(text) = &text {
            if text.chars().count() > MAX_TEXT_CHARS {
                return Err(bounds::invalid("text", format_args!("longer than {MAX_TEXT_CHARS} characters")));
            }
            if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
                return Err(bounds::invalid("text", "contains control characters"));
            }
        }
        if self.rating.is_none() && text.is_none() {
            return Err(Error::invalid("empty_feedback", "Feedback needs a rating, a text or both."));
        }
        let contact = match (self.contactable, contact) {
            (false, _) => None,
            (true, Some(account_id)) => Some(account_id.to_owned()),
            (true, None) => {
                return Err(bounds::invalid("contactable", "only a signed-in user can be contacted"));
            }
        };
        Ok(Feedback {
            site_id: self.site_id,
            page_id: self.page_id,
            rating: self.rating,
            text,
            submitted_at: now_millis,
            contact,
        })
    }
}

/// The millisecond time a ULID was generated at: its first 10 characters, Crockford base32.
pub fn ulid_millis(id: &str) -> Option<i64> {
    if !ids::is_ulid(id) {
        return None;
    }
    const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    id.bytes().take(10).try_fold(0i64, |acc, b| {
        let digit = CROCKFORD.iter().position(|&c| c == b)?;
        Some(acc * 32 + digit as i64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = "01JD0000000000000000000001";

    fn submission(text: Option<&str>, rating: Option<i64>) -> Submission {
        Submission {
            site_id: Some(SITE.into()),
            page_id: None,
            rating,
            text: text.map(str::to_owned),
            contactable: false,
        }
    }

    fn code(result: Result<Feedback>) -> &'static str {
        result.expect_err("refused").code()
    }

    #[test]
    fn text_is_bounded_in_characters_at_and_over_the_limit() {
        let at = "é".repeat(MAX_TEXT_CHARS);
        assert_eq!(submission(Some(&at), None).validate(None, 0).unwrap().text.as_deref(), Some(at.as_str()));
        let over = "é".repeat(MAX_TEXT_CHARS + 1);
        assert_eq!(code(submission(Some(&over), None).validate(None, 0)), "invalid_field");
        // Surrounding white space does not count.
        let padded = format!("  {at}\n ");
        assert!(submission(Some(&padded), None).validate(None, 0).is_ok());
    }

    #[test]
    fn ratings_are_one_to_five_and_something_must_be_said() {
        for rating in [MIN_RATING, MAX_RATING] {
            assert!(submission(None, Some(rating)).validate(None, 0).is_ok());
        }
        for rating in [MIN_RATING - 1, MAX_RATING + 1] {
            assert_eq!(code(submission(None, Some(rating)).validate(None, 0)), "invalid_field");
        }
        assert_eq!(code(submission(None, None).validate(None, 0)), "empty_feedback");
        assert_eq!(code(submission(Some(" \n\t "), None).validate(None, 0)), "empty_feedback");
        assert_eq!(code(submission(Some("a\u{0}b"), None).validate(None, 0)), "invalid_field");
        assert!(submission(Some("line one\nline two\ttab"), None).validate(None, 0).is_ok());
    }

    #[test]
    fn feedback_is_about_a_site_or_a_page() {
        let mut s = submission(Some("ok"), None);
        s.site_id = None;
        assert_eq!(code(s.clone().validate(None, 0)), "invalid_field");
        s.page_id = Some("123456".into());
        assert!(s.clone().validate(None, 0).is_ok());
        s.page_id = Some("12a".into());
        assert_eq!(code(s.clone().validate(None, 0)), "invalid_field");
        s.page_id = Some("9".repeat(21));
        assert_eq!(code(s.clone().validate(None, 0)), "invalid_field");
        s.page_id = None;
        s.site_id = Some("not-a-site".into());
        assert_eq!(code(s.validate(None, 0)), "invalid_field");
    }

    #[test]
    fn the_account_is_kept_only_when_contactable() {
        let kept = submission(Some("ok"), None).validate(Some("557058:u"), 7).unwrap();
        assert_eq!((kept.contact, kept.submitted_at), (None, 7));
        let mut contactable = submission(Some("ok"), None);
        contactable.contactable = true;
        assert_eq!(contactable.clone().validate(Some("557058:u"), 0).unwrap().contact.as_deref(), Some("557058:u"));
        assert_eq!(code(contactable.validate(None, 0)), "invalid_field");
    }

    #[test]
    fn ulid_times_decode() {
        let id = ids::new_ulid(1_768_435_200_123).unwrap();
        assert_eq!(ulid_millis(&id), Some(1_768_435_200_123));
        assert_eq!(ulid_millis("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"), Some((1 << 48) - 1));
        assert_eq!(ulid_millis("not-a-ulid"), None);
    }
}
