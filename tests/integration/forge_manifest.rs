//! `forge/manifest.yml`, the Forge Remote side: every endpoint it declares is a route of Canopy's
//! API document that takes a POST, every trigger names a declared endpoint, and the remote's base
//! URL per realm is the deployment's (samconfig.toml's AppBaseUrl of `us` and `eu`).

use std::collections::BTreeMap;

fn manifest() -> String {
    support::repo::read("forge/manifest.yml")
}

/// `key: value` of every line, with its indentation, comments and list dashes dropped.
fn entries(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|line| line.split(" #").next().unwrap_or_default().trim().trim_start_matches("- "))
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once(": ").map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())))
        .collect()
}

fn values<'a>(entries: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    entries.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
}

/// The AppBaseUrl of each samconfig.toml environment's deploy section.
fn app_base_urls() -> BTreeMap<String, String> {
    let mut section = String::new();
    let mut found = BTreeMap::new();
    for line in support::repo::read("samconfig.toml").lines() {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(".deploy.parameters]")) {
            section = name.to_owned();
        } else if let Some(at) = line.find("\"AppBaseUrl=") {
            let url = line[at + "\"AppBaseUrl=".len()..].split('"').next().unwrap_or_default();
            found.insert(section.clone(), url.to_owned());
        }
    }
    found
}

#[test]
fn every_endpoint_is_a_post_route_of_the_api_document() {
    let entries = entries(&manifest());
    let document: serde_json::Value = serde_json::from_str(&support::repo::read("docs/openapi.json")).unwrap();
    let paths = values(&entries, "path");
    assert!(paths.len() >= 2, "endpoints found: {paths:?}");
    for path in paths {
        assert!(document["paths"][path]["post"].is_object(), "{path} is not a POST route of docs/openapi.json");
    }
}

#[test]
fn every_trigger_names_a_declared_endpoint_of_the_canopy_remote() {
    let text = manifest();
    let entries = entries(&text);
    let keys = values(&entries, "key");
    for endpoint in values(&entries, "endpoint") {
        assert!(keys.contains(&endpoint), "trigger endpoint {endpoint} is not declared");
    }
    let remotes = values(&entries, "remote");
    assert!(!remotes.is_empty() && remotes.iter().all(|r| *r == "canopy"), "{remotes:?}");
    for event in ["avi:forge:installed:app", "avi:forge:upgraded:app"] {
        assert!(text.contains(&format!("- {event}")), "{event} has no trigger");
    }
}

#[test]
fn the_remote_base_url_per_realm_is_the_deployments() {
    let entries = entries(&manifest());
    let deployed = app_base_urls();
    assert_eq!(values(&entries, "US"), vec![deployed["us"].as_str()], "US realm vs samconfig us");
    assert_eq!(values(&entries, "EU"), vec![deployed["eu"].as_str()], "EU realm vs samconfig eu");
    assert_eq!(values(&entries, "default"), vec![deployed["us"].as_str()], "the default realm is US");
}
