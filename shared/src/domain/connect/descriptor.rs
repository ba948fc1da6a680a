//! The Connect app descriptor served at `/atlassian-connect.json`, templated from config.

use serde_json::{Value, json};

use crate::kernel::config::AppConfig;

/// Lifecycle callback paths, relative to the base URL. Clients follow the descriptor.
pub const INSTALLED_PATH: &str = "/lifecycle/installed";
pub const UNINSTALLED_PATH: &str = "/lifecycle/uninstalled";
pub const ENABLED_PATH: &str = "/lifecycle/enabled";
pub const DISABLED_PATH: &str = "/lifecycle/disabled";
/// Atlassian appends `/schedule`, `/start`, `/status`, `/commit`, `/rollback` (residency issue).
pub const DARE_MIGRATION_PATH: &str = "/lifecycle/dare-migration";
/// The admin console's page as the product frames it (the file itself: an API Gateway route
/// `/console/{proxy+}` needs a non-empty file name).
pub const ADMIN_CONSOLE_URL: &str = "/console/index.html";

/// The Connect webhook events Canopy subscribes to (`http::product_events` serves them).
pub const CONNECT_EVENTS: [&str; 4] = ["page_trashed", "page_removed", "page_restored", "space_removed"];

/// Where Atlassian posts one webhook event.
pub fn webhook_path(event: &str) -> String {
    format!("/webhooks/confluence/{event}")
}

pub fn descriptor(config: &AppConfig) -> Value {
    let mut descriptor = json!({
        "key": config.app_key,
        "name": "Canopy",
        "description": "Branded sites on top of Confluence and Jira.",
        "vendor": {"name": "Canopy", "url": config.base_url},
        "baseUrl": config.base_url,
        "authentication": {"type": "jwt"},
        "apiVersion": 1,
        "apiMigrations": {"signed-install": true, "context-qsh": true, "gdpr": true},
        "lifecycle": {
            "installed": INSTALLED_PATH,
            "uninstalled": UNINSTALLED_PATH,
            "enabled": ENABLED_PATH,
            "disabled": DISABLED_PATH,
            "dare-migration": DARE_MIGRATION_PATH,
        },
        "scopes": ["READ"],
        "modules": {
            // The admin console (`http::console`): a static page that calls the API with context tokens.
            "adminPages": [{"key": "canopy-console", "name": {"value": "Canopy sites"}, "url": ADMIN_CONSOLE_URL}],
            // Stored data follows the product (`content::product_events`); each call carries a
            // request-bound JWT, verified like any other from Atlassian.
            "webhooks": CONNECT_EVENTS
                .iter()
                .map(|event| json!({"event": event, "url": webhook_path(event)}))
                .collect::<Vec<_>>(),
        },
    });
    if !config.region_base_urls.is_empty() {
        let map: serde_json::Map<String, Value> =
            config.region_base_urls.iter().map(|(realm, url)| (realm.clone(), json!(url))).collect();
        descriptor["regionBaseUrls"] = Value::Object(map);
    }
    descriptor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_opts_into_signed_install_and_names_region_urls() {
        let mut config = AppConfig::new("https://us.canopy.example/");
        config.region_base_urls = vec![("EU".into(), "https://eu.canopy.example".into())];
        let d = descriptor(&config);
        assert_eq!(d["baseUrl"], "https://us.canopy.example");
        assert_eq!(d["apiMigrations"]["signed-install"], true);
        assert_eq!(d["apiMigrations"]["context-qsh"], true);
        assert_eq!(d["lifecycle"]["dare-migration"], DARE_MIGRATION_PATH);
        assert_eq!(d["regionBaseUrls"]["EU"], "https://eu.canopy.example");
        assert_eq!(d["modules"]["adminPages"][0]["url"], ADMIN_CONSOLE_URL);
        let hooks = d["modules"]["webhooks"].as_array().expect("webhooks");
        assert_eq!(hooks.len(), CONNECT_EVENTS.len());
        assert!(hooks.iter().any(|h| h["event"] == "page_removed" && h["url"] == "/webhooks/confluence/page_removed"));
        assert!(hooks.iter().any(|h| h["event"] == "space_removed"));
        assert!(descriptor(&AppConfig::new("https://x")).get("regionBaseUrls").is_none());
    }
}
