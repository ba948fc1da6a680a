//! Regions: every stack knows every region Canopy runs in (name, public base URL, table, bucket,
//! AWS region), which one is its home, and holds a store and a media store for each, so the
//! residency engine can copy a tenant from one to another.
//!
//! The regions' configuration is `kernel::config::regions`.
//! Configuration (all optional; without them the stack knows only its home, at `CANOPY_BASE_URL`):
//! - `CANOPY_REGIONS=us=https://us.canopy.example,eu=https://eu.canopy.example` — name → base URL;
//! - `CANOPY_REGION_TABLES=us=canopy-us,eu=canopy-eu` — each region's DynamoDB table;
//! - `CANOPY_REGION_BUCKETS=us=canopy-media-us,eu=canopy-media-eu` — each region's bucket;
//! - `CANOPY_REGION_AWS=us=us-east-1,eu=eu-central-1` — AWS region names (these two are the
//!   defaults for `us` and `eu`).
//!
//! The home region's table and bucket default to `CANOPY_TABLE` / `CANOPY_MEDIA_BUCKET`.

use std::sync::Arc;

use std::collections::BTreeMap;

use crate::kernel::config::regions::{DEFAULT_REGION, RegionSpec};
use crate::kernel::error::{Error, Result};
use crate::ports::media::MediaStore;
use crate::ports::store::ItemStore;

/// How migrations run in a process: driven in the background after a request (servers), or
/// only by explicit calls (tests, which step the engine themselves).
#[derive(Debug, Clone)]
pub struct Settings {
    pub auto_drive: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self { auto_drive: true }
    }
}

/// A region this stack can reach: its spec and the adapters over its table and bucket.
#[derive(Clone)]
pub struct Region {
    pub spec: RegionSpec,
    pub store: Arc<dyn ItemStore>,
    pub media: Arc<dyn MediaStore>,
}

/// Every region this stack can reach, by name, and which one is home.
#[derive(Clone)]
pub struct Regions {
    home: String,
    by_name: Arc<BTreeMap<String, Region>>,
    settings: Settings,
}

impl Regions {
    /// Only the home region (a stack that migrates nothing, most tests).
    pub fn single(spec: RegionSpec, store: Arc<dyn ItemStore>, media: Arc<dyn MediaStore>) -> Self {
        let home = spec.name.clone();
        Self {
            home: home.clone(),
            by_name: Arc::new(BTreeMap::from([(home, Region { spec, store, media })])),
            settings: Default::default(),
        }
    }

    /// Only the home region of `config`, over the given adapters.
    pub fn home_only(
        config: &crate::kernel::config::AppConfig,
        store: Arc<dyn ItemStore>,
        media: Arc<dyn MediaStore>,
    ) -> Self {
        let spec = config
            .regions
            .iter()
            .find(|s| s.name == config.home_region)
            .cloned()
            .unwrap_or_else(|| RegionSpec::new(&config.home_region, &config.base_url));
        Self::single(spec, store, media)
    }

    pub fn new(home: &str, regions: impl IntoIterator<Item = Region>) -> Result<Self> {
        let by_name: BTreeMap<String, Region> = regions.into_iter().map(|r| (r.spec.name.clone(), r)).collect();
        if !by_name.contains_key(home) {
            return Err(Error::internal(format!("the home region {home} is not among the configured regions")));
        }
        Ok(Self { home: home.to_owned(), by_name: Arc::new(by_name), settings: Default::default() })
    }

    /// The same regions with `name` as home (a stack acting on another region's data).
    pub fn rehomed(&self, name: &str) -> Result<Self> {
        self.require(name)?;
        Ok(Self { home: name.to_owned(), ..self.clone() })
    }

    /// How migrations run in this process (tests step them by hand).
    pub fn with_settings(self, settings: Settings) -> Self {
        Self { settings, ..self }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn home(&self) -> &str {
        &self.home
    }

    pub fn get(&self, name: &str) -> Option<&Region> {
        self.by_name.get(name)
    }

    /// The region, or 422 naming the ones there are.
    pub fn require(&self, name: &str) -> Result<&Region> {
        self.get(name).ok_or_else(|| {
            Error::invalid(
                "unknown_region",
                format!("There is no region {name:?}; regions: {}.", self.names().join(", ")),
            )
        })
    }

    pub fn names(&self) -> Vec<String> {
        self.by_name.keys().cloned().collect()
    }

    /// The public base URL of a region (for 421 answers); unknown regions have none.
    pub fn base_url(&self, name: &str) -> Option<&str> {
        self.get(name).map(|r| r.spec.base_url.as_str())
    }

    /// The answer for a tenant homed in `region`, asked at this stack.
    pub fn wrong_region(&self, region: &str) -> Error {
        Error::WrongRegion { region: region.to_owned(), base_url: self.base_url(region).unwrap_or_default().to_owned() }
    }
}

/// The region a new tenant is homed in: the region whose base URL Atlassian installed it through
/// (the signed install's `aud`: a region's base URL, or a `regionBaseUrls` realm whose key names
/// a region, `EU` → `eu`), else [`DEFAULT_REGION`].
pub fn install_region(
    specs: &[RegionSpec],
    realm_urls: &[(String, String)],
    audiences: &[&str],
    default_base_url: &str,
) -> String {
    let norm = |u: &str| u.trim_end_matches('/').to_owned();
    for aud in audiences.iter().map(|a| norm(a)) {
        if aud == norm(default_base_url) {
            continue;
        }
        if let Some(spec) = specs.iter().find(|s| norm(&s.base_url) == aud) {
            return spec.name.clone();
        }
        if let Some((realm, _)) = realm_urls.iter().find(|(_, url)| norm(url) == aud) {
            let name = realm.to_ascii_lowercase();
            if specs.iter().any(|s| s.name == name) {
                return name;
            }
        }
    }
    DEFAULT_REGION.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::config::regions::specs_from;

    #[test]
    fn regions_parse_with_tables_buckets_and_aws_defaults() {
        let specs = specs_from(
            "us",
            "https://us.example",
            Some("us=https://us.example/,eu=https://eu.example"),
            Some("us=t-us,eu=t-eu"),
            Some("eu=b-eu"),
            None,
        )
        .unwrap();
        assert_eq!(specs.len(), 2);
        let eu = specs.iter().find(|s| s.name == "eu").unwrap();
        assert_eq!(eu.base_url, "https://eu.example");
        assert_eq!(eu.table.as_deref(), Some("t-eu"));
        assert_eq!(eu.bucket.as_deref(), Some("b-eu"));
        assert_eq!(eu.aws_region.as_deref(), Some("eu-central-1"));
        assert!(specs_from("us", "https://u", None, Some("eu=t"), None, None).is_err());
        assert!(specs_from("us", "https://u", Some("EU Region=https://x"), None, None, None).is_err());
        assert!(specs_from("us", "https://u", Some("eu=ftp://x"), None, None, None).is_err());
        assert_eq!(specs_from("us", "https://u", None, None, None, None).unwrap().len(), 1);
    }

    #[test]
    fn new_tenants_go_where_atlassian_installed_them() {
        let specs = vec![RegionSpec::new("us", "https://us.example"), RegionSpec::new("eu", "https://eu.example")];
        let realms = vec![("EU".to_owned(), "https://eu-realm.example".to_owned())];
        let region = |aud: &[&str]| install_region(&specs, &realms, aud, "https://app.example");
        assert_eq!(region(&["https://app.example"]), "us");
        assert_eq!(region(&["https://eu.example/"]), "eu");
        assert_eq!(region(&["https://eu-realm.example"]), "eu");
        assert_eq!(region(&["https://unknown.example"]), "us");
        assert_eq!(region(&[]), "us");
    }
}
