//! Small checkers shared by the content models: lengths, ids, URLs, colors, host names, timestamps.
//!
//! Every failure is `Error::invalid("invalid_field", "<json.path>: <what is wrong>")`. Messages
//! name fields and ids, never free text, because 422s are logged and content bodies must not be.

use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::kernel::error::{Error, Result};

/// The error code of every content validation failure.
pub const INVALID_FIELD: &str = "invalid_field";
/// Canopy's own ids are 26-character ULIDs; client-chosen ids (sections, navigation items) get room
/// for UUIDs with a prefix, and anything longer is not an id.
pub const MAX_CONTENT_ID_LEN: usize = 64;
/// Confluence page ids are unsigned 64-bit integers: at most 20 digits.
pub const MAX_PAGE_ID_LEN: usize = 20;
/// Confluence's own bound on a space key.
pub const MAX_SPACE_KEY_LEN: usize = 255;
/// Jira field ids are short ("summary", "customfield_10010"); 100 leaves room for app-provided fields.
pub const MAX_FIELD_ID_LEN: usize = 100;
/// The URL length that browsers, CDNs and sitemaps all handle.
pub const MAX_URL_LEN: usize = 2048;
/// DNS (RFC 1035): a name of at most 253 characters, in labels of at most 63.
pub const MAX_HOSTNAME_LEN: usize = 253;
pub const MAX_HOSTNAME_LABEL_LEN: usize = 63;
/// An RFC 3339 timestamp with nanoseconds and an offset has 35 characters; longer is not one.
pub const MAX_TIMESTAMP_LEN: usize = 64;

/// The 422 for `path`.
pub fn invalid(path: &str, problem: impl Display) -> Error {
    Error::invalid(INVALID_FIELD, format!("{path}: {problem}"))
}

/// 1..=64 characters of `[A-Za-z0-9_-]`: Canopy's ULIDs and client-chosen ids alike.
pub fn is_content_id(s: &str) -> bool {
    (1..=MAX_CONTENT_ID_LEN).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A Confluence page id: 1..=20 ASCII digits.
pub fn is_page_id(s: &str) -> bool {
    (1..=MAX_PAGE_ID_LEN).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// A Confluence space key: alphanumeric for global spaces, `~` and an accountId (which may hold `:`,
/// `_` and `-`) for personal ones.
pub fn is_space_key(s: &str) -> bool {
    (1..=MAX_SPACE_KEY_LEN).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'~' | b':' | b'_' | b'-'))
}

/// A Jira field id: 1..=100 characters of `[A-Za-z0-9_.:-]`.
pub fn is_field_id(s: &str) -> bool {
    (1..=MAX_FIELD_ID_LEN).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

/// `#RRGGBB` or `#RRGGBBAA`, hex digits in either case.
pub fn is_color(s: &str) -> bool {
    s.strip_prefix('#').is_some_and(|hex| matches!(hex.len(), 6 | 8) && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// An absolute `http`/`https` URL of at most 2048 bytes with a host and no user info.
///
/// User info is refused because `https://trusted.example@evil.example` reads as the first host and
/// goes to the second. Characters that are never valid in a URL are refused too, so a renderer can
/// put the value in an attribute without surprises.
pub fn is_http_url(s: &str) -> bool {
    if s.len() > MAX_URL_LEN
        || s.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '\\' | '`'))
    {
        return false;
    }
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    !host.is_empty()
}

/// What is wrong with `s` as a custom domain, if anything: a lowercase DNS host name of at least two
/// labels. Uppercase is refused rather than folded so the stored domain is exactly what was sent.
pub fn hostname_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("empty".into());
    }
    if s.len() > MAX_HOSTNAME_LEN {
        return Some(format!("longer than {MAX_HOSTNAME_LEN} characters"));
    }
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Some("has uppercase letters; write the domain in lowercase".into());
    }
    let labels: Vec<&str> = s.split('.').collect();
    if labels.len() < 2 {
        return Some("not a domain name: it needs at least two labels, like example.com".into());
    }
    for label in &labels {
        if label.is_empty() {
            return Some("has an empty label (two dots in a row, or a leading or trailing dot)".into());
        }
        if label.len() > MAX_HOSTNAME_LABEL_LEN {
            return Some(format!("has a label longer than {MAX_HOSTNAME_LABEL_LEN} characters"));
        }
        if !label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Some("only a-z, 0-9, '-' and '.' are allowed (use punycode for other letters)".into());
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some("has a label starting or ending with '-'".into());
        }
    }
    // A numeric last label means an IP address, which cannot carry a certificate for a site.
    if labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
        return Some("an IP address is not a domain name".into());
    }
    None
}

pub fn parse_timestamp(s: &str) -> Option<OffsetDateTime> {
    if s.len() > MAX_TIMESTAMP_LEN {
        return None;
    }
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// At least one non-whitespace character.
pub fn not_blank(path: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() { Err(invalid(path, "empty")) } else { Ok(()) }
}

/// At most `max` characters, none of them control characters.
pub fn single_line(path: &str, value: &str, max: usize) -> Result<()> {
    max_chars(path, value, max)?;
    if value.chars().any(char::is_control) {
        return Err(invalid(path, "contains a control character"));
    }
    Ok(())
}

/// At most `max` characters; newlines and tabs are the only control characters allowed.
pub fn multi_line(path: &str, value: &str, max: usize) -> Result<()> {
    max_chars(path, value, max)?;
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(invalid(path, "contains a control character other than newline or tab"));
    }
    Ok(())
}

/// Non-blank and single-line: names, titles, labels.
pub fn required_text(path: &str, value: &str, max: usize) -> Result<()> {
    not_blank(path, value)?;
    single_line(path, value, max)
}

/// At most `max` characters (Unicode scalar values, what a user counts).
pub fn max_chars(path: &str, value: &str, max: usize) -> Result<()> {
    // Every char is at least one byte: a short byte length needs no counting.
    if value.len() > max && value.chars().count() > max {
        return Err(invalid(path, format_args!("longer than {max} characters")));
    }
    Ok(())
}

pub fn max_bytes(path: &str, value: &str, max: usize) -> Result<()> {
    if value.len() > max {
        return Err(invalid(path, format_args!("longer than {max} bytes")));
    }
    Ok(())
}

pub fn list_len(path: &str, len: usize, min: usize, max: usize) -> Result<()> {
    if len < min {
        let noun = if min == 1 { "item" } else { "items" };
        return Err(invalid(path, format_args!("needs at least {min} {noun}")));
    }
    if len > max {
        return Err(invalid(path, format_args!("more than {max} items")));
    }
    Ok(())
}

/// No key twice; the error names the second occurrence and the first.
pub fn unique<K: Eq + Hash>(path: &str, keys: impl IntoIterator<Item = K>) -> Result<()> {
    let mut seen = HashMap::new();
    for (index, key) in keys.into_iter().enumerate() {
        if let Some(first) = seen.insert(key, index) {
            return Err(invalid(&format!("{path}[{index}]"), format_args!("duplicate of {path}[{first}]")));
        }
    }
    Ok(())
}

pub fn content_id(path: &str, value: &str) -> Result<()> {
    if is_content_id(value) {
        Ok(())
    } else {
        Err(invalid(path, format_args!("not an id (1 to {MAX_CONTENT_ID_LEN} characters of A-Z, a-z, 0-9, _ and -)")))
    }
}

pub fn page_id(path: &str, value: &str) -> Result<()> {
    if is_page_id(value) {
        Ok(())
    } else {
        Err(invalid(path, format_args!("not a Confluence page id (1 to {MAX_PAGE_ID_LEN} digits)")))
    }
}

pub fn space_key(path: &str, value: &str) -> Result<()> {
    if is_space_key(value) {
        Ok(())
    } else {
        Err(invalid(
            path,
            format_args!("not a space key (1 to {MAX_SPACE_KEY_LEN} characters of A-Z, a-z, 0-9, ~, :, _ and -)"),
        ))
    }
}

pub fn field_id(path: &str, value: &str) -> Result<()> {
    if is_field_id(value) {
        Ok(())
    } else {
        Err(invalid(
            path,
            format_args!("not a field id (1 to {MAX_FIELD_ID_LEN} characters of A-Z, a-z, 0-9, _, ., : and -)"),
        ))
    }
}

pub fn http_url(path: &str, value: &str) -> Result<()> {
    if is_http_url(value) {
        Ok(())
    } else {
        Err(invalid(
            path,
            format_args!("not an http(s) URL with a host and no user info, of at most {MAX_URL_LEN} characters"),
        ))
    }
}

pub fn color(path: &str, value: &str) -> Result<()> {
    if is_color(value) { Ok(()) } else { Err(invalid(path, "not a color (#RRGGBB or #RRGGBBAA)")) }
}

pub fn hostname(path: &str, value: &str) -> Result<()> {
    match hostname_problem(value) {
        Some(problem) => Err(invalid(path, problem)),
        None => Ok(()),
    }
}

pub fn timestamp(path: &str, value: &str) -> Result<OffsetDateTime> {
    parse_timestamp(value).ok_or_else(|| invalid(path, "not an RFC 3339 timestamp (like 2025-01-31T09:00:00Z)"))
}

/// `startsAt`/`endsAt` of a scheduled document: each a timestamp, the end after the start.
pub fn time_window(starts_at: Option<&str>, ends_at: Option<&str>) -> Result<()> {
    let starts = starts_at.map(|s| timestamp("startsAt", s)).transpose()?;
    let ends = ends_at.map(|s| timestamp("endsAt", s)).transpose()?;
    if let (Some(starts), Some(ends)) = (starts, ends) {
        if ends < starts {
            return Err(invalid("endsAt", "before startsAt"));
        }
        if ends == starts {
            return Err(invalid("endsAt", "equal to startsAt; the window would be empty"));
        }
    }
    Ok(())
}

/// Whether the window holds the instant: started (or no start) and not yet ended. An unparseable
/// bound (never stored: validation refuses it) counts as not started or already ended.
pub fn window_contains(starts_at: Option<&str>, ends_at: Option<&str>, unix_secs: i64) -> bool {
    let now = i128::from(unix_secs) * 1_000_000_000;
    let started = starts_at.is_none_or(|s| parse_timestamp(s).is_some_and(|t| t.unix_timestamp_nanos() <= now));
    let ended = ends_at.is_some_and(|s| parse_timestamp(s).is_none_or(|t| t.unix_timestamp_nanos() <= now));
    started && !ended
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<impl std::fmt::Debug>) -> String {
        match result {
            Err(Error::Invalid { code, message }) => {
                assert_eq!(code, INVALID_FIELD);
                message
            }
            other => panic!("expected invalid_field, got {other:?}"),
        }
    }

    #[test]
    fn content_ids() {
        assert!(is_content_id("01HZX3K8Q9V7W2N4M6P8R0T2Y4"));
        assert!(is_content_id("hero_section-1"));
        assert!(is_content_id(&"a".repeat(64)));
        assert!(!is_content_id(&"a".repeat(65)));
        assert!(!is_content_id(""));
        assert!(!is_content_id("a b"));
        assert!(!is_content_id("a/b"));
        assert!(!is_content_id("é"));
    }

    #[test]
    fn page_ids_and_space_keys() {
        assert!(is_page_id("12345"));
        assert!(is_page_id(&"9".repeat(20)));
        assert!(!is_page_id(&"9".repeat(21)));
        assert!(!is_page_id(""));
        assert!(!is_page_id("12a"));
        assert!(is_space_key("DOCS"));
        assert!(is_space_key("~5b10ac8d82e05b22cc7d4ef5"));
        assert!(is_space_key("~557058:f0f3e6a4-1a2b-4c3d-9e8f-0a1b2c3d4e5f"));
        assert!(is_space_key(&"K".repeat(255)));
        assert!(!is_space_key(&"K".repeat(256)));
        assert!(!is_space_key(""));
        assert!(!is_space_key("MY SPACE"));
    }

    #[test]
    fn field_ids() {
        assert!(is_field_id("summary"));
        assert!(is_field_id("customfield_10010"));
        assert!(is_field_id("a.b:c-d"));
        assert!(is_field_id(&"f".repeat(100)));
        assert!(!is_field_id(&"f".repeat(101)));
        assert!(!is_field_id(""));
        assert!(!is_field_id("due date"));
    }

    #[test]
    fn colors() {
        assert!(is_color("#1A2b3C"));
        assert!(is_color("#1a2b3c80"));
        assert!(!is_color("1a2b3c"));
        assert!(!is_color("#1a2b3"));
        assert!(!is_color("#1a2b3c8"));
        assert!(!is_color("#ggggggg"));
        assert!(!is_color("red"));
        assert_eq!(message(color("colors.primary", "red")), "colors.primary: not a color (#RRGGBB or #RRGGBBAA)");
    }

    #[test]
    fn urls() {
        assert!(is_http_url("https://example.com"));
        assert!(is_http_url("HTTP://example.com/a?b=c#d"));
        assert!(is_http_url("https://example.com:8443/x"));
        assert!(is_http_url("https://[::1]:8080/"));
        assert!(!is_http_url("javascript:alert(1)"));
        assert!(!is_http_url("javascript://example.com/%0Aalert(1)"));
        assert!(!is_http_url("ftp://example.com"));
        assert!(!is_http_url("//example.com"));
        assert!(!is_http_url("https://"));
        assert!(!is_http_url("https:///path"));
        assert!(!is_http_url("https://:443/"));
        assert!(!is_http_url("https://trusted.example@evil.example/"));
        assert!(!is_http_url("https://example.com/a b"));
        assert!(!is_http_url("https://example.com/\"><script>"));
        let prefix = "https://example.com/";
        let at_limit = format!("{prefix}{}", "a".repeat(MAX_URL_LEN - prefix.len()));
        assert!(is_http_url(&at_limit));
        assert!(!is_http_url(&format!("{at_limit}a")));
    }

    #[test]
    fn hostnames() {
        assert_eq!(hostname_problem("docs.example.com"), None);
        assert_eq!(hostname_problem("xn--bcher-kva.example"), None);
        assert_eq!(hostname_problem("a-b.c0"), None);
        assert!(hostname_problem("Docs.example.com").is_some_and(|p| p.contains("lowercase")));
        assert!(hostname_problem("localhost").is_some_and(|p| p.contains("two labels")));
        assert!(hostname_problem("example..com").is_some());
        assert!(hostname_problem("example.com.").is_some());
        assert!(hostname_problem(".example.com").is_some());
        assert!(hostname_problem("-a.example.com").is_some());
        assert!(hostname_problem("a-.example.com").is_some());
        assert!(hostname_problem("a_b.example.com").is_some());
        assert!(hostname_problem("exämple.com").is_some());
        assert!(hostname_problem("192.168.0.1").is_some_and(|p| p.contains("IP address")));
        assert!(hostname_problem("").is_some());
        let label63 = "a".repeat(63);
        assert_eq!(hostname_problem(&format!("{label63}.com")), None);
        assert!(hostname_problem(&format!("{label63}a.com")).is_some());
        // 4 labels of 63 and one of 1 with dots: 4 * 64 + 1 = 257 > 253; 3 * 64 + 61 = 253.
        let at_limit = format!("{label63}.{label63}.{label63}.{}", "b".repeat(61));
        assert_eq!(at_limit.len(), 253);
        assert_eq!(hostname_problem(&at_limit), None);
        assert!(hostname_problem(&format!("{at_limit}b")).is_some());
    }

    #[test]
    fn text_bounds_count_characters() {
        assert!(max_chars("t", &"é".repeat(10), 10).is_ok());
        assert_eq!(message(max_chars("t", &"é".repeat(11), 10)), "t: longer than 10 characters");
        assert_eq!(message(required_text("name", "  ", 10)), "name: empty");
        assert!(single_line("name", "a\nb", 10).is_err());
        assert!(multi_line("body", "a\nb\tc", 10).is_ok());
        assert!(multi_line("body", "a\u{0}b", 10).is_err());
        assert!(multi_line("body", "a\rb", 10).is_err());
        assert_eq!(message(max_bytes("css", "ab", 1)), "css: longer than 1 bytes");
    }

    #[test]
    fn lists_and_uniqueness() {
        assert!(list_len("xs", 0, 0, 2).is_ok());
        assert!(list_len("xs", 2, 1, 2).is_ok());
        assert_eq!(message(list_len("xs", 0, 1, 2)), "xs: needs at least 1 item");
        assert_eq!(message(list_len("xs", 3, 1, 2)), "xs: more than 2 items");
        assert!(unique("xs", ["a", "b"]).is_ok());
        assert_eq!(message(unique("xs", ["a", "b", "a"])), "xs[2]: duplicate of xs[0]");
    }

    #[test]
    fn windows() {
        assert!(time_window(None, None).is_ok());
        assert!(time_window(Some("2025-01-01T00:00:00Z"), Some("2025-01-02T00:00:00+01:00")).is_ok());
        assert_eq!(
            message(time_window(Some("2025-01-02T00:00:00Z"), Some("2025-01-01T00:00:00Z"))),
            "endsAt: before startsAt"
        );
        assert!(time_window(Some("2025-01-01T01:00:00+01:00"), Some("2025-01-01T00:00:00Z")).is_err());
        assert!(message(time_window(Some("tomorrow"), None)).starts_with("startsAt: not an RFC 3339"));
        assert!(message(time_window(None, Some("2025-01-01"))).starts_with("endsAt: not an RFC 3339"));

        let start = "2025-01-01T00:00:00Z"; // 1735689600
        let end = "2025-01-02T00:00:00Z"; // 1735776000
        assert!(!window_contains(Some(start), Some(end), 1_735_689_599));
        assert!(window_contains(Some(start), Some(end), 1_735_689_600));
        assert!(window_contains(Some(start), Some(end), 1_735_775_999));
        assert!(!window_contains(Some(start), Some(end), 1_735_776_000));
        assert!(window_contains(None, None, 0));
        assert!(window_contains(None, Some(end), 0));
        assert!(window_contains(Some(start), None, i64::MAX));
        assert!(!window_contains(Some("2025-01-01T00:00:00.5Z"), None, 1_735_689_600));
        assert!(!window_contains(Some("garbage"), None, 1_735_689_600));
        assert!(!window_contains(None, Some("garbage"), 0));
    }
}
