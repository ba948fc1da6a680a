//! The query string hash (CONNECT.md §4) over arbitrary requests. The input is
//! `method \n path \n query \n base path`. Properties the verifier relies on: the hash is 64 hex
//! digits of the canonical request, the `jwt` parameter never counts, and the order of the query
//! parameters does not matter.
#![no_main]

use canopy_shared::domain::connect::qsh::{canonical_request, query_string_hash};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(4, '\n');
    let (method, path, query, base) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );

    let canonical = canonical_request(method, path, query, base);
    let hash = query_string_hash(method, path, query, base);
    assert_eq!(hash.len(), 64);
    assert!(hash.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert!(canonical.starts_with(&format!("{}&/", method.to_ascii_uppercase())), "{canonical:?}");

    let with_jwt = if query.is_empty() { "jwt=a.b.c".to_owned() } else { format!("{query}&jwt=a.b.c") };
    assert_eq!(canonical_request(method, path, &with_jwt, base), canonical, "the jwt parameter changed the qsh");

    let reversed: Vec<&str> = query.split('&').rev().collect();
    assert_eq!(
        canonical_request(method, path, &reversed.join("&"), base),
        canonical,
        "the order of the query parameters changed the qsh"
    );
});
