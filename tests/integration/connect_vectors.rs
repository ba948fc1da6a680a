//! Atlassian's JWT interoperability vectors (`tests/fixtures/connect-jwt-signed-urls.json`,
//! Apache-2.0, Atlassian): canonical request, qsh and HS256 signature for every case.

use canopy_shared::domain::connect::jwt::{QshRule, TokenKind, verify_hs256};
use canopy_shared::domain::connect::qsh::{canonical_request, query_string_hash};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    secret: String,
    tests: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    name: String,
    canonical_url: String,
    signed_url: String,
}

fn vectors() -> Vectors {
    let text = support::repo::read("tests/fixtures/connect-jwt-signed-urls.json");
    serde_json::from_str(&text).expect("vector file parses")
}

/// Splits `https://host/path?query` into (path, query) as a server receives them.
fn path_and_query(url: &str) -> (&str, &str) {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path_and_query = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    path_and_query.split_once('?').unwrap_or((path_and_query, ""))
}

fn jwt_of(query: &str) -> String {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "jwt")
        .map(|(_, v)| v.into_owned())
        .expect("case has a jwt")
}

#[test]
fn all_78_vectors_canonicalise_hash_and_verify() {
    let vectors = vectors();
    assert_eq!(vectors.tests.len(), 78, "the fixture holds 78 cases");
    let mut failures = Vec::new();
    for case in &vectors.tests {
        let method = case.canonical_url.split('&').next().unwrap_or_default();
        let (path, query) = path_and_query(&case.signed_url);
        let canonical = canonical_request(method, path, query, "");
        if canonical != case.canonical_url {
            failures.push(format!("{}: canonical {canonical:?} != {:?}", case.name, case.canonical_url));
            continue;
        }
        let qsh = query_string_hash(method, path, query, "");
        match verify_hs256(&jwt_of(query), &vectors.secret, QshRule::Request(&qsh), None) {
            Ok((_, TokenKind::Request)) => {}
            Ok((_, kind)) => failures.push(format!("{}: verified as {kind:?}", case.name)),
            Err(e) => failures.push(format!("{}: {e}", case.name)),
        }
    }
    assert!(failures.is_empty(), "{} of 78 failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn vectors_fail_with_a_wrong_secret_or_when_expiry_is_checked() {
    let vectors = vectors();
    let case = &vectors.tests[0];
    let (path, query) = path_and_query(&case.signed_url);
    let qsh = query_string_hash("GET", path, query, "");
    let token = jwt_of(query);
    assert!(verify_hs256(&token, "not-the-secret", QshRule::Request(&qsh), None).is_err());
    assert!(
        verify_hs256(&token, &vectors.secret, QshRule::Request(&qsh), Some(1_800_000_000)).is_err(),
        "expired in 2016"
    );
}
