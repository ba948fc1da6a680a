//! Configuration read once per process from `CANOPY_*` environment variables.

pub mod regions;

use crate::kernel::error::{Error, Result};
use crate::kernel::product_url::ProductHosts;

pub const DEFAULT_CONNECT_KEYS_URL: &str = "https://connect-install-keys.atlassian.com";
pub const DEFAULT_APP_KEY: &str = "canopy";
pub const DEFAULT_PURGE_AFTER_DAYS: u32 = 30;
/// How long an admin check's answer is reused (`CANOPY_ADMIN_CACHE_SECS`).
pub const DEFAULT_ADMIN_CACHE_TTL_SECS: i64 = 60;
/// Days of answers denying access before a silent site is uninstalled (`CANOPY_LIVENESS_GRACE_DAYS`).
pub const DEFAULT_LIVENESS_GRACE_DAYS: i64 = 14;
/// Where Forge product calls go (`CANOPY_FORGE_API_BASE_URL`).
pub const DEFAULT_FORGE_API_BASE_URL: &str = "https://api.atlassian.com";
/// The origin (`scheme://host[:port]`) of a URL: what a CSP source names.
pub fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find(['/', '?', '#']) {
        Some(end) => &url[..after_scheme + end],
        None => url,
    }
}

/// What a Forge app id becomes in a FIT's audience.
pub const APP_ARI_PREFIX: &str = "ari:cloud:ecosystem::app/";
/// The Forge environment whose invocation tokens are accepted (`CANOPY_FORGE_ENVIRONMENT`): a
/// production stack refuses tokens of the vendor's development and staging installs.
pub const DEFAULT_FORGE_ENVIRONMENT: &str = "production";
pub const FORGE_ENVIRONMENTS: [&str; 3] = ["development", "staging", "production"];
pub const DEFAULT_FORGE_JWKS_URL: &str = "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json";

#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Descriptor `key`.
    pub app_key: String,
    /// This stack's public base URL (descriptor `baseUrl`, install `aud`).
    pub base_url: String,
    /// Where signed-install public keys are fetched from, by `kid`.
    pub connect_keys_url: String,
    /// This stack's region name (`us`, `eu`).
    pub home_region: String,
    /// Every region Canopy runs in (`regions.rs`); the home one is always listed.
    pub regions: Vec<regions::RegionSpec>,
    /// Descriptor `regionBaseUrls`: realm → regional base URL.
    pub region_base_urls: Vec<(String, String)>,
    /// Days between uninstall and purge.
    pub purge_after_days: u32,
    /// How long a "is this account a site admin" answer from the product is reused.
    pub admin_cache_secs: i64,
    /// Days a site may deny the app access before its tenant counts as uninstalled.
    pub liveness_grace_days: i64,
    /// The Forge app's ARI (`ari:cloud:ecosystem::app/<appId>`), the `aud` of its invocation
    /// tokens. `None` turns Forge auth off: every FIT gets 401.
    pub forge_app_ari: Option<String>,
    /// The Forge environment (`app.environment.type` of a FIT, lower case) this stack serves.
    pub forge_environment: String,
    /// Where the Forge invocation-token keys (JWKS) are fetched.
    pub forge_jwks_url: String,
    /// Atlassian's API gateway, for product calls as the Forge app (`/ex/<product>/<cloudId>/…`).
    pub forge_api_base_url: String,
    /// The product sites Canopy calls with the app's JWT (`CANOPY_PRODUCT_HOSTS`): install
    /// `baseUrl`s outside it are refused, and no product call leaves for one.
    pub product_hosts: ProductHosts,
    /// Where browsers send and fetch media bytes: the origin of every region's presigned URLs
    /// (its bucket on AWS, its own base URL locally). The composition root fills it from the media
    /// stores it builds (`bootstrap`); the console's CSP names these and nothing broader.
    pub media_origins: Vec<String>,
}

impl AppConfig {
    pub fn new(base_url: &str) -> Self {
        Self {
            app_key: DEFAULT_APP_KEY.into(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            connect_keys_url: DEFAULT_CONNECT_KEYS_URL.into(),
            home_region: "us".into(),
            regions: vec![regions::RegionSpec::new("us", base_url)],
            region_base_urls: Vec::new(),
            purge_after_days: DEFAULT_PURGE_AFTER_DAYS,
            admin_cache_secs: DEFAULT_ADMIN_CACHE_TTL_SECS,
            liveness_grace_days: DEFAULT_LIVENESS_GRACE_DAYS,
            forge_app_ari: None,
            forge_environment: DEFAULT_FORGE_ENVIRONMENT.into(),
            forge_jwks_url: DEFAULT_FORGE_JWKS_URL.into(),
            forge_api_base_url: DEFAULT_FORGE_API_BASE_URL.into(),
            product_hosts: ProductHosts::default(),
            media_origins: Vec::new(),
        }
    }

    /// Reads `CANOPY_BASE_URL` (required unless `default_base_url` is given), `CANOPY_APP_KEY`,
    /// `CANOPY_CONNECT_KEYS_URL`, `CANOPY_HOME_REGION`, `CANOPY_REGION_BASE_URLS`
    /// (`US=https://…,EU=https://…`), `CANOPY_PURGE_AFTER_DAYS`, `CANOPY_ADMIN_CACHE_SECS`,
    /// `CANOPY_FORGE_APP_ID`, `CANOPY_FORGE_ENVIRONMENT`, `CANOPY_FORGE_JWKS_URL`,
    /// `CANOPY_FORGE_API_BASE_URL` and `CANOPY_PRODUCT_HOSTS`.
    pub fn from_env(default_base_url: Option<&str>) -> Result<Self> {
        Self::from_lookup(default_base_url, |name| std::env::var(name).ok())
    }

    /// [`AppConfig::from_env`] over any source of the same variables: the local server passes
    /// its parsed command line, where each flag has already fallen back to its variable. A blank
    /// value counts as unset.
    pub fn from_lookup(default_base_url: Option<&str>, lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let base_url = var("CANOPY_BASE_URL")
            .or_else(|| default_base_url.map(str::to_owned))
            .ok_or_else(|| Error::internal("CANOPY_BASE_URL is not set"))?;
        let mut config = Self::new(&base_url);
        if let Some(key) = var("CANOPY_APP_KEY") {
            config.app_key = key;
        }
        if let Some(url) = var("CANOPY_CONNECT_KEYS_URL") {
            config.connect_keys_url = url;
        }
        if let Some(region) = var("CANOPY_HOME_REGION") {
            config.home_region = region;
        }
        config.regions = regions::specs_from(
            &config.home_region,
            &config.base_url,
            var("CANOPY_REGIONS").as_deref(),
            var("CANOPY_REGION_TABLES").as_deref(),
            var("CANOPY_REGION_BUCKETS").as_deref(),
            var("CANOPY_REGION_AWS").as_deref(),
        )?;
        if let Some(list) = var("CANOPY_REGION_BASE_URLS") {
            config.region_base_urls = parse_region_base_urls(&list)?;
        }
        if let Some(days) = var("CANOPY_PURGE_AFTER_DAYS") {
            config.purge_after_days =
                days.parse().map_err(|_| Error::internal("CANOPY_PURGE_AFTER_DAYS is not a whole number"))?;
        }
        if let Some(days) = var("CANOPY_LIVENESS_GRACE_DAYS") {
            config.liveness_grace_days = days
                .parse()
                .ok()
                .filter(|d| (1..=365).contains(d))
                .ok_or_else(|| Error::internal("CANOPY_LIVENESS_GRACE_DAYS must be 1 to 365"))?;
        }
        if let Some(secs) = var("CANOPY_ADMIN_CACHE_SECS") {
            config.admin_cache_secs = secs
                .parse()
                .ok()
                .filter(|s| (0..=3600).contains(s))
                .ok_or_else(|| Error::internal("CANOPY_ADMIN_CACHE_SECS must be 0 to 3600"))?;
        }
        if let Some(id) = var("CANOPY_FORGE_APP_ID") {
            config.forge_app_ari = Some(app_ari(&id).ok_or_else(|| {
                Error::internal("CANOPY_FORGE_APP_ID must be the Forge app id or its ari:cloud:ecosystem::app/ ARI")
            })?);
        }
        if let Some(environment) = var("CANOPY_FORGE_ENVIRONMENT") {
            config.forge_environment = forge_environment(&environment).ok_or_else(|| {
                Error::internal("CANOPY_FORGE_ENVIRONMENT must be development, staging or production")
            })?;
        }
        if let Some(url) = var("CANOPY_FORGE_JWKS_URL") {
            config.forge_jwks_url = url;
        }
        if let Some(url) = var("CANOPY_FORGE_API_BASE_URL") {
            config.forge_api_base_url = url.trim_end_matches('/').to_owned();
        }
        if let Some(hosts) = var("CANOPY_PRODUCT_HOSTS") {
            config.product_hosts = ProductHosts::parse(&hosts)?;
        }
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<()> {
        let key_ok = !self.app_key.is_empty()
            && self.app_key.len() <= 64
            && self.app_key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if !key_ok {
            return Err(Error::internal("CANOPY_APP_KEY must be 1-64 of [A-Za-z0-9-._]"));
        }
        let forge_urls = [&self.forge_jwks_url, &self.forge_api_base_url];
        let urls = std::iter::once(&self.base_url).chain(self.region_base_urls.iter().map(|(_, u)| u));
        for url in urls.chain(forge_urls) {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(Error::internal(format!("base URL {url} is not http(s)")));
            }
        }
        Ok(())
    }

    /// The path part of the base URL (`/addon` for `https://h/addon`), removed before hashing qsh.
    pub fn base_path(&self) -> &str {
        let after_scheme = self.base_url.split_once("://").map_or(self.base_url.as_str(), |(_, rest)| rest);
        after_scheme.find('/').map_or("", |i| &after_scheme[i..])
    }

    /// Every base URL Atlassian may address this app by (`aud` of signed installs).
    pub fn app_base_urls(&self) -> Vec<String> {
        std::iter::once(self.base_url.clone()).chain(self.region_base_urls.iter().map(|(_, u)| u.clone())).collect()
    }
}

fn parse_region_base_urls(list: &str) -> Result<Vec<(String, String)>> {
    list.split(',')
        .map(|pair| {
            let (realm, url) =
                pair.split_once('=').ok_or_else(|| Error::internal("CANOPY_REGION_BASE_URLS wants REALM=URL pairs"))?;
            Ok((realm.trim().to_owned(), url.trim().trim_end_matches('/').to_owned()))
        })
        .collect()
}

/// A Forge environment name in its canonical lower case, or `None` if it is not one.
pub fn forge_environment(name: &str) -> Option<String> {
    let name = name.trim().to_ascii_lowercase();
    FORGE_ENVIRONMENTS.contains(&name.as_str()).then_some(name)
}

/// This app's ARI from a Forge app id (the id alone or the whole ARI), or `None` if it is not one.
pub fn app_ari(app_id: &str) -> Option<String> {
    let id = app_id.trim();
    let id = id.strip_prefix(APP_ARI_PREFIX).unwrap_or(id);
    let ok = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then(|| format!("{APP_ARI_PREFIX}{id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_path_is_the_url_path() {
        assert_eq!(AppConfig::new("https://h.example/addon/").base_path(), "/addon");
        assert_eq!(AppConfig::new("http://127.0.0.1:8080").base_path(), "");
    }

    #[test]
    fn region_base_urls_parse() {
        let parsed = parse_region_base_urls("US=https://us.example/, EU=https://eu.example").unwrap();
        assert_eq!(
            parsed,
            vec![("US".into(), "https://us.example".into()), ("EU".into(), "https://eu.example".into())]
        );
        assert!(parse_region_base_urls("nonsense").is_err());
    }
}
