//! Limited markup: the only rich text customers store (announcement bodies, layout text blocks).
//!
//! It is plain text plus `**bold**`, `_italic_`, `[label](https://url)` links and newlines (tabs
//! too). `<` and `>` are refused outright so no HTML or script can get in whatever a renderer does,
//! and every `](` must open a link to an http(s) URL closed by `)`, so a `javascript:` target cannot
//! hide in a link. Unbalanced `**` or `_` are not errors: renderers show them as written.

use crate::kernel::error::Result;

use super::bounds::{self, invalid};

/// Checks `value` as limited markup of at most `max` characters.
pub fn check(path: &str, value: &str, max: usize) -> Result<()> {
    bounds::multi_line(path, value, max)?;
    if value.contains(['<', '>']) {
        return Err(invalid(path, "contains < or >; only limited markup is allowed, not HTML"));
    }
    for target in link_targets(value) {
        match target {
            Some(url) if bounds::is_http_url(url) => {}
            Some(_) => return Err(invalid(path, "a link target is not an http(s) URL")),
            None => return Err(invalid(path, "a link has no closing parenthesis")),
        }
    }
    Ok(())
}

/// The text between each `](` and the next `)`; `None` where no `)` follows.
fn link_targets(value: &str) -> impl Iterator<Item = Option<&str>> {
    value.match_indices("](").map(move |(at, _)| {
        let rest = &value[at + 2..];
        rest.find(')').map(|end| &rest[..end])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::error::Error;

    fn message(result: Result<()>) -> String {
        match result {
            Err(Error::Invalid { message, .. }) => message,
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn accepts_the_limited_markup() {
        let body = "**Maintenance** on _Saturday_.\nSee [the plan](https://status.example.com/plan?a=1#x).\n\tThanks";
        assert!(check("body", body, 5000).is_ok());
        assert!(check("body", "", 5000).is_ok());
        assert!(check("body", "a ** b _ c [not a link] (nor this)", 5000).is_ok());
    }

    #[test]
    fn refuses_html() {
        assert_eq!(
            message(check("body", "hi <script>alert(1)</script>", 5000)),
            "body: contains < or >; only limited markup is allowed, not HTML"
        );
        assert!(check("body", "a > b", 5000).is_err());
    }

    #[test]
    fn refuses_links_that_are_not_http() {
        assert_eq!(
            message(check("body", "[x](javascript:alert(1))", 5000)),
            "body: a link target is not an http(s) URL"
        );
        assert!(check("body", "[x](data:text/html;base64,AAAA)", 5000).is_err());
        assert!(check("body", "[x](https://a.example \"title\")", 5000).is_err());
        assert_eq!(message(check("body", "[x](https://a.example", 5000)), "body: a link has no closing parenthesis");
    }

    #[test]
    fn bounds_length_and_control_characters() {
        assert!(check("body", &"a".repeat(10), 10).is_ok());
        assert_eq!(message(check("body", &"a".repeat(11), 10)), "body: longer than 10 characters");
        assert!(check("body", "a\u{7}b", 10).is_err());
    }
}
