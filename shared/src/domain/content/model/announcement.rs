//! Announcements: scheduled banners shown on a site, in limited markup.

use serde::{Deserialize, Serialize};

use crate::kernel::error::Result;

use super::bounds;
use super::{ContentModel, MAX_DOCUMENT_BYTES, check_size, markup};

pub const MAX_TITLE_CHARS: usize = 200;
/// A banner, not a page: a few paragraphs at most.
pub const MAX_BODY_CHARS: usize = 5000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Success,
    Warning,
    Critical,
}

/// Which visitors see an announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Audience {
    Everyone,
    LoggedIn,
    Anonymous,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Announcement {
    pub title: String,
    /// Limited markup (see `markup`); may be empty for a title-only banner.
    pub body: String,
    pub severity: Severity,
    pub audience: Audience,
    /// RFC 3339; shown from then on (always, when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    /// RFC 3339, after `startsAt`; hidden from then on (never, when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    #[serde(default = "yes")]
    pub dismissible: bool,
}

impl Audience {
    /// Whether a visitor, logged in or not, is in this audience.
    pub fn includes(self, logged_in: bool) -> bool {
        match self {
            Self::Everyone => true,
            Self::LoggedIn => logged_in,
            Self::Anonymous => !logged_in,
        }
    }
}

fn yes() -> bool {
    true
}

impl Announcement {
    /// Started (or no start) and not ended at `unix_secs`.
    pub fn is_active_at(&self, unix_secs: i64) -> bool {
        bounds::window_contains(self.starts_at.as_deref(), self.ends_at.as_deref(), unix_secs)
    }
}

impl ContentModel for Announcement {
    const KIND: &'static str = "announcement";

    /// Inside its window and for the visitor's audience.
    fn shown_to_visitor(&self, signed_in: bool, now_secs: i64) -> bool {
        self.is_active_at(now_secs) && self.audience.includes(signed_in)
    }

    fn validate(&self) -> Result<()> {
        check_size(Self::KIND, self, MAX_DOCUMENT_BYTES)?;
        bounds::required_text("title", &self.title, MAX_TITLE_CHARS)?;
        markup::check("body", &self.body, MAX_BODY_CHARS)?;
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
            "title": "Scheduled maintenance",
            "body": "The site is **read-only** on _Saturday_.\nDetails: [status page](https://status.example.com/123)",
            "severity": "warning",
            "audience": "loggedIn",
            "startsAt": "2025-06-01T00:00:00Z",
            "endsAt": "2025-06-08T00:00:00+02:00",
            "dismissible": false
        })
    }

    fn parse(value: serde_json::Value) -> Announcement {
        serde_json::from_value(value).unwrap()
    }

    fn invalid_message(announcement: &Announcement) -> String {
        match announcement.validate() {
            Err(Error::Invalid { code: "invalid_field", message }) => message,
            other => panic!("expected invalid_field, got {other:?}"),
        }
    }

    #[test]
    fn full_example_round_trips_and_is_valid() {
        let announcement = parse(full());
        announcement.validate().unwrap();
        assert_eq!(serde_json::to_value(&announcement).unwrap(), full());
        assert!(announcement.media_ids().is_empty());
        assert_eq!(Announcement::KIND, "announcement");
    }

    #[test]
    fn minimal_example_is_dismissible_and_always_active() {
        let announcement = parse(json!({"title": "Hi", "body": "", "severity": "info", "audience": "everyone"}));
        announcement.validate().unwrap();
        assert!(announcement.dismissible);
        assert!(announcement.is_active_at(0));
        assert!(announcement.is_active_at(i64::MAX));
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_refused() {
        let mut value = full();
        value["html"] = json!("<b>x</b>");
        let err = serde_json::from_value::<Announcement>(value).unwrap_err().to_string();
        assert!(err.contains("unknown field `html`"), "{err}");
        let mut value = full();
        value["dismissible"] = json!("no");
        let err = serde_json::from_value::<Announcement>(value).unwrap_err().to_string();
        assert!(err.contains("invalid type"), "{err}");
        let mut value = full();
        value["severity"] = json!("fatal");
        assert!(serde_json::from_value::<Announcement>(value).is_err());
        let mut value = full();
        value["audience"] = json!("logged_in");
        assert!(serde_json::from_value::<Announcement>(value).is_err());
    }

    #[test]
    fn audiences() {
        assert!(Audience::Everyone.includes(true) && Audience::Everyone.includes(false));
        assert!(Audience::LoggedIn.includes(true) && !Audience::LoggedIn.includes(false));
        assert!(!Audience::Anonymous.includes(true) && Audience::Anonymous.includes(false));
    }

    #[test]
    fn end_before_start_is_refused() {
        let mut announcement = parse(full());
        announcement.ends_at = Some("2025-05-31T23:59:59Z".into());
        assert_eq!(invalid_message(&announcement), "endsAt: before startsAt");
        announcement.ends_at = announcement.starts_at.clone();
        assert!(invalid_message(&announcement).starts_with("endsAt: equal to startsAt"));
        announcement.ends_at = Some("next week".into());
        assert!(invalid_message(&announcement).starts_with("endsAt: not an RFC 3339 timestamp"));
    }

    #[test]
    fn is_active_within_its_window() {
        let announcement = parse(full());
        let starts = 1_748_736_000; // 2025-06-01T00:00:00Z
        let ends = 1_749_333_600; // 2025-06-08T00:00:00+02:00
        assert!(!announcement.is_active_at(starts - 1));
        assert!(announcement.is_active_at(starts));
        assert!(announcement.is_active_at(ends - 1));
        assert!(!announcement.is_active_at(ends));
    }

    #[test]
    fn title_and_body_bounds() {
        let mut announcement = parse(full());
        announcement.title = "t".repeat(MAX_TITLE_CHARS);
        announcement.body = "b".repeat(MAX_BODY_CHARS);
        announcement.validate().unwrap();
        announcement.body.push('b');
        assert_eq!(invalid_message(&announcement), "body: longer than 5000 characters");
        announcement.body.clear();
        announcement.title.push('t');
        assert_eq!(invalid_message(&announcement), "title: longer than 200 characters");
        announcement.title = String::new();
        assert_eq!(invalid_message(&announcement), "title: empty");
    }

    #[test]
    fn body_is_limited_markup() {
        let mut announcement = parse(full());
        announcement.body = "<img src=x onerror=alert(1)>".into();
        assert!(invalid_message(&announcement).starts_with("body: contains < or >"));
        announcement.body = "[click](javascript:alert(1))".into();
        assert_eq!(invalid_message(&announcement), "body: a link target is not an http(s) URL");
    }
}
