//! Atlassian's query string hash: `qsh = hex(sha256(METHOD & canonical-uri & canonical-query))`.
//!
//! The rules are CONNECT.md §4, checked against Atlassian's 78 interoperability vectors
//! (`tests/integration/connect_vectors.rs`).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};

/// RFC 3986 unreserved characters stay; everything else is `%XX` over UTF-8 bytes.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The fixed `qsh` of context tokens (`AP.context.getToken()`).
pub const CONTEXT_QSH: &str = "context-qsh";

/// `raw_path` is the request path as sent (no query); `base_path` the path of the app's
/// `baseUrl` (e.g. `/addon`, or empty), removed before hashing. `raw_query` excludes the `?`.
pub fn canonical_request(method: &str, raw_path: &str, raw_query: &str, base_path: &str) -> String {
    format!("{}&{}&{}", method.to_ascii_uppercase(), canonical_uri(raw_path, base_path), canonical_query(raw_query))
}

pub fn query_string_hash(method: &str, raw_path: &str, raw_query: &str, base_path: &str) -> String {
    hex::encode(Sha256::digest(canonical_request(method, raw_path, raw_query, base_path).as_bytes()))
}

fn canonical_uri(raw_path: &str, base_path: &str) -> String {
    let base = base_path.trim_end_matches('/');
    let mut path = match raw_path.strip_prefix(base) {
        Some(rest) if !base.is_empty() && (rest.is_empty() || rest.starts_with('/')) => rest,
        _ => raw_path,
    };
    if path.len() > 1 {
        path = path.strip_suffix('/').unwrap_or(path);
    }
    let path = path.replace('&', "%26");
    if path.starts_with('/') { path } else { format!("/{path}") }
}

fn canonical_query(raw_query: &str) -> String {
    let mut params: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (key, value) in form_urlencoded::parse(raw_query.as_bytes()) {
        if key == "jwt" {
            continue;
        }
        params.entry(encode(&key)).or_default().push(value.into_owned());
    }
    // BTreeMap orders by encoded key in code-point order, as the reference implementations do.
    let mut entries = Vec::with_capacity(params.len());
    for (key, mut values) in params {
        values.sort();
        let joined: Vec<String> = values.iter().map(|v| encode(v)).collect();
        entries.push(format!("{key}={}", joined.join(",")));
    }
    entries.join("&")
}

fn encode(value: &str) -> String {
    utf8_percent_encode(value, RFC3986).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_hook_hash_is_method_and_path() {
        assert_eq!(canonical_request("post", "/lifecycle/installed", "", ""), "POST&/lifecycle/installed&");
    }

    #[test]
    fn base_path_is_removed_only_at_a_segment_boundary() {
        assert_eq!(canonical_uri("/addon/installed", "/addon"), "/installed");
        assert_eq!(canonical_uri("/addon", "/addon/"), "/");
        assert_eq!(canonical_uri("/addonx/installed", "/addon"), "/addonx/installed");
        assert_eq!(canonical_uri("", ""), "/");
        assert_eq!(canonical_uri("/a/", ""), "/a");
    }

    #[test]
    fn query_drops_jwt_sorts_and_encodes() {
        assert_eq!(canonical_query("b=2&a=x+y&jwt=abc&a=w"), "a=w,x%20y&b=2");
        assert_eq!(canonical_query(""), "");
    }
}
